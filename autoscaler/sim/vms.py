"""Elasticsearch nodes on virtual machines: the twin's stand-in for a VM provider.

Clusters on VMs are scaled by Ansible playbooks that provision a machine, start Elasticsearch
on it and wait for it to join — or drain a node and stop its machine. To rehearse those
playbooks without a cloud, the twin keeps a small fleet of VM nodes driven by its control API
(``/_sim/nodes``, see ``control``):

* ``provision`` creates a VM in state ``provisioning``; after ``join_after`` simulated seconds
  its Elasticsearch node joins the cluster (state ``joined``) with the given roles and disk.
* ``stop`` powers it off: the node leaves the cluster at once, and whatever shard copies it
  still held are lost exactly as for a deleted pod (invariants ``node_left_with_shards``,
  ``primary_unassigned``). State ``stopped``; the name can be provisioned again.
* Faults (``POST /_sim/faults``): ``{"type": "vm_never_joins", "node": NAME}`` — that VM is
  provisioned but its node never joins; ``{"type": "vm_provision_error", "status": 503,
  "count": 1}`` — the next provisioning call(s) fail with that HTTP status.

A node's id derives from its name (as for pods), so a name provisioned again after a stop
comes back with the same node id (like a VM re-created on its old data disk). [inferred]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autoscaler.sim.clock import SimClock
from autoscaler.sim.es.cluster import Cluster
from autoscaler.sim.es.errors import EsError
from autoscaler.sim.es.units import parse_time_value

#: Roles a node may declare (``DiscoveryNodeRole``s of ES 8.x).
KNOWN_ROLES = frozenset(
    {
        "master",
        "data",
        "data_content",
        "data_hot",
        "data_warm",
        "data_cold",
        "data_frozen",
        "ingest",
        "ml",
        "remote_cluster_client",
        "transform",
        "voting_only",
    }
)
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9._]{0,61}[a-z0-9])?$")

PROVISIONING = "provisioning"
JOINED = "joined"
STOPPED = "stopped"


class VmError(Exception):
    """A control-API error: HTTP ``status`` and a message for ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class VmNode:
    name: str
    roles: tuple[str, ...]
    disk_bytes: int
    state: str
    provisioned_at: float
    join_at: float
    joined_at: float | None = None
    stopped_at: float | None = None
    never_joins: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "roles": list(self.roles),
            "disk_gb": self.disk_bytes / 2**30,
            "provisioned_at": self.provisioned_at,
            "join_at": None if self.never_joins else self.join_at,
            "joined_at": self.joined_at,
            "stopped_at": self.stopped_at,
        }


def parse_join_after(value: Any) -> float:
    """``"30s"``/``"2m"`` (ES time units) or a number of seconds."""
    if isinstance(value, bool):
        raise VmError(400, 'join_after must be a time like "30s" or a number of seconds')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_time_value(value, "join_after")
        except EsError as exc:
            raise VmError(400, str(exc.reason)) from None
    else:
        raise VmError(400, 'join_after must be a time like "30s" or a number of seconds')
    if seconds < 0 or math.isnan(seconds) or math.isinf(seconds):
        raise VmError(400, "join_after must be >= 0")
    return seconds


def _disk_bytes(disk_gb: Any) -> int:
    """A number of GiB > 0; a numeric string is accepted too (Ansible's ``uri`` module sends
    templated values such as ``"{{ disk_gb }}"`` as strings)."""
    if isinstance(disk_gb, str):
        try:
            disk_gb = float(disk_gb)
        except ValueError:
            raise VmError(400, "disk_gb must be a number > 0") from None
    if (
        isinstance(disk_gb, bool)
        or not isinstance(disk_gb, int | float)
        or not math.isfinite(disk_gb)
        or disk_gb <= 0
    ):
        raise VmError(400, "disk_gb must be a number > 0")
    return int(disk_gb * 2**30)


