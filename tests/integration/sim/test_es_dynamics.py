"""Cluster dynamics seen through the real client: drains, stalls, throttled rebalancing, losses."""

from __future__ import annotations

import contextlib

from elasticsearch import AsyncElasticsearch
from es_kit import es_client

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import Cluster
from autoscaler.sim.datasets import IndexSpec

GB = 2**30
MB = 2**20


def make_cluster(*, nodes: int = 3, indices: list[IndexSpec] | None = None) -> Cluster:
    cluster = Cluster(clock=VirtualClock(), seed=3, indices=indices)
    for i in range(nodes):
        cluster.add_node(f"es-{i}")
    cluster.step(0)  # from here on, membership changes are live
    return cluster


def client(cluster: Cluster) -> contextlib.AbstractAsyncContextManager[AsyncElasticsearch]:
    return es_client(cluster, request_timeout=5, max_retries=3)


async def shards_per_node(es: AsyncElasticsearch) -> dict[str, int]:
    rows = (await es.cat.allocation(format="json", h="node,shards")).body
    return {r["node"]: int(r["shards"]) for r in rows}


async def test_excluding_a_node_by_name_drains_it_over_simulated_time() -> None:
    cluster = make_cluster()  # default data set: ~780 GB stored over 3 nodes
    async with client(cluster) as es:
        before = await shards_per_node(es)
        assert before["es-0"] > 0
        await es.cluster.put_settings(
            persistent={"cluster.routing.allocation.exclude._name": "es-0"}
        )
        cluster.run_for(60)
        health = await es.cluster.health()
        assert health["relocating_shards"] > 0
        assert (await shards_per_node(es))["es-0"] > 0  # a drain is not instantaneous
        elapsed = 60
        while (await shards_per_node(es))["es-0"] > 0:
            assert elapsed < 6 * 3600, "drain did not finish"
            cluster.run_for(300)
            elapsed += 300
        assert elapsed > 3600  # ~260 GB at 40 MB/s per node takes simulated hours
        health = await es.cluster.health(wait_for_no_relocating_shards=True, timeout="0s")
        assert health["status"] == "green"
        assert cluster.node("es-0").incoming_relocs == set()


async def test_a_pinned_shard_stalls_the_drain_and_explain_says_why() -> None:
    cluster = make_cluster(indices=[IndexSpec("idx", 4, 1, 8 * GB)])
    pinned = next(c for c in cluster.node("es-0").copies)
    cluster.pin_shard(pinned.index, pinned.shard)
    async with client(cluster) as es:
        await es.cluster.put_settings(
            persistent={"cluster.routing.allocation.exclude._name": "es-0"}
        )
        cluster.run_for(3600)
        left = await shards_per_node(es)
        assert left["es-0"] == 1
        explained = await es.cluster.allocation_explain(
            index=pinned.index, shard=pinned.shard, primary=pinned.primary
        )
        assert explained["current_node"]["name"] == "es-0"
        assert explained["can_remain_on_current_node"] == "no"
        assert explained["can_remain_decisions"][0]["explanation"] == (
            'node matches cluster setting [cluster.routing.allocation.exclude] filters [_name:"es-0"]'
        )
        assert explained["can_move_to_other_node"] == "no"
        assert explained["move_explanation"].startswith(
            "This shard may not remain on its current node, but Elasticsearch isn't allowed to move it"
        )
        reasons = {
            d["explanation"]
            for node in explained["node_allocation_decisions"]
            for d in node["deciders"]
            if d["decider"] == "filter"
        }
        assert (
            'node does not match index setting [index.routing.allocation.require] filters [_name:"es-0"]'
            in reasons
        )
        cluster.unpin_all()
        cluster.run_for(600)
        assert (await shards_per_node(es))["es-0"] == 0


