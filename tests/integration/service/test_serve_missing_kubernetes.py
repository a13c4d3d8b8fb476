"""An active StatefulSet policy on a host with no Kubernetes configuration is said in the log.

Before, ``serve`` started, answered ``/readyz`` and decided, and the only sign that no
StatefulSet could ever be read or scaled was ``replicas.error`` in ``/api/v1/policies`` and
the ``esas_target_unavailable`` gauge — easy to miss when a pod lost its ServiceAccount mount
or a laptop run forgot ``--kubeconfig``.
"""

from __future__ import annotations

from pathlib import Path

from serve_proc import ServeProc

POLICY = """
name: data
elasticsearch: {url: "http://127.0.0.1:9", pollInterval: 1s, requestTimeout: 1s}
target: {statefulSet: {namespace: elastic, name: es-data}}
replicas: {min: 1, max: 3}
scaleUp:
  when: {metric: cpu, aggregate: avg, above: 80, for: 1m}
  cooldown: 5m
"""


async def test_a_statefulset_policy_without_kubernetes_configuration_is_logged_as_an_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "data.yaml").write_text(POLICY)
    (tmp_path / "token").write_text("t0ken")
    proc = ServeProc(
        tmp_path / "serve.log",
        [
            "--policies", str(tmp_path / "policies"), "--host", "127.0.0.1", "--port", "0",
            "--webhook-token-file", str(tmp_path / "token"), "--state-dir", str(tmp_path / "state"),
        ],
        # no kubeconfig, and HOME has no ~/.kube/config (ServeProc drops the in-cluster env)
        env={"KUBECONFIG": "", "HOME": str(tmp_path)},
    )  # fmt: skip
    try:
        rec = await proc.first_event("kubernetes_config_missing", "listening")
        assert rec["event"] == "kubernetes_config_missing"
        assert rec["level"] == "error"
        assert rec["policies"] == ["data"]
        assert "--kubeconfig" in rec["detail"]
    finally:
        proc.stop()
