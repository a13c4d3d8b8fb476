"""Fault injection for the twin: the failures an autoscaler must survive, on demand.

Production clusters are slow, flaky and occasionally wrong; a scaler that only ever saw a
healthy API would be untested where it matters. This module injects, per app (``es`` or
``k8s``), wire faults — added latency, 5xx answers, requests that hang past the client's
timeout, dropped connections, ``409 Conflict`` on the next K Kubernetes writes, RBAC-style
``403`` denials — and model faults — a shard that can never move, a pod that never becomes
Ready, a node that crashes. Faults are described as JSON (``POST /_sim/faults``) so tests and
ops rehearsals use the same vocabulary; ``DELETE /_sim/faults`` clears them all.

Fault JSON (one object, a list of them, or ``{"faults": [...]}``)::

    {"type": "latency",  "app": "es"|"k8s"|"any", "seconds": 0.5}
    {"type": "error",    "app": ..., "status": 503, "body": {...}?}
    {"type": "timeout",  "app": ..., "seconds": 120}     # hang, then drop the connection
    {"type": "drop",     "app": ...}                     # close the connection, no answer
    {"type": "conflict", "count": 2}                     # k8s: 409 on the next 2 writes
    {"type": "forbidden", "verb": "patch", "resource": "statefulsets/scale"}   # k8s: 403
    {"type": "pin_shard", "index": "logs", "shard": 0}
    {"type": "pod_never_ready", "pod": "es-data-3"}
    {"type": "node_crash", "node": "es-data-1", "restart": true}

Wire faults also take ``path`` (a regex searched in the request path), ``method`` and
``count`` (how many requests they hit; ``null``/absent = until cleared). ``/_sim/*`` control
requests are never faulted.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from autoscaler.sim.k8s.auth import K8S_USER_KEY
from autoscaler.sim.k8s.errors import K8sError, conflict, forbidden
from autoscaler.sim.k8s.model import K8sModel
from autoscaler.sim.k8s.reqinfo import request_info
from autoscaler.sim.k8s.responses import status_response
from autoscaler.sim.k8s.types import ResourceType

AppName = Literal["es", "k8s"]

WIRE_TYPES = ("latency", "error", "timeout", "drop", "conflict", "forbidden")
MODEL_TYPES = ("pin_shard", "pod_never_ready", "node_crash")
_K8S_WRITES = ("create", "update", "patch", "delete", "deletecollection")

_ES_ERROR_TYPES = {
    429: "es_rejected_execution_exception",
    500: "exception",
    502: "exception",
    503: "cluster_block_exception",
    504: "timeout_exception",
}
_K8S_REASONS = {
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try "
                             "again later"),
    500: ("InternalError", "an error on the server (\"unknown\") has prevented the request from "
                           "succeeding"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may "
                     "still be processing the request"),
}  # fmt: skip


class FaultError(ValueError):
    """A fault description that cannot be applied (answered with 400)."""


class ClusterFaults(Protocol):
    """What fault injection needs from the Elasticsearch model (``cluster.Cluster``)."""

    def pin_shard(self, index: str, shard: int) -> None: ...

    def unpin_all(self) -> None: ...

    def crash_node(self, name: str) -> None: ...


@dataclass
class Fault:
    """One active fault."""

    id: int
    type: str
    app: str = "any"
    path: str | None = None
    method: str | None = None
    remaining: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type in WIRE_TYPES:
            out.update({"app": self.app, "path": self.path, "method": self.method})
            out["count"] = self.remaining
            out["fired"] = self.fired
        out.update(self.params)
        return out

    def matches(self, app_name: AppName, request: web.Request) -> bool:
        if self.app not in ("any", app_name):
            return False
        if self.method is not None and request.method.upper() != self.method.upper():
            return False
        return self.path is None or re.search(self.path, request.path) is not None


def _number(spec: Mapping[str, Any], key: str, default: float | None = None) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultError(f"fault {spec.get('type')!r} needs a non-negative number {key!r}")
    return float(value)


def _string(spec: Mapping[str, Any], key: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise FaultError(f"fault {spec.get('type')!r} needs a string {key!r}")
    return value


def parse_fault_specs(body: Any) -> list[Mapping[str, Any]]:
    """Accept one fault object, a list of them, or ``{"faults": [...]}``."""
    if isinstance(body, Mapping) and "faults" in body:
        body = body["faults"]
    if isinstance(body, Mapping):
        body = [body]
    if not isinstance(body, list) or not all(isinstance(s, Mapping) for s in body):
        raise FaultError('expected a fault object, a list of them, or {"faults": [...]}')
    return list(body)


@dataclass(frozen=True)
class ModelFaultKind:
    """A model fault type provided by another part of the twin (VM nodes, shard allocation).

    ``apply(fault_id, spec)`` validates (``ValueError`` → 400) and applies it, returning the
    parameters to show; ``revert(fault_id, params)`` undoes it when the fault is removed.
    """

    apply: Callable[[int, Mapping[str, Any]], dict[str, Any]]
    revert: Callable[[int, Mapping[str, Any]], None]


class FaultInjector:
    """Holds active faults, applies model faults at once and wire faults per request."""

    def __init__(self, *, cluster: ClusterFaults | None = None, k8s: K8sModel | None = None):
        self.cluster = cluster
        self.k8s = k8s
        self._faults: list[Fault] = []
        self._next_id = 1
        self._release = asyncio.Event()
        #: Every fault that fired or was applied, oldest first: ``{"id", "type", "path"...}``.
        self.history: list[dict[str, Any]] = []
        #: model fault types registered by the twin (``register``)
        self.kinds: dict[str, ModelFaultKind] = {}

    def register(self, name: str, kind: ModelFaultKind) -> None:
        """Accept ``{"type": name, ...}`` faults, applied and reverted by ``kind``."""
        self.kinds[name] = kind

    # ---- management ----------------------------------------------------------------------

    def active(self) -> list[dict[str, Any]]:
        return [f.to_json() for f in self._faults]

    def add_many(self, body: Any) -> list[dict[str, Any]]:
        specs = parse_fault_specs(body)
        for spec in specs:  # validate all before applying any
            self._validate(spec)
        return [self.add(spec) for spec in specs]

    def add(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one fault; returns its JSON description (with ``id``)."""
        kind = self._validate(spec)
        fault = Fault(id=self._next_id, type=kind)
        self._next_id += 1
        if kind in WIRE_TYPES:
            default_app = "k8s" if kind in ("conflict", "forbidden") else None
            app = spec.get("app", default_app)
            if app not in ("es", "k8s", "any"):
                raise FaultError(f'fault {kind!r} needs "app": "es", "k8s" or "any"')
            fault.app = str(app)
            fault.path = spec.get("path")
            fault.method = spec.get("method")
            count = spec.get("count", 1 if kind == "conflict" else None)
            if count is not None and (not isinstance(count, int) or count < 1):
                raise FaultError('"count" must be a positive integer or null')
            fault.remaining = count
            if kind in ("latency", "timeout"):
                fault.params["seconds"] = _number(
                    spec, "seconds", 120.0 if kind == "timeout" else None
                )
            elif kind == "error":
                status = spec.get("status", 503)
                if not isinstance(status, int) or not 400 <= status <= 599:
                    raise FaultError('"status" must be an HTTP error code (400-599)')
                fault.params["status"] = status
                if "body" in spec:
                    fault.params["body"] = spec["body"]
            elif kind == "forbidden":
                for key in ("verb", "resource", "namespace", "name", "reason"):
                    if spec.get(key) is not None:
                        fault.params[key] = str(spec[key])
            self._faults.append(fault)
        else:
            self._apply_model_fault(fault, spec)
        self.history.append({"event": "added", **fault.to_json()})
        return fault.to_json()

    def _validate(self, spec: Mapping[str, Any]) -> str:
        kind = spec.get("type")
        if kind in self.kinds:
            return str(kind)
        if kind not in WIRE_TYPES + MODEL_TYPES:
            raise FaultError(
                f"unknown fault type {kind!r}; expected one of "
                + ", ".join(WIRE_TYPES + MODEL_TYPES + tuple(self.kinds))
            )
        if kind in ("latency",):
            _number(spec, "seconds")
        if kind == "pin_shard":
            _string(spec, "index")
            if not isinstance(spec.get("shard"), int):
                raise FaultError("fault 'pin_shard' needs an integer 'shard'")
        if kind == "pod_never_ready":
            _string(spec, "pod")
        if kind == "node_crash":
            _string(spec, "node")
        if kind in ("pin_shard", "node_crash") and self.cluster is None:
            raise FaultError(f"fault {kind!r} needs the Elasticsearch model")
        if kind in ("pod_never_ready",) and self.k8s is None:
            raise FaultError(f"fault {kind!r} needs the Kubernetes model")
        return str(kind)

    def _apply_model_fault(self, fault: Fault, spec: Mapping[str, Any]) -> None:
        if fault.type in self.kinds:
            try:
                fault.params.update(self.kinds[fault.type].apply(fault.id, spec))
            except ValueError as exc:
                raise FaultError(str(exc)) from exc
            self._faults.append(fault)
        elif fault.type == "pin_shard":
            assert self.cluster is not None
            index, shard = _string(spec, "index"), int(spec["shard"])
            self.cluster.pin_shard(index, shard)
            fault.params.update({"index": index, "shard": shard})
            self._faults.append(fault)
        elif fault.type == "pod_never_ready":
            assert self.k8s is not None
            pod = _string(spec, "pod")
            self.k8s.never_ready.add(pod)
            fault.params["pod"] = pod
            self._faults.append(fault)
        elif fault.type == "node_crash":
            assert self.cluster is not None
            node = _string(spec, "node")
            restart = bool(spec.get("restart", True))
            fault.params.update({"node": node, "restart": restart})
            where = self.k8s.find_pod(node) if self.k8s is not None else None
            if self.k8s is not None and where is not None:
                # the pod listener (the twin) takes the ES node down via Cluster.crash_node
                self.k8s.crash_pod(*where, restart=restart)
            else:
                self.cluster.crash_node(node)

    def clear(self) -> None:
        """Remove every fault, unpin shards, let never-ready pods get ready, release hangs
        and pending latency delays."""
        for fault in self._faults:
            if fault.type in self.kinds:
                self.kinds[fault.type].revert(fault.id, fault.params)
        self._faults.clear()
        if self.cluster is not None:
            self.cluster.unpin_all()
        if self.k8s is not None:
            self.k8s.never_ready.clear()
        self._release.set()
        self._release = asyncio.Event()
        self.history.append({"event": "cleared"})

    def remove(self, fault_id: int) -> bool:
        for fault in self._faults:
            if fault.id == fault_id:
                self._faults.remove(fault)
                if fault.type in self.kinds:
                    self.kinds[fault.type].revert(fault.id, fault.params)
                if fault.type == "pod_never_ready" and self.k8s is not None:
                    self.k8s.never_ready.discard(str(fault.params["pod"]))
                if fault.type == "pin_shard" and self.cluster is not None:
                    self.cluster.unpin_all()
                    for other in self._faults:
                        if other.type == "pin_shard":
                            self.cluster.pin_shard(other.params["index"], other.params["shard"])
                return True
        return False

    # ---- the wire ------------------------------------------------------------------------

    def _consume(self, fault: Fault, request: web.Request) -> None:
        fault.fired += 1
        self.history.append(
            {"event": "fired", "id": fault.id, "type": fault.type, "method": request.method,
             "path": request.path}
        )  # fmt: skip
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0 and fault in self._faults:
                self._faults.remove(fault)

    def middleware(self, app_name: AppName) -> Middleware:
        """An aiohttp middleware applying this injector's wire faults to one app."""

        @web.middleware
        async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith("/_sim"):
                return await handler(request)
            for fault in list(self._faults):
                if fault.type not in WIRE_TYPES or not fault.matches(app_name, request):
                    continue
                if fault.type in ("conflict", "forbidden") and app_name != "k8s":
                    continue
                if fault.type == "latency":
                    self._consume(fault, request)
                    release = self._release  # clear() cuts the delay short
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(release.wait(), float(fault.params["seconds"]))
                    continue
                response = self._k8s_fault(fault, request) if app_name == "k8s" else None
                if fault.type in ("conflict", "forbidden"):
                    if response is None:
                        continue
                    self._consume(fault, request)
                    return response
                self._consume(fault, request)
                if fault.type == "error":
                    return self._error_response(app_name, fault)
                if fault.type == "timeout":
                    release = self._release
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(release.wait(), float(fault.params["seconds"]))
                _drop(request)
                raise web.HTTPServiceUnavailable()  # never written: the transport is gone
            return await handler(request)

        return inject

    def _k8s_fault(self, fault: Fault, request: web.Request) -> web.StreamResponse | None:
        info = request_info(request)
        rt: ResourceType | None = info.resource_type if info.is_resource_request else None
        if fault.type == "conflict":
            if info.verb not in _K8S_WRITES or rt is None:
                return None
            return status_response(conflict(rt, info.name))
        if fault.type == "forbidden":
            p = fault.params
            if not info.is_resource_request:
                return None
            if p.get("verb") not in (None, info.verb):
                return None
            if p.get("resource") not in (None, info.rbac_resource, info.resource):
                return None
            if p.get("namespace") not in (None, info.namespace):
                return None
            if p.get("name") not in (None, info.name):
                return None
            err: K8sError = forbidden(
                rt,
                name=info.name,
                user=str(request.get(K8S_USER_KEY, "system:anonymous")),
                verb=info.verb,
                resource=info.rbac_resource,
                group=info.group,
                namespace=info.namespace,
                reason=str(p.get("reason", "")),
            )
            return status_response(err)
        return None

    @staticmethod
    def _error_response(app_name: AppName, fault: Fault) -> web.Response:
        status = int(fault.params["status"])
        if "body" in fault.params:
            return web.json_response(fault.params["body"], status=status)
        if app_name == "k8s":
            reason, message = _K8S_REASONS.get(status, ("InternalError", "injected fault"))
            cause = {"reason": "UnexpectedServerResponse", "message": "injected by the twin"}
            err = K8sError(status, reason, message, {"causes": [cause]})
            return status_response(err)
        kind = _ES_ERROR_TYPES.get(status, "exception")
        reason = f"injected by the twin: HTTP {status}"
        return web.json_response(
            {
                "error": {
                    "root_cause": [{"type": kind, "reason": reason}],
                    "type": kind,
                    "reason": reason,
                },
                "status": status,
            },
            status=status,
            headers={"X-Elastic-Product": "Elasticsearch"},
        )


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
