"""Kubernetes StatefulSet target, through the ``scale`` subresource (kubernetes-asyncio).

The scale subresource is what ``kubectl scale`` and the HPA use: it touches only
``spec.replicas``, needs only ``statefulsets/scale`` RBAC, and carries a resourceVersion for
safe read-modify-write.
"""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from autoscaler.targets.base import TargetUnavailable


async def make_api_client(*, kubeconfig: Path | None = None) -> client.ApiClient | None:
    """An ApiClient from ``kubeconfig``, ``$KUBECONFIG``, in-cluster config, or None if none."""
    path = kubeconfig or (Path(os.environ["KUBECONFIG"]) if os.environ.get("KUBECONFIG") else None)
    cfg = client.Configuration()
    if path is not None:
        await config.load_kube_config(config_file=str(path), client_configuration=cfg)
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
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
