"""Server-side field validation (``fieldValidation=Strict|Warn|Ignore``) of request bodies.

kubectl 1.29 sends ``fieldValidation=Strict`` with ``create -f``/``replace -f``/``apply -f``
(see ``openapi.py``), so a typo such as ``spec.replica`` must fail as on a real server instead
of being stored. The apiserver decodes a body into the Go type; a field the type does not
declare is a strict decoding error (``sigs.k8s.io/json`` ``unknown field "spec.replica"``;
``k8s.io/apimachinery/pkg/runtime`` ``strictDecodingError``: ``strict decoding error: E1, E2``),
turned by ``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go``/``update.go``
into 400 ``<Kind> in version "v1" cannot be handled as a <Kind>: strict decoding error: …``
with ``Strict``, a ``Warning: 299 - "unknown field …"`` header with ``Warn`` (the default when
the parameter is absent), nothing with ``Ignore``; in every case the unknown field is dropped
(it has nowhere to go in the Go struct).

The declared fields come from the kubernetes-asyncio models (``openapi_types`` /
``attribute_map``), generated from the same OpenAPI schemas as the Go types. Applied to POST
and PUT bodies, and to merge / strategic-merge PATCH bodies (``handlers/patch.go``
``applyPatchToObject``: Strict → 422 `` "" is invalid: patch: Invalid value: "<%+v of the
patch>": strict decoding error: …``); JSON patches (RFC 6902) are not checked (a gap).
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio.client import models

from autoscaler.sim.k8s.types import ResourceType

#: kind → kubernetes-asyncio model class name where it is not ``V1<Kind>``.
_MODEL_NAMES = {("", "Event"): "CoreV1Event", ("events.k8s.io", "Event"): "EventsV1Event"}
_SCALARS = {"str", "int", "bool", "float", "datetime", "date", "object"}


def model_name(rt: ResourceType) -> str:
    return _MODEL_NAMES.get((rt.group, rt.kind), f"V1{rt.kind}")


def _fields(name: str) -> dict[str, str] | None:
    cls = getattr(models, name, None)
    if cls is None:
        return None
    types: dict[str, str] = cls.openapi_types
    wire: dict[str, str] = cls.attribute_map
    return {wire[attr]: kind for attr, kind in types.items()}


def _walk(value: Any, type_name: str, path: str, unknown: list[str], patch: bool = False) -> Any:
    """Return ``value`` with undeclared fields removed; record their paths."""
    if type_name in _SCALARS or value is None:
        return value
    if type_name.startswith("list[") and isinstance(value, list):
        inner = type_name[5:-1]
        return [_walk(v, inner, f"{path}[{i}]", unknown, patch) for i, v in enumerate(value)]
    if type_name.startswith("dict(") and isinstance(value, dict):
        inner = type_name[type_name.index(",") + 1 : -1].strip()
        return {
            k: _walk(v, inner, f"{path}.{k}" if path else k, unknown, patch)
            for k, v in value.items()
        }
    fields = _fields(type_name)
    if fields is None or not isinstance(value, dict):
        return value  # a type we cannot see into, or a type error the decoder reports itself
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key.startswith("$") and patch:  # strategic-merge directives ($patch, $retainKeys…)
            out[key] = item
            continue
        if key not in fields:
            unknown.append(f'unknown field "{where}"')
            continue
        out[key] = _walk(item, fields[key], where, unknown, patch)
    return out


def prune_unknown(rt: ResourceType, body: Any, *, patch: bool = False) -> tuple[Any, list[str]]:
    """``(body without undeclared fields, ['unknown field "a.b"', ...])``. With ``patch`` the
    body is a merge or strategic-merge patch (same shape; ``$`` directives kept): the stored
    object has only declared fields, so the patched result's unknown fields are the patch's."""
    if not isinstance(body, dict) or _fields(model_name(rt)) is None:
        return body, []
    unknown: list[str] = []
    pruned = _walk(body, model_name(rt), "", unknown, patch)
    return pruned, unknown


def go_format(value: Any) -> str:
    """Go's ``fmt.Sprintf("%+v", v)`` of a decoded JSON value (``map[a:1 b:[x y]]``)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