async def test_new_nodes_receive_shards_at_the_throttled_rate() -> None:
    cluster = make_cluster(indices=[IndexSpec("logs", 12, 1, 240 * GB)])  # 20 GB shards
    async with client(cluster) as es:
        cluster.add_node("es-3")
        cluster.add_node("es-4")
        elapsed = 0
        max_relocating = 0
        seen_relocating = False
        while True:
            cluster.run_for(30)
            elapsed += 30
            health = await es.cluster.health()
            max_relocating = max(max_relocating, health["relocating_shards"])
            seen_relocating = seen_relocating or health["relocating_shards"] > 0
            if health["relocating_shards"] == 0 and health["initializing_shards"] == 0:
                break
            assert elapsed < 12 * 3600
        counts = await shards_per_node(es)
        assert max(counts.values()) - min(counts.values()) <= 1
        assert counts["es-3"] >= 4
        assert seen_relocating
        assert max_relocating == 2  # cluster_concurrent_rebalance
        moved = cluster.relocated_bytes
        assert moved == cluster.relocations_completed * 20 * GB
        # at most two streams of 40 MB/s, at least one; 1 s step granularity + poll slack
        assert moved / (80 * MB) <= elapsed
        assert elapsed <= moved / (40 * MB) + cluster.relocations_completed + 30
        assert moved >= 180 * GB
        assert elapsed > 1800  # ~200 GB moved: most of an hour, not an instant


async def test_rebalance_throttle_follows_the_recovery_rate_setting() -> None:
    cluster = make_cluster(nodes=1, indices=[IndexSpec("logs", 2, 0, 20 * GB)])
    async with client(cluster) as es:
        await es.cluster.put_settings(persistent={"indices.recovery.max_bytes_per_sec": "100mb"})
        cluster.add_node("es-1")
        elapsed = 0
        while cluster.relocations_completed == 0:
            cluster.run_for(1)
            elapsed += 1
        expected = 10 * GB / (100 * MB)  # one 10 GB shard at 100 MB/s
        assert expected <= elapsed <= expected + 2  # +1 s to start, +1 s step granularity


async def test_removing_a_node_with_shards_records_an_invariant_and_replica_0_turns_red() -> None:
    cluster = make_cluster(
        indices=[IndexSpec("safe", 3, 1, 3 * GB), IndexSpec("fragile", 3, 0, 3 * GB)]
    )
    victim = next(
        n for n in cluster.node_names() if any(c.index == "fragile" for c in cluster.node(n).copies)
    )
    async with client(cluster) as es:
        cluster.remove_node(victim)
        kinds = [v["kind"] for v in cluster.invariants]
        assert kinds[0] == "node_left_with_shards"
        assert "primary_unassigned" in kinds
        health = await es.cluster.health()
        assert health["status"] == "red"
        assert health["unassigned_shards"] > 0
        cluster.run_for(300)
        health = await es.cluster.health()
        assert health["status"] == "red"  # no copy of the fragile shard exists any more
        explained = await es.cluster.allocation_explain()
        assert explained["index"] == "fragile"
        assert explained["can_allocate"] == "no_valid_shard_copy"


async def test_a_drained_node_leaves_without_violations() -> None:
    cluster = make_cluster(
        indices=[IndexSpec("idx", 3, 1, 3 * GB), IndexSpec("solo", 2, 0, 2 * GB)]
    )
    async with client(cluster) as es:
        await es.cluster.put_settings(
            persistent={"cluster.routing.allocation.exclude._name": "es-2"}
        )
        cluster.run_for(900)
        assert (await shards_per_node(es))["es-2"] == 0
        cluster.remove_node("es-2")
        assert cluster.invariants == []
        health = await es.cluster.health()
        assert health["status"] == "green"


async def test_a_node_restart_within_the_delay_gets_its_replicas_back() -> None:
    cluster = make_cluster(indices=[IndexSpec("idx", 3, 1, 30 * GB)])
    held = cluster.shards_on("es-1")
    async with client(cluster) as es:
        cluster.remove_node("es-1")
        health = await es.options(ignore_status=408).cluster.health()
        assert health["status"] == "yellow"
        assert health["delayed_unassigned_shards"] == health["unassigned_shards"] > 0
        cluster.run_for(20)
        cluster.add_node("es-1")
        cluster.run_for(60)
        health = await es.cluster.health()
        assert health["status"] == "green"
        assert cluster.shards_on("es-1") == held
