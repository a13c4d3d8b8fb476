"""``PUT /_sim/nodes/{name}/disk`` drives the disk watermarks: relocations past high, the
flood-stage read-only block and its auto-release, seen through the real ES client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch
from twin_kit import call

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin

INDICES = parse_indices_spec("logs:6x1:30gb,metrics:3x1:6gb")


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with run_twin(nodes=3, indices=INDICES, kubeconfig_dir=tmp_path) as twin:
        yield twin


async def blocked(es: AsyncElasticsearch) -> dict[str, bool]:
    got = await es.indices.get_settings(index="_all", flat_settings=True)
    return {
        name: entry["settings"].get("index.blocks.read_only_allow_delete") == "true"
        for name, entry in got.items()
    }


async def test_disk_use_is_set_and_reported_in_node_stats(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    status, disk = await call(running, "PUT", "/_sim/nodes/es-data-1/disk", {"used_percent": 70})
    assert status == 200
    assert disk["used_percent"] == pytest.approx(70, abs=0.01)
    stats = await es.nodes.stats(metric="fs")
    fs = next(n["fs"]["total"] for n in stats["nodes"].values() if n["name"] == "es-data-1")
    used = 100 * (1 - fs["available_in_bytes"] / fs["total_in_bytes"])
    assert used == pytest.approx(70, abs=0.1)


async def test_flood_stage_blocks_the_indices_on_that_node_and_releases_below_high(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    assert not any((await blocked(es)).values())
    await call(running, "PUT", "/_sim/nodes/es-data-0/disk", {"used_percent": 96})
    await call(running, "POST", "/_sim/advance?seconds=30")  # cluster.info.update.interval
    on_node = {c.index for c in running.twin.cluster.node("es-data-0").copies}
    assert {name for name, b in (await blocked(es)).items() if b} == on_node
    report = await es.health_report(feature="disk")
    disk = report["indicators"]["disk"]
    assert disk["status"] == "red"
    assert disk["details"]["nodes_over_flood_stage_watermark"] == 1
    assert disk["details"]["indices_with_readonly_block"] == len(on_node)
    # above high the node also sheds shards
    health = await es.cluster.health()
    assert health["relocating_shards"] > 0

    # space freed (below high): the block is released on the next disk check
    await call(running, "PUT", "/_sim/nodes/es-data-0/disk", {"used_percent": 40})
    await call(running, "POST", "/_sim/advance?seconds=30")
    assert not any((await blocked(es)).values())


async def test_a_block_stays_while_a_shard_of_the_index_is_on_a_node_above_high(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    await call(running, "PUT", "/_sim/nodes/es-data-0/disk", {"used_percent": 96})
    await call(running, "POST", "/_sim/advance?seconds=30")
    await call(running, "PUT", "/_sim/nodes/es-data-0/disk", {"used_percent": 93})  # > high
    await call(running, "POST", "/_sim/advance?seconds=30")
    still = {c.index for c in running.twin.cluster.node("es-data-0").copies}
    assert still  # shards are still draining
    assert {name for name, b in (await blocked(es)).items() if b} >= still


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_sim/nodes/es-data-0/disk", {"used_percent": 120}, 400),
        ("/_sim/nodes/es-data-0/disk", {"used_percent": "lots"}, 400),
        ("/_sim/nodes/es-data-0/disk", {}, 400),
        ("/_sim/nodes/nope/disk", {"used_percent": 50}, 404),
    ],
)
async def test_bad_disk_requests_are_clear_4xx(
    running: RunningTwin, path: str, body: Any, status: int
) -> None:
    got, answer = await call(running, "PUT", path, body)
    assert got == status
    assert answer["error"]


async def test_allocation_failure_fault_is_injected_through_sim_faults(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    status, _ = await call(
        running,
        "POST",
        "/_sim/faults",
        {"type": "shard_allocation_failure", "index": "logs", "shard": 1},
    )
    assert status == 200
    await es.indices.put_settings(index="logs", settings={"number_of_replicas": 2})
    await call(running, "POST", "/_sim/advance?seconds=600")
    explain = await es.cluster.allocation_explain()
    assert (explain["index"], explain["shard"]) == ("logs", 1)
    assert explain["unassigned_info"]["failed_allocation_attempts"] == 5
    status, answer = await call(
        running,
        "POST",
        "/_sim/faults",
        {"type": "shard_allocation_failure", "index": "nope", "shard": 0},
    )
    assert status == 400
    assert "nope" in answer["error"]
