"""Real kubectl 1.29, one scripted session against the twin: get, describe, scale, patch,
rollout status/history/undo, apply/create/replace -f (validation on), get pvc, get -w.

The twin runs on its virtual clock; commands that wait for the cluster (``rollout status``,
``get -w``) run as subprocesses while the test advances simulated time until they are done,
so nothing here depends on wall-clock timing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from k8s_kit import kubectl_or_skip

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.k8s_model import STATEFULSETS
from autoscaler.sim.server import RunningTwin, run_twin

NS = ("-n", "elastic")


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return kubectl_or_skip()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with run_twin(
        nodes=3, indices=parse_indices_spec("logs:3x1:1gb"), kubeconfig_dir=tmp_path,
        pod_ready_delay=20.0, pod_termination_delay=5.0,
    ) as twin:  # fmt: skip
        yield twin


async def _start(kc: Path, running: RunningTwin, *args: str) -> asyncio.subprocess.Process:
    home = running.kubeconfig_path.parent
    return await asyncio.create_subprocess_exec(
        str(kc), "--kubeconfig", str(running.kubeconfig_path),
        "--cache-dir", str(home / "kube-cache"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip


async def run(kc: Path, running: RunningTwin, *args: str) -> str:
    proc = await _start(kc, running, "--request-timeout", "20s", *args)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


async def run_while_advancing(kc: Path, running: RunningTwin, *args: str) -> str:
    """Run a command that waits for the cluster, moving simulated time until it exits."""
    proc = await _start(kc, running, *args)
    communicate = asyncio.ensure_future(proc.communicate())
    for _ in range(2000):
        if communicate.done():
            break
        running.twin.advance(2)
        await asyncio.sleep(0.02)
    out, err = await asyncio.wait_for(communicate, timeout=60)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {err.decode()}"
    return out.decode()


async def watch_until(
    kc: Path, running: RunningTwin, done: Callable[[str], bool], *args: str
) -> str:
    """``kubectl get -w``: advance time until ``done(output so far)``, then stop it."""
    proc = await _start(kc, running, *args)
    assert proc.stdout is not None
    seen = ""
    try:
        for _ in range(2000):
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), timeout=0.02)
            except TimeoutError:
                running.twin.advance(2)
                continue
            seen += line.decode()
            if done(seen):
                return seen
        raise AssertionError(f"kubectl get -w never showed the expected rows:\n{seen}")
    finally:
        proc.kill()
        await proc.wait()


async def test_kubectl_session_get_describe_scale_patch_rollout_apply_pvc_watch(
    kubectl: Path,
    running: RunningTwin,
    tmp_path: Path,
) -> None:
    out = await run(kubectl, running, "get", "statefulsets,pods", *NS)
    assert "statefulset.apps/es-data   3/3" in out
    assert "pod/es-data-2   1/1     Running" in out

    out = await run(kubectl, running, "describe", "statefulset", "es-data", *NS)
    assert "Replicas:           3 desired | 3 total" in out
    assert "Volume Claims:" in out

    out = await run(kubectl, running, "scale", "statefulset/es-data", "--replicas=4", *NS)
    assert out.strip() == "statefulset.apps/es-data scaled"
    out = await run_while_advancing(
        kubectl, running, "rollout", "status", "statefulset/es-data", "--timeout=60s", *NS
    )
    assert "roll out complete" in out
    out = await run(kubectl, running, "get", "pvc", *NS)
    assert out.split("\n")[0].split()[:3] == ["NAME", "STATUS", "VOLUME"]
    assert [line.split()[:2] for line in out.strip().split("\n")[1:]] == [
        [f"data-es-data-{i}", "Bound"] for i in range(4)
    ]

    patch = '{"spec":{"template":{"metadata":{"annotations":{"rolled":"1"}}}}}'
    out = await run(kubectl, running, "patch", "statefulset", "es-data", "-p", patch, *NS)
    assert out.strip() == "statefulset.apps/es-data patched"
    out = await run_while_advancing(
        kubectl, running, "rollout", "status", "statefulset/es-data", "--timeout=120s", *NS
    )
    assert "roll out complete: 4 new pods have been updated" in out
    out = await run(kubectl, running, "rollout", "history", "statefulset/es-data", *NS)
    assert [line.split()[0] for line in out.strip().split("\n")[2:]] == ["1", "2"]

    out = await run(kubectl, running, "rollout", "undo", "statefulset/es-data", *NS)
    assert out.strip() == "statefulset.apps/es-data rolled back"
    await run_while_advancing(
        kubectl, running, "rollout", "status", "statefulset/es-data", "--timeout=120s", *NS
    )
    out = await run(kubectl, running, "rollout", "history", "statefulset/es-data", *NS)
    assert [line.split()[0] for line in out.strip().split("\n")[2:]] == ["2", "3"]
    pods = running.twin.k8s.state()["pods"]
    assert {p["revision"] for p in pods} == {
        running.twin.k8s.state()["statefulsets"][0]["status"]["updateRevision"]
    }

    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: elastic\n"
        "data:\n  a: '1'\n"
    )
    assert (await run(kubectl, running, "create", "-f", str(manifest))).strip() == (
        "configmap/demo created"
    )
    assert (await run(kubectl, running, "replace", "-f", str(manifest))).strip() == (
        "configmap/demo replaced"
    )
    sts_yaml = await run(kubectl, running, "get", "statefulset", "es-data", "-o", "yaml", *NS)
    sts_file = tmp_path / "sts.yaml"
    sts_file.write_text(sts_yaml.replace("elasticsearch:8.15.0", "elasticsearch:8.15.1"))
    out = await run(kubectl, running, "apply", "-f", str(sts_file))
    assert out.strip().endswith("statefulset.apps/es-data configured")
    sts = running.twin.k8s.get(STATEFULSETS, "elastic", "es-data")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":8.15.1")
    assert sts["spec"]["replicas"] == 4

    out = await run(
        kubectl, running, "delete", "pod", "es-data-0", "--grace-period=0", "--force", *NS
    )
    assert 'pod "es-data-0" force deleted' in out
    assert running.twin.k8s.pod_state("elastic", "es-data-0") is None

    await run(kubectl, running, "scale", "statefulset/es-data", "--replicas=5", *NS)
    seen = await watch_until(
        kubectl, running,
        lambda text: any(
            line.split()[:3] == ["es-data-4", "1/1", "Running"] for line in text.split("\n")
        ),
        "get", "pods", "-w", *NS,
    )  # fmt: skip
    assert seen.split("\n")[0].split()[:3] == ["NAME", "READY", "STATUS"]


async def test_kubectl_create_with_an_unknown_field_fails_like_a_real_server(
    kubectl: Path, running: RunningTwin, tmp_path: Path
) -> None:
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: elastic\n"
        "dat:\n  a: '1'\n"
    )
    proc = await _start(kubectl, running, "create", "-f", str(manifest))
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 1
    assert err.decode().strip() == (
        f'Error from server (BadRequest): error when creating "{manifest}": ConfigMap in '
        'version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field '
        '"dat"'
    )


READER_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: elastic}
rules:
  - {apiGroups: [apps], resources: [statefulsets, statefulsets/scale], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: elastic}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: scaler, namespace: elastic}]
"""


