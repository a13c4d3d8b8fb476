"""The default data set makes an undrained scale-down visible: red + primary_unassigned."""

from __future__ import annotations

import pytest

from autoscaler.sim.spec import TwinSpec
from autoscaler.sim.twin import Twin


@pytest.mark.parametrize("seed", [0, 1, 7, 42, 1234])
def test_scaling_down_by_one_without_draining_turns_the_default_cluster_red(seed: int) -> None:
    for nodes in range(2, 11):
        twin = Twin.create(TwinSpec(nodes=nodes, seed=seed))
        assert twin.cluster.health()["status"] == "green"
        assert twin.statefulset is not None
        namespace, name = twin.statefulset
        twin.k8s.patch_scale(namespace, name, "merge", {"spec": {"replicas": nodes - 1}})
        twin.advance(1)
        gone = f"{name}-{nodes - 1}"
        assert gone not in twin.cluster.node_names(), nodes
        assert twin.cluster.health()["status"] == "red", (nodes, seed)
        lost = [v for v in twin.invariants if v["kind"] == "primary_unassigned"]
        assert {v["node"] for v in lost} == {gone}, (nodes, seed)
        assert {v["index"] for v in lost} == {"scratch-reindex"}
