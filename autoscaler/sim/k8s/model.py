"""The Kubernetes half of the digital twin: the API store plus a StatefulSet controller.

Pods are named ``<sts>-<ordinal>``, become Ready after a configurable delay, are removed
highest ordinal first and linger for a termination delay. It is transport-free (``api.py``
puts it on the wire) and clock-driven (``step(now)``), so tests run hours of cluster life in
milliseconds. Pod readiness and termination are reported to listeners; the twin uses them to
make pods join and leave the simulated Elasticsearch cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autoscaler.sim.clock import SimClock
from autoscaler.sim.k8s.errors import FieldError, bad_request, conflict, invalid
from autoscaler.sim.k8s.patch import PatchError, apply_patch
from autoscaler.sim.k8s.pods import PodState, pod_status
from autoscaler.sim.k8s.statefulsets import revision_name, scale_from
from autoscaler.sim.k8s.store import ApiStore
from autoscaler.sim.k8s.strategies import patch_invalid
from autoscaler.sim.k8s.timefmt import format_time
from autoscaler.sim.k8s.types import (
    EVENTS,
    PODS,
    ROLES_ANNOTATION,
    STATEFULSETS,
    Obj,
    PatchType,
    ResourceType,
)

PodListener = Callable[[Obj], None]
PodStoppedListener = Callable[[Obj, bool], None]


class K8sModel(ApiStore):
    """API-server storage plus a StatefulSet controller and kubelet, driven by ``step(now)``.

    ``pod_ready_delay`` is how long a new pod takes to pass its readiness probe;
    ``pod_termination_delay`` how long a deleted pod lingers (Terminating).
    """

    def __init__(
        self,
        *,
        clock: SimClock,
        seed: int = 0,
        pod_ready_delay: float = 30.0,
        pod_termination_delay: float = 10.0,
        node_names: Sequence[str] = ("sim-node-1", "sim-node-2", "sim-node-3"),
    ) -> None:
        super().__init__(clock=clock, seed=seed)
        self.pod_ready_delay = pod_ready_delay
        self.pod_termination_delay = pod_termination_delay
        self._node_names = tuple(node_names)
        self._pods: dict[tuple[str, str], PodState] = {}
        #: Pod names whose readiness probe never passes (fault injection).
        self.never_ready: set[str] = set()
        self.on_pod_ready: list[PodListener] = []
        self.on_pod_stopped: list[PodStoppedListener] = []

    # ---- store hooks ---------------------------------------------------------------------

    def _on_delete(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        if rt is not PODS:
            return None
        key = (namespace, name)
        obj = self._store(PODS).objects[key]
        self.terminate_pod(namespace, name)
        return self.get(PODS, namespace, name) if key in self._store(PODS).objects else obj

    def _on_deleted(self, rt: ResourceType, namespace: str, name: str) -> None:
        if rt is STATEFULSETS:
            for (pns, pname), ps in list(self._pods.items()):
                if pns == namespace and ps.sts == name:
                    self.terminate_pod(pns, pname)

    def create_statefulset(
        self,
        namespace: str,
        name: str,
        *,
        replicas: int,
        labels: Mapping[str, str] | None = None,
        image: str = "docker.elastic.co/elasticsearch/elasticsearch:8.15.0",
        pod_management_policy: str = "Parallel",
        roles: Sequence[str] | None = None,
        pods_ready: bool = True,
    ) -> Obj:
        """Create a StatefulSet; with ``pods_ready`` its pods exist and are Ready at once."""
        self.ensure_namespace(namespace)
        sel = dict(labels or {"app": "elasticsearch", "statefulset": name})
        annotations = {ROLES_ANNOTATION: ",".join(roles)} if roles else {}
        body: Obj = {
            "metadata": {"name": name, "labels": dict(sel)},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(sel)},
                "serviceName": name,
                "podManagementPolicy": pod_management_policy,
                "template": {
                    "metadata": {"labels": dict(sel), "annotations": annotations},
                    "spec": {
                        "containers": [
                            {
                                "name": "elasticsearch",
                                "image": image,
                                "ports": [
                                    {"containerPort": 9200, "name": "http", "protocol": "TCP"},
                                    {"containerPort": 9300, "name": "transport", "protocol": "TCP"},
                                ],
                                "readinessProbe": {
                                    "httpGet": {
                                        "path": "/_cluster/health?local=true",
                                        "port": 9200,
                                    },
                                    "periodSeconds": 5,
                                },
                            }
                        ],
                        "terminationGracePeriodSeconds": 120,
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "500Gi"}},
                        },
                    }
                ],
            },
        }
        sts = self.create(STATEFULSETS, namespace, body)
        if pods_ready:
            now = self._now()
            for ordinal in range(replicas):
                self._create_pod(namespace, name, ordinal, now, ready=True)
        self._sync_statefulset(namespace, name, self._now())
        return self.get(STATEFULSETS, namespace, sts["metadata"]["name"])

    def scale_of(self, namespace: str, name: str) -> Obj:
        sts = self.get(STATEFULSETS, namespace, name)
        return scale_from(sts)

    def replace_scale(self, namespace: str, name: str, body: Any, *, dry_run: bool = False) -> Obj:
        if not isinstance(body, dict):
            raise bad_request('Scale in version "v1" cannot be handled as a Scale')
        self.get(STATEFULSETS, namespace, name)  # 404 first, as the store does
        return self._write_scale(namespace, name, copy.deepcopy(body), dry_run=dry_run)

    def patch_scale(
        self,
        namespace: str,
        name: str,
        patch_type: PatchType,
        patch: Any,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> Obj:
        self._check_patch_options(patch_type, field_manager, force)
        current = self.scale_of(namespace, name)
        try:
            new = apply_patch(current, patch_type, patch)
        except PatchError as exc:
            raise patch_invalid(STATEFULSETS, name, str(exc)) from exc
        return self._write_scale(namespace, name, new, dry_run=dry_run)

    def _write_scale(self, namespace: str, name: str, scale: Obj, *, dry_run: bool) -> Obj:
        spec = scale.get("spec") or {}
        replicas = spec.get("replicas", 0) if isinstance(spec, dict) else 0
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise bad_request(
                'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
                f"{type(replicas).__name__} into Go struct field ScaleSpec.spec.replicas of "
                "type int32"
            )
        if replicas < 0:
            raise invalid(
                "Scale.autoscaling",
                name,
                [
                    FieldError(
                        "spec.replicas", "Invalid", "must be greater than or equal to 0", replicas
                    )
                ],
                group="autoscaling",
                kind="Scale",
            )
        sts = self.get(STATEFULSETS, namespace, name)
        rv = (scale.get("metadata") or {}).get("resourceVersion") or ""
        if rv and rv != sts["metadata"]["resourceVersion"]:
            raise conflict(STATEFULSETS, name)
        sts["spec"]["replicas"] = replicas
        updated, _ = self._update(
            STATEFULSETS, namespace, name, sts, allow_create=False, dry_run=dry_run
        )
        return scale_from(updated)

    # ---- pods ----------------------------------------------------------------------------

    def _create_pod(
        self, namespace: str, sts_name: str, ordinal: int, now: float, *, ready: bool = False
    ) -> None:
        sts = self._store(STATEFULSETS).objects[(namespace, sts_name)]
        name = f"{sts_name}-{ordinal}"
        delay = self.pod_ready_delay
        ps = PodState(
            sts=sts_name,
            ordinal=ordinal,
            created_at=now,
            ready_at=now if ready else now + delay,
            started_at=now if ready else now + min(5.0, delay / 2),
            ready=False,
        )
        self._pods[(namespace, name)] = ps
        template = sts["spec"].get("template") or {}
        tmeta = template.get("metadata") or {}
        revision = revision_name(sts)
        labels = dict(tmeta.get("labels") or {})
        labels.update(
            {
                "statefulset.kubernetes.io/pod-name": name,
                "controller-revision-hash": revision,
                "apps.kubernetes.io/pod-index": str(ordinal),
            }
        )
        spec = copy.deepcopy(template.get("spec") or {})
        spec.setdefault("containers", [])
        spec["hostname"] = name
        if sts["spec"].get("serviceName"):
            spec["subdomain"] = sts["spec"]["serviceName"]
        spec["nodeName"] = self._node_names[ordinal % len(self._node_names)]
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        pod: Obj = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "generateName": f"{sts_name}-",
                "namespace": namespace,
                "uid": self._uid(),
                "resourceVersion": self._next_rv(),
                "creationTimestamp": format_time(now),
                "labels": labels,
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "StatefulSet",
                        "name": sts_name,
                        "uid": sts["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": {},
        }
        self._store(PODS).objects[(namespace, name)] = pod
        self._refresh_pod(namespace, name, now)
        if not ready:
            self._record_event(
                namespace,
                sts,
                "SuccessfulCreate",
                f"create Pod {name} in StatefulSet {sts_name} successful",
                now,
            )
        if ready:
            self._mark_ready(namespace, name, now)

    def _refresh_pod(self, namespace: str, name: str, now: float) -> None:
        """Re-render a pod's status from its state; bump resourceVersion if it changed."""
        ps = self._pods[(namespace, name)]
        pod = self._store(PODS).objects[(namespace, name)]
        status = pod_status(pod, ps, now)
        meta = copy.deepcopy(pod["metadata"])
        if ps.terminating_since is not None:
            meta["deletionTimestamp"] = format_time(ps.gone_at or now)
            meta["deletionGracePeriodSeconds"] = int(self.pod_termination_delay)
        if status != pod["status"] or meta != pod["metadata"]:
            pod["status"] = status
            pod["metadata"] = meta
            pod["metadata"]["resourceVersion"] = self._next_rv()

    def _mark_ready(self, namespace: str, name: str, now: float) -> None:
        ps = self._pods[(namespace, name)]
        ps.ready = True
        ps.ever_ready = True
        self._refresh_pod(namespace, name, now)
        pod = copy.deepcopy(self._store(PODS).objects[(namespace, name)])
        for listener in list(self.on_pod_ready):
            listener(pod)

    def terminate_pod(self, namespace: str, name: str) -> None:
        """Begin graceful deletion: the container is signalled now, the object goes later."""
        ps = self._pods.get((namespace, name))
        if ps is None or ps.terminating_since is not None:
            return
        now = self._now()
        was_running = ps.ready or ps.ever_ready
        ps.terminating_since = now
        ps.gone_at = now + self.pod_termination_delay
        ps.ready = False
        self._refresh_pod(namespace, name, now)
        pod = copy.deepcopy(self._store(PODS).objects[(namespace, name)])
        if was_running:
            for listener in list(self.on_pod_stopped):
                listener(pod, False)

    def crash_pod(self, namespace: str, name: str, *, restart: bool = True) -> bool:
        """The container dies: NotReady at once; with ``restart`` it is Ready again after
        ``pod_ready_delay`` (kubelet restart), otherwise it stays NotReady (CrashLoopBackOff).
        Returns False when no such live pod exists."""
        ps = self._pods.get((namespace, name))
        if ps is None or ps.terminating_since is not None:
            return False
        now = self._now()
        was_ready = ps.ready
        ps.ready = False
        ps.restart_count += 1
        ps.started_at = now + min(5.0, self.pod_ready_delay / 2)
        ps.ready_at = now + self.pod_ready_delay if restart else None
        self._refresh_pod(namespace, name, now)
        pod = copy.deepcopy(self._store(PODS).objects[(namespace, name)])
        if was_ready or ps.ever_ready:
            for listener in list(self.on_pod_stopped):
                listener(pod, True)
        return True

    def find_pod(self, name: str) -> tuple[str, str] | None:
        """(namespace, name) of the pod with this name in any namespace."""
        for ns, pname in self._pods:
            if pname == name:
                return ns, pname
        return None

    # ---- controller ----------------------------------------------------------------------

    def step(self, now: float | None = None) -> None:
        """One controller/kubelet pass at ``now``: readiness, termination, StatefulSet sync."""
        now = self._now() if now is None else now
        for (ns, name), ps in sorted(self._pods.items()):
            if ps.terminating_since is not None:
                if ps.gone_at is not None and now >= ps.gone_at:
                    del self._pods[(ns, name)]
                    self._store(PODS).objects.pop((ns, name), None)
                    self._next_rv()
                continue
            if (
                not ps.ready
                and ps.ready_at is not None
                and now >= ps.ready_at
                and name not in self.never_ready
            ):
                self._mark_ready(ns, name, now)
            else:
                self._refresh_pod(ns, name, now)
        for ns, name in sorted(self._store(STATEFULSETS).objects):
            self._sync_statefulset(ns, name, now)

    def _sync_statefulset(self, namespace: str, name: str, now: float) -> None:
        sts = self._store(STATEFULSETS).objects[(namespace, name)]
        spec = sts["spec"]
        desired = int(spec.get("replicas", 0))
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pods = {ps.ordinal: (pname, ps) for (pns, pname), ps in self._pods.items()
                if pns == namespace and ps.sts == name}  # fmt: skip
        # scale up: lowest ordinals first
        for ordinal in range(desired):
            if ordinal in pods:
                if ordered and not pods[ordinal][1].ready:
                    break
                continue
            if ordered and any(ps.terminating_since is not None for _, ps in pods.values()):
                break
            self._create_pod(namespace, name, ordinal, now)
            if ordered:
                break
        pods = {ps.ordinal: (pname, ps) for (pns, pname), ps in self._pods.items()
                if pns == namespace and ps.sts == name}  # fmt: skip
        # scale down: highest ordinals first
        condemned = sorted(
            (o for o, (_, ps) in pods.items() if o >= desired and ps.terminating_since is None),
            reverse=True,
        )
        if condemned:
            if ordered:
                blocked = any(ps.terminating_since is not None for _, ps in pods.values()) or any(
                    not ps.ready for o, (_, ps) in pods.items() if o < desired
                )
                victims = [] if blocked else condemned[:1]
            else:
                victims = condemned
            for ordinal in victims:
                pname = pods[ordinal][0]
                self.terminate_pod(namespace, pname)
                self._record_event(
                    namespace,
                    sts,
                    "SuccessfulDelete",
                    f"delete Pod {pname} in StatefulSet {name} successful",
                    now,
                )
        self._update_sts_status(namespace, name)

    def _update_sts_status(self, namespace: str, name: str) -> None:
        sts = self._store(STATEFULSETS).objects[(namespace, name)]
        pods = [ps for (pns, _), ps in self._pods.items() if pns == namespace and ps.sts == name]
        live = [ps for ps in pods if ps.terminating_since is None]
        ready = sum(1 for ps in live if ps.ready)
        revision = revision_name(sts)
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
        }
        if ready:
            status["readyReplicas"] = ready
        if live:
            status["currentReplicas"] = len(live)
            status["updatedReplicas"] = len(live)
        status["currentRevision"] = revision
        status["updateRevision"] = revision
        status["collisionCount"] = 0
        status["availableReplicas"] = ready
        status = {k: v for k, v in status.items() if v or k in ("replicas", "availableReplicas")}
        if status != sts.get("status"):
            sts["status"] = status
            sts["metadata"]["resourceVersion"] = self._next_rv()

    def _record_event(
        self, namespace: str, involved: Obj, reason: str, message: str, now: float,
        *, event_type: str = "Normal", component: str = "statefulset-controller",
    ) -> None:  # fmt: skip
        meta = involved["metadata"]
        name = f"{meta['name']}.{self._rng.getrandbits(64):016x}"
        event: Obj = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": self._uid(),
                "resourceVersion": self._next_rv(),
                "creationTimestamp": format_time(now),
            },
            "involvedObject": {
                "kind": involved["kind"],
                "namespace": namespace,
                "name": meta["name"],
                "uid": meta["uid"],
                "apiVersion": involved["apiVersion"],
                "resourceVersion": meta["resourceVersion"],
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": format_time(now),
            "lastTimestamp": format_time(now),
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        self._store(EVENTS).objects[(namespace, name)] = event

    # ---- introspection -------------------------------------------------------------------

    def pod_state(self, namespace: str, name: str) -> Obj | None:
        ps = self._pods.get((namespace, name))
        if ps is None:
            return None
        return {
            "namespace": namespace,
            "name": name,
            "statefulset": ps.sts,
            "ordinal": ps.ordinal,
            "phase": self._store(PODS).objects[(namespace, name)]["status"].get("phase"),
            "ready": ps.ready,
            "terminating": ps.terminating_since is not None,
            "restarts": ps.restart_count,
            "never_ready": name in self.never_ready,
            "created_at": ps.created_at,
            "ready_at": ps.ready_at,
        }

    def state(self) -> Obj:
        """A compact picture for ``GET /_sim/state``."""
        stss = []
        for (ns, name), sts in sorted(self._store(STATEFULSETS).objects.items()):
            stss.append(
                {
                    "namespace": ns,
                    "name": name,
                    "replicas": sts["spec"].get("replicas", 0),
                    "generation": sts["metadata"].get("generation", 1),
                    "resourceVersion": sts["metadata"]["resourceVersion"],
                    "podManagementPolicy": sts["spec"].get("podManagementPolicy"),
                    "status": copy.deepcopy(sts.get("status", {})),
                }
            )
        pods = [
            state
            for ns, name in sorted(self._pods)
            if (state := self.pod_state(ns, name)) is not None
        ]
        return {"resourceVersion": self.resource_version, "statefulsets": stss, "pods": pods}
