"""Server-side ``Table`` output (``Accept: ...;as=Table;g=meta.k8s.io``) for ``kubectl get``.

kubectl prints whatever columns the server sends, so the columns and cells follow the
apiserver's printers (``pkg/printers/internalversion/printers.go``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from autoscaler.sim.k8s.timefmt import human_duration, parse_micro_time, parse_time
from autoscaler.sim.k8s.types import (
    CONFIGMAPS,
    CONTROLLERREVISIONS,
    EVENTS,
    EVENTS_V1,
    LEASES,
    NAMESPACES,
    PODS,
    PVCS,
    STATEFULSETS,
    Obj,
    ResourceType,
)

# --------------------------------------------------------------------------------------------
# Table output (kubectl get)
# --------------------------------------------------------------------------------------------


def _col(name: str, description: str, priority: int = 0, fmt: str = "") -> Obj:
    return {
        "name": name,
        "type": "integer" if name in ("Restarts", "Count", "Data", "Revision") else "string",
        "format": fmt,
        "description": description,
        "priority": priority,
    }


def _age(ts: str | None, now: float) -> str:
    if not ts:
        return "<unknown>"
    try:
        t = parse_micro_time(ts) if "." in ts else parse_time(ts)
    except ValueError:
        return "<unknown>"
    return human_duration(now - t)


def _partial(obj: Obj) -> Obj:
    meta = obj.get("metadata", {})
    keep = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp",
                                  "labels", "annotations") if k in meta}  # fmt: skip
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": keep}


def _table_row(rt: ResourceType, obj: Obj, now: float) -> list[Any]:
    meta = obj.get("metadata", {})
    age = _age(meta.get("creationTimestamp"), now)
    if rt is STATEFULSETS:
        containers = (
            ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", [])
        )
        ready = (obj.get("status") or {}).get("readyReplicas", 0)
        return [
            meta.get("name"),
            f"{ready}/{(obj.get('spec') or {}).get('replicas', 0)}",
            age,
            ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers),
        ]
    if rt is PVCS:
        status = obj.get("status") or {}
        spec = obj.get("spec") or {}
        phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "Pending")
        modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                 "ReadWriteOncePod": "RWOP"}  # fmt: skip
        return [
            meta.get("name"),
            phase,
            spec.get("volumeName", ""),
            (status.get("capacity") or {}).get("storage", ""),
            ",".join(modes.get(m, m) for m in status.get("accessModes") or []),
            spec.get("storageClassName", ""),
            age,
            spec.get("volumeMode", ""),
        ]
    if rt is CONTROLLERREVISIONS:
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
        controller = "<none>"
        if owner is not None:
            group = str(owner.get("apiVersion", "")).split("/")[0] if "/" in str(
                owner.get("apiVersion", "")) else ""  # fmt: skip
            kind = str(owner.get("kind", "")).lower() + (f".{group}" if group else "")
            controller = f"{kind}/{owner.get('name', '')}"
        return [meta.get("name"), controller, obj.get("revision", 0), age]
    if rt is PODS:
        status = obj.get("status") or {}
        statuses = status.get("containerStatuses") or []
        ready = sum(1 for c in statuses if c.get("ready"))
        restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
        phase = status.get("phase", "Unknown")
        if meta.get("deletionTimestamp"):
            phase = "Terminating"
        elif statuses and "waiting" in (statuses[0].get("state") or {}):
            phase = statuses[0]["state"]["waiting"].get("reason", phase)
        return [
            meta.get("name"),
            f"{ready}/{len(statuses) or len((obj.get('spec') or {}).get('containers', []))}",
            phase,
            restarts,
            age,
            status.get("podIP", "<none>"),
            (obj.get("spec") or {}).get("nodeName", "<none>"),
            "<none>",
            "<none>",
        ]
    if rt in (EVENTS, EVENTS_V1):
        return _event_row(obj, now)
    if rt is CONFIGMAPS:
        return [
            meta.get("name"),
            len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
            age,
        ]
    if rt is LEASES:
        return [meta.get("name"), (obj.get("spec") or {}).get("holderIdentity", ""), age]
    if rt is NAMESPACES:
        return [meta.get("name"), (obj.get("status") or {}).get("phase", "Active"), age]
    return [meta.get("name"), age]


def _event_row(obj: Obj, now: float) -> list[Any]:
    core = obj if "involvedObject" in obj or "regarding" not in obj else None
    if core is None:  # events.k8s.io view
        inv = obj.get("regarding") or {}
        first = obj.get("deprecatedFirstTimestamp") or obj.get("eventTime")
        last = obj.get("deprecatedLastTimestamp") or first
        source = (obj.get("deprecatedSource") or {}).get("component") or obj.get(
            "reportingController", ""
        )
        host = (obj.get("deprecatedSource") or {}).get("host") or obj.get("reportingInstance", "")
        count = (obj.get("series") or {}).get("count") or obj.get("deprecatedCount") or 1
        message = obj.get("note", "")
    else:
        inv = obj.get("involvedObject") or {}
        first = obj.get("firstTimestamp") or obj.get("eventTime")
        last = obj.get("lastTimestamp") or first
        source = (obj.get("source") or {}).get("component") or obj.get("reportingComponent", "")
        host = (obj.get("source") or {}).get("host") or obj.get("reportingInstance", "")
        count = (obj.get("series") or {}).get("count") or obj.get("count") or 1
        message = obj.get("message", "")
    if host:
        source = f"{source}, {host}"
    return [
        _age(last, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        message,
        inv.get("fieldPath", ""),
        source,
        _age(first, now),
        count,
        obj.get("metadata", {}).get("name"),
    ]


def _table_columns(rt: ResourceType) -> list[Obj]:
    name = _col("Name", "Name must be unique within a namespace.", fmt="name")
    age = _col("Age", "CreationTimestamp is a timestamp representing the server time when this "
                      "object was created.")  # fmt: skip
    if rt is STATEFULSETS:
        return [
            name,
            _col("Ready", "Number of the pod with ready state"),
            age,
            _col("Containers", "Names of each container in the template.", 1),
            _col("Images", "Images referenced by each container in the template.", 1),
        ]
    if rt is PVCS:
        return [
            name,
            _col("Status", "Status is the current phase of the claim."),
            _col("Volume", "VolumeName is the binding reference to the PersistentVolume."),
            _col("Capacity", "Capacity is the actual resources of the underlying volume."),
            _col(
                "Access Modes",
                "AccessModes contains the actual access modes the volume backing the PVC has.",
            ),
            _col(
                "StorageClass",
                "StorageClassName is the name of the StorageClass required by the claim.",
            ),
            age,
            _col(
                "VolumeMode", "VolumeMode defines what type of volume is required by the claim.", 1
            ),
        ]
    if rt is CONTROLLERREVISIONS:
        return [
            name,
            _col("Controller", "Controller of the object"),
            _col("Revision", "Revision indicates the revision of the state represented by Data."),
            age,
        ]
    if rt is PODS:
        return [
            name,
            _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", "The aggregate status of the containers in this pod."),
            _col("Restarts", "The number of times the containers in this pod have been restarted."),
            age,
            _col("IP", "IP address allocated to the pod.", 1),
            _col("Node", "Name of the Node this pod is scheduled on.", 1),
            _col("Nominated Node", "Name of the node nominated for this pod.", 1),
            _col("Readiness Gates", "Pod Readiness Gates.", 1),
        ]
    if rt in (EVENTS, EVENTS_V1):
        return [
            _col("Last Seen", "Time when the most recent occurrence of this event was recorded."),
            _col("Type", "Type of this event (Normal, Warning), new types could be added."),
            _col("Reason", "This should be a short, machine understandable string."),
            _col("Object", "The object that this event is about."),
            _col("Message", "A human-readable description of the status of this operation."),
            _col("Subobject", "The subobject of the object this event is about.", 1),
            _col("Source", "The component reporting this event.", 1),
            _col("First Seen", "The time at which the event was first recorded.", 1),
            _col("Count", "The number of times this event has occurred.", 1),
            _col("Name", "Name must be unique within a namespace.", 1, "name"),
        ]
    if rt is CONFIGMAPS:
        return [name, _col("Data", "Number of data entries."), age]
    if rt is LEASES:
        return [name, _col("Holder", "HolderIdentity of the lease."), age]
    if rt is NAMESPACES:
        return [name, _col("Status", "The status of the namespace"), age]
    return [name, age]


def table(rt: ResourceType, items: Sequence[Obj], rv: str, now: float) -> Obj:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": _table_columns(rt),
        "rows": [{"cells": _table_row(rt, obj, now), "object": _partial(obj)} for obj in items],
    }


def wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    first = accept.split(",")[0]
    return "as=Table" in first and "g=meta.k8s.io" in first
