"""The service's in-cluster Kubernetes configuration, tested against the twin's HTTPS API.

A pod finds its ServiceAccount token and the cluster CA under
``/var/run/secrets/kubernetes.io/serviceaccount`` and the API address in
``KUBERNETES_SERVICE_HOST``/``_PORT``; kubernetes-asyncio's ``InClusterConfigLoader`` turns
them into an ``https://`` configuration. The twin writes the same layout (its JSON line and
``RunningTwin`` name the directory, host and port) and requires the token, so
``make_api_client``'s in-cluster branch runs exactly as in a pod, with the real loader."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
from pathlib import Path

import aiohttp
import pytest
from k8s_kit import kubectl_or_skip
from kubernetes_asyncio import client, config

from autoscaler.sim.server import RunningTwin
from autoscaler.targets.base import TargetUnavailable
from autoscaler.targets.statefulset import (
    SERVICEACCOUNT_DIR_ENV,
    StatefulSetReplicas,
    make_api_client,
)


def in_cluster_env(running: RunningTwin, sa_dir: Path) -> dict[str, str]:
    assert running.k8s_service_host is not None
    assert running.k8s_service_port is not None
    return {
        "KUBERNETES_SERVICE_HOST": running.k8s_service_host,
        "KUBERNETES_SERVICE_PORT": str(running.k8s_service_port),
        SERVICEACCOUNT_DIR_ENV: str(sa_dir),
    }


async def replicas_via(api: client.ApiClient, running: RunningTwin) -> int:
    namespace, name = running.statefulset.split("/")
    try:
        return await StatefulSetReplicas(api, namespace=namespace, name=name).current_replicas()
    finally:
        await api.close()


async def test_in_cluster_config_reads_the_scale_over_https_with_the_serviceaccount_token(
    secure: RunningTwin,
) -> None:
    assert secure.serviceaccount_dir is not None
    sa = secure.serviceaccount_dir
    assert sorted(p.name for p in sa.iterdir()) == ["ca.crt", "namespace", "token"]
    assert (sa / "namespace").read_text() == secure.namespace
    api = await make_api_client(environ=in_cluster_env(secure, sa))
    assert api is not None
    assert api.configuration.host == (
        f"https://{secure.k8s_service_host}:{secure.k8s_service_port}"
    )
    assert await replicas_via(api, secure) == 3


async def test_k8s_request_without_a_token_gets_the_apiserver_401_status(
    secure: RunningTwin,
) -> None:
    assert secure.ca_file is not None
    ctx = ssl.create_default_context(cafile=str(secure.ca_file))
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{secure.k8s_url}/apis/apps/v1/statefulsets", ssl=ctx) as resp,
    ):
        body = await resp.json()
    assert resp.status == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


async def test_a_wrong_serviceaccount_token_is_refused_with_401(
    secure: RunningTwin, tmp_path: Path
) -> None:
    assert secure.serviceaccount_dir is not None
    sa = tmp_path / "sa"
    shutil.copytree(secure.serviceaccount_dir, sa)
    (sa / "token").write_text("not-the-token")
    api = await make_api_client(environ=in_cluster_env(secure, sa))
    assert api is not None
    with pytest.raises(TargetUnavailable, match="HTTP 401"):
        await replicas_via(api, secure)


async def test_a_ca_that_did_not_sign_the_api_certificate_fails_the_connection(
    secure: RunningTwin, tmp_path: Path
) -> None:
    from autoscaler.sim.tls import generate_tls

    assert secure.serviceaccount_dir is not None
    sa = tmp_path / "sa"
    shutil.copytree(secure.serviceaccount_dir, sa)
    shutil.copy(generate_tls(tmp_path / "other", prefix="other").ca_cert, sa / "ca.crt")
    api = await make_api_client(environ=in_cluster_env(secure, sa))
    assert api is not None
    with pytest.raises(TargetUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await replicas_via(api, secure)


async def test_kubeconfig_of_a_secure_twin_names_its_ca_and_works_over_https(
    secure: RunningTwin,
) -> None:
    assert secure.k8s_url.startswith("https://")
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(secure.kubeconfig_path), client_configuration=cfg)
    assert cfg.ssl_ca_cert == str(secure.ca_file)
    assert await replicas_via(client.ApiClient(cfg), secure) == 3


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return kubectl_or_skip()


async def test_real_kubectl_sends_the_token_over_https_and_reads_the_statefulset(
    secure: RunningTwin, kubectl: Path
) -> None:
    namespace, name = secure.statefulset.split("/")
    home = secure.kubeconfig_path.parent
    proc = await asyncio.create_subprocess_exec(
        str(kubectl), "--kubeconfig", str(secure.kubeconfig_path),
        "--cache-dir", str(home / "kube-cache"), "--request-timeout", "20s",
        "-n", namespace, "get", "statefulset", name, "-o", "jsonpath={.spec.replicas}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert out.decode() == "3"


RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scale-reader, namespace: elastic}
rules:
- apiGroups: [apps]
  resources: [statefulsets/scale]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scale-reader, namespace: elastic}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scale-reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: elastic}
"""


async def test_with_rbac_each_bound_serviceaccount_gets_its_own_in_cluster_layout(
    tmp_path: Path,
) -> None:
    from autoscaler.sim.server import run_twin

    manifest = tmp_path / "rbac.yaml"
    manifest.write_text(RBAC)
    async with run_twin(
        kubeconfig_dir=tmp_path / "twin", k8s_security=True, rbac_files=(str(manifest),)
    ) as running:
        sa = running.serviceaccount_dirs["elastic/reader"]
        assert (sa / "namespace").read_text() == "elastic"
        api = await make_api_client(environ=in_cluster_env(running, sa))
        assert api is not None
        assert await replicas_via(api, running) == 3
        api = await make_api_client(environ=in_cluster_env(running, sa))
        assert api is not None
        try:
            with pytest.raises(client.ApiException) as caught:
                await client.CoreV1Api(api).list_namespaced_pod("elastic")
        finally:
            await api.close()
    assert caught.value.status == 403
    assert json.loads(caught.value.body)["message"] == (
        'pods is forbidden: User "system:serviceaccount:elastic:reader" cannot list resource '
        '"pods" in API group "" in the namespace "elastic"'
    )
