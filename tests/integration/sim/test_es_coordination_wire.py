"""Voting configuration exclusions and quorum over the wire, with the real ES client."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, BadRequestError
from es_kit import es_client

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import Cluster
from autoscaler.sim.datasets import IndexSpec

GB = 2**30


def make_cluster(nodes: int = 3, version: str = "8.15.0") -> Cluster:
    cluster = Cluster(
        clock=VirtualClock(), version=version, seed=3, indices=[IndexSpec("logs", 3, 1, 3 * GB)]
    )
    for i in range(nodes):
        cluster.add_node(f"es-{i}")
    cluster.step(0)
    return cluster


client = es_client


def ids_by_name(cluster: Cluster) -> dict[str, str]:
    return {n.name: n.id for n in cluster.nodes()}


async def test_excluding_every_master_times_out_as_es_and_keeps_the_exclusions() -> None:
    cluster = make_cluster()
    ids = ids_by_name(cluster)
    async with client(cluster) as es:
        with pytest.raises(ApiError) as err:
            await es.cluster.post_voting_config_exclusions(node_names="es-0,es-1,es-2")
        assert err.value.meta.status == 500  # 8.x; 429 from 9.0 (PR 116026)
        pending = ", ".join(f"{{{ids[n]}}}{{{n}}}" for n in ("es-0", "es-1", "es-2"))
        assert err.value.body["error"]["type"] == "timeout_exception"
        assert err.value.body["error"]["reason"] == (
            f"timed out waiting for voting config exclusions [{pending}] to take effect"
        )
        state = await es.cluster.state(metric="metadata", filter_path="metadata")
        coordination = state["metadata"]["cluster_coordination"]
        assert sorted(coordination["last_committed_config"]) == sorted(ids.values())
        assert len(coordination["voting_config_exclusions"]) == 3
        assert cluster.master() is not None  # the cluster itself is fine


async def test_timeout_exception_is_429_on_9x() -> None:
    cluster = make_cluster(version="9.1.0")
    async with client(cluster) as es:
        with pytest.raises(ApiError) as err:
            await es.cluster.post_voting_config_exclusions(node_names="es-0,es-1,es-2")
        assert err.value.meta.status == 429


async def test_excluding_two_of_three_commits_a_config_of_the_third() -> None:
    cluster = make_cluster()
    ids = ids_by_name(cluster)
    async with client(cluster) as es:
        await es.cluster.post_voting_config_exclusions(node_ids=f"{ids['es-1']},{ids['es-2']}")
        state = await es.cluster.state(
            metric="metadata", filter_path="metadata.cluster_coordination.last_committed_config"
        )
        assert state == {
            "metadata": {"cluster_coordination": {"last_committed_config": [ids["es-0"]]}}
        }


async def test_clearing_exclusions_waits_for_the_excluded_nodes_to_leave() -> None:
    cluster = make_cluster()
    ids = ids_by_name(cluster)
    async with client(cluster) as es:
        await es.cluster.post_voting_config_exclusions(node_names="es-2")
        with pytest.raises(ApiError) as err:
            await es.cluster.delete_voting_config_exclusions()
        assert err.value.body["error"]["type"] == "timeout_exception"
        assert err.value.body["error"]["reason"] == (
            "timed out waiting for removal of nodes; if nodes should not be removed, set "
            f"waitForRemoval to false. [{{{ids['es-2']}}}{{es-2}}]"
        )
        # without waiting they are cleared at once; the config grows back to three
        await es.cluster.delete_voting_config_exclusions(wait_for_removal=False)
        assert len(cluster.voting_config()) == 3
        await es.cluster.post_voting_config_exclusions(node_names="es-2")
        cluster.remove_node("es-2")
        await es.cluster.delete_voting_config_exclusions()
        assert cluster.voting_exclusions == []


async def test_voting_exclusions_are_capped_by_max_voting_config_exclusions() -> None:
    cluster = make_cluster()
    async with client(cluster) as es:
        await es.cluster.put_settings(persistent={"cluster.max_voting_config_exclusions": 2})
        await es.cluster.post_voting_config_exclusions(node_names="gone-1,gone-2")
        with pytest.raises(BadRequestError) as err:
            await es.cluster.post_voting_config_exclusions(node_names="gone-3")
        assert err.value.body["error"]["reason"] == (
            "add voting config exclusions request for nodes named [gone-3] would add [1] exclusions "
            "to the existing [2] which would exceed the maximum of [2] set by "
            "[cluster.max_voting_config_exclusions]"
        )


async def test_without_quorum_master_routed_apis_answer_503_but_node_stats_still_answer() -> None:
    cluster = make_cluster()
    cluster.remove_node("es-1")
    cluster.remove_node("es-2")
    async with client(cluster) as es:
        for call in (
            es.cluster.health,
            es.cat.nodes,
            es.cat.shards,
            es.cluster.state,
            es.cluster.allocation_explain,
        ):
            with pytest.raises(ApiError) as err:
                await call()
            assert err.value.meta.status == 503, call
            assert err.value.body["error"]["type"] == "master_not_discovered_exception"
        # local=true reads answer from the node's own state (no master shown)
        state = await es.cluster.state(metric="master_node,nodes", local=True)
        assert state["master_node"] is None
        assert [n["name"] for n in state["nodes"].values()] == ["es-0"]
        # local=true health answers from the node's own state: red under the no-master block
        local = await es.cluster.health(local=True)
        assert local["status"] == "red"
        # TransportNodesAction answers from the local node's view, without a master
        stats = await es.nodes.stats(metric="os")
        assert [n["name"] for n in stats["nodes"].values()] == ["es-0"]
        assert (await es.info())["cluster_name"] == cluster.cluster_name


async def test_cat_nodes_marks_the_elected_master() -> None:
    cluster = make_cluster()
    cluster.add_voting_exclusions(node_names=["es-0"])  # es-0 abdicates
    async with client(cluster) as es:
        rows = await es.cat.nodes(format="json", h="name,master")
        masters = [r["name"] for r in rows if r["master"] == "*"]
        master = cluster.master()
        assert master is not None
        assert masters == [master.name]
        assert masters != ["es-0"]
