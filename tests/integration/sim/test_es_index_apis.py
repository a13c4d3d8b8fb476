"""Index settings, reroute/retry_failed, _cat/indices, _cat/health and the health report over the
wire, with the real ES client against a virtual-clock model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elasticsearch import BadRequestError, NotFoundError
from es_kit import es_client

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import Cluster
from autoscaler.sim.datasets import IndexSpec

GB = 2**30
REAL_REPORT = json.loads(
    (Path(__file__).parents[2] / "fixtures/elasticsearch/es-8.7.0_health_report.json").read_text()
)


def make_cluster(nodes: int = 3, version: str = "8.15.0") -> Cluster:
    cluster = Cluster(
        clock=VirtualClock(),
        version=version,
        seed=5,
        indices=[IndexSpec("logs", 4, 1, 8 * GB), IndexSpec("scratch", 3, 0, 3 * GB)],
    )
    for i in range(nodes):
        cluster.add_node(f"es-{i}")
    cluster.step(0)
    return cluster


client = es_client


async def test_raising_replicas_adds_copies_that_recover_and_lowering_removes_them() -> None:
    cluster = make_cluster()
    async with client(cluster) as es:
        await es.indices.put_settings(index="logs", settings={"index": {"number_of_replicas": 2}})
        health = await es.cluster.health(index="logs")
        assert (health["status"], health["unassigned_shards"]) == ("yellow", 4)
        cluster.run_for(600)
        assert (await es.cluster.health(index="logs"))["status"] == "green"
        rows = await es.cat.shards(index="logs", format="json", h="prirep")
        assert len(rows) == 12
        # flat key without the index. prefix, wrapped in "settings" (RestUpdateSettingsAction)
        await es.indices.put_settings(index="logs", body={"settings": {"number_of_replicas": 0}})
        rows = await es.cat.shards(index="logs", format="json", h="prirep")
        assert [r["prirep"] for r in rows] == ["p"] * 4
        got = await es.indices.get_settings(index="logs", flat_settings=True)
        assert got["logs"]["settings"]["index.number_of_replicas"] == "0"


async def test_index_exclude_filter_drains_that_index_off_a_node() -> None:
    cluster = make_cluster()
    async with client(cluster) as es:
        assert cluster.node("es-2").index_counts["logs"] > 0
        await es.indices.put_settings(
            index="logs", settings={"index.routing.allocation.exclude._name": "es-2"}
        )
        cluster.run_for(900)
        rows = await es.cat.shards(index="logs", format="json", h="node")
        assert "es-2" not in {r["node"] for r in rows}
        assert cluster.shards_on("es-2") > 0  # scratch stays: the filter is per index
        explain = await es.cluster.allocation_explain(index="logs", shard=0, primary=True)
        es2 = next(d for d in explain["node_allocation_decisions"] if d["node_name"] == "es-2")
        assert es2["deciders"][0]["explanation"] == (
            # the group key has a trailing dot (IndexMetadata INDEX_ROUTING_EXCLUDE_GROUP_SETTING)
            'node matches index setting [index.routing.allocation.exclude.] filters [_name:"es-2"]'
        )
        nested = await es.indices.get_settings(index="logs")
        assert nested["logs"]["settings"]["index"]["routing"]["allocation"]["exclude"] == {
            "_name": "es-2"
        }


async def test_index_total_shards_per_node_leaves_copies_unassigned_when_nodes_are_too_few() -> (
    None
):
    cluster = make_cluster(nodes=3)
    async with client(cluster) as es:
        # 8 copies of logs sit 3/3/2 on 3 nodes; with at most 2 per node the 4 replicas added
        # next find no node (the copies over the limit cannot move anywhere either)
        await es.indices.put_settings(
            index="logs", settings={"index.routing.allocation.total_shards_per_node": 2}
        )
        await es.indices.put_settings(index="logs", settings={"index.number_of_replicas": 2})
        cluster.run_for(900)
        health = await es.cluster.health(index="logs")
        assert health["unassigned_shards"] == 4
        explain = await es.cluster.allocation_explain()
        reasons = {
            d["explanation"]
            for n in explain["node_allocation_decisions"]
            for d in n.get("deciders", [])
            if d["decider"] == "shards_limit"
        }
        assert (
            "too many shards [2] allocated to this node for index [logs], index setting "
            "[index.routing.allocation.total_shards_per_node=2]"
        ) in reasons


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        (
            {"index.number_of_shards": 5},
            "Can't update non dynamic settings [[index.number_of_shards]] for open indices [[logs/",
        ),
        (
            {"index.frobnicate": 1},
            "unknown setting [index.frobnicate] please check that any required plugins are "
            "installed, or check the breaking changes documentation for removed settings",
        ),
        (
            {"number_of_replicas": "two"},
            "Failed to parse value [two] for setting [index.number_of_replicas]",
        ),
        (
            {"number_of_replicas": -1},
            "Failed to parse value [-1] for setting [index.number_of_replicas] must be >= 0",
        ),
        (
            {"index.blocks.read_only_allow_delete": "maybe"},
            "Failed to parse value [maybe] as only [true] or [false] are allowed.",
        ),
    ],
)
async def test_bad_index_settings_are_refused_as_es_does(
    settings: dict[str, object], reason: str
) -> None:
    cluster = make_cluster()
    async with client(cluster) as es:
        with pytest.raises(BadRequestError) as err:
            await es.indices.put_settings(index="logs", settings=settings)
        assert err.value.body["error"]["type"] == "illegal_argument_exception"
        assert err.value.body["error"]["reason"].startswith(reason)
        assert cluster.index("logs").replicas == 1  # nothing applied


async def test_settings_of_a_missing_index_are_404() -> None:
    async with client(make_cluster()) as es:
        with pytest.raises(NotFoundError):
            await es.indices.put_settings(index="nope", settings={"number_of_replicas": 0})
        with pytest.raises(NotFoundError):
            await es.indices.get_settings(index="nope")


async def test_a_shard_failing_allocation_stops_after_max_retries_until_retry_failed() -> None:
    cluster = make_cluster()
    cluster.fail_allocations("logs", 0)
    async with client(cluster) as es:
        await es.indices.put_settings(index="logs", settings={"number_of_replicas": 2})
        cluster.run_for(300)
        explain = await es.cluster.allocation_explain()  # the one unassigned copy
        assert (explain["index"], explain["shard"], explain["primary"]) == ("logs", 0, False)
        assert explain["unassigned_info"]["reason"] == "ALLOCATION_FAILED"
        assert explain["unassigned_info"]["failed_allocation_attempts"] == 5
        assert explain["can_allocate"] == "no"
        max_retry = explain["node_allocation_decisions"][0]["deciders"][0]
        assert max_retry["decider"] == "max_retry"
        assert max_retry["explanation"].startswith(
            "shard has exceeded the maximum number of retries [5] on failed allocation attempts - "
            "manually call [/_cluster/reroute?retry_failed=true] to retry, "
            "[unassigned_info[[reason=ALLOCATION_FAILED], at["
        )
        # the cause is fixed, but the shard stays unassigned until retry_failed
        cluster.stop_failing_allocations("logs", 0)
        cluster.run_for(120)
        assert (await es.cluster.health(index="logs"))["unassigned_shards"] == 1
        answer = await es.cluster.reroute(retry_failed=True)
        assert answer["acknowledged"] is True
        assert "routing_table" in answer["state"]
        cluster.run_for(300)
        assert (await es.cluster.health(index="logs"))["status"] == "green"


async def test_cat_indices_and_cat_health_rows() -> None:
    cluster = make_cluster()
    cluster.remove_node("es-2")
    async with client(cluster) as es:
        rows = await es.cat.indices(format="json")
        assert [r["index"] for r in rows] == ["logs", "scratch"]
        assert list(rows[0]) == [
            "health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted",
            "store.size", "pri.store.size", "dataset.size",
        ]  # fmt: skip
        by_name = {r["index"]: r for r in rows}
        assert by_name["scratch"]["health"] == "red"
        assert by_name["logs"]["health"] == "yellow"
        assert [r["index"] for r in await es.cat.indices(format="json", health="red")] == [
            "scratch"
        ]
        health = await es.cat.health(format="json")
        assert health[0]["status"] == "red"
        assert health[0]["node.total"] == "2"
        assert set(health[0]) >= {"epoch", "timestamp", "unassign"}
        assert "unassign.pri" not in health[0]  # 8.16+
        text = await es.cat.health(v=True, ts=False)
        assert str(text).splitlines()[0].split()[:3] == ["cluster", "status", "node.total"]


async def test_health_report_shows_unassigned_primaries_red_with_impacts() -> None:
    cluster = make_cluster()
    async with client(cluster) as es:
        report = await es.health_report()
        assert report["status"] == "green"
        real = REAL_REPORT
        assert list(report["indicators"]) == list(real["indicators"])
        for name, indicator in real["indicators"].items():
            assert set(report["indicators"][name]) <= set(indicator) | {"impacts", "diagnosis"}
        assert set(report["indicators"]["shards_availability"]["details"]) == set(
            real["indicators"]["shards_availability"]["details"]
        )
        cluster.remove_node("es-2")
        report = await es.health_report()
        shards = report["indicators"]["shards_availability"]
        assert report["status"] == "red"
        assert shards["status"] == "red"
        assert shards["details"]["unassigned_primaries"] == 1
        assert shards["impacts"][0]["id"] == (
            "elasticsearch:health:shards_availability:impact:primary_unassigned"
        )
        only = await es.health_report(feature="master_is_stable")
        assert list(only["indicators"]) == ["master_is_stable"]


async def test_index_delayed_timeout_governs_how_long_a_left_nodes_replicas_wait() -> None:
    cluster = make_cluster()
    async with client(cluster) as es:
        await es.indices.put_settings(
            index="logs", settings={"index.unassigned.node_left.delayed_timeout": "5m"}
        )
        with pytest.raises(BadRequestError):
            await es.indices.put_settings(
                index="logs", settings={"index.unassigned.node_left.delayed_timeout": "-1"}
            )
        cluster.remove_node("es-2")
        cluster.run_for(120)  # past the default 1m
        explain = await es.cluster.allocation_explain(
            index="logs",
            shard=next(
                c.shard
                for copies in cluster.index("logs").shards
                for c in copies
                if c.state == "UNASSIGNED"
            ),
            primary=False,
        )
        assert explain["can_allocate"] == "allocation_delayed"
        assert explain["configured_delay_in_millis"] == 300_000
