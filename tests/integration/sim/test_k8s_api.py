"""The twin's Kubernetes API, driven by the real kubernetes-asyncio client over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.rest import ApiException

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.faults import FaultInjector
from autoscaler.sim.k8s_api import K8sAuth, build_k8s_app
from autoscaler.sim.k8s_model import K8sModel

NS = "elastic"
TOKEN = "s3cr3t"


@dataclass
class Served:
    model: K8sModel
    clock: VirtualClock
    faults: FaultInjector
    url: str
    auth: K8sAuth

    def advance(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.advance(1)
            self.model.step()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    clock = VirtualClock()
    model = K8sModel(clock=clock, pod_ready_delay=30.0)
    model.create_statefulset(NS, "es-data", replicas=3)
    faults = FaultInjector(k8s=model)
    auth = K8sAuth(token=TOKEN)
    app = build_k8s_app(model, auth=auth, middlewares=[faults.middleware("k8s")])
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Served(model, clock, faults, f"http://127.0.0.1:{port}", auth)
    finally:
        await runner.cleanup()


@pytest.fixture
async def api(served: Served) -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration(host=served.url)
    cfg.api_key = {"BearerToken": TOKEN}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    async with client.ApiClient(cfg) as api_client:
        yield api_client


def status_of(exc: ApiException) -> dict[str, Any]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == exc.status
    return body  # type: ignore[no-any-return]


def micro(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- StatefulSet and scale ----------------------------------------------------------------


async def test_scale_subresource_patch_sets_spec_replicas(
    served: Served, api: client.ApiClient
) -> None:
    apps = client.AppsV1Api(api)
    scale = await apps.patch_namespaced_stateful_set_scale("es-data", NS, {"spec": {"replicas": 4}})
    assert scale.kind == "Scale"
    assert scale.spec.replicas == 4
    assert scale.status.replicas == 3  # the controller has not acted yet
    assert scale.status.selector == "app=elasticsearch,statefulset=es-data"
    sts = await apps.read_namespaced_stateful_set("es-data", NS)
    assert sts.spec.replicas == 4
    assert sts.metadata.resource_version == scale.metadata.resource_version


async def test_new_pods_become_ready_after_the_delay(served: Served, api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    await apps.patch_namespaced_stateful_set_scale("es-data", NS, {"spec": {"replicas": 5}})
    served.advance(5)
    sts = await apps.read_namespaced_stateful_set_status("es-data", NS)
    assert (sts.status.replicas, sts.status.ready_replicas) == (5, 3)
    served.advance(30)
    sts = await apps.read_namespaced_stateful_set("es-data", NS)
    assert (sts.status.replicas, sts.status.ready_replicas, sts.status.observed_generation) == (
        5,
        5,
        sts.metadata.generation,
    )
    pods = await client.CoreV1Api(api).list_namespaced_pod(
        NS, label_selector="app=elasticsearch,statefulset in (es-data)"
    )
    assert [p.metadata.name for p in pods.items] == [f"es-data-{i}" for i in range(5)]
    assert all(
        c.type != "Ready" or c.status == "True" for p in pods.items for c in p.status.conditions
    )


async def test_write_with_stale_resource_version_is_409_conflict(
    served: Served, api: client.ApiClient
) -> None:
    apps = client.AppsV1Api(api)
    stale = await apps.read_namespaced_stateful_set_scale("es-data", NS)
    await apps.patch_namespaced_stateful_set_scale("es-data", NS, {"spec": {"replicas": 4}})
    stale.spec.replicas = 5
    with pytest.raises(ApiException) as err:
        await apps.replace_namespaced_stateful_set_scale("es-data", NS, stale)
    assert err.value.status == 409
    assert err.value.reason == "Conflict"
    assert status_of(err.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Operation cannot be fulfilled on statefulsets.apps "es-data": the object has '
        "been modified; please apply your changes to the latest version and try again",
        "reason": "Conflict",
        "details": {"name": "es-data", "group": "apps", "kind": "statefulsets"},
        "code": 409,
    }
    # a PATCH carrying the stale resourceVersion conflicts too
    patch = {
        "metadata": {"resourceVersion": stale.metadata.resource_version},
        "spec": {"replicas": 6},
    }
    with pytest.raises(ApiException) as err:
        await apps.patch_namespaced_stateful_set("es-data", NS, patch)
    assert err.value.status == 409


async def test_negative_replicas_is_422_invalid(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    with pytest.raises(ApiException) as err:
        await apps.patch_namespaced_stateful_set_scale("es-data", NS, {"spec": {"replicas": -1}})
    body = status_of(err.value)
    assert err.value.status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: -1: must be greater than or equal to 0",
            "field": "spec.replicas",
        }
    ]


async def test_missing_statefulset_is_404_not_found(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as err:
        await client.AppsV1Api(api).read_namespaced_stateful_set_scale("nope", NS)
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'statefulsets.apps "nope" not found'


async def test_json_patch_and_strategic_merge_patch_on_statefulset(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    sts = await apps.patch_namespaced_stateful_set(
        "es-data", NS, [{"op": "replace", "path": "/spec/replicas", "value": 2}]
    )
    assert sts.spec.replicas == 2
    sts = await apps.patch_namespaced_stateful_set(
        "es-data",
        NS,
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "elasticsearch", "image": "x:1"}]}}
            }
        },
    )
    containers = sts.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("elasticsearch", "x:1")]
    assert containers[0].ports  # merged by name, not replaced
    assert sts.metadata.generation == 3


async def test_patch_with_unsupported_content_type_is_415(served: Served) -> None:
    url = f"{served.url}/apis/apps/v1/namespaces/{NS}/statefulsets/es-data/scale"
    async with (
        aiohttp.ClientSession() as http,
        http.patch(
            url,
            data=b'{"spec":{"replicas":4}}',
            headers={"Content-Type": "text/plain", "Authorization": f"Bearer {TOKEN}"},
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 415
    assert body["reason"] == "UnsupportedMediaType"


async def test_apply_patch_without_field_manager_is_422(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as err:
        await client.AppsV1Api(api).patch_namespaced_stateful_set_scale(
            "es-data", NS, {"spec": {"replicas": 4}}, _content_type="application/apply-patch+yaml"
        )
    assert err.value.status == 422
    assert "fieldManager: Required value" in status_of(err.value)["message"]


# ---- Leases -------------------------------------------------------------------------------


async def test_lease_crud_round_trips_micro_time(api: client.ApiClient) -> None:
    coord = client.CoordinationV1Api(api)
    acquired = "2026-01-01T00:00:00.000000Z"
    renewed = "2026-01-01T00:00:07.123456Z"
    body = {
        "metadata": {"name": "es-autoscaler"},
        "spec": {
            "holderIdentity": "pod-a",
            "leaseDurationSeconds": 15,
            "acquireTime": acquired,
            "renewTime": renewed,
            "leaseTransitions": 0,
        },
    }
    created = await coord.create_namespaced_lease(NS, body)
    assert created.spec.renew_time == dt.datetime(2026, 1, 1, 0, 0, 7, 123456, tzinfo=dt.UTC)
    raw = await coord.read_namespaced_lease("es-autoscaler", NS, _preload_content=False)
    spec = json.loads(await raw.read())["spec"]
    assert (spec["acquireTime"], spec["renewTime"]) == (acquired, renewed)

    lease = await coord.read_namespaced_lease("es-autoscaler", NS)
    lease.spec.holder_identity = "pod-b"
    # KA would re-serialise a whole-second datetime without a fraction (rejected, §1.3)
    lease.spec.acquire_time = acquired
    lease.spec.renew_time = micro(dt.datetime(2026, 1, 1, 0, 0, 9, tzinfo=dt.UTC))
    replaced = await coord.replace_namespaced_lease("es-autoscaler", NS, lease)
    assert replaced.spec.holder_identity == "pod-b"
    assert int(replaced.metadata.resource_version) > int(lease.metadata.resource_version)

    with pytest.raises(ApiException) as err:  # stale resourceVersion
        await coord.replace_namespaced_lease("es-autoscaler", NS, lease)
    assert err.value.status == 409
    assert status_of(err.value)["details"] == {
        "name": "es-autoscaler",
        "group": "coordination.k8s.io",
        "kind": "leases",
    }

    lease.metadata.resource_version = None  # leases forbid unconditional updates
    with pytest.raises(ApiException) as err:
        await coord.replace_namespaced_lease("es-autoscaler", NS, lease)
    assert err.value.status == 422

    with pytest.raises(ApiException) as err:  # MicroTime needs six digits
        await coord.patch_namespaced_lease(
            "es-autoscaler", NS, {"spec": {"renewTime": "2026-01-01T00:00:10Z"}}
        )
    assert err.value.status == 400

    deleted = await coord.delete_namespaced_lease("es-autoscaler", NS)
    assert deleted.status == "Success"
    with pytest.raises(ApiException) as err:
        await coord.read_namespaced_lease("es-autoscaler", NS)
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'leases.coordination.k8s.io "es-autoscaler" not found'


async def test_lease_create_twice_is_409_already_exists(api: client.ApiClient) -> None:
    coord = client.CoordinationV1Api(api)
    await coord.create_namespaced_lease(NS, {"metadata": {"name": "l"}, "spec": {}})
    with pytest.raises(ApiException) as err:
        await coord.create_namespaced_lease(NS, {"metadata": {"name": "l"}, "spec": {}})
    assert err.value.status == 409
    assert status_of(err.value)["reason"] == "AlreadyExists"


# ---- Events -------------------------------------------------------------------------------


async def test_events_create_and_list_by_involved_object(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    sts = await client.AppsV1Api(api).read_namespaced_stateful_set("es-data", NS)
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name="es-data."),
        involved_object=client.V1ObjectReference(
            kind="StatefulSet",
            namespace=NS,
            name="es-data",
            api_version="apps/v1",
            uid=sts.metadata.uid,
        ),
        reason="ScaledUp",
        message="scaled from 3 to 4",
        type="Normal",
        source=client.V1EventSource(component="es-autoscaler"),
        first_timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        last_timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        count=1,
    )
    created = await core.create_namespaced_event(NS, event)
    assert created.metadata.name.startswith("es-data.")
    listed = await core.list_namespaced_event(
        NS, field_selector="involvedObject.name=es-data,reason=ScaledUp"
    )
    assert [(e.reason, e.message, e.source.component) for e in listed.items] == [
        ("ScaledUp", "scaled from 3 to 4", "es-autoscaler")
    ]


async def test_event_with_event_time_needs_reporting_fields(api: client.ApiClient) -> None:
    body = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "StatefulSet", "namespace": NS, "name": "es-data"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reason": "ScaledUp",
    }
    with pytest.raises(ApiException) as err:
        await client.CoreV1Api(api).create_namespaced_event(NS, body)
    assert err.value.status == 422
    fields = {c["field"] for c in status_of(err.value)["details"]["causes"]}
    assert fields == {"reportingController", "reportingInstance", "action"}


# ---- ConfigMaps ---------------------------------------------------------------------------


async def test_configmap_crud_with_resource_version_conflicts(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = await core.create_namespaced_config_map(
        NS, {"metadata": {"name": "state"}, "data": {"step": "1"}}
    )
    updated = await core.patch_namespaced_config_map("state", NS, {"data": {"step": "2"}})
    assert updated.data == {"step": "2"}
    created.data = {"step": "3"}
    with pytest.raises(ApiException) as err:
        await core.replace_namespaced_config_map("state", NS, created)
    assert err.value.status == 409
    assert status_of(err.value)["details"] == {"name": "state", "kind": "configmaps"}
    updated.data = {"step": "3"}
    replaced = await core.replace_namespaced_config_map("state", NS, updated)
    assert replaced.data == {"step": "3"}
    listed = await core.list_namespaced_config_map(NS)
    assert [c.metadata.name for c in listed.items] == ["state"]
    assert int(listed.metadata.resource_version) >= int(replaced.metadata.resource_version)
    deleted = await core.delete_namespaced_config_map("state", NS)
    assert deleted.details.kind == "configmaps"
    with pytest.raises(ApiException) as err:
        await core.replace_namespaced_config_map("state", NS, updated)
    assert err.value.status == 404


# ---- authentication, authorisation, faults ------------------------------------------------


async def test_wrong_token_is_401_unauthorized(served: Served) -> None:
    cfg = client.Configuration(host=served.url)
    cfg.api_key = {"BearerToken": "wrong"}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    async with client.ApiClient(cfg) as api_client:
        with pytest.raises(ApiException) as err:
            await client.AppsV1Api(api_client).read_namespaced_stateful_set("es-data", NS)
    assert err.value.status == 401
    assert status_of(err.value)["reason"] == "Unauthorized"


async def test_missing_token_is_401_only_when_tokens_are_required(served: Served) -> None:
    url = f"{served.url}/apis/apps/v1/namespaces/{NS}/statefulsets/es-data"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200
        served.auth.require_token = True
        async with http.get(url) as resp:
            assert resp.status == 401


async def test_forbidden_fault_answers_403_like_rbac(served: Served, api: client.ApiClient) -> None:
    served.faults.add({"type": "forbidden", "verb": "patch", "resource": "statefulsets/scale"})
    apps = client.AppsV1Api(api)
    await apps.read_namespaced_stateful_set_scale("es-data", NS)  # get is still allowed
    with pytest.raises(ApiException) as err:
        await apps.patch_namespaced_stateful_set_scale("es-data", NS, {"spec": {"replicas": 4}})
    assert err.value.status == 403
    assert status_of(err.value)["message"] == (
        'statefulsets.apps "es-data" is forbidden: User '
        '"system:serviceaccount:elastic:es-autoscaler" cannot patch resource '
        '"statefulsets/scale" in API group "apps" in the namespace "elastic"'
    )


async def test_conflict_fault_hits_exactly_the_next_k_writes(
    served: Served, api: client.ApiClient
) -> None:
    served.faults.add({"type": "conflict", "count": 2})
    apps = client.AppsV1Api(api)
    await apps.read_namespaced_stateful_set("es-data", NS)  # reads are not counted
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            await apps.patch_namespaced_stateful_set_scale("es-data", NS, {"spec": {"replicas": 4}})
        assert err.value.status == 409
        assert status_of(err.value)["reason"] == "Conflict"
    scale = await apps.patch_namespaced_stateful_set_scale("es-data", NS, {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4


async def test_server_error_fault_answers_status_503(served: Served, api: client.ApiClient) -> None:
    served.faults.add({"type": "error", "app": "k8s", "status": 503, "count": 1})
    apps = client.AppsV1Api(api)
    with pytest.raises(ApiException) as err:
        await apps.read_namespaced_stateful_set("es-data", NS)
    assert err.value.status == 503
    assert status_of(err.value)["reason"] == "ServiceUnavailable"
    assert (await apps.read_namespaced_stateful_set("es-data", NS)).metadata.name == "es-data"


async def test_table_output_for_kubectl_get(served: Served) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{served.url}/apis/apps/v1/namespaces/{NS}/statefulsets?limit=500",
            headers={"Accept": accept},
        ) as resp,
    ):
        table = await resp.json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Age",
        "Containers",
        "Images",
    ]
    assert table["rows"][0]["cells"][:3] == ["es-data", "3/3", "0s"]


async def test_watch_streams_pod_creation_and_readiness(
    served: Served, api: client.ApiClient
) -> None:
    core = client.CoreV1Api(api)
    await client.AppsV1Api(api).patch_namespaced_stateful_set_scale(
        "es-data", NS, {"spec": {"replicas": 4}}
    )

    listed, created = asyncio.Event(), asyncio.Event()

    async def cluster_life() -> None:
        await listed.wait()  # the watch is connected: it streamed the 3 existing pods
        served.advance(1)  # es-data-3 created
        await created.wait()  # the watch saw it
        served.advance(30)  # es-data-3 ready

    life = asyncio.create_task(cluster_life())
    seen: list[tuple[str, str, str]] = []
    stream = watch.Watch()
    async for event in stream.stream(core.list_namespaced_pod, NS, timeout_seconds=10):
        pod = event["object"]
        ready = {c.type: c.status for c in pod.status.conditions or []}.get("Ready", "")
        seen.append((event["type"], pod.metadata.name, ready))
        if len(seen) >= 3:
            listed.set()
        if pod.metadata.name == "es-data-3":
            created.set()
        if (pod.metadata.name, ready) == ("es-data-3", "True"):
            stream.stop()
    async with asyncio.timeout(5):  # a watch that ended early must fail, not hang
        await life
    assert seen[:3] == [("ADDED", f"es-data-{i}", "True") for i in range(3)]
    assert ("ADDED", "es-data-3", "False") in seen
    assert seen[-1] == ("MODIFIED", "es-data-3", "True")
