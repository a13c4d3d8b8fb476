"""Leader election against the twin's Lease API with the real kubernetes-asyncio client.

Time is injected: each replica gets its own manual monotonic clock, so "the lease expired as
seen by this replica" is a step of the test, not a sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from k8s_kit import api_for
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from twin_kit import sim

from autoscaler.service.leader import LEADER_URL_ANNOTATION, LeaderElector, LeaseTiming
from autoscaler.sim.server import RunningTwin, run_twin

NS, LEASE = "elastic", "es-autoscaler"
ONE_K8S_500 = {"type": "error", "app": "k8s", "status": 500, "count": 1}
TIMING = LeaseTiming(lease_duration=15, renew_deadline=10, retry_period=2)


class ManualClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with run_twin(nodes=0, kubeconfig_dir=tmp_path) as twin:
        yield twin


@pytest.fixture
async def api(running: RunningTwin) -> AsyncIterator[client.ApiClient]:
    async with await api_for(running.kubeconfig_path) as api_client:
        yield api_client


def elector(api: client.ApiClient, identity: str, clock: ManualClock) -> LeaderElector:
    return LeaderElector(
        api=api,
        namespace=NS,
        name=LEASE,
        identity=identity,
        timing=TIMING,
        advertise_url=f"http://{identity}.example:8080",
        monotonic=clock,
        wall=lambda: 1_800_000_000.0 + clock.t,
    )


async def lease_spec(api: client.ApiClient) -> dict[str, object]:
    raw = await client.CoordinationV1Api(api).read_namespaced_lease(
        LEASE, NS, _preload_content=False
    )
    body = await raw.json()
    return {**body["spec"], "annotations": body["metadata"].get("annotations") or {}}


async def test_first_replica_creates_the_lease_and_the_second_follows(
    api: client.ApiClient,
) -> None:
    a, b = elector(api, "pod-a", ManualClock()), elector(api, "pod-b", ManualClock())
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert (a.is_leader(), b.is_leader()) == (True, False)
    assert b.status() == {
        "identity": "pod-b",
        "leader": False,
        "holder": "pod-a",
        "since": None,
        "lastError": None,
    }
    assert b.leader_url() == "http://pod-a.example:8080"
    spec = await lease_spec(api)
    assert spec["holderIdentity"] == "pod-a"
    assert spec["leaseTransitions"] == 0
    assert spec["annotations"] == {LEADER_URL_ANNOTATION: "http://pod-a.example:8080"}


async def test_a_follower_takes_over_only_after_the_lease_expired_on_its_own_clock(
    api: client.ApiClient,
) -> None:
    clock_a, clock_b = ManualClock(), ManualClock(5000.0)  # the two clocks disagree wildly
    a, b = elector(api, "pod-a", clock_a), elector(api, "pod-b", clock_b)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()  # b starts observing now
    clock_b.t += 14.9
    assert not await b.try_acquire_or_renew()  # not yet expired for b
    clock_b.t += 0.2
    assert await b.try_acquire_or_renew()
    spec = await lease_spec(api)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("pod-b", 1)
    # a, whose renewals stopped, no longer believes it leads once its deadline has passed
    clock_a.t += 10.0
    assert not a.is_leader()


async def test_renewals_keep_the_lease_from_expiring(api: client.ApiClient) -> None:
    clock_a, clock_b = ManualClock(), ManualClock()
    a, b = elector(api, "pod-a", clock_a), elector(api, "pod-b", clock_b)
    assert await a.try_acquire_or_renew()
    for _ in range(20):  # 40 s of renewals every 2 s: b sees a fresh record each time
        clock_a.t += 2
        clock_b.t += 2
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    assert a.is_leader()
    assert (await lease_spec(api))["leaseTransitions"] == 0


async def test_leadership_ends_at_the_renew_deadline_without_any_api_call(
    api: client.ApiClient,
) -> None:
    clock = ManualClock()
    a = elector(api, "pod-a", clock)
    assert await a.try_acquire_or_renew()
    clock.t += TIMING.renew_deadline - 0.01
    assert a.is_leader()
    clock.t += 0.02  # a hung API call would leave us here: we must stop acting by ourselves
    assert not a.is_leader()


async def test_two_replicas_racing_for_an_expired_lease_cannot_both_win(
    api: client.ApiClient,
) -> None:
    old = elector(api, "pod-old", ManualClock())
    assert await old.try_acquire_or_renew()
    clock_a, clock_b = ManualClock(), ManualClock()
    a, b = elector(api, "pod-a", clock_a), elector(api, "pod-b", clock_b)
    assert not await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock_a.t += 16
    clock_b.t += 16
    won = await asyncio.gather(a.try_acquire_or_renew(), b.try_acquire_or_renew())
    assert sorted(won) == [False, True]
    assert (await lease_spec(api))["holderIdentity"] in {"pod-a", "pod-b"}


async def test_a_stopped_leader_releases_the_lease_so_the_next_one_need_not_wait(
    api: client.ApiClient,
) -> None:
    fast = LeaseTiming(lease_duration=3, renew_deadline=2, retry_period=0.05)
    a = LeaderElector(api=api, namespace=NS, name=LEASE, identity="pod-a", timing=fast)
    task = asyncio.create_task(a.run())
    for _ in range(200):
        if a.is_leader():
            break
        await asyncio.sleep(0.01)
    assert a.is_leader()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    spec = await lease_spec(api)
    assert spec["holderIdentity"] in ("", None)
    b = elector(api, "pod-b", ManualClock())
    assert await b.try_acquire_or_renew()  # released: no lease-duration wait


def test_timing_refuses_a_renew_deadline_not_shorter_than_the_lease() -> None:
    with pytest.raises(ValueError, match="renew deadline < lease duration"):
        LeaseTiming(lease_duration=10, renew_deadline=10, retry_period=2)


async def test_the_first_replica_creates_the_lease_with_create_not_a_blind_put(
    api: client.ApiClient, running: RunningTwin
) -> None:
    a = elector(api, "pod-a", ManualClock())
    assert await a.try_acquire_or_renew()
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{running.k8s_url}/_sim/requests") as resp,
    ):
        entries = (await resp.json())["requests"] if resp.status == 200 else None
    assert entries is not None, "the twin serves its request log"
    lease_calls = [(e["verb"], e["code"]) for e in entries if e["resource"] == "leases"]
    assert lease_calls == [("get", 404), ("create", 201)]


async def test_a_refused_lease_read_is_an_error_not_a_missing_lease(
    api: client.ApiClient, running: RunningTwin
) -> None:
    await sim(running, "POST", "/_sim/faults", ONE_K8S_500)
    a = elector(api, "pod-a", ManualClock())
    with pytest.raises(ApiException) as err:
        await a.try_acquire_or_renew()
    assert err.value.status == 500
    assert not a.is_leader()


async def test_the_status_says_why_the_last_lease_call_failed_until_one_succeeds(
    api: client.ApiClient, running: RunningTwin
) -> None:
    await sim(running, "POST", "/_sim/faults", ONE_K8S_500)
    fast = LeaseTiming(lease_duration=3, renew_deadline=2, retry_period=0.05)
    a = LeaderElector(api=api, namespace=NS, name=LEASE, identity="pod-a", timing=fast)
    seen: list[object] = []
    task = asyncio.create_task(a.run())
    try:
        for _ in range(400):  # bounded: the fault fires once, the next call succeeds
            seen.append(a.status()["lastError"])
            if a.is_leader():
                break
            await asyncio.sleep(0.01)
        failures = [e for e in seen if e is not None]
        assert failures, "the failed call shows in the status"
        first = failures[0]
        assert isinstance(first, dict)
        assert first["error"].startswith("HTTP 500")
        assert a.is_leader()
        assert a.status()["lastError"] is None  # a successful call clears it
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
