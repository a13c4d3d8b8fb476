"""The twin's master quorum follows ES's Reconfigurator: odd-sized configs, auto-shrink, quorum."""

from __future__ import annotations

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import Cluster
from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.es.coordination import has_quorum, reconfigure

GB = 2**30


def cluster_of(n: int, *, roles: tuple[str, ...] = ("data", "master")) -> Cluster:
    cluster = Cluster(clock=VirtualClock(), indices=[IndexSpec("logs", 3, 1, 3 * GB)])
    for i in range(n):
        cluster.add_node(f"es-{i}", roles=roles)
    cluster.step(0)
    return cluster


def names(cluster: Cluster, ids: list[str]) -> list[str]:
    by_id = {n.id: n.name for n in cluster.nodes()}
    return sorted(by_id.get(i, i) for i in ids)


def test_quorum_is_more_than_half_of_the_configuration() -> None:
    assert has_quorum({"a", "b", "c"}, {"a", "b"})
    assert not has_quorum({"a", "b", "c"}, {"a"})
    assert not has_quorum({"a", "b"}, {"a"})  # half is not a quorum
    assert not has_quorum(set(), {"a"})


def test_reconfigure_keeps_an_odd_number_and_shrinks_no_lower_than_three() -> None:
    current = frozenset("abcde")
    # one of five gone: the config shrinks to three live nodes, master first
    new = reconfigure(live=["a", "b", "c", "d"], retired=set(), master="b", current=current)
    assert len(new) == 3
    assert "b" in new
    assert "e" not in new
    # two of three live: stays three (the dead node keeps its seat; auto-shrink floor is 3)
    three = frozenset("abc")
    assert reconfigure(live=["a", "b"], retired=set(), master="a", current=three) == three
    # retiring two of three (voting exclusions) shrinks the config to the remaining one
    assert reconfigure(live=["a", "b", "c"], retired={"b", "c"}, master="a", current=three) == {"a"}
    # retiring every master leaves nothing with a quorum: the current config stays
    assert reconfigure(
        live=["a", "b"], retired={"a", "b"}, master="a", current=frozenset("ab")
    ) == {
        "a",
        "b",
    }


def test_two_master_nodes_vote_with_one_so_losing_the_other_keeps_quorum() -> None:
    cluster = cluster_of(2)
    assert names(cluster, cluster.voting_config()) == ["es-0"]
    cluster.remove_node("es-1")
    master = cluster.master()
    assert master is not None
    assert master.name == "es-0"
    assert "quorum_lost" not in {v["kind"] for v in cluster.invariants}


def test_losing_the_only_voting_node_of_two_loses_quorum() -> None:
    cluster = cluster_of(2)
    cluster.remove_node("es-0")
    assert cluster.master() is None
    assert [v["kind"] for v in cluster.invariants if v["kind"] == "quorum_lost"] == ["quorum_lost"]


def test_five_masters_tolerate_losing_two_one_at_a_time_and_shrink_to_three() -> None:
    cluster = cluster_of(5)
    assert len(cluster.voting_config()) == 5
    cluster.remove_node("es-4")
    assert len(cluster.voting_config()) == 3
    cluster.remove_node("es-3")
    assert cluster.master() is not None
    assert "quorum_lost" not in {v["kind"] for v in cluster.invariants}


def test_the_master_comes_back_when_enough_voting_nodes_rejoin_with_their_ids() -> None:
    cluster = cluster_of(3)
    term = cluster.term
    cluster.remove_node("es-1")
    cluster.remove_node("es-2")
    assert cluster.master() is None
    cluster.add_node("es-2", roles=("data", "master"))  # same name → same node id
    assert cluster.master() is not None
    assert cluster.term > term


def test_without_a_master_nothing_is_allocated() -> None:
    cluster = cluster_of(3)
    cluster.remove_node("es-1")
    cluster.remove_node("es-2")
    cluster.run_for(120)
    assert cluster.health()["unassigned_shards"] > 0
    assert not cluster.recoveries


def test_an_excluded_master_abdicates_to_a_remaining_voting_node() -> None:
    cluster = cluster_of(3)
    master = cluster.master()
    assert master is not None
    assert master.name == "es-0"
    cluster.add_voting_exclusions(node_names=["es-0"])
    new_master = cluster.master()
    assert new_master is not None
    assert new_master.name != "es-0"
    assert "es-0" not in names(cluster, cluster.voting_config())


def test_data_only_nodes_are_not_in_the_voting_configuration() -> None:
    cluster = cluster_of(2)
    cluster.add_node("data-0", roles=("data",))
    assert names(cluster, cluster.voting_config()) == ["es-0"]
    assert cluster.add_voting_exclusions(node_names=["data-0"]) == []