class VmFleet:
    """The VM nodes of one twin; ``step`` lets due nodes join the cluster."""

    def __init__(
        self,
        *,
        cluster: Cluster,
        clock: SimClock,
        default_roles: Sequence[str],
        default_disk_bytes: int,
        heap_bytes: int,
    ) -> None:
        self.cluster = cluster
        self.clock = clock
        self.default_roles = tuple(default_roles)
        self.default_disk_bytes = default_disk_bytes
        self.heap_bytes = heap_bytes
        self._vms: dict[str, VmNode] = {}
        self._never_join: set[str] = set()
        #: injected provisioning failures: ``[fault_id, status, remaining or None]``
        self._provision_errors: list[list[Any]] = []
        #: called with a fault id once a counted fault is used up (the injector forgets it)
        self.on_fault_exhausted: Callable[[int], object] | None = None

    # ---- reading ---------------------------------------------------------------------------

    def list(self) -> list[dict[str, Any]]:
        return [vm.to_json() for vm in self._vms.values()]

    def get(self, name: str) -> VmNode:
        vm = self._vms.get(name)
        if vm is None:
            raise VmError(404, f"no VM node named [{name}]")
        return vm

    # ---- provisioning ----------------------------------------------------------------------

    def provision(
        self,
        name: str,
        *,
        roles: Sequence[str] | None = None,
        disk_gb: float | str | None = None,
        join_after: float = 30.0,
        joined: bool = False,
    ) -> VmNode:
        """A new VM whose node joins after ``join_after`` seconds (at once if ``joined``)."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise VmError(
                400, "name must be 1-63 lowercase letters, digits, '-', '.' or '_' (e.g. es-vm-3)"
            )
        node_roles = self.default_roles if roles is None else tuple(roles)
        unknown = sorted(set(node_roles) - KNOWN_ROLES)
        if unknown:
            raise VmError(400, f"unknown role(s) {unknown}; known: {sorted(KNOWN_ROLES)}")
        disk_bytes = self.default_disk_bytes if disk_gb is None else _disk_bytes(disk_gb)
        old = self._vms.get(name)
        if old is not None and old.state != STOPPED:
            raise VmError(409, f"VM node [{name}] already exists (state {old.state})")
        if old is None and name in self.cluster.node_names():
            raise VmError(409, f"a node named [{name}] is already in the cluster")
        self._consume_provision_error(name)
        now = self.clock.time()
        vm = VmNode(
            name=name,
            roles=node_roles,
            disk_bytes=disk_bytes,
            state=PROVISIONING,
            provisioned_at=now,
            join_at=now + join_after,
            never_joins=name in self._never_join,
        )
        self._vms[name] = vm
        if joined:
            self._join(vm, now)
        return vm

    def stop(self, name: str) -> VmNode:
        """Power the VM off; a joined node leaves the cluster with whatever it still holds."""
        vm = self.get(name)
        if vm.state == JOINED and name in self.cluster.node_names():
            self.cluster.remove_node(name, reason="vm stopped")
        if vm.state != STOPPED:
            vm.state = STOPPED
            vm.stopped_at = self.clock.time()
        return vm

    def step(self, now: float) -> None:
        for vm in self._vms.values():
            if vm.state == PROVISIONING and not vm.never_joins and vm.join_at <= now + 1e-9:
                self._join(vm, now)

    def _join(self, vm: VmNode, now: float) -> None:
        self.cluster.add_node(
            vm.name, roles=vm.roles, disk_bytes=vm.disk_bytes, heap_bytes=self.heap_bytes
        )
        vm.state = JOINED
        vm.joined_at = now

    # ---- faults (registered with the twin's FaultInjector) ----------------------------------

    def _consume_provision_error(self, name: str) -> None:
        if not self._provision_errors:
            return
        entry = self._provision_errors[0]
        fault_id, status, remaining = entry
        if remaining is not None:
            entry[2] = remaining - 1
            if entry[2] <= 0:
                self._provision_errors.pop(0)
                if self.on_fault_exhausted is not None:
                    self.on_fault_exhausted(fault_id)
        raise VmError(status, f"provisioning VM node [{name}] failed (injected fault {fault_id})")

    def apply_never_joins(self, fault_id: int, spec: Mapping[str, Any]) -> dict[str, Any]:
        node = spec.get("node")
        if not isinstance(node, str) or not node:
            raise ValueError("fault 'vm_never_joins' needs a string 'node'")
        self._never_join.add(node)
        vm = self._vms.get(node)
        if vm is not None and vm.state == PROVISIONING:
            vm.never_joins = True
        return {"node": node}

    def revert_never_joins(self, params: Mapping[str, Any]) -> None:
        node = str(params["node"])
        self._never_join.discard(node)
        vm = self._vms.get(node)
        if vm is not None:
            vm.never_joins = False  # a provisioning VM joins at its (possibly past) join time

    def apply_provision_error(self, fault_id: int, spec: Mapping[str, Any]) -> dict[str, Any]:
        status = spec.get("status", 503)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError('"status" must be an HTTP error code (400-599)')
        count = spec.get("count", 1)
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ValueError('"count" must be a positive integer or null')
        self._provision_errors.append([fault_id, status, count])
        return {"status": status, "count": count}

    def revert_provision_error(self, fault_id: int) -> None:
        self._provision_errors = [e for e in self._provision_errors if e[0] != fault_id]
