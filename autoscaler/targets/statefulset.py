"""Kubernetes StatefulSet target, through the ``scale`` subresource (kubernetes-asyncio).

The scale subresource is what ``kubectl scale`` and the HPA use: it touches only
``spec.replicas``, needs only ``statefulsets/scale`` RBAC, and carries a resourceVersion for
safe read-modify-write.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random

from autoscaler.targets.base import TargetRefused, TargetUnavailable

log = logging.getLogger("autoscaler.targets")


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


REQUEST_TIMEOUT = 10.0
"""Seconds any one Kubernetes API call may take. kubernetes-asyncio's default is no timeout at
all (``rest.py``: ``aiohttp.ClientTimeout()`` unless ``_request_timeout`` is given), so a hung
API server would hang the caller forever (issue 9 item 2)."""


def statefulset_key(namespace: str, name: str) -> str:
    """The store key of a StatefulSet target (``StatefulSetTarget.key``)."""
    return f"statefulset/{namespace}/{name}"


class StatefulSetReplicas:
    """Reads a StatefulSet's replicas from its scale subresource."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        namespace: str,
        name: str,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._apps = client.AppsV1Api(api)
        self.namespace, self.name = namespace, name
        self.request_timeout = request_timeout

    async def current_replicas(self) -> int:
        try:
            scale = await self._apps.read_namespaced_stateful_set_scale(
                self.name, self.namespace, _request_timeout=self.request_timeout
            )
        except ApiException as e:
            raise TargetUnavailable(
                f"statefulset {self.namespace}/{self.name}: HTTP {e.status} {e.reason}"
            ) from None
        except TimeoutError:
            raise TargetUnavailable(
                f"kubernetes API did not answer within {self.request_timeout:g}s"
            ) from None
        except (OSError, aiohttp.ClientError) as e:  # refused, reset, ServerDisconnectedError
            raise TargetUnavailable(
                f"kubernetes API unreachable: {type(e).__name__}: {e}"
            ) from None
        return int(scale.spec.replicas or 0)


class _Conflict(Exception):
    """409 on the scale write: someone changed the StatefulSet between our read and write."""


# client-go's retry.DefaultRetry: 5 steps, 10 ms base, factor 1, jitter 0.1
# (kubernetes/client-go util/retry/util.go); a little more patient here
_CONFLICT_ATTEMPTS = 6


def _k8s_reason(e: ApiException, *, what: str) -> str:
    if e.status == 403:
        return (
            f"{what}: forbidden (HTTP 403): the service account needs RBAC "
            "'update' on 'statefulsets/scale' (and 'get' on 'statefulsets/scale', 'pods')"
        )
    if e.status == 404:
        return f"{what}: not found (HTTP 404)"
    return f"{what}: HTTP {e.status} {e.reason}"


