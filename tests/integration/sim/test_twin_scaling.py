"""Scaling the twin's StatefulSet through the real clients changes the simulated ES cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from elasticsearch import ApiError, AsyncElasticsearch
from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin

NS = "elastic"
STS = "es-data"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with run_twin(
        nodes=3,
        indices=parse_indices_spec("logs:6x1:12gb,scratch:3x0:1gb"),
        pod_ready_delay=30.0,
        kubeconfig_dir=tmp_path,
    ) as twin:
        yield twin


async def sim(running: RunningTwin, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{running.es_url}{path}", json=body) as resp,
    ):
        assert resp.status < 300, await resp.text()
        return await resp.json()


async def advance(running: RunningTwin, seconds: int) -> None:
    await sim(running, "POST", f"/_sim/advance?seconds={seconds}")


async def es_node_names(es: AsyncElasticsearch) -> list[str]:
    rows = await es.cat.nodes(format="json", h="name")
    return sorted(row["name"] for row in rows)


async def test_starting_pods_are_the_es_nodes_of_a_green_cluster(
    running: RunningTwin, k8s: client.ApiClient, es: AsyncElasticsearch
) -> None:
    pods = await client.CoreV1Api(k8s).list_namespaced_pod(NS)
    assert [p.metadata.name for p in pods.items] == ["es-data-0", "es-data-1", "es-data-2"]
    assert await es_node_names(es) == ["es-data-0", "es-data-1", "es-data-2"]
    assert (await es.cluster.health())["status"] == "green"


async def test_scale_up_adds_ready_pods_as_es_nodes_that_then_receive_shards(
    running: RunningTwin, k8s: client.ApiClient, es: AsyncElasticsearch
) -> None:
    apps = client.AppsV1Api(k8s)
    before = await apps.read_namespaced_stateful_set_scale(STS, NS)
    scale = await apps.patch_namespaced_stateful_set_scale(STS, NS, {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5

    # a second write based on the pre-scale object is rejected
    before.spec.replicas = 6
    with pytest.raises(ApiException) as err:
        await apps.replace_namespaced_stateful_set_scale(STS, NS, before)
    assert err.value.status == 409
    assert '"reason": "Conflict"' in err.value.body or '"reason":"Conflict"' in err.value.body

    # pods exist but are not ready yet: ES does not know them
    await advance(running, 10)
    sts = await apps.read_namespaced_stateful_set(STS, NS)
    assert (sts.status.replicas, sts.status.ready_replicas) == (5, 3)
    assert await es_node_names(es) == ["es-data-0", "es-data-1", "es-data-2"]

    # after the ready delay they join ES
    await advance(running, 25)
    assert await es_node_names(es) == [f"es-data-{i}" for i in range(5)]
    sts = await apps.read_namespaced_stateful_set(STS, NS)
    assert sts.status.ready_replicas == 5

    # shards move onto the new nodes over simulated time, throttled: relocations are visible
    seen_relocating = False
    for _ in range(120):
        health = await es.cluster.health()
        if health["relocating_shards"] > 0:
            seen_relocating = True
        elif seen_relocating:
            break
        await advance(running, 5)
    assert seen_relocating
    assert health["relocating_shards"] == 0
    assert health["status"] == "green"
    allocation = await es.cat.allocation(format="json", h="node,shards")
    shards = {row["node"]: int(row["shards"]) for row in allocation if row.get("node")}
    assert shards["es-data-3"] > 0
    assert shards["es-data-4"] > 0
    assert max(shards.values()) - min(shards.values()) <= 1
    assert await sim(running, "GET", "/_sim/invariants") == []


async def test_scale_down_by_one_without_drain_loses_shards_and_turns_red(
    running: RunningTwin, k8s: client.ApiClient, es: AsyncElasticsearch
) -> None:
    apps = client.AppsV1Api(k8s)
    await apps.patch_namespaced_stateful_set_scale(STS, NS, {"spec": {"replicas": 2}})
    await advance(running, 1)

    invariants = await sim(running, "GET", "/_sim/invariants")
    kinds = {(v["kind"], v.get("node")) for v in invariants}
    assert ("node_left_with_shards", "es-data-2") in kinds
    assert ("primary_unassigned", "es-data-2") in kinds  # scratch has no replicas
    health = await es.cluster.health()
    assert health["status"] == "red"
    assert await es_node_names(es) == ["es-data-0", "es-data-1"]

    # the pod lingers while terminating, then is gone
    pods = await client.CoreV1Api(k8s).list_namespaced_pod(NS)
    assert all(p.metadata.deletion_timestamp for p in pods.items if p.metadata.name == "es-data-2")
    await advance(running, 15)
    pods = await client.CoreV1Api(k8s).list_namespaced_pod(NS)
    assert [p.metadata.name for p in pods.items] == ["es-data-0", "es-data-1"]


async def test_scale_down_3_to_1_without_voting_exclusions_loses_the_master_quorum(
    running: RunningTwin, k8s: client.ApiClient, es: AsyncElasticsearch
) -> None:
    apps = client.AppsV1Api(k8s)
    await apps.patch_namespaced_stateful_set_scale(STS, NS, {"spec": {"replicas": 1}})
    await advance(running, 1)

    invariants = await sim(running, "GET", "/_sim/invariants")
    lost = [v for v in invariants if v["kind"] == "quorum_lost"]
    assert len(lost) == 1
    assert lost[0]["live_voting_nodes"] == ["es-data-0"]
    assert {v["node"] for v in invariants if v["kind"] == "node_left_with_shards"} == {
        "es-data-1",
        "es-data-2",
    }
    # every master-routed API answers 503 with ES's body (max_retries=0: the client would
    # otherwise retry a 503)
    for call in (es.cluster.health, es.cat.nodes, es.cluster.get_settings):
        with pytest.raises(ApiError) as err:
            await call()
        assert err.value.meta.status == 503
        assert err.value.body == {
            "error": {
                "root_cause": [{"type": "master_not_discovered_exception", "reason": None}],
                "type": "master_not_discovered_exception",
                "reason": None,
            },
            "status": 503,
        }
    state = await sim(running, "GET", "/_sim/state")
    assert state["elasticsearch"]["master"] is None


async def test_voting_exclusions_before_scaling_3_to_1_keep_a_master(
    running: RunningTwin, k8s: client.ApiClient, es: AsyncElasticsearch
) -> None:
    await es.cluster.post_voting_config_exclusions(node_names="es-data-1,es-data-2")
    state = await es.cluster.state(metric="metadata", filter_path="metadata.cluster_coordination")
    coordination = state["metadata"]["cluster_coordination"]
    nodes = {
        n["name"]: n["id"] for n in await es.cat.nodes(format="json", h="name,id", full_id=True)
    }
    assert coordination["last_committed_config"] == [nodes["es-data-0"]]
    assert [e["node_name"] for e in coordination["voting_config_exclusions"]] == [
        "es-data-1",
        "es-data-2",
    ]

    apps = client.AppsV1Api(k8s)
    await apps.patch_namespaced_stateful_set_scale(STS, NS, {"spec": {"replicas": 1}})
    await advance(running, 15)
    rows = await es.cat.nodes(format="json", h="name,master")
    assert rows == [{"name": "es-data-0", "master": "*"}]
    await es.cluster.delete_voting_config_exclusions()  # wait_for_removal: they have left
    invariants = await sim(running, "GET", "/_sim/invariants")
    assert "quorum_lost" not in {v["kind"] for v in invariants}


async def test_sim_state_shows_nodes_pods_and_clock(running: RunningTwin) -> None:
    await sim(running, "PUT", "/_sim/workload", {"search": 50, "index": 20})
    state = await sim(running, "GET", "/_sim/state")
    assert state["clock"]["virtual"] is True
    assert [n["name"] for n in state["elasticsearch"]["nodes"]] == [
        "es-data-0",
        "es-data-1",
        "es-data-2",
    ]
    assert all(n["shards"] > 0 for n in state["elasticsearch"]["nodes"])
    assert state["elasticsearch"]["health"] == "green"
    assert state["elasticsearch"]["workload"] == {"search_per_s": 50.0, "index_per_s": 20.0}
    assert state["kubernetes"]["statefulsets"][0]["name"] == STS
    assert [p["name"] for p in state["kubernetes"]["pods"]] == [
        "es-data-0",
        "es-data-1",
        "es-data-2",
    ]
    assert state["invariants"] == []
    now = state["clock"]["now"]
    moved = await sim(running, "POST", "/_sim/advance?seconds=90")
    assert moved["clock"]["now"] == now + 90
