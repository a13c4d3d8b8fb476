"""An active StatefulSet policy on a host with no Kubernetes configuration is said in the log.

Before, ``serve`` started, answered ``/readyz`` and decided, and the only sign that no
StatefulSet could ever be read or scaled was ``replicas.error`` in ``/api/v1/policies`` and
the ``esas_target_unavailable`` gauge — easy to miss when a pod lost its ServiceAccount mount
or a laptop run forgot ``--kubeconfig``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

POLICY = """
name: data
elasticsearch: {url: "http://127.0.0.1:9", pollInterval: 1s, requestTimeout: 1s}
target: {statefulSet: {namespace: elastic, name: es-data}}
replicas: {min: 1, max: 3}
scaleUp:
  when: {metric: cpu, aggregate: avg, above: 80, for: 1m}
  cooldown: 5m
"""


def _first_event(proc: subprocess.Popen[str], events: set[str]) -> dict[str, Any]:
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("event") in events:
            return dict(rec)
    pytest.fail(f"none of {sorted(events)} logged; got: {''.join(seen)[-2000:]}")


def test_a_statefulset_policy_without_kubernetes_configuration_is_logged_as_an_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "data.yaml").write_text(POLICY)
    (tmp_path / "token").write_text("t0ken")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESAS_")}
    for k in ("KUBERNETES_SERVICE_HOST", "POD_NAMESPACE"):
        env.pop(k, None)
    env["KUBECONFIG"] = ""  # no kubeconfig, and HOME has no ~/.kube/config
    env["HOME"] = str(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "autoscaler", "serve", "--policies", "policies",
            "--host", "127.0.0.1", "--port", "0", "--webhook-token-file", "token",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    try:
        rec = _first_event(proc, {"kubernetes_config_missing", "listening"})
        assert rec["event"] == "kubernetes_config_missing"
        assert rec["level"] == "error"
        assert rec["policies"] == ["data"]
        assert "--kubeconfig" in rec["detail"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