class StatefulSetTarget(StatefulSetReplicas):
    """A StatefulSet as a scaling ``Target``: members are pods ``{name}-{ordinal}``, whose
    Elasticsearch node names equal the pod names (node.name from the pod's hostname)."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        namespace: str,
        name: str,
        component: str = "es-autoscaler",
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(api, namespace=namespace, name=name)
        self._core = client.CoreV1Api(api)
        self._component = component
        #: Event timestamps (the service's injected clock; simulated in the demo)
        self._clock = clock
        self._events: dict[tuple[str, str], tuple[str, int]] = {}
        self._uid: str | None = None

    @property
    def key(self) -> str:
        return statefulset_key(self.namespace, self.name)

    def member_names(self, *, start: int, stop: int) -> tuple[str, ...]:
        return tuple(f"{self.name}-{i}" for i in range(start, stop))

    async def scale(self, replicas: int) -> None:
        """Read the scale, set ``spec.replicas``, write it back with the resourceVersion read;
        a 409 re-reads and retries (bounded). 403/404 raise TargetUnavailable at once."""
        what = f"scale statefulset {self.namespace}/{self.name}"
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Conflict),
            stop=stop_after_attempt(_CONFLICT_ATTEMPTS),
            wait=wait_random(0.01, 0.2),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._write_scale(replicas)
        except _Conflict:
            raise TargetRefused(
                f"{what}: still conflicting (HTTP 409) after {_CONFLICT_ATTEMPTS} attempts"
            ) from None
        except ApiException as e:
            if e.status in (400, 401, 403, 404, 422):
                raise TargetRefused(_k8s_reason(e, what=what)) from None
            raise TargetUnavailable(_k8s_reason(e, what=what)) from None
        except (OSError, TimeoutError, aiohttp.ClientError) as e:
            raise TargetUnavailable(f"kubernetes API unreachable: {e}") from None

    async def _write_scale(self, replicas: int) -> None:
        scale = await self._apps.read_namespaced_stateful_set_scale(self.name, self.namespace)
        if int(scale.spec.replicas or 0) == replicas:
            return  # idempotent: a resumed phase finds the write already done
        # plain dicts are serialised as-is by kubernetes-asyncio's ApiClient.sanitize_for_serialization
        body: Any = {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": scale.metadata.resource_version,
            },
            "spec": {"replicas": replicas},
        }
        try:
            await self._apps.replace_namespaced_stateful_set_scale(self.name, self.namespace, body)
        except ApiException as e:
            if e.status == 409:
                raise _Conflict() from None
            raise

    async def data_retention(self) -> str | None:
        """``spec.persistentVolumeClaimRetentionPolicy.whenScaled``; absent means ``Retain``
        (the API server's default for the field, kubernetes pkg/apis/apps/v1/defaults.go)."""
        try:
            sts = await self._apps.read_namespaced_stateful_set(self.name, self.namespace)
        except (ApiException, OSError, TimeoutError, aiohttp.ClientError):
            return None
        self._uid = sts.metadata.uid
        policy = sts.spec.persistent_volume_claim_retention_policy
        return str(policy.when_scaled) if policy and policy.when_scaled else "Retain"

    async def members(self, names: tuple[str, ...]) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for pod_name in names:
            try:
                pod = await self._core.read_namespaced_pod(pod_name, self.namespace)
            except ApiException as e:
                if e.status == 404:
                    continue
                raise TargetUnavailable(_k8s_reason(e, what=f"read pod {pod_name}")) from None
            except (OSError, TimeoutError, aiohttp.ClientError) as e:
                raise TargetUnavailable(f"kubernetes API unreachable: {e}") from None
            conditions = (pod.status.conditions if pod.status else None) or []
            ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
            out[pod_name] = ready and pod.metadata.deletion_timestamp is None
        return out

    async def announce(self, *, reason: str, message: str, warning: bool = False) -> None:
        """A core/v1 Event on the StatefulSet; a repeat of the same reason and message bumps
        ``count`` and ``lastTimestamp`` of the first one, as client-go's EventCorrelator does
        (kubernetes/client-go tools/record/events_cache.go). Failures are logged, not raised:
        an Event is visibility, never a reason to stop an operation."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            if self._uid is None:
                sts = await self._apps.read_namespaced_stateful_set(self.name, self.namespace)
                self._uid = sts.metadata.uid
            known = self._events.get((reason, message))
            if known is not None:
                name, count = known
                await self._core.patch_namespaced_event(
                    name,
                    self.namespace,
                    {"count": count + 1, "lastTimestamp": stamp},
                )
                self._events[(reason, message)] = (name, count + 1)
                return
            name = f"{self.name}.{time.time_ns():x}"
            body: Any = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": self.namespace},
                "involvedObject": {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": self.name,
                    "namespace": self.namespace,
                    "uid": self._uid,
                },
                "reason": reason,
                "message": message[:1024],
                "type": "Warning" if warning else "Normal",
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {"component": self._component},
                "reportingComponent": self._component,
            }
            await self._core.create_namespaced_event(self.namespace, body)
            self._events[(reason, message)] = (name, 1)
        except (ApiException, OSError, TimeoutError, aiohttp.ClientError) as e:
            log.warning(
                "event_failed",
                extra={"fields": {"reason": reason, "error": str(e)[:300]}},
            )

    async def close(self) -> None:
        """The ApiClient is shared and owned by the service; nothing to close per target."""
