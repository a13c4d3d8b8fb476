"""Kubernetes-side test setup shared by twin tests: a twin with ``--rbac`` that binds one
ServiceAccount (``elastic/scaler``) to a read-only Role, and a real kubernetes-asyncio client
for any kubeconfig the twin wrote, and the real kubectl (or a skip without network). Several RBAC tests need exactly this; it lives here once."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin


def reader_role(*resources: str) -> str:
    """A Role ``reader`` granting ``get`` on the given ``apps`` resources, bound to the
    ServiceAccount ``elastic/scaler``."""
    return f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: reader, namespace: elastic}}
rules:
  - apiGroups: [apps]
    resources: [{", ".join(resources)}]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: reader, namespace: elastic}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}
subjects:
  - {{kind: ServiceAccount, name: scaler, namespace: elastic}}
"""


@contextlib.asynccontextmanager
async def rbac_twin(tmp_path: Path, role: str, **twin_kw: Any) -> AsyncIterator[RunningTwin]:
    """A 3-node twin (``logs:3x1:1gb``) enforcing RBAC with ``role``; kubeconfigs in
    ``tmp_path``."""
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(role)
    async with run_twin(
        nodes=3,
        indices=parse_indices_spec("logs:3x1:1gb"),
        kubeconfig_dir=tmp_path,
        rbac_files=(str(rbac),),
        **twin_kw,
    ) as twin:
        yield twin


async def api_for(kubeconfig: Path) -> client.ApiClient:
    """A real kubernetes-asyncio client from a kubeconfig file (use it as ``async with``)."""
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


def kubectl_or_skip() -> Path:
    """The real kubectl from ``tests/tools.py``; skips the test when it cannot be fetched (no
    network), fails instead under ``CI=true``."""
    # tests/ is not a package; load tests/tools.py by path
    spec = importlib.util.spec_from_file_location(
        "es_autoscaler_test_tools", Path(__file__).resolve().parents[1] / "tools.py"
    )
    assert spec is not None
    assert spec.loader is not None
    tools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tools)
    path: Path | None = tools.ensure_kubectl()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl could not be downloaded, and CI requires it")
        pytest.skip("kubectl could not be downloaded (no network?)")
    return path
