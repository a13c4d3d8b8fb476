"""The Kubernetes wire of the digital twin: kube-apiserver's REST surface over ``K8sModel``.

Real clients drive it — ``kubernetes-asyncio`` (with client-side model validation on) and
``kubectl`` 1.29 — so it serves what they need and nothing more: legacy discovery, ``/version``,
namespaced CRUD with the four PATCH content types, list ``watch`` streams, the StatefulSet ``scale`` subresource,
``Status`` error bodies with the real wording and codes, server-side ``Table`` output for
``kubectl get``, and a bearer-token check so authentication/authorisation failures can be
rehearsed. Behaviour references: ``tests/fixtures/kubernetes/API-BEHAVIOUR.md``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware

from autoscaler.sim.k8s_model import (
    CONFIGMAPS,
    EVENTS,
    EVENTS_V1,
    LEASES,
    NAMESPACES,
    PATCH_CONTENT_TYPES,
    PODS,
    STATEFULSETS,
    K8sError,
    K8sModel,
    Obj,
    ResourceType,
    bad_request,
    decode_error,
    human_duration,
    method_not_allowed,
    parse_micro_time,
    parse_time,
    resource_not_served,
    unauthorized,
    unsupported_media_type,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

K8S_VERSION = {
    "major": "1",
    "minor": "29",
    "gitVersion": "v1.29.14",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-02-12T00:00:00Z",
    "goVersion": "go1.22.12",
    "compiler": "gc",
    "platform": "linux/amd64",
}

#: group-version → resource types served there.
SERVED: dict[tuple[str, str], tuple[ResourceType, ...]] = {
    ("", "v1"): (NAMESPACES, PODS, CONFIGMAPS, EVENTS),
    ("apps", "v1"): (STATEFULSETS,),
    ("coordination.k8s.io", "v1"): (LEASES,),
    ("events.k8s.io", "v1"): (EVENTS_V1,),
}
_WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
_BODY_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")

_WATCH_POLL_S = 0.05

K8S_USER_KEY = web.RequestKey("k8s_user", str)


@dataclass
class K8sAuth:
    """Bearer-token check.

    ``token``: the one accepted token (``None`` accepts any). A request without
    ``Authorization`` is ``system:anonymous`` and allowed unless ``require_token`` — kubectl
    sends no credentials over ``http://`` (API-BEHAVIOUR §8.1), so requiring a token locks it out.
    """

    token: str | None = None
    require_token: bool = False
    user: str = "system:serviceaccount:elastic:es-autoscaler"


@dataclass(frozen=True)
class RequestInfo:
    """``k8s.io/apiserver/pkg/endpoints/request.RequestInfo``, reduced to what the twin uses."""

    is_resource_request: bool
    verb: str
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def served(self) -> bool:
        return (self.group, self.version) in SERVED

    @property
    def resource_type(self) -> ResourceType | None:
        for rt in SERVED.get((self.group, self.version), ()):
            if rt.resource == self.resource:
                return rt
        return None

    @property
    def rbac_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_info(request: web.Request) -> RequestInfo:
    """Classify a request path the way the apiserver's RequestInfoFactory does."""
    parts = [p for p in request.path.split("/") if p]
    method = request.method.upper()
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(False, method.lower())
    if parts[0] == "api":
        if len(parts) < 2:
            return RequestInfo(False, method.lower())
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return RequestInfo(False, method.lower())
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return RequestInfo(False, method.lower(), group, version)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        namespace = rest[1]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    watch = request.query.get("watch", "").lower() not in ("", "0", "false")
    verb = {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
    }.get(method, "")
    if method in ("GET", "HEAD"):
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    elif not verb:
        verb = method.lower()
    return RequestInfo(True, verb, group, version, namespace, resource, subresource, name)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body), status=status, content_type="application/json", headers=headers
    )


def status_response(err: K8sError) -> web.Response:
    return _json(err.to_status(), status=err.code)


