"""The twin's Kubernetes wire under real clients: RBAC denials and the request log
(kubernetes-asyncio), watch resumption and paging (raw HTTP as informers send it), and the
sim clock in ``Date`` headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from k8s_kit import api_for, rbac_twin, reader_role
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.k8s.types import LEASES
from autoscaler.sim.server import RunningTwin, run_twin


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    role = reader_role("statefulsets", "statefulsets/scale")
    async with rbac_twin(tmp_path, role, start=1_767_225_600.0) as twin:
        yield twin


@pytest.fixture
async def plain(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    """Without ``--rbac`` the API stays permissive (raw HTTP as ``system:anonymous``)."""
    async with run_twin(
        nodes=3, indices=parse_indices_spec("logs:3x1:1gb"), kubeconfig_dir=tmp_path,
        start=1_767_225_600.0,
    ) as twin:  # fmt: skip
        yield twin


async def test_a_bound_service_account_gets_what_its_role_allows_and_the_real_403_otherwise(
    running: RunningTwin,
) -> None:
    assert set(running.kubeconfigs) == {"elastic/scaler"}
    async with await api_for(running.kubeconfigs["elastic/scaler"]) as api:
        apps = client.AppsV1Api(api)
        scale = await apps.read_namespaced_stateful_set_scale("es-data", "elastic")
        assert scale.spec.replicas == 3
        with pytest.raises(ApiException) as err:
            await apps.patch_namespaced_stateful_set_scale(
                "es-data", "elastic", {"spec": {"replicas": 4}}
            )
    assert err.value.status == 403
    body = json.loads(err.value.body)
    assert body["message"] == (
        'statefulsets.apps "es-data" is forbidden: User "system:serviceaccount:elastic:scaler" '
        'cannot patch resource "statefulsets/scale" in API group "apps" in the namespace '
        '"elastic"'
    )
    assert (body["reason"], body["code"]) == ("Forbidden", 403)
    assert running.twin.k8s.scale_of("elastic", "es-data")["spec"]["replicas"] == 3


async def test_the_request_log_records_rbac_attributes_user_and_code(
    running: RunningTwin,
) -> None:
    async with await api_for(running.kubeconfigs["elastic/scaler"]) as api:
        apps = client.AppsV1Api(api)
        await apps.read_namespaced_stateful_set_scale("es-data", "elastic")
        with pytest.raises(ApiException):
            await apps.patch_namespaced_stateful_set_scale("es-data", "elastic",
                                                           {"spec": {"replicas": 4}})  # fmt: skip
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{running.es_url}/_sim/requests") as resp,
    ):
        entries = (await resp.json())["requests"]
    seen = [
        (e["verb"], e["group"], e["resource"], e["subresource"], e["namespace"], e["name"],
         e["user"], e["code"])
        for e in entries
    ]  # fmt: skip
    user = "system:serviceaccount:elastic:scaler"
    assert seen == [
        ("get", "apps", "statefulsets", "scale", "elastic", "es-data", user, 200),
        ("patch", "apps", "statefulsets", "scale", "elastic", "es-data", user, 403),
    ]


async def _events(resp: aiohttp.ClientResponse, n: int) -> list[dict[str, Any]]:
    out = []
    while len(out) < n:
        line = await resp.content.readline()
        if not line:
            break
        out.append(json.loads(line))
    return out


async def test_a_watch_from_a_too_old_resource_version_gets_a_410_error_event(
    plain: RunningTwin,
) -> None:
    old = int(plain.twin.k8s.resource_version)
    for _ in range(3):  # churn: > 100 pod events, over more than 75 simulated seconds
        plain.twin.k8s.patch_scale("elastic", "es-data", "merge", {"spec": {"replicas": 30}})
        plain.twin.advance(60)
        plain.twin.k8s.patch_scale("elastic", "es-data", "merge", {"spec": {"replicas": 3}})
        plain.twin.advance(60)
    url = f"{plain.k8s_url}/api/v1/namespaces/elastic/pods"
    params = {"watch": "1", "resourceVersion": str(old)}
    async with aiohttp.ClientSession() as http, http.get(url, params=params) as resp:
        assert resp.status == 200
        (event,) = await _events(resp, 1)
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {old} (")


async def test_a_watch_resumes_from_its_version_and_sends_bookmarks(plain: RunningTwin) -> None:
    url = f"{plain.k8s_url}/apis/apps/v1/namespaces/elastic/statefulsets"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            rv = (await resp.json())["metadata"]["resourceVersion"]
        plain.twin.k8s.patch_scale("elastic", "es-data", "merge", {"spec": {"replicas": 4}})
        params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true"}
        async with http.get(url, params=params) as resp:
            events = await _events(resp, 2)
    assert events[0]["type"] == "MODIFIED"
    assert events[0]["object"]["spec"]["replicas"] == 4
    assert events[1]["type"] == "BOOKMARK"
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) >= int(
        events[0]["object"]["metadata"]["resourceVersion"]
    )


async def test_limit_and_continue_page_a_list(plain: RunningTwin) -> None:
    url = f"{plain.k8s_url}/api/v1/namespaces/elastic/pods"
    names: list[str] = []
    params = {"limit": "2"}
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(url, params=params) as resp:
                body = await resp.json()
            names += [p["metadata"]["name"] for p in body["items"]]
            token = body["metadata"].get("continue")
            if not token:
                break
            params = {"limit": "2", "continue": token}
    assert names == ["es-data-0", "es-data-1", "es-data-2"]


async def test_date_headers_come_from_the_sim_clock(plain: RunningTwin) -> None:
    plain.twin.advance(3600)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{plain.k8s_url}/version") as resp:
            k8s_date = parsedate_to_datetime(resp.headers["Date"]).timestamp()
        async with http.get(f"{plain.es_url}/") as resp:
            es_date = parsedate_to_datetime(resp.headers["Date"]).timestamp()
    assert k8s_date == es_date == 1_767_225_600.0 + 3600


async def test_an_unknown_field_is_dropped_with_a_warning_unless_strict(plain: RunningTwin) -> None:
    url = f"{plain.k8s_url}/api/v1/namespaces/elastic/configmaps"
    body = {"metadata": {"name": "cm"}, "data": {"a": "1"}, "extra": True}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body) as resp:
            assert resp.status == 201
            assert resp.headers.getall("Warning") == ['299 - "unknown field \\"extra\\""']
            assert "extra" not in await resp.json()
        strict = {**body, "metadata": {"name": "cm2"}}
        async with http.post(url, json=strict, params={"fieldValidation": "Strict"}) as resp:
            status = await resp.json()
    assert (status["code"], status["reason"]) == (400, "BadRequest")
    assert status["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "extra"'
    )


async def test_a_strict_strategic_patch_with_an_unknown_field_is_invalid(
    plain: RunningTwin,
) -> None:
    url = f"{plain.k8s_url}/apis/apps/v1/namespaces/elastic/statefulsets/es-data"
    headers = {"Content-Type": "application/strategic-merge-patch+json"}
    patch = {"spec": {"replica": 3}}
    async with aiohttp.ClientSession() as http:
        async with http.patch(
            url, json=patch, headers=headers, params={"fieldValidation": "Strict"}
        ) as resp:
            status = await resp.json()
        async with http.patch(url, json=patch, headers=headers) as resp:  # Warn by default
            assert resp.status == 200
            assert resp.headers.getall("Warning") == ['299 - "unknown field \\"spec.replica\\""']
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        ' "" is invalid: patch: Invalid value: "map[spec:map[replica:3]]": strict decoding '
        'error: unknown field "spec.replica"'
    )


LEASE_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: lease-updater, namespace: elastic}
rules:
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [get, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: lease-updater, namespace: elastic}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: lease-updater}
subjects:
  - {kind: ServiceAccount, name: elector, namespace: elastic}
"""


async def test_a_put_that_would_create_a_lease_needs_create_as_well_as_update(
    tmp_path: Path,
) -> None:
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(LEASE_ROLE)
    async with (
        run_twin(nodes=0, kubeconfig_dir=tmp_path, rbac_files=(str(rbac),)) as twin,
        await api_for(twin.kubeconfigs["elastic/elector"]) as api,
    ):
        coord = client.CoordinationV1Api(api)
        body = {
            "metadata": {"name": "es-autoscaler", "namespace": "elastic"},
            "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15},
        }
        with pytest.raises(ApiException) as err:  # update.go: create-on-update needs "create"
            await coord.replace_namespaced_lease("es-autoscaler", "elastic", body)
        assert err.value.status == 403
        assert json.loads(err.value.body)["message"] == (
            'leases.coordination.k8s.io "es-autoscaler" is forbidden: User '
            '"system:serviceaccount:elastic:elector" cannot create resource "leases" in API '
            'group "coordination.k8s.io" in the namespace "elastic"'
        )
        assert not twin.twin.k8s.exists(LEASES, "elastic", "es-autoscaler")
