"""StatefulSet controller rules of the twin: claims, retention, revisions, rolling updates,
grace periods and the event-driven step — checked on the model, without HTTP."""

from __future__ import annotations

import pytest

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.k8s.history import COMPACTION_INTERVAL_SECONDS
from autoscaler.sim.k8s.types import CONFIGMAPS, CONTROLLERREVISIONS, EVENTS, PVCS
from autoscaler.sim.k8s_model import (
    PODS,
    STATEFULSETS,
    K8sError,
    K8sModel,
)

NS, STS = "elastic", "es-data"


def make(
    *, replicas: int = 3, policy: str = "Parallel", when_scaled: str = "Retain",
    grace: int = 120, delay: float = 30.0,
) -> tuple[K8sModel, VirtualClock]:  # fmt: skip
    clock = VirtualClock()
    model = K8sModel(clock=clock, pod_ready_delay=delay, pod_termination_delay=10.0)
    model.create_statefulset(
        NS, STS, replicas=replicas, pod_management_policy=policy, when_scaled=when_scaled,
        termination_grace_seconds=grace,
    )  # fmt: skip
    return model, clock


def run(model: K8sModel, clock: VirtualClock, seconds: int) -> None:
    for _ in range(seconds):
        clock.advance(1.0)
        model.step(clock.time())


def pods(model: K8sModel) -> dict[str, dict[str, object]]:
    items, _ = model.list(PODS, NS)
    return {p["metadata"]["name"]: p for p in items}


def claim_uid(model: K8sModel, name: str) -> str:
    return str(model.get(PVCS, NS, name)["metadata"]["uid"])


def scale(model: K8sModel, replicas: int) -> None:
    model.patch_scale(NS, STS, "merge", {"spec": {"replicas": replicas}})


def change_template(model: K8sModel, value: str) -> None:
    model.patch(
        STATEFULSETS, NS, STS, "strategic",
        {"spec": {"template": {"metadata": {"annotations": {"rev": value}}}}},
    )  # fmt: skip


def test_each_pod_gets_a_bound_claim_named_template_dash_pod() -> None:
    model, _ = make(replicas=2)
    claims, _ = model.list(PVCS, NS)
    assert [c["metadata"]["name"] for c in claims] == ["data-es-data-0", "data-es-data-1"]
    assert all(c["status"]["phase"] == "Bound" for c in claims)
    volumes = pods(model)["es-data-0"]["spec"]["volumes"]  # type: ignore[index]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-es-data-0"}} in volumes


def test_retain_keeps_the_claim_and_the_returning_pod_mounts_the_same_one() -> None:
    model, clock = make()
    before = claim_uid(model, "data-es-data-2")
    scale(model, 2)
    run(model, clock, 30)
    assert "es-data-2" not in pods(model)
    assert claim_uid(model, "data-es-data-2") == before
    scale(model, 3)
    run(model, clock, 40)
    assert claim_uid(model, "data-es-data-2") == before
    assert model.volume_identity(NS, "es-data-2") == before


def test_when_scaled_delete_removes_the_claim_once_the_pod_is_gone() -> None:
    model, clock = make(when_scaled="Delete")
    before = claim_uid(model, "data-es-data-2")
    scale(model, 2)
    model.step(clock.time())
    # the condemned pod owns its claim while it terminates; the claim goes with it
    owners = model.get(PVCS, NS, "data-es-data-2")["metadata"]["ownerReferences"]
    assert [o["kind"] for o in owners] == ["Pod"]
    run(model, clock, 30)
    with pytest.raises(K8sError) as err:
        model.get(PVCS, NS, "data-es-data-2")
    assert err.value.code == 404
    scale(model, 3)
    run(model, clock, 40)
    assert claim_uid(model, "data-es-data-2") != before
    assert claim_uid(model, "data-es-data-1") != ""  # survivors keep theirs


def test_template_change_rolls_pods_from_the_highest_ordinal_one_ready_pod_at_a_time() -> None:
    model, clock = make(delay=30.0)
    first = model.get(STATEFULSETS, NS, STS)["status"]["updateRevision"]
    change_template(model, "2")
    deleted_order: list[str] = []
    model.on_pod_stopped.append(lambda pod, crashed: deleted_order.append(pod["metadata"]["name"]))
    max_not_ready = 0
    for _ in range(400):
        clock.advance(1.0)
        model.step(clock.time())
        states = [model.pod_state(NS, f"es-data-{i}") for i in range(3)]
        max_not_ready = max(max_not_ready, sum(1 for s in states if s is None or not s["ready"]))
    status = model.get(STATEFULSETS, NS, STS)["status"]
    assert deleted_order == ["es-data-2", "es-data-1", "es-data-0"]
    assert max_not_ready == 1  # never two pods down at once
    assert status["currentRevision"] == status["updateRevision"] != first
    assert status["updatedReplicas"] == 3
    revisions, _ = model.list(CONTROLLERREVISIONS, NS)
    assert sorted(r["revision"] for r in revisions) == [1, 2]


def test_partition_keeps_lower_ordinals_on_the_current_revision() -> None:
    model, clock = make()
    model.patch(STATEFULSETS, NS, STS, "merge",
                {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}}})  # fmt: skip
    change_template(model, "2")
    run(model, clock, 200)
    status = model.get(STATEFULSETS, NS, STS)["status"]
    hashes = {n: p["metadata"]["labels"]["controller-revision-hash"]
              for n, p in pods(model).items()}  # type: ignore[index]  # fmt: skip
    assert hashes["es-data-2"] == status["updateRevision"]
    assert hashes["es-data-0"] == hashes["es-data-1"] == status["currentRevision"]
    assert status["updatedReplicas"] == 1
    assert status["currentRevision"] != status["updateRevision"]


