"""Rules of the twin's Kubernetes model, checked without any HTTP in between."""

from __future__ import annotations

from typing import Any

import pytest

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.k8s_model import (
    CONFIGMAPS,
    LEASES,
    PODS,
    STATEFULSETS,
    K8sError,
    K8sModel,
    PatchError,
    human_duration,
    json_patch,
    merge_patch,
    parse_label_selector,
    parse_micro_time,
    selector_string,
    strategic_merge_patch,
)


def make_model(
    *, replicas: int = 3, policy: str = "Parallel", delay: float = 30.0
) -> tuple[K8sModel, VirtualClock, list[str], list[tuple[str, bool]]]:
    clock = VirtualClock()
    model = K8sModel(clock=clock, pod_ready_delay=delay, pod_termination_delay=10.0)
    ready: list[str] = []
    stopped: list[tuple[str, bool]] = []
    model.on_pod_ready.append(lambda pod: ready.append(pod["metadata"]["name"]))
    model.on_pod_stopped.append(
        lambda pod, crashed: stopped.append((pod["metadata"]["name"], crashed))
    )
    model.create_statefulset("elastic", "es-data", replicas=replicas, pod_management_policy=policy)
    return model, clock, ready, stopped


def run(model: K8sModel, clock: VirtualClock, seconds: int) -> None:
    for _ in range(seconds):
        clock.advance(1)
        model.step()


def pod_names(model: K8sModel) -> list[str]:
    items, _ = model.list(PODS, "elastic")
    return [p["metadata"]["name"] for p in items]


def scale(model: K8sModel, replicas: int) -> dict[str, Any]:
    return model.patch_scale("elastic", "es-data", "merge", {"spec": {"replicas": replicas}})


# ---- StatefulSet controller ---------------------------------------------------------------


def test_initial_pods_are_ready_and_named_by_ordinal() -> None:
    model, _, ready, _ = make_model(replicas=3)
    assert ready == ["es-data-0", "es-data-1", "es-data-2"]
    sts = model.get(STATEFULSETS, "elastic", "es-data")
    assert sts["status"]["readyReplicas"] == 3
    assert sts["status"]["replicas"] == 3


def test_new_pod_becomes_ready_only_after_the_ready_delay() -> None:
    model, clock, ready, _ = make_model(replicas=3, delay=30)
    scale(model, 4)
    run(model, clock, 29)
    assert "es-data-3" in pod_names(model)
    assert "es-data-3" not in ready
    run(model, clock, 2)
    assert ready[-1] == "es-data-3"


def test_scale_down_removes_highest_ordinal_first_and_pod_lingers_while_terminating() -> None:
    model, clock, _, stopped = make_model(replicas=4)
    scale(model, 2)
    run(model, clock, 1)
    assert [name for name, _ in stopped] == ["es-data-3", "es-data-2"]
    assert pod_names(model) == ["es-data-0", "es-data-1", "es-data-2", "es-data-3"]
    assert model.get(PODS, "elastic", "es-data-3")["metadata"]["deletionTimestamp"]
    run(model, clock, 11)
    assert pod_names(model) == ["es-data-0", "es-data-1"]


def test_ordered_ready_creates_one_pod_at_a_time() -> None:
    model, clock, ready, _ = make_model(replicas=1, policy="OrderedReady", delay=10)
    scale(model, 3)
    run(model, clock, 1)
    assert pod_names(model) == ["es-data-0", "es-data-1"]
    run(model, clock, 10)
    assert pod_names(model) == ["es-data-0", "es-data-1", "es-data-2"]
    run(model, clock, 11)
    assert ready == ["es-data-0", "es-data-1", "es-data-2"]


def test_scale_bumps_generation_and_observed_generation_follows_on_sync() -> None:
    model, clock, _, _ = make_model()
    scale(model, 5)
    sts = model.get(STATEFULSETS, "elastic", "es-data")
    assert sts["metadata"]["generation"] == 2
    assert sts["status"]["observedGeneration"] == 1
    run(model, clock, 1)
    assert model.get(STATEFULSETS, "elastic", "es-data")["status"]["observedGeneration"] == 2


def test_noop_scale_writes_nothing() -> None:
    model, _, _, _ = make_model(replicas=3)
    before = model.scale_of("elastic", "es-data")["metadata"]["resourceVersion"]
    after = scale(model, 3)["metadata"]["resourceVersion"]
    assert before == after


def test_scale_to_zero_omits_spec_replicas_in_scale() -> None:
    model, _, _, _ = make_model(replicas=1)
    assert scale(model, 0)["spec"] == {}


def test_pod_listed_in_never_ready_never_becomes_ready() -> None:
    model, clock, ready, _ = make_model(replicas=3, delay=5)
    model.never_ready.add("es-data-3")
    scale(model, 4)
    run(model, clock, 60)
    assert "es-data-3" not in ready
    assert model.get(STATEFULSETS, "elastic", "es-data")["status"]["readyReplicas"] == 3


