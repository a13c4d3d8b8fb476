"""Peer recovery copies from the primary: a relocating replica recovers from the primary's node,
and the outgoing-recovery throttle counts there, as ES's ThrottlingAllocationDecider does."""

from __future__ import annotations

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import RELOCATING, Cluster
from autoscaler.sim.datasets import IndexSpec

GB = 2**30


def cluster_with(indices: list[IndexSpec], nodes: int = 3) -> Cluster:
    cluster = Cluster(clock=VirtualClock(), indices=indices)
    for i in range(nodes):
        cluster.add_node(f"es-{i}")
    cluster.step(0)
    return cluster


def test_a_relocating_replica_recovers_from_the_primarys_node() -> None:
    cluster = cluster_with([IndexSpec("logs", 1, 1, 10 * GB)])
    copies = cluster.index("logs").shards[0]
    primary = next(c for c in copies if c.primary)
    replica = next(c for c in copies if not c.primary)
    assert replica.node is not None
    cluster.update_settings(transient={"cluster.routing.allocation.exclude._name": replica.node})
    cluster.step(1)
    assert replica.state == RELOCATING
    rec = replica.recovery
    assert rec is not None
    assert rec.source == replica.node  # the copy leaves this node...
    assert rec.from_node == primary.node  # ...but its data comes from the primary
    assert cluster.node(primary.node or "").outgoing == 1
    assert cluster.node(replica.node).outgoing == 0
    assert cluster.node_facts(cluster.node(primary.node or "")).recoveries_as_source == 1


def test_a_primary_relocation_recovers_from_the_primary_itself() -> None:
    cluster = cluster_with([IndexSpec("logs", 1, 1, 10 * GB)])
    primary = next(c for c in cluster.index("logs").shards[0] if c.primary)
    assert primary.node is not None
    cluster.update_settings(transient={"cluster.routing.allocation.exclude._name": primary.node})
    cluster.step(1)
    rec = primary.recovery
    assert rec is not None
    assert rec.from_node == rec.source == primary.node


def test_outgoing_throttle_is_counted_on_the_primarys_node_not_the_draining_one() -> None:
    cluster = cluster_with([IndexSpec("logs", 9, 1, 9 * GB)], nodes=3)
    cluster.add_node("es-3")
    cluster.run_for(1200)  # rebalanced: replicas now sit beside primaries of several nodes
    limit = 1
    cluster.update_settings(
        transient={
            "cluster.routing.allocation.node_concurrent_outgoing_recoveries": limit,
            "cluster.routing.allocation.node_concurrent_incoming_recoveries": 8,
        }
    )

    # drain the node whose replicas have their primaries on the most distinct nodes
    def primary_nodes_of_replicas(name: str) -> set[str]:
        return {
            p.node or ""
            for copies in cluster.index("logs").shards
            for c in copies
            if not c.primary and c.node == name
            for p in copies
            if p.primary
        }

    drained = max(cluster.node_names(), key=lambda n: len(primary_nodes_of_replicas(n)))
    sources = primary_nodes_of_replicas(drained)
    assert len(sources) >= 2
    cluster.update_settings(transient={"cluster.routing.allocation.exclude._name": drained})
    cluster.step(1)
    replica_moves = [r for r in cluster.recoveries if r.relocation and not r.copy.primary]
    # one per primary node at once: more than the draining node's own outgoing limit
    assert len(replica_moves) == len(sources) > limit
    assert {r.from_node for r in replica_moves} == sources
    assert all(cluster.node(n).outgoing <= limit for n in cluster.node_names())
