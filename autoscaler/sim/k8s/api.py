"""The Kubernetes wire of the digital twin: kube-apiserver's REST surface over ``K8sModel``.

Real clients drive it — ``kubernetes-asyncio`` and ``kubectl`` 1.29 — so it serves what they
need: discovery, namespaced CRUD with the four PATCH content types, list and watch, the
StatefulSet ``scale`` subresource, ``Status`` error bodies with the real wording, and
server-side ``Table`` output. Behaviour references: ``tests/fixtures/kubernetes/API-BEHAVIOUR.md``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware

from autoscaler.sim.k8s.auth import K8sAuth, auth_middleware
from autoscaler.sim.k8s.discovery import discovery_response
from autoscaler.sim.k8s.errors import (
    K8sError,
    bad_request,
    decode_error,
    method_not_allowed,
    resource_not_served,
    unsupported_media_type,
)
from autoscaler.sim.k8s.model import K8sModel
from autoscaler.sim.k8s.reqinfo import RequestInfo, request_info
from autoscaler.sim.k8s.responses import json_response, status_response
from autoscaler.sim.k8s.tables import table, wants_table
from autoscaler.sim.k8s.types import (
    NAMESPACES,
    PATCH_CONTENT_TYPES,
    STATEFULSETS,
    Obj,
    ResourceType,
)

_WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
_BODY_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")

_WATCH_POLL_S = 0.05


def bool_param(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.lower() not in ("0", "false")


# --------------------------------------------------------------------------------------------
# Request handling
# --------------------------------------------------------------------------------------------


async def read_body(request: web.Request, rt: ResourceType, *, patch: bool) -> tuple[Any, str]:
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


async def read_delete_options(request: web.Request) -> Obj:
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
        found = discovery_response(request)
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
            body, _ = await read_body(request, rt, patch=False)
            created = self.model.create(rt, info.namespace, body, dry_run=dry_run)
            return json_response(created, status=201)
        if verb == "update":
            body, _ = await read_body(request, rt, patch=False)
            obj, was_created = self.model.replace(
                rt, info.namespace, info.name, body, dry_run=dry_run
            )
            return json_response(obj, status=201 if was_created else 200)
        if verb == "patch":
            body, ctype = await read_body(request, rt, patch=True)
            obj, was_created = self.model.patch(
                rt,
                info.namespace,
                info.name,
                PATCH_CONTENT_TYPES[ctype],
                body,
                dry_run=dry_run,
                field_manager=request.query.get("fieldManager"),
                force=bool_param(request.query.get("force")),
            )
            return json_response(obj, status=201 if was_created else 200)
        if verb == "delete":
            options = await read_delete_options(request)
            result = self.model.delete(
                rt,
                info.namespace,
                info.name,
                preconditions=options.get("preconditions"),
                dry_run=dry_run or options.get("dryRun") == ["All"],
            )
            return json_response(result)
        raise method_not_allowed()

    def _get(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.Response:
        obj = self.model.get(rt, info.namespace, info.name)
        if wants_table(request):
            return json_response(
                table(rt, [obj], self.model.resource_version, self.model.clock.time())
            )
        return json_response(obj)

    def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        items, rv = self.model.list(
            rt,
            namespace,
            label_selector=request.query.get("labelSelector", ""),
            field_selector=request.query.get("fieldSelector", ""),
        )
        if wants_table(request):
            return json_response(table(rt, items, rv, self.model.clock.time()))
        return json_response(
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
            return json_response(self.model.scale_of(info.namespace, info.name))
        if info.verb == "update":
            body, _ = await read_body(request, STATEFULSETS, patch=False)
            return json_response(
                self.model.replace_scale(info.namespace, info.name, body, dry_run=dry_run)
            )
        if info.verb == "patch":
            body, ctype = await read_body(request, STATEFULSETS, patch=True)
            return json_response(
                self.model.patch_scale(
                    info.namespace,
                    info.name,
                    PATCH_CONTENT_TYPES[ctype],
                    body,
                    dry_run=dry_run,
                    field_manager=request.query.get("fieldManager"),
                    force=bool_param(request.query.get("force")),
                )
            )
        raise method_not_allowed()


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
