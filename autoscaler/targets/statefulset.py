"""Kubernetes StatefulSet target, through the ``scale`` subresource (kubernetes-asyncio).

The scale subresource is what ``kubectl scale`` and the HPA use: it touches only
``spec.replicas``, needs only ``statefulsets/scale`` RBAC, and carries a resourceVersion for
safe read-modify-write.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from autoscaler.targets.base import TargetUnavailable

#: Where a pod's ServiceAccount credentials are mounted (kubernetes-asyncio's
#: ``incluster_config.SERVICE_TOKEN_FILENAME`` / ``SERVICE_CERT_FILENAME`` live here).
SERVICEACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: Overrides ``SERVICEACCOUNT_DIR`` (tests against the twin's in-cluster layout; unusual mounts).
SERVICEACCOUNT_DIR_ENV = "ESAS_SERVICEACCOUNT_DIR"


async def make_api_client(
    *,
    kubeconfig: Path | None = None,
    serviceaccount_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> client.ApiClient | None:
    """An ApiClient from ``kubeconfig``, ``$KUBECONFIG``, in-cluster config, or None if none.

    In-cluster (``KUBERNETES_SERVICE_HOST`` set): kubernetes-asyncio's own
    ``InClusterConfigLoader`` reads ``token`` and ``ca.crt`` from ``serviceaccount_dir``, else
    ``$ESAS_SERVICEACCOUNT_DIR``, else the standard mount, and builds
    ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`` (and re-reads the token
    file each minute, as projected tokens rotate). ``environ`` defaults to ``os.environ``.
    """
    env = os.environ if environ is None else environ
    path = kubeconfig or (Path(env["KUBECONFIG"]) if env.get("KUBECONFIG") else None)
    cfg = client.Configuration()
    if path is not None:
        await config.load_kube_config(config_file=str(path), client_configuration=cfg)
    elif env.get("KUBERNETES_SERVICE_HOST"):
        sa_dir = serviceaccount_dir or Path(env.get(SERVICEACCOUNT_DIR_ENV) or SERVICEACCOUNT_DIR)
        config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=cfg,
            token_filename=str(sa_dir / "token"),
            cert_filename=str(sa_dir / "ca.crt"),
            environ=dict(env),
        )
    else:
        default = Path.home() / ".kube" / "config"
        if not default.exists():
            return None
        await config.load_kube_config(config_file=str(default), client_configuration=cfg)
    return client.ApiClient(configuration=cfg)


class StatefulSetReplicas:
    """Reads a StatefulSet's replicas from its scale subresource."""

    def __init__(self, api: client.ApiClient, *, namespace: str, name: str) -> None:
        self._apps = client.AppsV1Api(api)
        self.namespace, self.name = namespace, name

    async def current_replicas(self) -> int:
        try:
            scale = await self._apps.read_namespaced_stateful_set_scale(self.name, self.namespace)
        except ApiException as e:
            raise TargetUnavailable(
                f"statefulset {self.namespace}/{self.name}: HTTP {e.status} {e.reason}"
            ) from None
        except (OSError, TimeoutError) as e:
            raise TargetUnavailable(f"kubernetes API unreachable: {e}") from None
        return int(scale.spec.replicas or 0)
