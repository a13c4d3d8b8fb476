"""``sim --rbac`` also writes a kubeconfig of ``kubernetes-admin`` (group ``system:masters``):
kube-apiserver's privileged-group authorizer lets that group do anything, so an operator can
inspect an RBAC rehearsal — Events, the state ConfigMap, the Lease — while the service's own
identities stay confined to their bindings. Real kubernetes-asyncio client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from k8s_kit import api_for, rbac_twin, reader_role
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with rbac_twin(tmp_path, reader_role("statefulsets")) as twin:
        yield twin


async def test_the_admin_kubeconfig_may_do_anything_while_a_bound_account_stays_confined(
    running: RunningTwin,
) -> None:
    assert running.admin_kubeconfig is not None
    async with await api_for(running.admin_kubeconfig) as api:
        pods = await client.CoreV1Api(api).list_namespaced_pod("elastic")
        assert sorted(p.metadata.name for p in pods.items) == [f"es-data-{i}" for i in range(3)]
        await client.CoreV1Api(api).list_namespaced_event("elastic")
        await client.CoordinationV1Api(api).list_namespaced_lease("elastic")
    async with await api_for(running.kubeconfigs["elastic/scaler"]) as api:
        with pytest.raises(ApiException) as denied:
            await client.CoreV1Api(api).list_namespaced_pod("elastic")
        assert denied.value.status == 403


async def test_without_rbac_there_is_no_admin_kubeconfig(tmp_path: Path) -> None:
    async with run_twin(
        nodes=3, indices=parse_indices_spec("logs:3x1:1gb"), kubeconfig_dir=tmp_path
    ) as twin:
        assert twin.admin_kubeconfig is None
