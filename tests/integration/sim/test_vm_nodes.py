"""VM nodes (the Ansible target's machines) through ``/_sim/nodes``, seen by the real ES client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch
from k8s_kit import api_for
from kubernetes_asyncio import client
from twin_kit import call

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin
from autoscaler.sim.spec import TwinSpec

INDICES = parse_indices_spec("logs:4x1:8gb,scratch:3x0:3gb")


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with run_twin(TwinSpec(vm_nodes=3, indices=INDICES), kubeconfig_dir=tmp_path) as twin:
        yield twin


async def es_nodes(es: AsyncElasticsearch) -> list[str]:
    return sorted(r["name"] for r in await es.cat.nodes(format="json", h="name"))


async def test_a_vm_only_cluster_has_vm_nodes_and_no_statefulset(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    assert await es_nodes(es) == ["es-vm-0", "es-vm-1", "es-vm-2"]
    assert (await es.cluster.health())["status"] == "green"
    status, body = await call(running, "GET", "/_sim/nodes")
    assert status == 200
    assert [(n["name"], n["state"]) for n in body["nodes"]] == [
        ("es-vm-0", "joined"),
        ("es-vm-1", "joined"),
        ("es-vm-2", "joined"),
    ]
    async with await api_for(running.kubeconfig_path) as api:
        sets = await client.AppsV1Api(api).list_stateful_set_for_all_namespaces()
        assert sets.items == []


async def test_a_provisioned_vm_joins_after_its_delay_and_receives_shards(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    status, vm = await call(
        running,
        "POST",
        "/_sim/nodes",
        {"name": "es-vm-3", "roles": ["data", "ingest"], "disk_gb": 200, "join_after": "30s"},
    )
    assert status == 201
    assert (vm["state"], vm["roles"], vm["disk_gb"]) == ("provisioning", ["data", "ingest"], 200)
    await call(running, "POST", "/_sim/advance?seconds=29")
    assert "es-vm-3" not in await es_nodes(es)
    await call(running, "POST", "/_sim/advance?seconds=1")
    assert "es-vm-3" in await es_nodes(es)
    _, vm = await call(running, "GET", "/_sim/nodes/es-vm-3")
    assert vm["state"] == "joined"
    await call(running, "POST", "/_sim/advance?seconds=600")
    rows = await es.cat.allocation(format="json", h="node,shards,disk.total")
    new = next(r for r in rows if r["node"] == "es-vm-3")
    assert int(new["shards"]) > 0
    assert new["disk.total"] == "200gb"
    # a data-only node is not master-eligible: the voting configuration is unchanged
    assert len(running.twin.cluster.voting_config()) == 3


async def test_stopping_a_vm_that_holds_shards_loses_them_as_a_deleted_pod_would(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    status, vm = await call(running, "DELETE", "/_sim/nodes/es-vm-2")
    assert (status, vm["state"]) == (200, "stopped")
    assert await es_nodes(es) == ["es-vm-0", "es-vm-1"]
    _, invariants = await call(running, "GET", "/_sim/invariants")
    kinds = {(v["kind"], v.get("node")) for v in invariants}
    assert ("node_left_with_shards", "es-vm-2") in kinds
    assert ("primary_unassigned", "es-vm-2") in kinds  # scratch has no replicas
    assert (await es.cluster.health())["status"] == "red"


async def test_a_drained_vm_stops_without_losing_anything(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    await es.cluster.put_settings(
        persistent={"cluster.routing.allocation.exclude._name": "es-vm-2"}
    )
    await call(running, "POST", "/_sim/advance?seconds=900")
    assert running.twin.cluster.shards_on("es-vm-2") == 0
    await es.cluster.post_voting_config_exclusions(node_names="es-vm-2")
    await call(running, "DELETE", "/_sim/nodes/es-vm-2")
    await es.cluster.delete_voting_config_exclusions()
    _, invariants = await call(running, "GET", "/_sim/invariants")
    assert invariants == []
    assert (await es.cluster.health())["status"] == "green"


async def test_vm_faults_never_join_and_provisioning_error(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    status, _ = await call(
        running,
        "POST",
        "/_sim/faults",
        [
            {"type": "vm_never_joins", "node": "es-vm-3"},
            {"type": "vm_provision_error", "status": 503},
        ],
    )
    assert status == 200
    status, body = await call(running, "POST", "/_sim/nodes", {"name": "es-vm-3"})
    assert status == 503
    assert "es-vm-3" in body["error"]
    status, _ = await call(running, "GET", "/_sim/nodes/es-vm-3")
    assert status == 404  # a failed call provisioned nothing
    _, faults = await call(running, "GET", "/_sim/faults")
    assert [f["type"] for f in faults["faults"]] == ["vm_never_joins"]  # count 1: used up

    status, vm = await call(running, "POST", "/_sim/nodes", {"name": "es-vm-3", "join_after": 5})
    assert status == 201
    await call(running, "POST", "/_sim/advance?seconds=300")
    _, vm = await call(running, "GET", "/_sim/nodes/es-vm-3")
    assert vm["state"] == "provisioning"
    assert "es-vm-3" not in await es_nodes(es)
    await call(running, "DELETE", "/_sim/faults")
    await call(running, "POST", "/_sim/advance?seconds=1")
    assert "es-vm-3" in await es_nodes(es)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "es-vm-0"}, 409, "already exists"),
        ({"name": "Bad Name"}, 400, "name must be"),
        ({"name": "es-vm-9", "roles": ["dta"]}, 400, "unknown role"),
        ({"name": "es-vm-9", "disk_gb": 0}, 400, "disk_gb"),
        ({"name": "es-vm-9", "disk_gb": "big"}, 400, "disk_gb"),
        ({"name": "es-vm-9", "join_after": "soon"}, 400, "join_after"),
        ({"name": "es-vm-9", "size": 3}, 400, "unknown field"),
        ([], 400, "expected"),
    ],
)
async def test_bad_provisioning_requests_get_clear_4xx(
    running: RunningTwin, body: Any, status: int, message: str
) -> None:
    got, answer = await call(running, "POST", "/_sim/nodes", body)
    assert got == status
    assert message in answer["error"]


async def test_numeric_strings_from_ansible_templates_are_accepted(running: RunningTwin) -> None:
    status, vm = await call(
        running, "POST", "/_sim/nodes", {"name": "es-vm-7", "disk_gb": "250", "join_after": "20s"}
    )
    assert status == 201
    assert vm["disk_gb"] == 250


async def test_stopping_an_unknown_vm_is_404(running: RunningTwin) -> None:
    status, body = await call(running, "DELETE", "/_sim/nodes/nope")
    assert status == 404
    assert "nope" in body["error"]