async def test_kubectl_with_a_service_account_kubeconfig_is_held_to_its_role_and_can_ask(
    kubectl: Path, tmp_path: Path
) -> None:
    # kubectl sends its token over HTTPS only (API-BEHAVIOUR §8.1), hence k8s_security
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(READER_ROLE)
    async with run_twin(
        nodes=2, indices=parse_indices_spec("logs:2x1:1gb"), kubeconfig_dir=tmp_path,
        rbac_files=(str(rbac),), k8s_security=True,
    ) as twin:  # fmt: skip
        sa = twin.kubeconfigs["elastic/scaler"]

        async def as_sa(*args: str) -> tuple[int, str]:
            proc = await asyncio.create_subprocess_exec(
                str(kubectl), "--kubeconfig", str(sa), "--cache-dir", str(tmp_path / "c"),
                *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "HOME": str(tmp_path)},
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
            assert proc.returncode is not None
            return proc.returncode, (out + err).decode().strip()

        code, out = await as_sa("get", "statefulsets", *NS)
        assert code == 0
        assert out.split("\n")[1].split()[:2] == ["es-data", "2/2"]
        code, out = await as_sa("scale", "statefulset/es-data", "--replicas=3", *NS)
        assert code == 1
        assert out == (
            'Error from server (Forbidden): statefulsets.apps "es-data" is forbidden: User '
            '"system:serviceaccount:elastic:scaler" cannot patch resource "statefulsets/scale" '
            'in API group "apps" in the namespace "elastic"'
        )
        assert twin.twin.k8s.scale_of("elastic", "es-data")["spec"]["replicas"] == 2
        # kubectl auth can-i asks the server (SelfSubjectAccessReview) the same question
        assert await as_sa("auth", "can-i", "get", "statefulsets", *NS) == (0, "yes")
        assert await as_sa("auth", "can-i", "patch", "statefulsets/scale", *NS) == (1, "no")