def _bool_param(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.lower() not in ("0", "false")


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------


def _resource_list(group: str, version: str) -> Obj:
    resources: list[Obj] = []
    for rt in SERVED[(group, version)]:
        entry: Obj = {
            "name": rt.resource,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        if rt is STATEFULSETS:
            resources.append(
                {
                    "name": "statefulsets/scale",
                    "singularName": "",
                    "namespaced": True,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
            resources.append(
                {
                    "name": "statefulsets/status",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "StatefulSet",
                    "verbs": ["get"],
                }
            )
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def _group(name: str) -> Obj:
    versions = [v for (g, v) in SERVED if g == name]
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def _discovery(request: web.Request) -> web.Response | None:
    parts = [p for p in request.path.split("/") if p]
    if request.method != "GET":
        return None
    if parts == ["version"]:
        return _json(K8S_VERSION)
    if parts in (["healthz"], ["readyz"], ["livez"]):
        return web.Response(text="ok", content_type="text/plain")
    if parts == ["api"]:
        host = request.host or "127.0.0.1"
        return _json(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
            }
        )
    if parts == ["apis"]:
        names = sorted({g for (g, _v) in SERVED if g})
        return _json(
            {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in names]}
        )
    if parts == ["api", "v1"]:
        return _json(_resource_list("", "v1"))
    if len(parts) == 2 and parts[0] == "apis" and any(g == parts[1] for g, _ in SERVED):
        return _json({"kind": "APIGroup", "apiVersion": "v1", **_group(parts[1])})
    if len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in SERVED:
        return _json(_resource_list(parts[1], parts[2]))
    return None


# --------------------------------------------------------------------------------------------
# Table output (kubectl get)
# --------------------------------------------------------------------------------------------


def _col(name: str, description: str, priority: int = 0, fmt: str = "") -> Obj:
    return {
        "name": name,
        "type": "integer" if name in ("Restarts", "Count", "Data") else "string",
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


def _table(rt: ResourceType, items: Sequence[Obj], rv: str, now: float) -> Obj:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": _table_columns(rt),
        "rows": [{"cells": _table_row(rt, obj, now), "object": _partial(obj)} for obj in items],
    }


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    first = accept.split(",")[0]
    return "as=Table" in first and "g=meta.k8s.io" in first


# --------------------------------------------------------------------------------------------
# Request handling
# --------------------------------------------------------------------------------------------


async def _read_body(request: web.Request, rt: ResourceType, *, patch: bool) -> tuple[Any, str]:
    raw = await request.read()
    ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if patch:
        if ctype not in PATCH_CONTENT_TYPES:
            raise unsupported_media_type(list(PATCH_CONTENT_TYPES))
    elif ctype and ctype not in ("application/json", "application/yaml"):
        raise unsupported_media_type(_BODY_TYPES)
    text = raw.decode("utf-8", errors="replace")
    try:
        if ctype in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(text), ctype
        return json.loads(text), ctype
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        if patch:
            raise bad_request(f"error decoding patch: {exc}") from exc
        raise decode_error(rt, f"couldn't get version/kind; json parse error: {exc}") from exc


async def _read_delete_options(request: web.Request) -> Obj:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad_request(f"error decoding DeleteOptions: {exc}") from exc
    return body if isinstance(body, dict) else {}


class K8sApi:
    """The request handler bound to one model."""

    def __init__(self, model: K8sModel) -> None:
        self.model = model

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except K8sError as err:
            return status_response(err)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        found = _discovery(request)
        if found is not None:
            return found
        info = request_info(request)
        if not info.is_resource_request or not info.served:
            if info.served or (info.group, info.version) == ("", "v1"):
                raise resource_not_served()
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        rt = info.resource_type
        if rt is None:
            raise resource_not_served()
        if info.subresource:
            if rt is STATEFULSETS and info.subresource == "scale":
                return await self._scale(request, info)
            if rt is STATEFULSETS and info.subresource == "status" and info.verb == "get":
                return self._get(request, rt, info)
            raise resource_not_served()
        if rt.namespaced and info.resource != "namespaces" and not info.namespace:
            if info.verb == "list":
                return self._list(request, rt, None)
            if info.verb == "watch":
                return await self._watch(request, rt, None)
            raise method_not_allowed()
        if rt is NAMESPACES:
            info = RequestInfo(True, info.verb, "", "v1", "", "namespaces", "", info.name or "")
        verb = info.verb
        if verb not in rt.verbs and not (verb == "get" and "list" in rt.verbs):
            raise method_not_allowed()
        if verb == "get":
            return self._get(request, rt, info)
        if verb == "list":
            return self._list(request, rt, info.namespace)
        if verb == "watch":
            if info.name:  # watch of one object: only via list + fieldSelector, as clients do
                raise method_not_allowed()
            return await self._watch(request, rt, info.namespace or None)
        dry_run = request.query.get("dryRun") == "All"
        if verb == "create":
            body, _ = await _read_body(request, rt, patch=False)
            created = self.model.create(rt, info.namespace, body, dry_run=dry_run)
            return _json(created, status=201)
        if verb == "update":
            body, _ = await _read_body(request, rt, patch=False)
            obj, was_created = self.model.replace(
                rt, info.namespace, info.name, body, dry_run=dry_run
            )
            return _json(obj, status=201 if was_created else 200)
        if verb == "patch":
            body, ctype = await _read_body(request, rt, patch=True)
            obj, was_created = self.model.patch(
                rt,
                info.namespace,
                info.name,
                PATCH_CONTENT_TYPES[ctype],
                body,
                dry_run=dry_run,
                field_manager=request.query.get("fieldManager"),
                force=_bool_param(request.query.get("force")),
            )
            return _json(obj, status=201 if was_created else 200)
        if verb == "delete":
            options = await _read_delete_options(request)
            result = self.model.delete(
                rt,
                info.namespace,
                info.name,
                preconditions=options.get("preconditions"),
                dry_run=dry_run or options.get("dryRun") == ["All"],
            )
            return _json(result)
        raise method_not_allowed()

    def _get(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.Response:
        obj = self.model.get(rt, info.namespace, info.name)
        if _wants_table(request):
            return _json(_table(rt, [obj], self.model.resource_version, self.model.clock.time()))
        return _json(obj)

    def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        items, rv = self.model.list(
            rt,
            namespace,
            label_selector=request.query.get("labelSelector", ""),
            field_selector=request.query.get("fieldSelector", ""),
        )
        if _wants_table(request):
            return _json(_table(rt, items, rv, self.model.clock.time()))
        return _json(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": rv},
                "items": items,
            }
        )

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None
    ) -> web.StreamResponse:
        """A watch stream (one JSON event per line), by polling the model.

        Without ``resourceVersion`` (or ``0``) it starts with ``ADDED`` for every match;
        with one, objects changed since then come as ``MODIFIED``. It ends after
        ``timeoutSeconds`` of wall time (default 30 min) or when the client goes away.
        """
        label_selector = request.query.get("labelSelector", "")
        field_selector = request.query.get("fieldSelector", "")

        def snapshot() -> dict[tuple[str, str], Obj]:
            items, _ = self.model.list(
                rt, namespace, label_selector=label_selector, field_selector=field_selector
            )
            return {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in items}

        known = snapshot()  # selector errors surface here, before the stream starts
        try:
            timeout = float(request.query.get("timeoutSeconds", "1800"))
        except ValueError as exc:
            raise bad_request(f"invalid timeoutSeconds: {exc}") from exc
        since = request.query.get("resourceVersion", "")
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        async def send(kind: str, obj: Obj) -> None:
            await response.write((json.dumps({"type": kind, "object": obj}) + "\n").encode())

        try:
            for obj in known.values():
                rv = int(obj["metadata"].get("resourceVersion", "0"))
                if since in ("", "0"):
                    await send("ADDED", obj)
                elif since.isdigit() and rv > int(since):
                    await send("MODIFIED", obj)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                await asyncio.sleep(_WATCH_POLL_S)
                if request.transport is None or request.transport.is_closing():
                    return response  # the client went away
                current = snapshot()
                for key, obj in current.items():
                    old = known.get(key)
                    if old is None:
                        await send("ADDED", obj)
                    elif old["metadata"].get("resourceVersion") != obj["metadata"].get(
                        "resourceVersion"
                    ):
                        await send("MODIFIED", obj)
                for key, obj in known.items():
                    if key not in current:
                        await send("DELETED", obj)
                known = current
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            return response
        await response.write_eof()
        return response

    async def _scale(self, request: web.Request, info: RequestInfo) -> web.Response:
        dry_run = request.query.get("dryRun") == "All"
        if info.verb == "get":
            return _json(self.model.scale_of(info.namespace, info.name))
        if info.verb == "update":
            body, _ = await _read_body(request, STATEFULSETS, patch=False)
            return _json(self.model.replace_scale(info.namespace, info.name, body, dry_run=dry_run))
        if info.verb == "patch":
            body, ctype = await _read_body(request, STATEFULSETS, patch=True)
            return _json(
                self.model.patch_scale(
                    info.namespace,
                    info.name,
                    PATCH_CONTENT_TYPES[ctype],
                    body,
                    dry_run=dry_run,
                    field_manager=request.query.get("fieldManager"),
                    force=_bool_param(request.query.get("force")),
                )
            )
        raise method_not_allowed()


def auth_middleware(auth: K8sAuth) -> Middleware:
    """Authenticate by bearer token; record the user for authorisation faults."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization")
        if header is None:
            if auth.require_token:
                return status_response(unauthorized())
            request[K8S_USER_KEY] = "system:anonymous"
        else:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or (auth.token is not None and token != auth.token):
                return status_response(unauthorized())
            request[K8S_USER_KEY] = auth.user
        return await handler(request)

    return middleware


def add_k8s_routes(app: web.Application, model: K8sModel) -> None:
    api = K8sApi(model)
    app.router.add_route("*", "/{tail:.*}", api.handle)


def build_k8s_app(
    model: K8sModel,
    *,
    auth: K8sAuth | None = None,
    middlewares: Sequence[Middleware] = (),
) -> web.Application:
    """The Kubernetes API app: authentication first, then the given (fault) middlewares."""
    app = web.Application(middlewares=[auth_middleware(auth or K8sAuth()), *middlewares])
    add_k8s_routes(app, model)
    return app
