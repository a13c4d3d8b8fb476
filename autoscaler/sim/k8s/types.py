"""What the twin serves: resource types (group, version, kind, verbs) and shared aliases.

Every other part of the Kubernetes half — storage, discovery, RBAC, tables — keys on a
``ResourceType``; keeping them in one place keeps discovery and storage from disagreeing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Obj = dict[str, Any]
PatchType = Literal["json", "merge", "strategic", "apply"]

PATCH_CONTENT_TYPES: dict[str, PatchType] = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}

#: Pod-template annotation naming the Elasticsearch roles of the pods (comma-separated).
ROLES_ANNOTATION = "sim.es-autoscaler.io/roles"


# --------------------------------------------------------------------------------------------
# Resource types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceType:
    """One served resource: where it lives on the wire and which storage strategy it follows."""

    group: str
    version: str
    resource: str
    kind: str
    singular: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    create_on_update: bool = False
    unconditional_update: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``statefulsets.apps`` / ``configmaps`` as used in error messages."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def group_kind(self) -> str:
        """``StatefulSet.apps`` / ``ConfigMap`` as used in Invalid messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


NAMESPACES = ResourceType(
    "", "v1", "namespaces", "Namespace", "namespace", namespaced=False, short_names=("ns",)
)
PODS = ResourceType(
    "", "v1", "pods", "Pod", "pod", short_names=("po",), categories=("all",),
    verbs=("delete", "get", "list", "watch"),
)  # fmt: skip
CONFIGMAPS = ResourceType("", "v1", "configmaps", "ConfigMap", "configmap", short_names=("cm",))
EVENTS = ResourceType(
    "", "v1", "events", "Event", "event", short_names=("ev",), create_on_update=True
)
STATEFULSETS = ResourceType(
    "apps", "v1", "statefulsets", "StatefulSet", "statefulset",
    short_names=("sts",), categories=("all",),
)  # fmt: skip
LEASES = ResourceType(
    "coordination.k8s.io", "v1", "leases", "Lease", "lease",
    create_on_update=True, unconditional_update=False,
)  # fmt: skip
EVENTS_V1 = ResourceType(
    "events.k8s.io", "v1", "events", "Event", "event", short_names=("ev",), create_on_update=True
)

PVCS = ResourceType(
    "", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", "persistentvolumeclaim",
    short_names=("pvc",),
)  # fmt: skip
CONTROLLERREVISIONS = ResourceType(
    "apps", "v1", "controllerrevisions", "ControllerRevision", "controllerrevision"
)
_RBAC = "rbac.authorization.k8s.io"
ROLES = ResourceType(_RBAC, "v1", "roles", "Role", "role")
ROLEBINDINGS = ResourceType(_RBAC, "v1", "rolebindings", "RoleBinding", "rolebinding")
CLUSTERROLES = ResourceType(_RBAC, "v1", "clusterroles", "ClusterRole", "clusterrole",
                            namespaced=False)  # fmt: skip
CLUSTERROLEBINDINGS = ResourceType(
    _RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", "clusterrolebinding",
    namespaced=False,
)  # fmt: skip
SERVICEACCOUNTS = ResourceType(
    "", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", short_names=("sa",)
)

SELFSUBJECTACCESSREVIEWS = ResourceType(
    "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
    "selfsubjectaccessreview", namespaced=False, verbs=("create",),
)  # fmt: skip

#: Storage buckets: events.k8s.io/v1 is a view of the core/v1 event store.
STORE_OF: dict[ResourceType, ResourceType] = {EVENTS_V1: EVENTS}


def iter_resource_types() -> Iterable[ResourceType]:
    return (
        NAMESPACES, PODS, CONFIGMAPS, EVENTS, STATEFULSETS, LEASES, EVENTS_V1, PVCS,
        CONTROLLERREVISIONS, ROLES, ROLEBINDINGS, CLUSTERROLES, CLUSTERROLEBINDINGS,
        SERVICEACCOUNTS,
    )  # fmt: skip
