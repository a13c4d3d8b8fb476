"""The twin: one clock driving the Elasticsearch model and the Kubernetes model together.

Scaling is only real when both halves agree: a StatefulSet scaled up creates pods, the pods
become Ready after their start delay, and only then do Elasticsearch nodes join and shards
start moving onto them; a StatefulSet scaled down deletes the highest-ordinal pods and their
nodes simply vanish from Elasticsearch — no drain. That last part is the point: if the
autoscaler scales down without draining first, the twin loses shard copies (and turns red for
an index without replicas) exactly like production would, and records the loss as an
invariant violation.

Time is a ``SimClock``: in virtual mode ``advance(seconds)`` steps both models in 1 s
increments (tests, back-tests); in real-time mode ``run_ticker()`` keeps them in step with
wall time × speed (demo).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from autoscaler.sim.clock import ScaledClock, SimClock, VirtualClock
from autoscaler.sim.datasets import DEFAULT_ROLES
from autoscaler.sim.es.cluster import Cluster
from autoscaler.sim.faults import FaultInjector, ModelFaultKind
from autoscaler.sim.k8s.model import K8sModel
from autoscaler.sim.k8s.requestlog import RequestLog
from autoscaler.sim.k8s.timefmt import format_micro_time
from autoscaler.sim.k8s.types import ROLES_ANNOTATION, Obj
from autoscaler.sim.spec import TwinSpec
from autoscaler.sim.vms import VmFleet

STEP_SECONDS = 1.0


def split_statefulset(ref: str) -> tuple[str, str]:
    """``"elastic/es-data"`` → ``("elastic", "es-data")``; a bare name is in ``default``."""
    namespace, _, name = ref.rpartition("/")
    if not name:
        raise ValueError(f"bad StatefulSet reference {ref!r}: expected NAMESPACE/NAME")
    return namespace or "default", name


class Twin:
    """Composition root of the simulator: clock + ``Cluster`` + ``K8sModel`` + faults.

    Pods that become Ready join the ES cluster (``cluster.add_node(pod_name, roles=...)``);
    pods that stop (deleted, or scaled away) leave it at once (``cluster.remove_node``), and a
    crashed pod's node drops out via ``cluster.crash_node``. Roles come from the pod-template
    annotation ``sim.es-autoscaler.io/roles`` if set, else ``default_roles``.
    """

    def __init__(
        self,
        *,
        clock: SimClock,
        cluster: Cluster,
        k8s: K8sModel,
        default_roles: Sequence[str] = DEFAULT_ROLES,
        node_disk_bytes: int = 500 * 2**30,
        node_heap_bytes: int = 4 * 2**30,
    ) -> None:
        self.clock = clock
        self.cluster = cluster
        self.k8s = k8s
        self.faults = FaultInjector(cluster=cluster, k8s=k8s)
        #: every request the Kubernetes side served (``GET /_sim/requests``)
        self.requests = RequestLog()
        self.default_roles = tuple(default_roles)
        self.node_disk_bytes = node_disk_bytes
        self.node_heap_bytes = node_heap_bytes
        self._joined: set[str] = set()
        self._model_time = clock.time()
        #: (namespace, name) of the StatefulSet whose pods are the ES data nodes, if any.
        self.statefulset: tuple[str, str] | None = None
        k8s.on_pod_ready.append(self._pod_ready)
        k8s.on_pod_stopped.append(self._pod_stopped)
        #: ES nodes on VMs (``/_sim/nodes``), joining after a delay; see ``vms``.
        self.vms = VmFleet(
            cluster=cluster,
            clock=clock,
            default_roles=self.default_roles,
            default_disk_bytes=node_disk_bytes,
            heap_bytes=node_heap_bytes,
        )
        self.vms.on_fault_exhausted = self.faults.remove
        vms = self.vms
        self.faults.register(
            "vm_never_joins",
            ModelFaultKind(vms.apply_never_joins, lambda _id, p: vms.revert_never_joins(p)),
        )
        self.faults.register(
            "shard_allocation_failure",
            ModelFaultKind(self._apply_allocation_failure, self._revert_allocation_failure),
        )
        self.faults.register(
            "vm_provision_error",
            ModelFaultKind(vms.apply_provision_error, lambda i, _p: vms.revert_provision_error(i)),
        )

    def _apply_allocation_failure(self, fault_id: int, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Fault ``{"type": "shard_allocation_failure", "index", "shard"}``: every recovery of
        that shard fails (``ALLOCATION_FAILED``), so after ``index.allocation.max_retries``
        attempts it stays unassigned until ``_cluster/reroute?retry_failed=true``."""
        index, shard = spec.get("index"), spec.get("shard")
        if not isinstance(index, str) or isinstance(shard, bool) or not isinstance(shard, int):
            raise ValueError(
                "fault 'shard_allocation_failure' needs 'index' (string), 'shard' (int)"
            )
        try:
            self.cluster.fail_allocations(index, shard)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        return {"index": index, "shard": shard}

    def _revert_allocation_failure(self, fault_id: int, params: Mapping[str, Any]) -> None:
        self.cluster.stop_failing_allocations(str(params["index"]), int(params["shard"]))

    @classmethod
    def create(cls, spec: TwinSpec | None = None) -> Twin:
        """A twin whose StatefulSet has ``spec.nodes`` Ready pods that are the ES nodes."""
        spec = spec or TwinSpec()
        nodes, roles, es_version, seed = spec.nodes, spec.roles, spec.es_version, spec.seed
        speed = spec.speed
        # the sim clock starts at the wall time unless pinned (``--start``)
        start = time.time() if spec.start is None else spec.start
        clock: SimClock = (
            VirtualClock(now=start) if speed is None else ScaledClock(speed=speed, start=start)
        )
        cluster = Cluster(
            clock=clock,
            version=es_version,
            seed=seed,
            cluster_name=spec.cluster_name,
            indices=spec.indices,
        )
        k8s = K8sModel(
            clock=clock,
            seed=seed,
            pod_ready_delay=spec.pod_ready_delay,
            pod_termination_delay=spec.pod_termination_delay,
        )
        twin = cls(clock=clock, cluster=cluster, k8s=k8s, default_roles=roles)
        if spec.vm_nodes:
            # a VM-only cluster (Ansible target): no StatefulSet, nodes es-vm-0..N-1 joined
            for i in range(spec.vm_nodes):
                twin.vms.provision(f"es-vm-{i}", joined=True)
            cluster.step(0.0)
            return twin
        namespace, name = split_statefulset(spec.statefulset)
        major = es_version.split(".")[0]
        k8s.create_statefulset(
            namespace,
            name,
            replicas=nodes,
            image=f"docker.elastic.co/elasticsearch/elasticsearch:{es_version}",
            pod_management_policy=spec.pod_management_policy,
            roles=roles,
            labels={"app": "elasticsearch", "statefulset": name, "es-major": major},
            when_scaled=spec.pvc_when_scaled,
            termination_grace_seconds=spec.termination_grace_seconds,
        )
        twin.statefulset = (namespace, name)
        # the starting nodes are a cluster "recovered from disk"; from here on membership
        # changes are live (a node leaving loses its copies instead of re-laying out)
        cluster.step(0.0)
        return twin

    # ---- time ----------------------------------------------------------------------------

    @property
    def virtual(self) -> bool:
        return self.clock.virtual

    def now(self) -> float:
        return self.clock.time()

    def advance(self, seconds: float) -> None:
        """Virtual mode only: move time forward, stepping both models every simulated second."""
        if not isinstance(self.clock, VirtualClock):
            raise RuntimeError("the twin runs in real time; it cannot be advanced")
        if seconds < 0 or math.isnan(seconds):
            raise ValueError("seconds must be >= 0")
        remaining = seconds
        while remaining > 1e-9:
            dt = min(STEP_SECONDS, remaining)
            self.clock.advance(dt)
            self._step(dt)
            remaining -= dt

    def catch_up(self) -> None:
        """Real-time mode: step the models up to the clock's present (1 s increments)."""
        target = self.clock.time()
        while target - self._model_time > 1e-9:
            dt = min(STEP_SECONDS, target - self._model_time)
            self._step(dt)

    def _step(self, dt: float) -> None:
        self._model_time += dt
        self.k8s.step(self._model_time)
        self.vms.step(self._model_time)
        self.cluster.step(dt)

    def set_speed(self, speed: float) -> None:
        """Real-time mode: run at wall time × ``speed`` from now on (the models first catch up
        with the old speed, so nothing is stepped twice or skipped)."""
        if not isinstance(self.clock, ScaledClock):
            raise RuntimeError("a virtual clock has no speed: advance it instead")
        self.catch_up()
        self.clock.set_speed(speed)

    async def run_ticker(self) -> None:
        """Real-time mode: keep the models in step with the clock until cancelled."""
        if self.virtual:
            return
        while True:  # the interval follows the current speed (``set_speed``)
            speed = self.clock.speed if isinstance(self.clock, ScaledClock) else 1.0
            await asyncio.sleep(max(0.01, min(1.0, STEP_SECONDS / speed)))
            self.catch_up()

    # ---- pods ↔ nodes --------------------------------------------------------------------

    def _roles_of(self, pod: Obj) -> tuple[str, ...]:
        annotated = (pod.get("metadata", {}).get("annotations") or {}).get(ROLES_ANNOTATION)
        if annotated:
            return tuple(r.strip() for r in str(annotated).split(",") if r.strip())
        return self.default_roles

    def _pod_ready(self, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        if name in self._joined:
            return
        self.cluster.add_node(
            name,
            roles=self._roles_of(pod),
            disk_bytes=self.node_disk_bytes,
            heap_bytes=self.node_heap_bytes,
            node_id=self._node_id_of(pod),
            ip=(pod.get("status") or {}).get("podIP") or None,
            started_at=self._container_start(pod),
        )
        self._joined.add(name)

    def _container_start(self, pod: Obj) -> float | None:
        """JVM start = container start (the ES process is the container's)."""
        meta = pod["metadata"]
        state = self.k8s.pod_state(meta.get("namespace", ""), meta["name"])
        return float(state["started_at"]) if state is not None else None

    def _node_id_of(self, pod: Obj) -> str | None:
        """An ES node id lives in its data path, so it belongs to the pod's volume: the same
        PersistentVolumeClaim → the same id (22 URL-safe base64 characters, like ES's
        ``UUIDs.randomBase64UUID``); a new claim (or an ``emptyDir`` pod) → a new id."""
        meta = pod["metadata"]
        identity = self.k8s.volume_identity(meta.get("namespace", ""), meta["name"])
        if identity is None:
            return None
        digest = hashlib.sha256(identity.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode()[:22]

    def _pod_stopped(self, pod: Obj, crashed: bool) -> None:
        name = pod["metadata"]["name"]
        if name not in self._joined:
            return
        self._joined.discard(name)
        if crashed:
            self.cluster.crash_node(name)
        else:
            self.cluster.remove_node(name, reason="pod deleted")

    # ---- introspection -------------------------------------------------------------------

    @property
    def invariants(self) -> list[dict[str, Any]]:
        return list(self.cluster.invariants)

    def state(self) -> dict[str, Any]:
        """Everything ``GET /_sim/state`` shows."""
        now = self.now()
        speed = self.clock.speed if isinstance(self.clock, ScaledClock) else None
        return {
            "clock": {
                "now": now,
                "iso": format_micro_time(now),
                "virtual": self.virtual,
                "speed": speed,
            },
            "elasticsearch": self.cluster.state(),
            "kubernetes": self.k8s.state(),
            "vm_nodes": self.vms.list(),
            "faults": self.faults.active(),
            "invariants": self.invariants,
        }
