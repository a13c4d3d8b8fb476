"""The operations runner against the twin: real kubernetes-asyncio and elasticsearch-py
clients, real StatefulSet scale subresource, real exclusions, real shard movement.

Each test starts one operation directly (what the engine would ask for) and checks the
outcome on the twin's own state: replicas, shard placement, exclusions, invariants, Events.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _ops_kit import (
    GIB,
    NS,
    STS,
    es_state,
    eventually,
    fault,
    make_policy,
    rig,
    sim,
    small_twin,
)
from kubernetes_asyncio import client

from autoscaler.operations.store import FileStore
from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.server import RunningTwin


async def test_scale_up_confirms_only_after_relocations_ended_and_the_new_node_holds_shards(
    tmp_path: Path,
) -> None:
    async with (
        small_twin() as twin,
        rig(twin, make_policy(es_url=twin.es_url), state_dir=tmp_path) as r,
    ):
        # A zero-second latency fault on the health API changes no answer; the twin counts
        # each request it matched ("fired" in GET /_sim/faults): the runner's health checks.
        probe = await fault(
            twin, {"type": "latency", "app": "es", "path": "^/_cluster/health", "seconds": 0}
        )
        op = await r.runner.begin(policy="data", from_replicas=3, to_replicas=4)
        assert op is not None
        # the twin's timeline, sampled: when was the last moment anything was relocating,
        # and how many health checks had the runner made when the cluster was first seen still?
        last_moving: float | None = None
        checks_when_still: int | None = None
        while True:
            # the count is read before the state: a check arriving in between counts as one
            # made after the cluster went still (strict), never the other way round
            checks = await _fired(twin, probe)
            asked = time.time()  # a moving sample: still relocating at or after `asked`
            state = await es_state(twin)
            moving = state["relocating"] + state["initializing"] > 0
            if moving:
                last_moving, checks_when_still = asked, None
            elif last_moving is not None and checks_when_still is None:
                checks_when_still = checks
            current = next(o for o in r.runner.operations() if o.id == op.id)
            if not current.running:
                break
            assert time.time() - op.started_at < 60, "operation did not finish"  # a hang guard
        assert current.state == "confirmed", current.failure
        assert last_moving is not None, "the twin never relocated anything"
        assert current.confirmed_at is not None
        assert current.confirmed_at >= last_moving  # not before rebalancing ended
        # ...and promptly after, counted in the runner's own health checks rather than in wall
        # seconds (a loaded machine slows both sides alike): the long-poll in flight returns
        # as the last relocation completes and that answer confirms, so at most one check
        # (the next one, had the last just returned) arrives after the cluster went still. A
        # runner that re-polls to be sure, or waits out a settle window, makes several.
        assert checks_when_still is not None
        assert await _fired(twin, probe) - checks_when_still <= 1
        state = await es_state(twin)
        new = next(n for n in state["nodes"] if n["name"] == "es-data-3")
        assert new["shards"] > 0
        assert state["relocating"] == 0
        assert await r.target.current_replicas() == 4
        assert state["invariants"] == []
        reasons = [e.reason for e in await r.events()]
        assert reasons[:1] == ["ScalingUp"]
        assert reasons[-1] == "ScaleConfirmed"
        # cooldown clock: the store holds the confirmation
        stored = await FileStore(tmp_path).load()
        assert stored.last_confirmed[r.target.key] == current.confirmed_at


async def _fired(twin: RunningTwin, fault_id: int) -> int:
    """How many requests the twin's fault ``fault_id`` has matched so far."""
    (f,) = [f for f in (await sim(twin, "GET", "/_sim/faults"))["faults"] if f["id"] == fault_id]
    return int(f["fired"])


