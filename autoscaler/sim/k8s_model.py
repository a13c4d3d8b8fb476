"""The Kubernetes half of the digital twin: an API-server store plus a StatefulSet controller.

The autoscaler talks to Kubernetes only through a handful of objects — a StatefulSet and its
``scale`` subresource, the pods it owns, a Lease for leader election, Events and ConfigMaps.
This module keeps those objects the way kube-apiserver 1.29 does (one cluster-wide
``resourceVersion`` counter, optimistic concurrency, create/update strategies, validation with
the real error texts) and runs a small StatefulSet controller: pods are named
``<sts>-<ordinal>``, become Ready after a configurable delay, are removed highest ordinal first,
and linger for a termination delay. Every rule cites the Go source in
``tests/fixtures/kubernetes/API-BEHAVIOUR.md``.

It is transport-free (``k8s_api`` puts it on the wire) and clock-driven (``step(now)``), so
tests run hours of cluster life in milliseconds. Pod readiness and termination are reported to
listeners; the twin uses them to make pods join and leave the simulated Elasticsearch cluster.
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random
from typing import Any, Literal

from autoscaler.sim.clock import SimClock

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

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


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

#: Storage buckets: events.k8s.io/v1 is a view of the core/v1 event store.
_STORE_OF: dict[ResourceType, ResourceType] = {EVENTS_V1: EVENTS}


# --------------------------------------------------------------------------------------------
# Errors: kube-apiserver Status bodies
# --------------------------------------------------------------------------------------------


class K8sError(Exception):
    """An API error that renders as a ``kind: Status`` body with the real server's wording."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> Obj:
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rt: ResourceType, name: str = "", **extra: Any) -> Obj:
    out: Obj = {}
    if name:
        out["name"] = name
    if rt.group:
        out["group"] = rt.group
    out["kind"] = rt.resource
    out.update(extra)
    return out


def not_found(rt: ResourceType, name: str) -> K8sError:
    return K8sError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> K8sError:
    return K8sError(
        409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name)
    )


def conflict(rt: ResourceType, name: str) -> K8sError:
    return K8sError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _details(rt, name),
    )


def bad_request(message: str) -> K8sError:
    return K8sError(400, "BadRequest", message)


def decode_error(rt: ResourceType, err: str) -> K8sError:
    return bad_request(
        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {err}'
    )


def internal_error(message: str) -> K8sError:
    return K8sError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


def unauthorized() -> K8sError:
    return K8sError(401, "Unauthorized", "Unauthorized")


def forbidden(
    rt: ResourceType | None,
    *,
    name: str,
    user: str,
    verb: str,
    resource: str,
    group: str,
    namespace: str,
    reason: str = "",
) -> K8sError:
    """403 as written by the authorization filter (§3.5)."""
    subject = rt.qualified if rt is not None else resource.split("/")[0]
    head = f'{subject} "{name}"' if name else subject
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{head} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "{group}" {where}'
    )
    if reason:
        message += f": {reason}"
    details: Obj = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = resource.split("/")[0]
    return K8sError(403, "Forbidden", message, details)


def resource_not_served() -> K8sError:
    return K8sError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed() -> K8sError:
    return K8sError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def unsupported_media_type(accepted: Sequence[str]) -> K8sError:
    return K8sError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: rendered ``<field>: <body>`` in messages and as a cause."""

    field: str
    type: Literal["Invalid", "Required", "Forbidden"]
    detail: str = ""
    value: Any = None
    #: print ``value`` as is (Go ``%#v`` of a non-string, e.g. ``0x0``), not quoted
    raw: bool = False

    @property
    def reason(self) -> str:
        return {
            "Invalid": "FieldValueInvalid",
            "Required": "FieldValueRequired",
            "Forbidden": "FieldValueForbidden",
        }[self.type]

    @property
    def body(self) -> str:
        if self.type == "Invalid":
            shown = str(self.value) if self.raw else _go_value(self.value)
            return f"Invalid value: {shown}: {self.detail}"
        if self.type == "Required":
            return "Required value" + (f": {self.detail}" if self.detail else "")
        return "Forbidden" + (f": {self.detail}" if self.detail else "")


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def invalid(
    qualified_kind: str, name: str, errors: Sequence[FieldError], *, group: str, kind: str
) -> K8sError:
    """422 Invalid (``errors.NewInvalid``)."""
    if len(errors) == 1:
        summary = f"{errors[0].field}: {errors[0].body}"
    else:
        summary = "[" + ", ".join(f"{e.field}: {e.body}" for e in errors) + "]"
    details: Obj = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": e.reason, "message": e.body, "field": e.field} for e in errors]
    return K8sError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)


def invalid_object(rt: ResourceType, name: str, errors: Sequence[FieldError]) -> K8sError:
    return invalid(rt.group_kind, name, errors, group=rt.group, kind=rt.kind)


# --------------------------------------------------------------------------------------------
# Time formats (§1.3)
# --------------------------------------------------------------------------------------------

_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
_MICRO_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})(Z|[+-]\d{2}:\d{2})$")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def format_time(t: float) -> str:
    """``metav1.Time``: UTC, whole seconds."""
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(t: float) -> str:
    """``metav1.MicroTime``: UTC, exactly six fractional digits."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> float:
    """Lenient RFC 3339 (``metav1.Time`` decoding)."""
    if not _TIME_RE.match(value):
        raise ValueError(
            f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse "{value}"'
        )
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse_micro_time(value: str) -> float:
    """Strict ``metav1.MicroTime`` decoding: six fractional digits or a 400."""
    m = _MICRO_RE.match(value)
    if m is None:
        rest = value[19:] if len(value) > 19 else value
        expected = ".000000" if len(value) > 19 and value[19:20] in ".Z+-" else _MICRO_LAYOUT
        raise ValueError(
            f'parsing time "{value}" as "{_MICRO_LAYOUT}": cannot parse "{rest}" as "{expected}"'
        )
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration`` (the Age column)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h{rem}m" if rem else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d{rem}h" if rem else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