def test_crashed_pod_restarts_and_becomes_ready_again() -> None:
    model, clock, ready, stopped = make_model(replicas=2, delay=20)
    assert model.crash_pod("elastic", "es-data-1")
    assert stopped == [("es-data-1", True)]
    run(model, clock, 21)
    assert ready.count("es-data-1") == 2
    statuses = model.get(PODS, "elastic", "es-data-1")["status"]["containerStatuses"]
    assert statuses[0]["restartCount"] == 1


# ---- API-server storage rules -------------------------------------------------------------


def test_stale_resource_version_on_scale_is_a_conflict() -> None:
    model, _, _, _ = make_model()
    old = model.scale_of("elastic", "es-data")
    scale(model, 4)
    old["spec"]["replicas"] = 5
    with pytest.raises(K8sError) as err:
        model.replace_scale("elastic", "es-data", old)
    assert err.value.code == 409
    assert err.value.to_status()["details"] == {
        "name": "es-data",
        "group": "apps",
        "kind": "statefulsets",
    }


def test_negative_replicas_is_invalid_scale() -> None:
    model, _, _, _ = make_model()
    with pytest.raises(K8sError) as err:
        scale(model, -1)
    assert err.value.code == 422
    assert err.value.message == (
        'Scale.autoscaling "es-data" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )


def test_lease_update_without_resource_version_is_invalid() -> None:
    model, _, _, _ = make_model()
    model.create(LEASES, "elastic", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}})
    with pytest.raises(K8sError) as err:
        model.replace(LEASES, "elastic", "l", {"metadata": {"name": "l"}, "spec": {}})
    assert err.value.code == 422
    assert "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update" in (
        err.value.message
    )


def test_configmap_update_without_resource_version_is_unconditional() -> None:
    model, _, _, _ = make_model()
    model.create(CONFIGMAPS, "elastic", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    obj, created = model.replace(CONFIGMAPS, "elastic", "c", {"metadata": {}, "data": {"a": "2"}})
    assert not created
    assert obj["data"] == {"a": "2"}


def test_every_write_gets_a_larger_resource_version() -> None:
    model, _, _, _ = make_model()
    a = model.create(CONFIGMAPS, "elastic", {"metadata": {"name": "a"}})
    b = model.create(CONFIGMAPS, "elastic", {"metadata": {"name": "b"}})
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])


def test_create_in_unknown_namespace_is_namespace_not_found() -> None:
    model, _, _, _ = make_model()
    with pytest.raises(K8sError) as err:
        model.create(CONFIGMAPS, "nope", {"metadata": {"name": "a"}})
    assert err.value.message == 'namespaces "nope" not found'


def test_lease_micro_time_needs_six_fractional_digits() -> None:
    model, _, _, _ = make_model()
    with pytest.raises(K8sError) as err:
        model.create(
            LEASES,
            "elastic",
            {"metadata": {"name": "l"}, "spec": {"renewTime": "2026-08-11T19:37:19.103Z"}},
        )
    assert err.value.code == 400
    assert 'cannot parse ".103Z" as ".000000"' in err.value.message


# ---- pure helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=es", {"app": "es"}, True),
        ("app==es", {"app": "x"}, False),
        ("app!=es", {}, True),
        ("role in (data,master)", {"role": "data"}, True),
        ("role notin (data)", {"role": "data"}, False),
        ("app,!canary", {"app": "x"}, True),
        ("app,!canary", {"app": "x", "canary": "1"}, False),
        ("app=es,role in (data)", {"app": "es", "role": "ml"}, False),
    ],
)
def test_label_selector_grammar(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert all(r.matches(labels) for r in parse_label_selector(selector)) is expected


def test_selector_string_sorts_by_key() -> None:
    selector = {
        "matchLabels": {"role": "data", "app": "es"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
    }
    assert selector_string(selector) == "app=es,role=data,tier in (a,b)"


def test_merge_patch_null_deletes() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2}}, {"a": None, "b": {"d": 3}}) == {
        "b": {"c": 2, "d": 3}
    }


def test_strategic_merge_patch_merges_containers_by_name() -> None:
    doc = {"containers": [{"name": "es", "image": "a"}, {"name": "side", "image": "b"}]}
    patched = strategic_merge_patch(doc, {"containers": [{"name": "es", "image": "c"}]})
    assert patched["containers"] == [{"name": "es", "image": "c"}, {"name": "side", "image": "b"}]


def test_json_patch_test_failure_raises() -> None:
    with pytest.raises(PatchError):
        json_patch(
            {"spec": {"replicas": 3}}, [{"op": "test", "path": "/spec/replicas", "value": 4}]
        )
    assert json_patch(
        {"spec": {"replicas": 3}}, [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    ) == {"spec": {"replicas": 4}}


def test_micro_time_rejects_whole_seconds() -> None:
    with pytest.raises(ValueError, match="cannot parse"):
        parse_micro_time("2026-01-01T00:00:00Z")
    assert parse_micro_time("2026-01-01T00:00:00.000000+00:00") == 1_767_225_600.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (42, "42s"),
        (150, "2m30s"),
        (3600, "60m"),
        (4 * 3600 + 60, "4h1m"),
        (3 * 86400, "3d"),
        (800 * 86400, "2y70d"),
    ],
)
def test_age_column_uses_kubernetes_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text
