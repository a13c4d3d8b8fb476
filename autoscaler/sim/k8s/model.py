"""The Kubernetes half of the digital twin: the API store plus a StatefulSet controller.

What a kube-controller-manager and kubelets would do to the StatefulSets the autoscaler
scales, so that a wrong actuation fails in the twin as it would in production:

* pods ``<sts>-<ordinal>`` are created lowest ordinal first and deleted highest first
  (``OrderedReady`` one at a time, ``Parallel`` at once), each with its PersistentVolumeClaims
  (``pvcs.py``; ``whenScaled: Delete`` removes a condemned pod's claims once it is gone);
* a change to ``spec.template`` is a new ControllerRevision (``revisions.py``); with
  ``RollingUpdate`` pods are replaced one at a time from the highest ordinal down to
  ``partition``, each waiting for the previous to be Ready; ``OnDelete`` waits for the user;
* a deleted pod stays Terminating for ``min(pod_termination_delay,
  terminationGracePeriodSeconds)`` (the process exits on SIGTERM or is killed at the end of
  the grace period), and its ``deletionTimestamp`` is now + grace.

Sources: kubernetes/kubernetes ``pkg/controller/statefulset/stateful_set_control.go``
(``updateStatefulSet``/``updateStatefulSetAfterInvariantEstablished``,
``newVersionedStatefulSetPod``, ``completeRollingUpdate``, ``computeReplicaStatus``),
``stateful_set_utils.go``, ``stateful_pod_control.go``; citations in
``tests/fixtures/kubernetes/API-BEHAVIOUR.md`` §10.

It is event-driven: pod transitions (container start, Ready, gone) are scheduled on a heap
and a StatefulSet is synced only when something about it changed, so ``step(now)`` costs
nothing while nothing happens (a 100-pod twin no longer re-renders every pod every second).
Transport-free (``api.py`` puts it on the wire) and clock-driven: tests run hours in
milliseconds. Pod readiness and termination are reported to listeners; the twin uses them
to make pods join and leave the simulated Elasticsearch cluster.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable, Mapping, Sequence

from autoscaler.sim.clock import SimClock
from autoscaler.sim.k8s.pods import PodState, pod_status
from autoscaler.sim.k8s.pvcs import (
    bind,
    claim_body,
    claim_name,
    claim_templates,
    owner_ref,
    retention,
)
from autoscaler.sim.k8s.revisions import (
    new_revision_body,
    revision_hash,
    template_of,
    template_patch,
)
from autoscaler.sim.k8s.scale import ScaleSubresource
from autoscaler.sim.k8s.timefmt import format_time
from autoscaler.sim.k8s.types import (
    CONTROLLERREVISIONS,
    EVENTS,
    PODS,
    PVCS,
    ROLES_ANNOTATION,
    STATEFULSETS,
    Obj,
    ResourceType,
)

PodListener = Callable[[Obj], None]
PodStoppedListener = Callable[[Obj, bool], None]

#: readinessProbe periodSeconds default: how often a never-ready pod is probed again.
_PROBE_PERIOD_S = 10.0
#: ``terminationGracePeriodSeconds`` default (``pkg/apis/core/v1/defaults.go``).
DEFAULT_GRACE_SECONDS = 30


class K8sModel(ScaleSubresource):
    """API-server storage plus a StatefulSet controller and kubelet, driven by ``step(now)``.

    ``pod_ready_delay`` is how long a new pod takes to pass its readiness probe;
    ``pod_termination_delay`` how long a deleted pod's process takes to exit after SIGTERM
    (capped by the pod's ``terminationGracePeriodSeconds``).
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
        self._due: list[tuple[float, int, str, str]] = []
        self._due_seq = 0
        self._dirty: set[tuple[str, str]] = set()
        self._ip_seq = 0
        #: Pod names whose readiness probe never passes (fault injection).
        self.never_ready: set[str] = set()
        self.on_pod_ready: list[PodListener] = []
        self.on_pod_stopped: list[PodStoppedListener] = []

    # ---- store hooks ---------------------------------------------------------------------

    def _on_delete(
        self, rt: ResourceType, namespace: str, name: str, grace_seconds: float | None
    ) -> Obj | None:
        if rt is not PODS:
            return None
        key = (namespace, name)
        obj = self._store(PODS).objects[key]
        self.terminate_pod(namespace, name, grace_seconds=grace_seconds)
        ps = self._pods.get(key)
        if ps is not None and ps.gone_at is not None and ps.gone_at <= self._now():
            # gracePeriodSeconds=0 (kubectl delete --force): the object goes at once
            self._remove_pod(namespace, name)
        return self.get(PODS, namespace, name) if key in self._store(PODS).objects else obj

    def _on_deleted(self, rt: ResourceType, namespace: str, name: str) -> None:
        if rt is not STATEFULSETS:
            return
        for (pns, pname), ps in list(self._pods.items()):
            if pns == namespace and ps.sts == name:
                self.terminate_pod(pns, pname)
        # claims owned by the set (whenDeleted: Delete) go with it (garbage collector)
        for key, claim in list(self._store(PVCS).objects.items()):
            refs = claim["metadata"].get("ownerReferences") or []
            if key[0] == namespace and any(
                r.get("kind") == "StatefulSet" and r.get("name") == name for r in refs
            ):
                self._drop(PVCS, key)

    def _on_spec_written(self, rt: ResourceType, namespace: str, name: str) -> None:
        if rt is STATEFULSETS:
            self._dirty.add((namespace, name))

    def _prepare(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        super()._prepare(rt, obj, old)
        if rt is PVCS:
            if old is None:
                bind(obj)
            else:
                obj["status"] = copy.deepcopy(old.get("status", {}))

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
        when_scaled: str = "Retain",
        when_deleted: str = "Retain",
        termination_grace_seconds: int = 120,
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
                        "terminationGracePeriodSeconds": termination_grace_seconds,
                    },
                },
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": when_deleted,
                    "whenScaled": when_scaled,
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
            revision = self._revisions(namespace, name)[1]
            for ordinal in range(replicas):
                self._create_pod(namespace, name, ordinal, now, revision=revision, ready=True)
        self._sync_statefulset(namespace, name, self._now())
        return self.get(STATEFULSETS, namespace, sts["metadata"]["name"])

    # ---- pods ----------------------------------------------------------------------------

    def _schedule(self, at: float, namespace: str, name: str) -> None:
        self._due_seq += 1
        heapq.heappush(self._due, (at, self._due_seq, namespace, name))

    def _next_ip(self) -> str:
        n = self._ip_seq
        self._ip_seq += 1
        return f"10.244.{n // 250}.{n % 250 + 2}"

    def _ensure_claims(self, namespace: str, sts: Obj, pod_name: str, now: float) -> list[Obj]:
        """Create missing claims of a pod (``createPersistentVolumeClaims``); volumes to mount."""
        volumes: list[Obj] = []
        when_deleted, _ = retention(sts)
        for template in claim_templates(sts):
            cname = claim_name(template, pod_name)
            vol_name = (template.get("metadata") or {}).get("name", "")
            volumes.append({"name": vol_name, "persistentVolumeClaim": {"claimName": cname}})
            existing = self._store(PVCS).objects.get((namespace, cname))
            if existing is not None:
                refs = existing["metadata"].get("ownerReferences") or []
                if any(r.get("kind") == "Pod" for r in refs):
                    # the pod came back before the claim was collected: the controller
                    # drops the pod owner reference (updateClaimOwnerRefForSetAndPod)
                    claim = copy.deepcopy(existing)
                    kept = [r for r in refs if r.get("kind") != "Pod"]
                    if kept:
                        claim["metadata"]["ownerReferences"] = kept
                    else:
                        claim["metadata"].pop("ownerReferences", None)
                    claim["metadata"]["resourceVersion"] = self._next_rv()
                    self._put(PVCS, (namespace, cname), claim)
                continue
            body = claim_body(sts, template, pod_name)
            if when_deleted == "Delete":
                body["metadata"]["ownerReferences"] = [owner_ref("StatefulSet", "apps/v1", sts)]
            self.create(PVCS, namespace, body)
            self._record_event(
                namespace, sts, "SuccessfulCreate",
                f"create Claim {cname} Pod {pod_name} in StatefulSet {sts['metadata']['name']} "
                "success", now,
            )  # fmt: skip
        return volumes

    def _create_pod(
        self,
        namespace: str,
        sts_name: str,
        ordinal: int,
        now: float,
        *,
        revision: Obj,
        ready: bool = False,
    ) -> None:
        sts = self._store(STATEFULSETS).objects[(namespace, sts_name)]
        name = f"{sts_name}-{ordinal}"
        volumes = self._ensure_claims(namespace, sts, name, now)
        template = template_of(revision)
        tmeta = template.get("metadata") or {}
        spec = copy.deepcopy(template.get("spec") or {})
        grace = spec.get("terminationGracePeriodSeconds")
        ps = PodState(
            sts=sts_name,
            ordinal=ordinal,
            created_at=now,
            ready_at=now if ready else now + self.pod_ready_delay,
            started_at=now if ready else now + min(5.0, self.pod_ready_delay / 2),
            ready=False,
            ip=self._next_ip(),
            revision=revision["metadata"]["name"],
            grace_seconds=float(DEFAULT_GRACE_SECONDS if grace is None else grace),
        )
        self._pods[(namespace, name)] = ps
        labels = dict(tmeta.get("labels") or {})
        labels.update(
            {
                "statefulset.kubernetes.io/pod-name": name,
                "controller-revision-hash": ps.revision,
                "apps.kubernetes.io/pod-index": str(ordinal),
            }
        )
        spec.setdefault("containers", [])
        if volumes:
            names = {v["name"] for v in volumes}
            spec["volumes"] = volumes + [
                v for v in spec.get("volumes") or [] if v.get("name") not in names
            ]
        spec["hostname"] = name
        if sts["spec"].get("serviceName"):
            spec["subdomain"] = sts["spec"]["serviceName"]
        spec["nodeName"] = self._node_names[ordinal % len(self._node_names)]
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        pod: Obj = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "generateName": f"{sts_name}-",
                "namespace": namespace,
                "uid": self._uid(),
                "resourceVersion": "",
                "creationTimestamp": format_time(now),
                "labels": labels,
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [owner_ref("StatefulSet", "apps/v1", sts)],
            },
            "spec": spec,
            "status": {},
        }
        self._render_pod(namespace, name, now, pod)
        if not ready:
            self._record_event(
                namespace, sts, "SuccessfulCreate",
                f"create Pod {name} in StatefulSet {sts_name} successful", now,
            )  # fmt: skip
            self._schedule(ps.started_at, namespace, name)
            self._schedule(ps.ready_at or now, namespace, name)
        else:
            self._mark_ready(namespace, name, now)

    def _render_pod(self, namespace: str, name: str, now: float, pod: Obj | None = None) -> None:
        """Re-render a pod's status from its state; write it (new resourceVersion) if changed."""
        ps = self._pods[(namespace, name)]
        current = self._store(PODS).objects.get((namespace, name))
        base = pod if pod is not None else current
        assert base is not None
        status = pod_status(base, ps, now)
        meta = dict(base["metadata"])
        if ps.terminating_since is not None:
            meta["deletionTimestamp"] = format_time(ps.terminating_since + ps.grace_seconds)
            meta["deletionGracePeriodSeconds"] = int(ps.grace_seconds)
        if current is not None and status == current["status"] and meta == current["metadata"]:
            return
        meta["resourceVersion"] = self._next_rv()
        self._put(PODS, (namespace, name), {**base, "metadata": meta, "status": status})

    def _mark_ready(self, namespace: str, name: str, now: float) -> None:
        ps = self._pods[(namespace, name)]
        ps.ready = True
        ps.ever_ready = True
        self._render_pod(namespace, name, now)
        self._dirty.add((namespace, ps.sts))
        pod = copy.deepcopy(self._store(PODS).objects[(namespace, name)])
        for listener in list(self.on_pod_ready):
            listener(pod)

    def terminate_pod(
        self, namespace: str, name: str, *, grace_seconds: float | None = None
    ) -> None:
        """Begin graceful deletion: SIGTERM now; the object goes when the process has exited
        (``pod_termination_delay``) or the grace period ends, whichever is first."""
        ps = self._pods.get((namespace, name))
        if ps is None or ps.terminating_since is not None:
            return
        now = self._now()
        if grace_seconds is not None:
            ps.grace_seconds = max(0.0, grace_seconds)
        was_running = ps.ready or ps.ever_ready
        ps.terminating_since = now
        ps.gone_at = now + min(self.pod_termination_delay, ps.grace_seconds)
        ps.ready = False
        self._render_pod(namespace, name, now)
        self._schedule(ps.gone_at, namespace, name)
        self._dirty.add((namespace, ps.sts))
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
        self._render_pod(namespace, name, now)
        self._schedule(ps.started_at, namespace, name)
        if ps.ready_at is not None:
            self._schedule(ps.ready_at, namespace, name)
        self._dirty.add((namespace, ps.sts))
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

    def volume_identity(self, namespace: str, pod_name: str) -> str | None:
        """What a pod's on-disk identity belongs to: the uid of its first claim, else the pod's
        uid (an ``emptyDir`` lives and dies with the pod)."""
        ps = self._pods.get((namespace, pod_name))
        if ps is None:
            return None
        sts = self._store(STATEFULSETS).objects.get((namespace, ps.sts))
        for template in claim_templates(sts or {}):
            claim = self._store(PVCS).objects.get((namespace, claim_name(template, pod_name)))
            if claim is not None:
                return str(claim["metadata"]["uid"])
        pod = self._store(PODS).objects.get((namespace, pod_name))
        return str(pod["metadata"]["uid"]) if pod is not None else None

    # ---- controller ----------------------------------------------------------------------

    def step(self, now: float | None = None) -> None:
        """Run what is due at ``now``: pod transitions, then the sync of changed sets."""
        now = self._now() if now is None else now
        self.compact(now)
        while self._due and self._due[0][0] <= now:
            _, _, ns, name = heapq.heappop(self._due)
            self._advance_pod(ns, name, now)
        rounds = 0
        while self._dirty and rounds < 3:
            rounds += 1
            dirty, self._dirty = sorted(self._dirty), set()
            for ns, name in dirty:
                if (ns, name) in self._store(STATEFULSETS).objects:
                    self._sync_statefulset(ns, name, now)

    def _advance_pod(self, namespace: str, name: str, now: float) -> None:
        ps = self._pods.get((namespace, name))
        if ps is None:
            return
        if ps.terminating_since is not None:
            if ps.gone_at is not None and now >= ps.gone_at:
                self._remove_pod(namespace, name)
            return
        if not ps.ready and ps.ready_at is not None and now >= ps.ready_at:
            if name in self.never_ready:
                self._schedule(now + _PROBE_PERIOD_S, namespace, name)
                self._render_pod(namespace, name, now)
            else:
                self._mark_ready(namespace, name, now)
            return
        self._render_pod(namespace, name, now)

    def _remove_pod(self, namespace: str, name: str) -> None:
        ps = self._pods.pop((namespace, name))
        pod = self._drop(PODS, (namespace, name))
        self._dirty.add((namespace, ps.sts))
        # garbage collector: claims owned by this pod (whenScaled: Delete) go with it
        uid = pod["metadata"]["uid"]
        for key, claim in list(self._store(PVCS).objects.items()):
            refs = claim["metadata"].get("ownerReferences") or []
            if key[0] == namespace and any(r.get("uid") == uid for r in refs):
                self._drop(PVCS, key)

    def _revisions(self, namespace: str, name: str) -> tuple[Obj, Obj]:
        """``(current, update)`` ControllerRevisions, creating the update one if the template
        changed (``getStatefulSetRevisions``: an equal earlier revision is reused with the next
        revision number — that is how ``rollout undo`` shows up in history)."""
        sts = self._store(STATEFULSETS).objects[(namespace, name)]
        data = template_patch(sts)
        rev_name = f"{name}-{revision_hash(data)}"
        store = self._store(CONTROLLERREVISIONS).objects
        owned = [
            r for (ns, _), r in store.items()
            if ns == namespace and any(o.get("uid") == sts["metadata"]["uid"]
                                       for o in r["metadata"].get("ownerReferences") or [])
        ]  # fmt: skip
        latest = max((int(r.get("revision", 0)) for r in owned), default=0)
        update = store.get((namespace, rev_name))
        if update is None:
            body = new_revision_body(sts, latest + 1)
            self.create(CONTROLLERREVISIONS, namespace, body)
            update = store[(namespace, rev_name)]
        elif int(update.get("revision", 0)) != latest:
            bumped = copy.deepcopy(update)
            bumped["revision"] = latest + 1
            bumped["metadata"]["resourceVersion"] = self._next_rv()
            self._put(CONTROLLERREVISIONS, (namespace, rev_name), bumped)
            update = bumped
        current_name = (sts.get("status") or {}).get("currentRevision") or rev_name
        current = store.get((namespace, current_name)) or update
        return current, update

    def _truncate_history(self, namespace: str, sts: Obj, live: set[str]) -> None:
        """``truncateHistory``: keep ``revisionHistoryLimit`` revisions no pod uses."""
        limit = int(sts["spec"].get("revisionHistoryLimit", 10))
        store = self._store(CONTROLLERREVISIONS).objects
        old = sorted(
            (
                r for (ns, rname), r in store.items()
                if ns == namespace and rname not in live
                and any(o.get("uid") == sts["metadata"]["uid"]
                        for o in r["metadata"].get("ownerReferences") or [])
            ),
            key=lambda r: int(r.get("revision", 0)),
        )  # fmt: skip
        for r in old[: max(0, len(old) - limit)]:
            self._drop(CONTROLLERREVISIONS, (namespace, r["metadata"]["name"]))

    def _sync_statefulset(self, namespace: str, name: str, now: float) -> None:
        """One pass of ``updateStatefulSet`` for one set."""
        current, update = self._revisions(namespace, name)
        sts = self._store(STATEFULSETS).objects[(namespace, name)]
        spec = sts["spec"]
        desired = int(spec.get("replicas", 0))
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0) or 0)
        status = sts.get("status") or {}
        current_replicas = int(status.get("currentReplicas", 0))

        def pods_now() -> dict[int, tuple[str, PodState]]:
            return {ps.ordinal: (pname, ps) for (pns, pname), ps in self._pods.items()
                    if pns == namespace and ps.sts == name}  # fmt: skip

        def healthy(ps: PodState) -> bool:
            return ps.ready and ps.terminating_since is None

        pods = pods_now()
        blocked = False
        # replicas: lowest ordinals first (monotonic for OrderedReady)
        for ordinal in range(desired):
            if ordinal in pods:
                ps = pods[ordinal][1]
                if ordered and not healthy(ps):
                    blocked = True
                    break
                continue
            # newVersionedStatefulSetPod: below the partition (or, without one, below
            # currentReplicas) a missing pod comes back at the current revision
            use_current = rolling and (ordinal < partition if strategy.get("rollingUpdate")
                                       else ordinal < current_replicas)  # fmt: skip
            revision = current if use_current else update
            self._create_pod(namespace, name, ordinal, now, revision=revision)
            if ordered:
                blocked = True
                break
        pods = pods_now()
        # condemned: highest ordinals first
        condemned = sorted((o for o in pods if o >= desired), reverse=True)
        _, when_scaled = retention(sts)
        for ordinal in condemned:
            pname, ps = pods[ordinal]
            if when_scaled == "Delete":
                self._own_claims_by_pod(namespace, sts, pname)
            if ps.terminating_since is not None:
                if ordered:
                    blocked = True
                    break
                continue
            if ordered and (blocked or any(not healthy(p) for o, (_, p) in pods.items()
                                           if o != ordinal and o < desired)):  # fmt: skip
                blocked = True
                break
            self.terminate_pod(namespace, pname)
            self._record_event(
                namespace, sts, "SuccessfulDelete",
                f"delete Pod {pname} in StatefulSet {name} successful", now,
            )  # fmt: skip
            if ordered:
                blocked = True
                break
        # rolling update: highest ordinal down to the partition, one at a time
        pods = pods_now()
        if rolling and not blocked:
            for target in range(desired - 1, partition - 1, -1):
                if target not in pods:
                    break
                pname, ps = pods[target]
                if ps.revision != update["metadata"]["name"] and ps.terminating_since is None:
                    self.terminate_pod(namespace, pname)
                    self._record_event(
                        namespace, sts, "SuccessfulDelete",
                        f"delete Pod {pname} in StatefulSet {name} successful", now,
                    )  # fmt: skip
                    break
                if not healthy(ps):
                    break
        self._update_status(namespace, name, current, update)
        live = {ps.revision for ps in self._pods.values()} | {
            current["metadata"]["name"],
            update["metadata"]["name"],
        }
        self._truncate_history(namespace, sts, live)

    def _own_claims_by_pod(self, namespace: str, sts: Obj, pod_name: str) -> None:
        """``whenScaled: Delete``: a condemned pod becomes the owner of its claims."""
        pod = self._store(PODS).objects.get((namespace, pod_name))
        if pod is None:
            return
        for template in claim_templates(sts):
            key = (namespace, claim_name(template, pod_name))
            claim = self._store(PVCS).objects.get(key)
            if claim is None:
                continue
            refs = claim["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == pod["metadata"]["uid"] for r in refs):
                continue
            new = copy.deepcopy(claim)
            new["metadata"]["ownerReferences"] = [*refs, owner_ref("Pod", "v1", pod)]
            new["metadata"]["resourceVersion"] = self._next_rv()
            self._put(PVCS, key, new)

    def _update_status(self, namespace: str, name: str, current: Obj, update: Obj) -> None:
        """``computeReplicaStatus`` + ``completeRollingUpdate``."""
        sts = self._store(STATEFULSETS).objects[(namespace, name)]
        cur_name, upd_name = current["metadata"]["name"], update["metadata"]["name"]
        pods = [ps for (pns, _), ps in self._pods.items() if pns == namespace and ps.sts == name]
        live = [ps for ps in pods if ps.terminating_since is None]
        ready = sum(1 for ps in live if ps.ready)
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "currentReplicas": sum(1 for ps in live if ps.revision == cur_name),
            "updatedReplicas": sum(1 for ps in live if ps.revision == upd_name),
            "currentRevision": cur_name,
            "updateRevision": upd_name,
            "collisionCount": 0,
            "availableReplicas": ready,
        }
        strategy = (sts["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
        if (
            strategy == "RollingUpdate"
            and status["updatedReplicas"] == status["replicas"]
            and status["readyReplicas"] == status["replicas"]
        ):
            status["currentRevision"] = upd_name
            status["currentReplicas"] = status["updatedReplicas"]
        status = {k: v for k, v in status.items() if v or k in ("replicas", "availableReplicas")}
        if status != sts.get("status"):
            meta = {**sts["metadata"], "resourceVersion": self._next_rv()}
            self._put(STATEFULSETS, (namespace, name), {**sts, "metadata": meta, "status": status})

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
        self._put(EVENTS, (namespace, name), event)

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
            "started_at": ps.started_at,
            "ready_at": ps.ready_at,
            "ip": ps.ip,
            "revision": ps.revision,
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
        claims = [
            {
                "namespace": ns,
                "name": name,
                "uid": c["metadata"]["uid"],
                "phase": (c.get("status") or {}).get("phase"),
            }
            for (ns, name), c in sorted(self._store(PVCS).objects.items())
        ]
        return {
            "resourceVersion": self.resource_version,
            "statefulsets": stss,
            "pods": pods,
            "persistentvolumeclaims": claims,
        }
