"""Per-kind create/update strategies: defaults, normalisation and validation.

The apiserver runs ``PrepareForCreate``/``Validate`` per kind (``pkg/registry/*/strategy.go``);
Leases, Events and ConfigMaps each have rules a client can trip over, kept here by kind.
"""

from __future__ import annotations

import copy

from autoscaler.sim.k8s.errors import (
    FieldError,
    K8sError,
    decode_error,
    invalid_object,
    status_details,
)
from autoscaler.sim.k8s.timefmt import format_micro_time, format_time, parse_micro_time, parse_time
from autoscaler.sim.k8s.types import CONFIGMAPS, EVENTS, EVENTS_V1, LEASES, Obj, ResourceType

# --------------------------------------------------------------------------------------------
# Per-kind helpers
# --------------------------------------------------------------------------------------------


def go_order(obj: Obj) -> Obj:
    """kind, apiVersion, metadata first — the order the Go encoder writes."""
    out: Obj = {}
    for key in ("kind", "apiVersion", "metadata"):
        if key in obj:
            out[key] = obj[key]
    for key, value in obj.items():
        if key not in out:
            out[key] = value
    return out


def success_status(rt: ResourceType, obj: Obj) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": status_details(rt, obj["metadata"]["name"], uid=obj["metadata"].get("uid", "")),
    }


def patch_invalid(rt: ResourceType, name: str, message: str) -> K8sError:
    return K8sError(
        422,
        "Invalid",
        f'{rt.group_kind} "{name}" is invalid: patch: Invalid value: "...": {message}',
        status_details(rt, name, causes=[{"reason": "FieldValueInvalid", "message": message,
                                    "field": "patch"}]),
    )  # fmt: skip


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


def prepare_lease(obj: Obj) -> None:
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


def prepare_event(obj: Obj) -> None:
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


def prepare_configmap(obj: Obj) -> None:
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


def event_to_events_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = EVENTS_V1.api_version
    for new, old in _EVENTS_V1_MAP:
        if old in out:
            value = out.pop(old)
            if value not in (None, "", 0, {}):
                out[new] = value
    out["eventTime"] = obj.get("eventTime")
    out.setdefault("reportingInstance", "")
    return go_order(out)


def event_from_events_v1(obj: Obj) -> Obj:
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
