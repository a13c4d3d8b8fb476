"""Event timestamps are the client's; only ``metadata.creationTimestamp`` is the server's.

kube-apiserver's event strategy has an empty ``PrepareForCreate``/``PrepareForUpdate``
(kubernetes/kubernetes ``pkg/registry/core/event/strategy.go``): ``firstTimestamp``,
``lastTimestamp`` and ``eventTime`` are stored as the client sent them — client-go's recorder
stamps them from its own clock (``tools/record/event.go`` ``makeEvent``) — while
``creationTimestamp`` is filled by the generic registry from the server's clock. The twin does
the same with its sim clock (API-BEHAVIOUR.md §6.4), so under ``sim --speed N`` an Event that
``serve`` stamps with its wall clock keeps those times: the twin does not rewrite them.

A virtual twin pinned to 2027 and a client that stamps 2026: the two clocks never agree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from k8s_kit import api_for
from kubernetes_asyncio import client

from autoscaler.sim.k8s.timefmt import format_time
from autoscaler.sim.server import RunningTwin, run_twin

SIM_START = 1_800_000_000.0  # 2027-01-15T08:00:00Z on the twin's clock
CLIENT_FIRST = "2026-01-01T00:00:00Z"  # the client's own clock
CLIENT_LAST = "2026-01-01T00:05:00Z"


@pytest.fixture
async def running() -> AsyncIterator[RunningTwin]:
    async with run_twin(nodes=1, indices=(), start=SIM_START) as twin:
        yield twin


async def test_event_times_are_stored_as_the_client_sent_them_and_creation_time_is_the_servers(
    running: RunningTwin,
) -> None:
    ns, sts = running.statefulset.split("/")
    async with await api_for(running.kubeconfig_path) as api:
        core = client.CoreV1Api(api)
        body = {
            "metadata": {"name": f"{sts}.1"},
            "involvedObject": {"kind": "StatefulSet", "namespace": ns, "name": sts},
            "reason": "ScaleConfirmed",
            "message": "scaled up 3 → 4",
            "type": "Normal",
            "count": 1,
            "firstTimestamp": CLIENT_FIRST,
            "lastTimestamp": CLIENT_FIRST,
        }
        await core.create_namespaced_event(ns, body)
        running.twin.advance(300)  # within the 1 h event TTL (--event-ttl)
        # a repeat, as serve's announce() records it: count and lastTimestamp from its clock
        await core.patch_namespaced_event(
            f"{sts}.1", ns, {"count": 2, "lastTimestamp": CLIENT_LAST}
        )
        raw = await core.read_namespaced_event(f"{sts}.1", ns, _preload_content=False)
        event = await raw.json()
    assert (event["firstTimestamp"], event["lastTimestamp"]) == (CLIENT_FIRST, CLIENT_LAST)
    assert event["eventTime"] is None  # not filled in by the server either
    assert event["metadata"]["creationTimestamp"] == format_time(SIM_START)
