"""``TwinSpec``: the one list of what a twin is made of.

The twin is built from the ``sim`` command, from tests and from the demo; before this file each
of ``Twin.create``, ``run_twin`` and ``simcli`` repeated the same keyword arguments, and every
new twin feature had to be threaded through all three. A frozen spec is built once (by the CLI
from its flags, by a test from its overrides) and handed down unchanged; serving concerns (host,
ports, kubeconfig directory, tokens) stay with ``run_twin``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autoscaler.sim.datasets import DEFAULT_ROLES, IndexSpec


@dataclass(frozen=True, kw_only=True)
class TwinSpec:
    """What the simulated Elasticsearch cluster and its Kubernetes side look like at start."""

    #: Ready pods (= ES nodes) of the StatefulSet at start.
    nodes: int = 3
    #: ES roles of the StatefulSet's nodes.
    roles: Sequence[str] = DEFAULT_ROLES
    #: the data set; ``None`` → ``datasets.default_indices()``.
    indices: Sequence[IndexSpec] | None = None
    es_version: str = "8.15.0"
    #: ``None`` → virtual clock (``advance``); a number → wall time × ``speed``.
    speed: float | None = None
    seed: int = 0
    #: ``NAMESPACE/NAME`` of the StatefulSet whose pods are the ES nodes.
    statefulset: str = "elastic/es-data"
    pod_ready_delay: float = 30.0
    pod_termination_delay: float = 10.0
    pod_management_policy: str = "Parallel"
    cluster_name: str = "sim-es"
    #: Elasticsearch 8 defaults: HTTPS with a CA the twin generates, and security on (users,
    #: roles, API keys; ``autoscaler.sim.es_security``). Off → plain HTTP without auth.
    security: bool = False
    #: users and roles for ``security`` (format in ``es_security``); ``None`` → only ``elastic``.
    es_users_file: str | None = None
    #: the Kubernetes side over HTTPS (same CA) requiring the ServiceAccount token, with the
    #: in-cluster layout (``token``, ``ca.crt``, ``namespace``) written beside the kubeconfig.
    k8s_security: bool = False
    #: a VM-only cluster of this many nodes (``es-vm-0..N-1``, joined at start, roles
    #: ``roles``) and no StatefulSet; more come and go through ``/_sim/nodes`` (``vms``).
    vm_nodes: int = 0

    # --- Kubernetes side (``autoscaler.sim.k8s``) ---------------------------------------------
    #: ``persistentVolumeClaimRetentionPolicy.whenScaled`` of the StatefulSet: ``Retain`` keeps
    #: a scaled-away pod's claim (its ES node comes back with the same id and data), ``Delete``
    #: removes it (the node comes back new and empty).
    pvc_when_scaled: str = "Retain"
    #: ``terminationGracePeriodSeconds`` of the StatefulSet's pods.
    termination_grace_seconds: int = 120
    #: Role/ClusterRole/RoleBinding/ClusterRoleBinding manifests; non-empty → RBAC enforced and
    #: a kubeconfig per bound ServiceAccount (``RunningTwin.kubeconfigs``).
    rbac_files: Sequence[str] = ()
    #: sim clock start (epoch seconds); ``None`` → the wall time when the twin is built.
    start: float | None = None

    def __post_init__(self) -> None:
        if self.nodes < 0:
            raise ValueError("nodes must be >= 0")
        if self.pvc_when_scaled not in ("Retain", "Delete"):
            raise ValueError("pvc_when_scaled must be Retain or Delete")
        if self.termination_grace_seconds < 0:
            raise ValueError("termination_grace_seconds must be >= 0")
        if self.vm_nodes < 0:
            raise ValueError("vm_nodes must be >= 0")

    def replace(self, **changes: Any) -> TwinSpec:
        """A copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)
