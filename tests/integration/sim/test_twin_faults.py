"""Each injected fault is observable through the real clients, and ``DELETE`` clears it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import ApiError, AsyncElasticsearch, ConnectionError, ConnectionTimeout
from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException
from twin_kit import call

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin

NS = "elastic"
STS = "es-data"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with run_twin(
        nodes=3,
        indices=parse_indices_spec("logs:3x1:3gb"),
        pod_ready_delay=30.0,
        kubeconfig_dir=tmp_path,
    ) as twin:
        yield twin


async def inject(running: RunningTwin, fault: dict[str, Any]) -> dict[str, Any]:
    status, body = await call(running, "POST", "/_sim/faults", fault)
    assert status == 200, body
    return body["added"][0]  # type: ignore[no-any-return]


async def active_faults(running: RunningTwin) -> list[dict[str, Any]]:
    _, body = await call(running, "GET", "/_sim/faults")
    return body["faults"]  # type: ignore[no-any-return]


async def es_node_names(es: AsyncElasticsearch) -> list[str]:
    rows = await es.cat.nodes(format="json", h="name")
    return sorted(row["name"] for row in rows)


async def test_es_server_error_fault_answers_503_then_clears(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    await inject(
        running, {"type": "error", "app": "es", "status": 503, "path": "^/_cluster/health"}
    )
    with pytest.raises(ApiError) as err:
        await es.cluster.health()
    assert err.value.meta.status == 503
    await es.info()  # other paths are untouched
    await call(running, "DELETE", "/_sim/faults")
    assert (await es.cluster.health())["status"] == "green"


async def test_latency_fault_delays_answers_past_a_short_client_timeout(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    fault = await inject(running, {"type": "latency", "app": "es", "seconds": 2.0, "count": 1})
    with pytest.raises(ConnectionTimeout):
        await es.options(request_timeout=0.2).cluster.health()
    assert fault["id"] not in [f["id"] for f in await active_faults(running)]  # used up
    assert (await es.cluster.health())["status"] == "green"


async def test_timeout_fault_hangs_until_the_client_gives_up(
    running: RunningTwin, k8s: client.ApiClient
) -> None:
    await inject(running, {"type": "timeout", "app": "k8s", "seconds": 60, "count": 1})
    apps = client.AppsV1Api(k8s)
    with pytest.raises(asyncio.TimeoutError):
        await apps.read_namespaced_stateful_set(STS, NS, _request_timeout=0.3)
    await call(running, "DELETE", "/_sim/faults")  # also releases the hung request
    assert (await apps.read_namespaced_stateful_set(STS, NS)).metadata.name == STS


async def test_dropped_connection_fault_closes_without_an_answer(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    # aiohttp (under elastic-transport) silently retries an idempotent request once after
    # a server disconnect, so one dropped connection is invisible: drop two
    await inject(running, {"type": "drop", "app": "es", "count": 2})
    with pytest.raises(ConnectionError):
        await es.cluster.health()
    assert await active_faults(running) == []
    assert (await es.cluster.health())["status"] == "green"


async def test_conflict_fault_rejects_the_next_k_kubernetes_writes(
    running: RunningTwin, k8s: client.ApiClient
) -> None:
    await inject(running, {"type": "conflict", "count": 2})
    apps = client.AppsV1Api(k8s)
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            await apps.patch_namespaced_stateful_set_scale(STS, NS, {"spec": {"replicas": 4}})
        assert err.value.status == 409
    scale = await apps.patch_namespaced_stateful_set_scale(STS, NS, {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4


async def test_pod_that_never_becomes_ready_never_joins_es(
    running: RunningTwin, k8s: client.ApiClient, es: AsyncElasticsearch
) -> None:
    await inject(running, {"type": "pod_never_ready", "pod": "es-data-3"})
    apps = client.AppsV1Api(k8s)
    await apps.patch_namespaced_stateful_set_scale(STS, NS, {"spec": {"replicas": 4}})
    await call(running, "POST", "/_sim/advance?seconds=300")
    pod = await client.CoreV1Api(k8s).read_namespaced_pod("es-data-3", NS)
    ready = {c.type: c.status for c in pod.status.conditions}["Ready"]
    assert (pod.status.phase, ready) == ("Running", "False")
    sts = await apps.read_namespaced_stateful_set(STS, NS)
    assert (sts.status.replicas, sts.status.ready_replicas) == (4, 3)
    assert await es_node_names(es) == ["es-data-0", "es-data-1", "es-data-2"]

    await call(running, "DELETE", "/_sim/faults")
    await call(running, "POST", "/_sim/advance?seconds=1")
    assert "es-data-3" in await es_node_names(es)


async def test_node_crash_drops_the_es_node_and_the_pod_restarts(
    running: RunningTwin, k8s: client.ApiClient, es: AsyncElasticsearch
) -> None:
    await inject(running, {"type": "node_crash", "node": "es-data-1"})
    assert await es_node_names(es) == ["es-data-0", "es-data-2"]
    health = await es.cluster.health()
    assert health["status"] == "yellow"  # replicas of the lost copies are unassigned
    _, invariants = await call(running, "GET", "/_sim/invariants")
    assert [v["node"] for v in invariants] == ["es-data-1"]
    pod = await client.CoreV1Api(k8s).read_namespaced_pod("es-data-1", NS)
    assert pod.status.container_statuses[0].restart_count == 1

    await call(running, "POST", "/_sim/advance?seconds=31")
    assert await es_node_names(es) == ["es-data-0", "es-data-1", "es-data-2"]


async def test_pinned_shard_stays_on_an_excluded_node(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    rows = await es.cat.shards(index="logs", format="json", h="shard,prirep,node")
    holder = next(r["node"] for r in rows if r["shard"] == "0" and r["prirep"] == "p")
    await inject(running, {"type": "pin_shard", "index": "logs", "shard": 0})
    await es.cluster.put_settings(persistent={"cluster.routing.allocation.exclude._name": holder})
    await call(running, "POST", "/_sim/advance?seconds=600")
    rows = await es.cat.shards(index="logs", format="json", h="shard,prirep,node")
    on_holder = [(r["shard"], r["prirep"]) for r in rows if r["node"] == holder]
    assert on_holder == [("0", "p")]


async def test_invalid_fault_is_rejected_with_400(running: RunningTwin) -> None:
    status, body = await call(running, "POST", "/_sim/faults", {"type": "meteor"})
    assert status == 400
    assert "unknown fault type" in body["error"]
    status, body = await call(running, "POST", "/_sim/faults", {"type": "latency", "app": "es"})
    assert status == 400
