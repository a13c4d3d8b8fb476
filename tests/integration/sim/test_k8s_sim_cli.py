"""``sim --rbac FILE...``: the JSON line names a kubeconfig per bound ServiceAccount, those
credentials are held to the Role, and a manifest the twin cannot load is a clear error."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]

RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scaler, namespace: elastic}
rules:
  - {apiGroups: [apps], resources: [statefulsets/scale], verbs: [get, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scaler, namespace: elastic}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scaler}
subjects: [{kind: ServiceAccount, name: es-autoscaler, namespace: elastic}]
"""


def sim(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "autoscaler.sim", "--virtual", "--nodes", "2",
         "--indices", "logs:2x1:1gb", "--kubeconfig-dir", str(tmp_path), *extra],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_sim_rbac_lists_a_kubeconfig_per_bound_service_account(tmp_path: Path) -> None:
    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(RBAC)
    proc = sim(tmp_path, "--rbac", str(manifest), "--start", "2026-01-01T00:00:00Z")
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30.0)
        assert ready, "the sim printed nothing"
        line = json.loads(proc.stdout.readline())
        kubeconfig = Path(line["kubeconfigs"]["elastic/es-autoscaler"])
        token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        base = f"{line['kubernetes']}/apis/apps/v1/namespaces/elastic/statefulsets/es-data"
        assert get(f"{base}/scale", token) == 200
        assert get(base, token) == 403  # the Role grants the subresource only
        with urllib.request.urlopen(f"{line['elasticsearch']}/_sim/requests", timeout=10) as r:
            codes = [(e["subresource"], e["code"]) for e in json.load(r)["requests"]]
        assert codes == [("scale", 200), ("", 403)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_sim_rbac_with_a_manifest_of_another_kind_exits_2_with_a_clear_error(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")
    proc = sim(tmp_path, "--rbac", str(manifest))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "kind 'Secret' is not one of Role" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("start", ["yesterday", "2026-13-01T00:00:00Z"])
def test_sim_start_must_be_a_time(tmp_path: Path, start: str) -> None:
    proc = sim(tmp_path, "--start", start)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "--start" in err
