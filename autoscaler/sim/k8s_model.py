"""Stable import path for the Kubernetes model of the twin (the code lives in ``sim/k8s/``).

The tests import the model's public names from here, so the package can keep its
one-concept-per-module layout without churning importers. Code inside ``autoscaler.sim``
imports from ``autoscaler.sim.k8s`` directly.
"""

from __future__ import annotations

from autoscaler.sim.k8s.errors import (
    FieldError,
    K8sError,
    already_exists,
    bad_request,
    conflict,
    decode_error,
    forbidden,
    internal_error,
    invalid,
    invalid_object,
    method_not_allowed,
    not_found,
    resource_not_served,
    unauthorized,
    unsupported_media_type,
)
from autoscaler.sim.k8s.model import K8sModel, PodListener, PodStoppedListener
from autoscaler.sim.k8s.patch import (
    PatchError,
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from autoscaler.sim.k8s.selectors import (
    Requirement,
    parse_field_selector,
    parse_label_selector,
    selector_string,
)
from autoscaler.sim.k8s.timefmt import (
    format_micro_time,
    format_time,
    human_duration,
    parse_micro_time,
    parse_time,
)
from autoscaler.sim.k8s.types import (
    CONFIGMAPS,
    EVENTS,
    EVENTS_V1,
    LEASES,
    NAMESPACES,
    PATCH_CONTENT_TYPES,
    PODS,
    ROLES_ANNOTATION,
    STATEFULSETS,
    Obj,
    PatchType,
    ResourceType,
    iter_resource_types,
)

__all__ = [
    "CONFIGMAPS",
    "EVENTS",
    "EVENTS_V1",
    "LEASES",
    "NAMESPACES",
    "PATCH_CONTENT_TYPES",
    "PODS",
    "ROLES_ANNOTATION",
    "STATEFULSETS",
    "FieldError",
    "K8sError",
    "K8sModel",
    "Obj",
    "PatchError",
    "PatchType",
    "PodListener",
    "PodStoppedListener",
    "Requirement",
    "ResourceType",
    "already_exists",
    "apply_patch",
    "bad_request",
    "conflict",
    "decode_error",
    "forbidden",
    "format_micro_time",
    "format_time",
    "human_duration",
    "internal_error",
    "invalid",
    "invalid_object",
    "iter_resource_types",
    "json_patch",
    "merge_patch",
    "method_not_allowed",
    "not_found",
    "parse_field_selector",
    "parse_label_selector",
    "parse_micro_time",
    "parse_time",
    "resource_not_served",
    "selector_string",
    "strategic_merge_patch",
    "unauthorized",
    "unsupported_media_type",
]
