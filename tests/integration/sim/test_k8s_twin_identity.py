"""An Elasticsearch node's identity belongs to its PersistentVolumeClaim, and its address to
its pod: what the twin composition does with the Kubernetes model's claims, revisions and IPs.

The realistic consequence checked here is data: a StatefulSet scaled down without draining
loses the only copy of a shard (red); with ``whenScaled: Retain`` scaling back up brings the
same node (same id, same data) and the index recovers, with ``Delete`` the node comes back
new and empty and the shard stays lost.
"""

from __future__ import annotations

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.k8s_model import PODS, STATEFULSETS
from autoscaler.sim.spec import TwinSpec
from autoscaler.sim.twin import Twin

NS, STS = "elastic", "es-data"


def make(when_scaled: str = "Retain") -> Twin:
    # three primaries without replicas over three nodes: every node holds a only copy
    spec = TwinSpec(
        nodes=3,
        indices=parse_indices_spec("solo:3x0:1gb"),
        pvc_when_scaled=when_scaled,
        start=1_767_225_600.0,
    )
    return Twin.create(spec)


def scale(twin: Twin, replicas: int) -> None:
    twin.k8s.patch_scale(NS, STS, "merge", {"spec": {"replicas": replicas}})


def test_retain_brings_the_same_node_id_back_with_its_data() -> None:
    twin = make("Retain")
    node_id = twin.cluster.node("es-data-2").id
    scale(twin, 2)
    twin.advance(30)
    assert twin.cluster.health()["status"] == "red"
    scale(twin, 3)
    twin.advance(120)
    assert twin.cluster.node("es-data-2").id == node_id
    assert twin.cluster.health()["status"] == "green"


def test_delete_policy_brings_a_new_empty_node_and_the_shard_stays_lost() -> None:
    twin = make("Delete")
    node_id = twin.cluster.node("es-data-2").id
    scale(twin, 2)
    twin.advance(30)
    scale(twin, 3)
    twin.advance(300)
    assert twin.cluster.node("es-data-2").id != node_id
    assert twin.cluster.health()["status"] == "red"


def test_a_rolling_update_takes_nodes_out_one_by_one_and_they_rejoin_with_their_ids() -> None:
    twin = make()
    ids = {f"es-data-{i}": twin.cluster.node(f"es-data-{i}").id for i in range(3)}
    twin.k8s.patch(
        STATEFULSETS, NS, STS, "strategic",
        {"spec": {"template": {"metadata": {"annotations": {"restartedAt": "now"}}}}},
    )  # fmt: skip
    fewest = 3
    for _ in range(300):
        twin.advance(1)
        fewest = min(fewest, len(twin.cluster.node_names()))
    status = twin.k8s.get(STATEFULSETS, NS, STS)["status"]
    assert status["updatedReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"]
    assert fewest == 2  # one node out at a time
    assert {n: twin.cluster.node(n).id for n in ids} == ids
    assert twin.cluster.health()["status"] == "green"


def test_a_pod_ip_is_its_es_node_ip_and_a_new_pod_gets_a_new_one() -> None:
    twin = make()
    pod_ip = twin.k8s.get(PODS, NS, "es-data-1")["status"]["podIP"]
    assert twin.cluster.node("es-data-1").ip == pod_ip
    twin.k8s.delete(PODS, NS, "es-data-1")
    twin.advance(60)
    new_ip = twin.k8s.get(PODS, NS, "es-data-1")["status"]["podIP"]
    assert new_ip != pod_ip
    assert twin.cluster.node("es-data-1").ip == new_ip


def test_the_jvm_starts_when_the_container_starts_not_when_the_node_joins() -> None:
    twin = make()
    twin.k8s.delete(PODS, NS, "es-data-0")
    twin.advance(60)
    state = twin.k8s.pod_state(NS, "es-data-0")
    assert state is not None
    assert state["ready_at"] > state["started_at"]  # the probe passes after the start
    assert twin.cluster.node("es-data-0").joined_at == state["started_at"]