async def test_a_new_node_left_empty_by_a_quiet_cluster_is_confirmed_after_the_settle_window(
    tmp_path: Path,
) -> None:
    tiny = (IndexSpec("tiny", 1, 1, GIB // 8),)  # 2 copies for 4 nodes: nothing to move
    async with small_twin(indices=tiny) as twin:
        policy = make_policy(es_url=twin.es_url, safety={"rebalanceTimeout": "8s"})
        async with rig(twin, policy, state_dir=tmp_path) as r:
            op = await r.run(to=4)
            assert op.state == "confirmed", op.failure
            assert "nothing moved for 2s" in op.history[-1].detail
            assert "es-data-3 0" in op.history[-1].detail


async def test_scale_down_drains_the_highest_ordinal_first_and_keeps_the_users_exclusion(
    tmp_path: Path,
) -> None:
    async with (
        small_twin(nodes=4) as twin,
        rig(twin, make_policy(es_url=twin.es_url), state_dir=tmp_path) as r,
    ):
        await r.es.cluster.put_settings(
            persistent={"cluster.routing.allocation.exclude._name": "retired-node-7"}
        )
        op = await r.run(to=3)
        assert op.state == "confirmed", op.failure
        assert op.victims == ("es-data-3",)
        phases = [s.phase for s in op.history]
        assert phases.index("draining") < phases.index("scaling") < phases.index("removing")
        state = await es_state(twin)
        assert state["invariants"] == []  # no copy lost, scratch (0 replicas) included
        assert state["health"] == "green"
        assert sorted(n["name"] for n in state["nodes"]) == ["es-data-0", "es-data-1", "es-data-2"]
        assert state["settings"]["excluded_names"] == ["retired-node-7"]
        assert state["voting_config_exclusions"] == []
        assert await r.target.current_replicas() == 3
        assert "Draining" in [e.reason for e in await r.events()]


async def test_yellow_cluster_refuses_the_scale_down_with_no_side_effect(tmp_path: Path) -> None:
    replicated = (IndexSpec("logs", 3, 1, 6 * GIB),)
    async with (
        small_twin(nodes=4, indices=replicated) as twin,
        rig(twin, make_policy(es_url=twin.es_url), state_dir=tmp_path) as r,
    ):
        await fault(twin, {"type": "node_crash", "node": "es-data-1", "restart": False})
        op = await r.run(to=3)
        assert op.state == "failed"
        assert (op.failure or "").startswith("unsafe(")
        assert "cluster is yellow" in (op.failure or "")
        assert [s.phase for s in op.history] == ["preflight", "done"]
        assert await r.target.current_replicas() == 4
        state = await es_state(twin)
        assert state["settings"]["excluded_names"] == []
        assert state["voting_config_exclusions"] == []


async def test_disk_projection_over_the_limit_refuses_the_scale_down(tmp_path: Path) -> None:
    async with small_twin(nodes=4) as twin:
        policy = make_policy(es_url=twin.es_url, safety={"maxDiskPercentAfterScaleDown": 1})
        async with rig(twin, policy, state_dir=tmp_path) as r:
            op = await r.run(to=3)
            assert op.state == "failed"
            assert "disk projection" in (op.failure or "")
            assert "> 1%" in (op.failure or "")
            assert await r.target.current_replicas() == 4


async def test_an_index_whose_replicas_would_not_fit_refuses_the_scale_down(tmp_path: Path) -> None:
    twice = (IndexSpec("logs", 3, 2, 3 * GIB),)
    async with (
        small_twin(nodes=3, indices=twice) as twin,
        rig(twin, make_policy(es_url=twin.es_url), state_dir=tmp_path) as r,
    ):
        op = await r.run(to=2)
        assert op.state == "failed"
        assert "index logs needs 3 nodes (replicas 2 + 1), 2 would remain" in (op.failure or "")
        assert await r.target.current_replicas() == 3


async def test_removing_master_eligible_nodes_that_would_lose_quorum_is_refused(
    tmp_path: Path,
) -> None:
    unreplicated = (IndexSpec("scratch", 3, 0, 1 * GIB),)
    async with small_twin(nodes=3, indices=unreplicated) as twin:
        policy = make_policy(es_url=twin.es_url, step=2)
        async with rig(twin, policy, state_dir=tmp_path) as r:
            op = await r.run(to=1)
            assert op.state == "failed"
            assert "quorum at risk" in (op.failure or "")
            state = await es_state(twin)
            assert state["voting_config_exclusions"] == []
            assert state["settings"]["excluded_names"] == []


@pytest.mark.parametrize("status", [400, 500])
async def test_drain_explain_error_falls_back_to_the_stall_timer(
    tmp_path: Path, status: int
) -> None:
    """A pinned copy with allocation explain failing on every call (a 400 as for a copy that
    moved away, or a 500): no verdict, so the drain is failed by the stall window — early,
    our exclusion removed, replicas kept."""
    async with small_twin(nodes=4) as twin:
        # stall window: a quarter of drainTimeout (2 s), well before the timeout itself
        policy = make_policy(es_url=twin.es_url, safety={"drainTimeout": "8s"})
        async with rig(twin, policy, state_dir=tmp_path) as r:
            rows = await r.es.cat.shards(format="json", h="index,shard,node")
            on_victim = next(x for x in rows if x["node"] == "es-data-3")
            await fault(
                twin,
                {
                    "type": "pin_shard",
                    "index": on_victim["index"],
                    "shard": int(on_victim["shard"]),
                },
            )
            await fault(
                twin,
                {"type": "error", "app": "es", "status": status, "path": "allocation/explain"},
            )
            op = await r.run(to=3)
            assert op.state == "failed"
            assert "drain stalled: nothing moved for 2s" in (op.failure or "")
            assert op.failure_reason == "timeout"
            errors = r.metrics.registry.get_sample_value(
                "esas_drain_explains_total", {"policy": "data", "result": "error"}
            )
            assert (errors or 0) >= 1  # explain was asked, failed, and did not fail the drain
            assert "es-data-3 1" in (op.failure or "")  # the pinned copy is still there
            state = await es_state(twin)
            assert state["settings"]["excluded_names"] == []
            assert state["voting_config_exclusions"] == []
            assert await r.target.current_replicas() == 4
            events = await r.events()
            failed = [e for e in events if e.reason == "ScaleFailed"]
            assert [e.type for e in failed] == ["Warning"]
            assert state["invariants"] == []


async def test_a_drain_that_outlasts_drain_timeout_fails_and_leaves_replicas(
    tmp_path: Path,
) -> None:
    async with small_twin(nodes=4) as twin:
        policy = make_policy(es_url=twin.es_url, safety={"drainTimeout": "500ms"})
        async with rig(twin, policy, state_dir=tmp_path) as r:
            op = await r.run(to=3)
            assert op.state == "failed"
            assert "draining timed out" in (op.failure or "")
            state = await es_state(twin)
            assert state["settings"]["excluded_names"] == []
            assert await r.target.current_replicas() == 4
            assert "scaling" not in [s.phase for s in op.history]
            assert state["invariants"] == []


async def test_a_pod_that_never_becomes_ready_is_rolled_back(tmp_path: Path) -> None:
    async with small_twin() as twin:
        policy = make_policy(es_url=twin.es_url, safety={"joinTimeout": "2s"})
        async with rig(twin, policy, state_dir=tmp_path) as r:
            await fault(twin, {"type": "pod_never_ready", "pod": "es-data-3"})
            op = await r.run(to=4)
            assert op.state == "rolled_back", op.failure
            assert "es-data-3" in (op.failure or "")
            assert await r.target.current_replicas() == 3
            pods = await client.CoreV1Api(r.kube).list_namespaced_pod(NS)

            async def gone() -> bool:
                pods = await client.CoreV1Api(r.kube).list_namespaced_pod(NS)
                return "es-data-3" not in [p.metadata.name for p in pods.items]

            await eventually(gone, what="es-data-3 deleted")
            del pods
            assert "ScaleRolledBack" in [e.reason for e in await r.events()]
            assert (await es_state(twin))["invariants"] == []


async def test_conflicts_on_the_scale_write_are_retried(tmp_path: Path) -> None:
    async with (
        small_twin() as twin,
        rig(twin, make_policy(es_url=twin.es_url), state_dir=tmp_path) as r,
    ):
        await fault(twin, {"type": "conflict", "count": 2})
        op = await r.run(to=4)
        assert op.state == "confirmed", op.failure
        faults = (await sim(twin, "GET", "/_sim/faults"))["faults"]
        assert all(f["type"] != "conflict" for f in faults)  # both conflicts were consumed


async def test_a_forbidden_scale_write_fails_with_the_rbac_message(tmp_path: Path) -> None:
    async with (
        small_twin() as twin,
        rig(twin, make_policy(es_url=twin.es_url), state_dir=tmp_path) as r,
    ):
        await fault(twin, {"type": "forbidden", "verb": "update", "resource": "statefulsets/scale"})
        op = await r.run(to=4)
        assert op.state == "failed"
        assert "403" in (op.failure or "")
        assert "statefulsets/scale" in (op.failure or "")
        assert await r.target.current_replicas() == 3
        assert r.target.key == f"statefulset/{NS}/{STS}"


async def test_es_errors_during_the_drain_are_retried(tmp_path: Path) -> None:
    async with (
        small_twin(nodes=4) as twin,
        rig(twin, make_policy(es_url=twin.es_url), state_dir=tmp_path) as r,
    ):
        await fault(
            twin, {"type": "error", "app": "es", "status": 503, "path": "_cat/shards", "count": 6}
        )
        op = await r.run(to=3)
        assert op.state == "confirmed", op.failure
        assert (await es_state(twin))["invariants"] == []


async def test_a_repeated_event_is_aggregated_with_a_count_and_failures_back_off(
    tmp_path: Path,
) -> None:
    replicated = (IndexSpec("logs", 3, 1, 6 * GIB),)
    async with small_twin(nodes=4, indices=replicated) as twin:
        policy = make_policy(es_url=twin.es_url)
        async with rig(twin, policy, state_dir=tmp_path, failure_backoff=0) as r:
            await fault(twin, {"type": "node_crash", "node": "es-data-1", "restart": False})
            first = await r.run(to=3)
            second = await r.run(to=3)
            assert first.failure == second.failure
            failed = [e for e in await r.events() if e.reason == "ScaleFailed"]
            assert [e.count for e in failed] == [2]
        async with rig(twin, policy, state_dir=tmp_path / "b") as r:
            assert (await r.run(to=3)).state == "failed"
            # a failed operation holds the next one back for the backoff
            assert await r.runner.begin(policy="data", from_replicas=4, to_replicas=3) is None


async def test_es_calls_that_hang_during_the_drain_are_timed_out_and_retried(
    tmp_path: Path,
) -> None:
    async with small_twin(nodes=4) as twin:
        policy = make_policy(es_url=twin.es_url)
        async with rig(twin, policy, state_dir=tmp_path, es_call_timeout=0.5) as r:
            hang = {"type": "timeout", "app": "es", "path": "^/_cat/shards", "seconds": 5}
            await fault(twin, hang | {"count": 2})
            op = await r.run(to=3)
            assert op.state == "confirmed", op.failure
            faults = (await sim(twin, "GET", "/_sim/faults"))["faults"]
            assert [f for f in faults if f["type"] == "timeout"] == []  # both hangs were hit
            assert (await es_state(twin))["invariants"] == []