def test_on_delete_waits_for_the_user_to_delete_pods() -> None:
    model, clock = make()
    model.patch(STATEFULSETS, NS, STS, "merge", {"spec": {"updateStrategy": {"type": "OnDelete",
                "rollingUpdate": None}}})  # fmt: skip
    change_template(model, "2")
    run(model, clock, 200)
    status = model.get(STATEFULSETS, NS, STS)["status"]
    assert "updatedReplicas" not in status
    model.delete(PODS, NS, "es-data-1")
    run(model, clock, 60)
    hashes = {n: p["metadata"]["labels"]["controller-revision-hash"]
              for n, p in pods(model).items()}  # type: ignore[index]  # fmt: skip
    assert hashes["es-data-1"] == status["updateRevision"]
    assert hashes["es-data-0"] != status["updateRevision"]


def test_rolling_back_reuses_the_old_revision_with_the_next_number() -> None:
    model, clock = make()
    change_template(model, "2")
    run(model, clock, 200)
    change_template(model, None)  # type: ignore[arg-type]  # back to the first template
    run(model, clock, 200)
    revisions, _ = model.list(CONTROLLERREVISIONS, NS)
    by_number = {r["revision"]: r["metadata"]["name"] for r in revisions}
    status = model.get(STATEFULSETS, NS, STS)["status"]
    assert sorted(by_number) == [2, 3]
    assert by_number[3] == status["currentRevision"]


def test_a_deleted_pod_lingers_at_most_its_grace_period_with_deletion_timestamp() -> None:
    model, clock = make(grace=4)
    start = clock.time()
    model.delete(PODS, NS, "es-data-0")
    pod = model.get(PODS, NS, "es-data-0")
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 4
    run(model, clock, 3)
    assert model.pod_state(NS, "es-data-0") is not None  # still Terminating
    run(model, clock, 1)
    state = model.pod_state(NS, "es-data-0")
    # gone after 4 s (not the 10 s the process would take); recreated as a new pod
    assert state is None or state["created_at"] >= start + 4


def test_an_idle_hour_rewrites_no_pod_and_no_statefulset() -> None:
    model, clock = make(replicas=5)
    run(model, clock, 60)

    def versions() -> list[str]:
        objs = [*model.list(PODS, NS)[0], *model.list(STATEFULSETS, NS)[0]]
        return [o["metadata"]["resourceVersion"] for o in objs]

    before = versions()
    run(model, clock, 3600)
    assert versions() == before


def test_a_watch_from_a_version_older_than_the_window_is_expired() -> None:
    model, clock = make(replicas=2)
    old = int(model.resource_version)
    for i in range(150):  # more than the 100-event floor, spread over > 75 s
        model.create(CONFIGMAPS, NS, {"metadata": {"name": f"cm-{i}"}, "data": {}})
        clock.advance(1.0)
    with pytest.raises(K8sError) as err:
        model.history(CONFIGMAPS).since(old, clock.time())
    assert err.value.code == 410
    assert err.value.reason == "Expired"
    assert err.value.message.startswith(f"too old resource version: {old} (")


def test_list_pages_cover_every_item_once_and_a_token_older_than_compaction_expires() -> None:
    model, clock = make(replicas=5)
    names: list[str] = []
    page = model.list_page(PODS, NS, limit=2)
    token = page.continue_token
    names += [p["metadata"]["name"] for p in page.items]
    while token:
        page = model.list_page(PODS, NS, limit=2, continue_token=token)
        names += [p["metadata"]["name"] for p in page.items]
        token = page.continue_token
    assert names == [f"es-data-{i}" for i in range(5)]
    stale = model.list_page(PODS, NS, limit=2).continue_token
    model.create(CONFIGMAPS, NS, {"metadata": {"name": "bump"}})
    run(model, clock, int(2 * COMPACTION_INTERVAL_SECONDS) + 1)
    with pytest.raises(K8sError) as err:
        model.list_page(PODS, NS, limit=2, continue_token=stale)
    assert err.value.code == 410
    assert err.value.message.startswith("The provided continue parameter is too old")
    assert err.value.to_status()["metadata"]["continue"]  # the inconsistent-continue token


def test_a_watch_from_a_list_taken_before_the_first_write_of_a_kind_resumes() -> None:
    model, clock = make(replicas=1)
    _, rv = model.list(CONFIGMAPS, NS)  # nothing of this kind written yet
    clock.advance(5)
    model.create(CONFIGMAPS, NS, {"metadata": {"name": "first"}})
    events = model.history(CONFIGMAPS).since(int(rv), clock.time())
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [("ADDED", "first")]


def test_events_expire_after_the_event_ttl() -> None:
    model, clock = make(replicas=1)
    model.create(EVENTS, NS, {"metadata": {"name": "e1"}, "involvedObject": {"namespace": NS},
                              "reason": "Test", "message": "m"})  # fmt: skip
    run(model, clock, 3500)
    assert model.get(EVENTS, NS, "e1")["reason"] == "Test"
    run(model, clock, 200)
    with pytest.raises(K8sError) as err:
        model.get(EVENTS, NS, "e1")
    assert err.value.code == 404


def test_a_delete_with_grace_period_zero_removes_the_pod_at_once() -> None:
    model, clock = make()
    model.delete(PODS, NS, "es-data-1", grace_seconds=0)
    with pytest.raises(K8sError) as err:
        model.get(PODS, NS, "es-data-1")
    assert err.value.code == 404
    run(model, clock, 1)
    assert model.pod_state(NS, "es-data-1") is not None  # the controller recreates it