# --------------------------------------------------------------------------------------------
# Label and field selectors (§2.5)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Literal["=", "!=", "in", "notin", "exists", "!"]
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        return not present or value not in self.values


_SET_RE = re.compile(r"^([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_EQ_RE = re.compile(r"^([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)$")
_KEY_RE = re.compile(r"^(!?)\s*([A-Za-z0-9_./-]+)$")


def _split_terms(selector: str) -> list[str]:
    terms: list[str] = []
    depth = 0
    current = ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        terms.append(current.strip())
    return terms


def parse_label_selector(selector: str) -> list[Requirement]:
    """Parse ``app=es,role in (data,master),!canary``; raises ``K8sError`` 400 on bad syntax."""
    reqs: list[Requirement] = []
    for term in _split_terms(selector):
        if not term:
            continue
        if m := _SET_RE.match(term):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            op: Literal["in", "notin"] = "in" if m.group(2) == "in" else "notin"
            reqs.append(Requirement(m.group(1), op, values))
        elif m := _EQ_RE.match(term):
            reqs.append(Requirement(m.group(1), "!=" if m.group(2) == "!=" else "=", (m.group(3),)))
        elif m := _KEY_RE.match(term):
            reqs.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: invalid label selector: {term!r}")
    return reqs


def selector_string(selector: Mapping[str, Any]) -> str:
    """A LabelSelector rendered like ``metav1.LabelSelectorAsSelector(...).String()``."""
    parts: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        parts.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            parts.append((key, f"{key} in ({values})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({values})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(parts))


_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_FIELDS: dict[str, tuple[str, ...]] = {
    "events": (
        *_COMMON_FIELDS,
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "pods": (*_COMMON_FIELDS, "spec.nodeName", "spec.hostname", "status.phase", "status.podIP"),
}
_FIELD_ALIASES = {"source": "source.component"}


def _field_value(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in _FIELD_ALIASES.get(path, path).split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def parse_field_selector(resource: str, selector: str) -> list[tuple[str, str, str]]:
    allowed = _FIELDS.get(resource, _COMMON_FIELDS)
    out: list[tuple[str, str, str]] = []
    for term in _split_terms(selector):
        if not term:
            continue
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$", term)
        if m is None:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        key = m.group(1)
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        out.append((key, "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return out


# --------------------------------------------------------------------------------------------
# Patches: RFC 6902 JSON patch, RFC 7386 merge patch, strategic merge patch (subset)
# --------------------------------------------------------------------------------------------

#: Lists that strategic merge patch merges by key instead of replacing (core/v1 patchMergeKey).
_SMP_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}


class PatchError(Exception):
    """A patch that cannot be applied (becomes 422/400 at the caller)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch for the fields the twin serves.

    Maps merge recursively (``null`` deletes, ``$patch: replace|delete`` honoured); lists in
    ``_SMP_MERGE_KEYS`` merge item-by-item on their merge key (``$patch: delete`` items remove);
    other lists replace, as for types without a patch strategy.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in _SMP_MERGE_KEYS:
            result[key] = _smp_merge_list(result.get(key), value, _SMP_MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _smp_merge_list(target: Any, patch: list[Any], merge_key: str) -> list[Any]:
    items: list[Any] = copy.deepcopy(target) if isinstance(target, list) else []
    for entry in patch:
        if not isinstance(entry, dict) or merge_key not in entry:
            items.append(copy.deepcopy(entry))
            continue
        idx = next(
            (
                i
                for i, item in enumerate(items)
                if isinstance(item, dict) and item.get(merge_key) == entry[merge_key]
            ),
            None,
        )
        if entry.get("$patch") == "delete":
            if idx is not None:
                items.pop(idx)
        elif idx is None:
            items.append({k: v for k, v in copy.deepcopy(entry).items() if k != "$patch"})
        else:
            items[idx] = strategic_merge_patch(items[idx], entry)
    return items


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve_parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict):
            if part not in cur:
                raise PatchError(f"doc is missing path: {'/' + '/'.join(parts)}")
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError) as exc:
                raise PatchError(f"doc is missing path: {'/' + '/'.join(parts)}") from exc
        else:
            raise PatchError(f"doc is missing path: {'/' + '/'.join(parts)}")
    return cur, parts[-1]


def _get_path(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent, last = _resolve_parent(doc, parts)
    try:
        if isinstance(parent, dict):
            return parent[last]
        if isinstance(parent, list):
            return parent[int(last)]
    except (KeyError, ValueError, IndexError):
        pass
    raise PatchError(f"doc is missing path: {'/' + '/'.join(parts)}")


def _remove_path(doc: Any, parts: list[str]) -> Any:
    parent, last = _resolve_parent(doc, parts)
    try:
        if isinstance(parent, dict):
            return parent.pop(last)
        if isinstance(parent, list):
            return parent.pop(int(last))
    except (KeyError, ValueError, IndexError):
        pass
    raise PatchError(f"unable to remove nonexistent key: {last}: missing value")


def _add_path(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return copy.deepcopy(value)
    parent, last = _resolve_parent(doc, parts)
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        else:
            try:
                idx = int(last)
            except ValueError as exc:
                raise PatchError(f"invalid array index {last!r}") from exc
            if not 0 <= idx <= len(parent):
                raise PatchError(f"add operation does not apply: doc is missing path: {last}")
            parent.insert(idx, copy.deepcopy(value))
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: {last}")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902."""
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid operation: {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add_path(doc, parts, op.get("value"))
        elif kind == "remove":
            _remove_path(doc, parts)
        elif kind == "replace":
            _get_path(doc, parts)
            if parts:
                _remove_path(doc, parts)
            doc = _add_path(doc, parts, op.get("value"))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_get_path(doc, source))
            if kind == "move":
                _remove_path(doc, source)
            doc = _add_path(doc, parts, value)
        elif kind == "test":
            if _get_path(doc, parts) != op.get("value"):
                raise PatchError(f"testing value {op['path']} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


def apply_patch(doc: Obj, patch_type: PatchType, patch: Any) -> Obj:
    if patch_type == "json":
        result = json_patch(doc, patch)
    elif patch_type == "strategic":
        if not isinstance(patch, dict):
            raise PatchError("strategic merge patch must be a JSON object")
        result = strategic_merge_patch(doc, patch)
    else:
        if not isinstance(patch, dict):
            raise PatchError("merge patch must be a JSON object")
        result = merge_patch(doc, patch)
    if not isinstance(result, dict):
        raise PatchError("patch did not produce an object")
    return result


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

PodListener = Callable[[Obj], None]
PodStoppedListener = Callable[[Obj, bool], None]


@dataclass
class _PodState:
    """Controller-side bookkeeping for a pod (what a kubelet would know)."""

    sts: str
    ordinal: int
    created_at: float
    ready_at: float | None
    started_at: float
    ready: bool = False
    terminating_since: float | None = None
    gone_at: float | None = None
    restart_count: int = 0
    ever_ready: bool = False


@dataclass
class _Store:
    objects: dict[tuple[str, str], Obj] = field(default_factory=dict)


class K8sModel:
    """API-server storage and a StatefulSet controller, driven by ``step(now)``.

    Objects are kept as the JSON dicts the wire carries. All writes bump one cluster-wide
    ``resourceVersion`` counter. ``pod_ready_delay`` is how long a new pod takes to pass its
    readiness probe; ``pod_termination_delay`` how long a deleted pod lingers (Terminating).
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
        self.clock = clock
        self.pod_ready_delay = pod_ready_delay
        self.pod_termination_delay = pod_termination_delay
        self._node_names = tuple(node_names)
        self._rng = Random(seed)
        self._rv = 1000
        self._stores: dict[str, _Store] = {}
        self._pods: dict[tuple[str, str], _PodState] = {}
        #: Pod names whose readiness probe never passes (fault injection).
        self.never_ready: set[str] = set()
        self.on_pod_ready: list[PodListener] = []
        self.on_pod_stopped: list[PodStoppedListener] = []
        for ns in ("default", "kube-system"):
            self.ensure_namespace(ns)

    # ---- basics --------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _uid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _now(self) -> float:
        return self.clock.time()

    def _store(self, rt: ResourceType) -> _Store:
        key = _STORE_OF.get(rt, rt).resource
        return self._stores.setdefault(key, _Store())

    def _key(self, rt: ResourceType, namespace: str, name: str) -> tuple[str, str]:
        return (namespace if rt.namespaced else "", name)

    def ensure_namespace(self, name: str) -> None:
        if (("", name)) in self._store(NAMESPACES).objects:
            return
        self._store(NAMESPACES).objects[("", name)] = {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": self._uid(),
                "resourceVersion": self._next_rv(),
                "creationTimestamp": format_time(self._now()),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if rt.namespaced and ("", namespace) not in self._store(NAMESPACES).objects:
            raise not_found(NAMESPACES, namespace)

    # ---- generic read --------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self._store(rt).objects.get(self._key(rt, namespace, name))
        if obj is None:
            raise not_found(rt, name)
        return self._view(rt, obj)

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Obj], str]:
        """Items (sorted by namespace/name, like etcd keys) and the list resourceVersion."""
        labels = parse_label_selector(label_selector) if label_selector else []
        fields = parse_field_selector(rt.resource, field_selector) if field_selector else []
        items: list[Obj] = []
        for (ns, _name), obj in sorted(self._store(rt).objects.items()):
            if rt.namespaced and namespace is not None and ns != namespace:
                continue
            obj_labels = obj["metadata"].get("labels") or {}
            if not all(r.matches(obj_labels) for r in labels):
                continue
            if not all((_field_value(obj, k) == v) == (op == "=") for k, op, v in fields):
                continue
            items.append(self._view(rt, obj))
        return items, self.resource_version

    def _view(self, rt: ResourceType, obj: Obj) -> Obj:
        if rt is EVENTS_V1:
            return _event_to_events_v1(obj)
        return copy.deepcopy(obj)

    # ---- generic write -------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: Any, *, dry_run: bool = False) -> Obj:
        obj = self._decode(rt, body)
        if rt is EVENTS_V1:
            obj = _event_from_events_v1(obj)
            rt_store = EVENTS
        else:
            rt_store = rt
        meta = obj["metadata"]
        self._check_body_namespace(rt, namespace, meta)
        self._check_namespace(rt, namespace)
        store = self._store(rt_store)
        name = meta.get("name") or ""
        if not name:
            generate = meta.get("generateName") or ""
            if not generate:
                raise invalid_object(
                    rt,
                    "",
                    [FieldError("metadata.name", "Required", "name or generateName is required")],
                )
            while True:
                name = generate + "".join(self._rng.choice(_GENERATE_ALPHABET) for _ in range(5))
                if self._key(rt, namespace, name) not in store.objects:
                    break
        self._check_name(rt, name)
        if self._key(rt, namespace, name) in store.objects:
            raise already_exists(rt, name)
        if meta.get("resourceVersion"):
            raise internal_error("resourceVersion should not be set on objects to be created")
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = self._uid()
        meta["creationTimestamp"] = format_time(self._now())
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            meta.pop(transient, None)
        obj["kind"], obj["apiVersion"] = rt_store.kind, rt_store.api_version
        self._prepare(rt_store, obj, None)
        meta["resourceVersion"] = self._rv_for_write(dry_run)
        obj = _ordered(obj)
        if not dry_run:
            store.objects[self._key(rt, namespace, name)] = obj
        return self._view(rt, obj)

    def replace(
        self, rt: ResourceType, namespace: str, name: str, body: Any, *, dry_run: bool = False
    ) -> tuple[Obj, bool]:
        """PUT. Returns ``(object, created)``."""
        obj = self._decode(rt, body)
        if rt is EVENTS_V1:
            obj = _event_from_events_v1(obj)
        return self._update(rt, namespace, name, obj, allow_create=True, dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        patch_type: PatchType,
        patch: Any,
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> tuple[Obj, bool]:
        """PATCH. Returns ``(object, created)`` (created only for an apply that creates)."""
        self._check_patch_options(patch_type, field_manager, force)
        current = self._store(rt).objects.get(self._key(rt, namespace, name))
        if current is None:
            if patch_type == "apply" and rt.resource != "pods":
                body = patch if isinstance(patch, dict) else {}
                body = copy.deepcopy(body)
                body.setdefault("metadata", {})["name"] = name
                return self.create(rt, namespace, body, dry_run=dry_run), True
            raise not_found(rt, name)
        base = self._view(rt, current)
        try:
            patched = apply_patch(base, patch_type, patch)
        except PatchError as exc:
            raise _patch_invalid(rt, name, str(exc)) from exc
        if rt is EVENTS_V1:
            patched = _event_from_events_v1(patched)
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            raise decode_error(rt, "metadata must be an object")
        if not meta.get("resourceVersion"):
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self._update(rt, namespace, name, patched, allow_create=False, dry_run=dry_run)

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """DELETE: a Success Status, or the deleted pod (pods are returned as objects)."""
        store = self._store(rt)
        key = self._key(rt, namespace, name)
        obj = store.objects.get(key)
        if obj is None:
            raise not_found(rt, name)
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
            raise K8sError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition failed: '
                f"UID in precondition: {pre['uid']}, UID in object meta: {obj['metadata']['uid']}",
                _details(rt, name),
            )
        if (
            pre.get("resourceVersion")
            and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]
        ):
            raise K8sError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rt.qualified} "{name}": Precondition failed: '
                f"ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in "
                f"object meta: {obj['metadata']['resourceVersion']}",
                _details(rt, name),
            )
        if dry_run:
            return self._view(rt, obj) if rt is PODS else _success(rt, obj)
        if rt is PODS:
            self.terminate_pod(namespace, name)
            return self.get(PODS, namespace, name) if key in store.objects else copy.deepcopy(obj)
        del store.objects[key]
        self._rv_for_write(False)
        if rt is STATEFULSETS:
            for (pns, pname), ps in list(self._pods.items()):
                if pns == namespace and ps.sts == name:
                    self.terminate_pod(pns, pname)
        return _success(rt, obj)

    # ---- write helpers -------------------------------------------------------------------

    def _rv_for_write(self, dry_run: bool) -> str:
        return str(self._rv + 1) if dry_run else self._next_rv()

    def _decode(self, rt: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise decode_error(
                rt, f"json: cannot unmarshal {type(body).__name__} into Go value of type "
                f"struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
                f"Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            )  # fmt: skip
        obj = copy.deepcopy(body)
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        if api_version and api_version != rt.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise decode_error(
                rt, "json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta"
            )
        return obj

    def _check_body_namespace(self, rt: ResourceType, namespace: str, meta: Obj) -> None:
        body_ns = meta.get("namespace")
        if rt.namespaced and body_ns and body_ns != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )

    def _check_name(self, rt: ResourceType, name: str) -> None:
        if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            raise invalid_object(
                rt, name, [FieldError("metadata.name", "Invalid", _DNS_SUBDOMAIN_MSG, name)]
            )

    def _check_patch_options(
        self, patch_type: PatchType, field_manager: str | None, force: bool | None
    ) -> None:
        if patch_type == "apply" and not field_manager:
            raise invalid(
                "PatchOptions.meta.k8s.io",
                "",
                [FieldError("fieldManager", "Required", "is required for apply patch")],
                group="meta.k8s.io",
                kind="PatchOptions",
            )
        if patch_type != "apply" and force is not None:
            raise invalid(
                "PatchOptions.meta.k8s.io",
                "",
                [FieldError("force", "Forbidden", "may not be specified for non-apply patch")],
                group="meta.k8s.io",
                kind="PatchOptions",
            )

    def _update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        new: Obj,
        *,
        allow_create: bool,
        dry_run: bool,
    ) -> tuple[Obj, bool]:
        store_rt = _STORE_OF.get(rt, rt)
        store = self._store(store_rt)
        key = self._key(rt, namespace, name)
        meta = new["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        self._check_body_namespace(rt, namespace, meta)
        old = store.objects.get(key)
        if old is None:
            if allow_create and rt.create_on_update:
                meta["name"] = name
                meta.pop("resourceVersion", None)
                view_rt = EVENTS if rt is EVENTS_V1 else rt
                created = self.create(view_rt, namespace, new, dry_run=dry_run)
                return (self._view(rt, created) if rt is EVENTS_V1 else created), True
            raise not_found(rt, name)
        rv = meta.get("resourceVersion") or ""
        if not rv:
            if not rt.unconditional_update:
                raise invalid(
                    rt.qualified,
                    name,
                    [
                        FieldError(
                            "metadata.resourceVersion",
                            "Invalid",
                            "must be specified for an update",
                            "0x0",
                            raw=True,
                        )
                    ],
                    group=rt.group,
                    kind=rt.resource,
                )
        elif rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        old_meta = old["metadata"]
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = namespace
        for kept in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            if kept in old_meta:
                meta[kept] = old_meta[kept]
            else:
                meta.pop(kept, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        new["kind"], new["apiVersion"] = store_rt.kind, store_rt.api_version
        self._prepare(store_rt, new, old)
        new = _ordered(new)
        if new == old:
            return self._view(rt, old), False
        meta = new["metadata"]
        meta["resourceVersion"] = self._rv_for_write(dry_run)
        if not dry_run:
            store.objects[key] = new
            if store_rt is STATEFULSETS:
                self._on_statefulset_spec(namespace, name)
        return self._view(rt, new), False

    def _prepare(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        """Per-kind strategy: defaults, validation, normalisation (PrepareFor*/Validate*)."""
        if rt is STATEFULSETS:
            self._prepare_statefulset(obj, old)
        elif rt is LEASES:
            _prepare_lease(obj)
        elif rt is EVENTS:
            _prepare_event(obj)
        elif rt is CONFIGMAPS:
            _prepare_configmap(obj)
        elif rt is PODS and old is not None:
            obj["status"] = copy.deepcopy(old.get("status", {}))
            obj["spec"] = copy.deepcopy(old.get("spec", {}))

    # ---- StatefulSets --------------------------------------------------------------------

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

    def _prepare_statefulset(self, obj: Obj, old: Obj | None) -> None:
        name = obj["metadata"].get("name", "")
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        if "replicas" not in spec:
            spec["replicas"] = 1 if old is None else 0
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault(
            "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
        )
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
        )
        errors: list[FieldError] = []
        replicas = spec.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise decode_error(
                STATEFULSETS,
                "json: cannot unmarshal string into Go struct field StatefulSetSpec.spec.replicas"
                " of type int32",
            )
        if replicas < 0:
            errors.append(
                FieldError(
                    "spec.replicas", "Invalid", "must be greater than or equal to 0", replicas
                )
            )
        if spec.get("podManagementPolicy") not in ("OrderedReady", "Parallel"):
            errors.append(
                FieldError(
                    "spec.podManagementPolicy",
                    "Invalid",
                    "must be 'OrderedReady' or 'Parallel'",
                    spec.get("podManagementPolicy"),
                )
            )
        if old is None:
            selector = spec.get("selector")
            if not isinstance(selector, dict) or not (
                selector.get("matchLabels") or selector.get("matchExpressions")
            ):
                errors.append(FieldError("spec.selector", "Required", ""))
            else:
                tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get(
                    "labels"
                ) or {}
                reqs = parse_label_selector(selector_string(selector))
                if not all(r.matches(tmpl_labels) for r in reqs):
                    errors.append(
                        FieldError(
                            "spec.template.metadata.labels",
                            "Invalid",
                            "`selector` does not match template `labels`",
                            str(tmpl_labels),
                        )
                    )
            spec.setdefault("template", {}).setdefault("spec", {}).setdefault("containers", [])
            obj["metadata"]["generation"] = 1
            obj["status"] = {"replicas": 0, "availableReplicas": 0}
        else:
            mutable = (
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            )
            old_spec = old.get("spec", {})
            if {k: v for k, v in spec.items() if k not in mutable} != {
                k: v for k, v in old_spec.items() if k not in mutable
            }:
                errors.append(
                    FieldError(
                        "spec",
                        "Forbidden",
                        "updates to statefulset spec for fields other than 'replicas', "
                        "'ordinals', 'template', 'updateStrategy', "
                        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                        "forbidden",
                    )
                )
            obj["status"] = copy.deepcopy(old.get("status", {}))
            generation = int(old["metadata"].get("generation", 1))
            obj["metadata"]["generation"] = generation + (1 if spec != old_spec else 0)
        if errors:
            raise invalid_object(STATEFULSETS, name, errors)

    def scale_of(self, namespace: str, name: str) -> Obj:
        sts = self.get(STATEFULSETS, namespace, name)
        return _scale_from(sts)

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
            raise _patch_invalid(STATEFULSETS, name, str(exc)) from exc
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
        return _scale_from(updated)

    def _on_statefulset_spec(self, namespace: str, name: str) -> None:
        """Hook after a spec write: the controller picks it up on its next sync."""

    # ---- pods ----------------------------------------------------------------------------

    def _create_pod(
        self, namespace: str, sts_name: str, ordinal: int, now: float, *, ready: bool = False
    ) -> None:
        sts = self._store(STATEFULSETS).objects[(namespace, sts_name)]
        name = f"{sts_name}-{ordinal}"
        delay = self.pod_ready_delay
        ps = _PodState(
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
        revision = _revision_name(sts)
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
        status = _pod_status(pod, ps, now)
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
        revision = _revision_name(sts)
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


# --------------------------------------------------------------------------------------------
# Per-kind helpers
# --------------------------------------------------------------------------------------------


def _ordered(obj: Obj) -> Obj:
    """kind, apiVersion, metadata first — the order the Go encoder writes."""
    out: Obj = {}
    for key in ("kind", "apiVersion", "metadata"):
        if key in obj:
            out[key] = obj[key]
    for key, value in obj.items():
        if key not in out:
            out[key] = value
    return out


def _success(rt: ResourceType, obj: Obj) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": _details(rt, obj["metadata"]["name"], uid=obj["metadata"].get("uid", "")),
    }


def _patch_invalid(rt: ResourceType, name: str, message: str) -> K8sError:
    return K8sError(
        422,
        "Invalid",
        f'{rt.group_kind} "{name}" is invalid: patch: Invalid value: "...": {message}',
        _details(rt, name, causes=[{"reason": "FieldValueInvalid", "message": message,
                                    "field": "patch"}]),
    )  # fmt: skip


def _revision_name(sts: Obj) -> str:
    digest = hashlib.sha256(sts["metadata"]["uid"].encode()).hexdigest()
    return f"{sts['metadata']['name']}-{int(digest[:8], 16) % 10**10:d}"


def _scale_from(sts: Obj) -> Obj:
    meta = sts["metadata"]
    replicas = int(sts["spec"].get("replicas", 0))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": replicas} if replicas else {},
        "status": {
            "replicas": int(sts.get("status", {}).get("replicas", 0)),
            "selector": selector_string(sts["spec"].get("selector") or {}),
        },
    }


def _pod_status(pod: Obj, ps: _PodState, now: float) -> Obj:
    terminating = ps.terminating_since is not None
    started = now >= ps.started_at
    running = started or ps.ever_ready
    containers = (pod.get("spec") or {}).get("containers") or []
    when = format_time(now)
    prev: dict[str, str] = {
        c["type"]: c.get("lastTransitionTime", when)
        for c in (pod.get("status") or {}).get("conditions", [])
    }
    prev_status = {
        c["type"]: c.get("status") for c in (pod.get("status") or {}).get("conditions", [])
    }

    def cond(kind: str, ok: bool) -> Obj:
        status = "True" if ok else "False"
        ts = prev.get(kind, when) if prev_status.get(kind) == status else when
        return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": ts}

    statuses = []
    for c in containers:
        entry: Obj = {
            "name": c.get("name", ""),
            "image": c.get("image", ""),
            "imageID": f"{c.get('image', '')}@sha256:{'0' * 64}",
            "ready": ps.ready,
            "restartCount": ps.restart_count,
            "started": started and not terminating,
        }
        if started and not terminating:
            entry["state"] = {"running": {"startedAt": format_time(ps.started_at)}}
            entry["containerID"] = (
                f"containerd://{hashlib.sha1(pod['metadata']['uid'].encode()).hexdigest()}"
            )
        else:
            reason = "CrashLoopBackOff" if ps.restart_count else "ContainerCreating"
            entry["state"] = {"waiting": {"reason": reason}}
        statuses.append(entry)
    ordinal = ps.ordinal
    return {
        "phase": "Running" if running else "Pending",
        "conditions": [
            cond("Initialized", True),
            cond("Ready", ps.ready),
            cond("ContainersReady", ps.ready),
            cond("PodScheduled", True),
        ],
        "hostIP": f"192.168.0.{ordinal % 3 + 11}",
        "podIP": f"10.244.{ordinal // 250}.{ordinal % 250 + 2}",
        "podIPs": [{"ip": f"10.244.{ordinal // 250}.{ordinal % 250 + 2}"}],
        "startTime": format_time(ps.created_at),
        "containerStatuses": statuses,
        "qosClass": "Burstable",
    }


def _lease_time(spec: Obj, key: str) -> None:
    value = spec.get(key)
    if value is None:
        spec.pop(key, None)
        return
    if not isinstance(value, str):
        raise decode_error(LEASES, f"json: cannot unmarshal into Go struct field .spec.{key}")
    try:
        spec[key] = format_micro_time(parse_micro_time(value))
    except ValueError as exc:
        raise decode_error(LEASES, str(exc)) from exc


def _prepare_lease(obj: Obj) -> None:
    spec = obj.get("spec")
    if spec is None:
        obj["spec"] = spec = {}
    if not isinstance(spec, dict):
        raise decode_error(LEASES, "spec must be an object")
    for key in ("acquireTime", "renewTime"):
        _lease_time(spec, key)
    errors: list[FieldError] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        errors.append(
            FieldError("spec.leaseDurationSeconds", "Invalid", "must be greater than 0", duration)
        )
    transitions = spec.get("leaseTransitions")
    if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
        errors.append(
            FieldError(
                "spec.leaseTransitions", "Invalid", "must be greater than or equal to 0",
                transitions,
            )
        )  # fmt: skip
    for key in list(spec):
        if spec[key] is None:
            del spec[key]
    if errors:
        raise invalid_object(LEASES, obj["metadata"].get("name", ""), errors)


def _prepare_event(obj: Obj) -> None:
    meta = obj["metadata"]
    name = meta.get("name", "")
    try:
        for key in ("firstTimestamp", "lastTimestamp"):
            if obj.get(key):
                obj[key] = format_time(parse_time(obj[key]))
            else:
                obj[key] = None
        if obj.get("eventTime"):
            obj["eventTime"] = format_micro_time(parse_micro_time(obj["eventTime"]))
        else:
            obj["eventTime"] = None
        series = obj.get("series")
        if isinstance(series, dict) and series.get("lastObservedTime"):
            series["lastObservedTime"] = format_micro_time(
                parse_micro_time(series["lastObservedTime"])
            )
    except ValueError as exc:
        raise decode_error(EVENTS, str(exc)) from exc
    obj.setdefault("reportingComponent", "")
    obj.setdefault("reportingInstance", "")
    involved = obj.get("involvedObject")
    if not isinstance(involved, dict):
        obj["involvedObject"] = involved = {}
    errors: list[FieldError] = []
    ns = meta.get("namespace", "")
    if obj["eventTime"] is None:
        inv_ns = involved.get("namespace", "")
        if inv_ns and inv_ns != ns and not (inv_ns == "" and ns == "default"):
            errors.append(
                FieldError("involvedObject.namespace", "Invalid", "does not match event.namespace",
                           inv_ns)
            )  # fmt: skip
    else:
        if not obj.get("reportingComponent"):
            errors.append(FieldError("reportingController", "Required", ""))
        if not obj.get("reportingInstance"):
            errors.append(FieldError("reportingInstance", "Required", ""))
        if not obj.get("action"):
            errors.append(FieldError("action", "Required", ""))
        if not obj.get("reason"):
            errors.append(FieldError("reason", "Required", ""))
    for key, limit in (("reason", 128), ("action", 128), ("reportingInstance", 128)):
        if isinstance(obj.get(key), str) and len(obj[key]) > limit:
            errors.append(
                FieldError(key, "Invalid", f"can have at most {limit} characters", obj[key])
            )
    if errors:
        raise invalid_object(EVENTS, name, errors)


def _prepare_configmap(obj: Obj) -> None:
    for key in ("data", "binaryData"):
        data = obj.get(key)
        if data is None:
            continue
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise decode_error(
                CONFIGMAPS,
                "json: cannot unmarshal number into Go struct field "
                f"ConfigMap.{key} of type string",
            )


_EVENTS_V1_MAP = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)


def _event_to_events_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = EVENTS_V1.api_version
    for new, old in _EVENTS_V1_MAP:
        if old in out:
            value = out.pop(old)
            if value not in (None, "", 0, {}):
                out[new] = value
    out["eventTime"] = obj.get("eventTime")
    out.setdefault("reportingInstance", "")
    return _ordered(out)


def _event_from_events_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    if "involvedObject" in out or "message" in out:  # already core-shaped
        out.pop("kind", None)
        out.pop("apiVersion", None)
        return out
    errors: list[FieldError] = []
    for key in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount",
                "deprecatedSource"):  # fmt: skip
        if out.get(key):
            errors.append(FieldError(key, "Invalid", "needs to be unset", out[key]))
    if not out.get("eventTime"):
        errors.append(FieldError("eventTime", "Required", ""))
    if out.get("type") not in ("Normal", "Warning"):
        errors.append(
            FieldError("type", "Invalid", "has invalid value: " + str(out.get("type")),
                       out.get("type", ""))
        )  # fmt: skip
    if errors:
        raise invalid_object(EVENTS_V1, out.get("metadata", {}).get("name", ""), errors)
    for new, old in _EVENTS_V1_MAP:
        if new in out:
            out[old] = out.pop(new)
    out.pop("kind", None)
    out.pop("apiVersion", None)
    return out


def iter_resource_types() -> Iterable[ResourceType]:
    return (NAMESPACES, PODS, CONFIGMAPS, EVENTS, STATEFULSETS, LEASES, EVENTS_V1)
