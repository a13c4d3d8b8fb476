"""The Kubernetes wire of the digital twin: kube-apiserver's REST surface over ``K8sModel``.

Real clients drive it — ``kubernetes-asyncio`` and ``kubectl`` 1.29 — so it serves what they
need: discovery, namespaced CRUD with the four PATCH content types, list and watch, the
StatefulSet ``scale`` subresource, ``Status`` error bodies with the real wording, and
server-side ``Table`` output. Behaviour references: ``tests/fixtures/kubernetes/API-BEHAVIOUR.md``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware

from autoscaler.sim.k8s.auth import K8S_USER_KEY, Handler, K8sAuth, auth_middleware
from autoscaler.sim.k8s.discovery import discovery_response
from autoscaler.sim.k8s.errors import (
    FieldError,
    K8sError,
    bad_request,
    decode_error,
    invalid,
    method_not_allowed,
    resource_not_served,
    unsupported_media_type,
)
from autoscaler.sim.k8s.fields import go_format, prune_unknown
from autoscaler.sim.k8s.history import expired
from autoscaler.sim.k8s.model import K8sModel
from autoscaler.sim.k8s.openapi import v2_document, v3_for_path, v3_root
from autoscaler.sim.k8s.rbac import RbacAuthorizer
from autoscaler.sim.k8s.reqinfo import RequestInfo, request_info
from autoscaler.sim.k8s.requestlog import RequestLog, RequestRecord
from autoscaler.sim.k8s.responses import json_response, status_response
from autoscaler.sim.k8s.tables import table, wants_table
from autoscaler.sim.k8s.types import (
    NAMESPACES,
    PATCH_CONTENT_TYPES,
    SELFSUBJECTACCESSREVIEWS,
    STATEFULSETS,
    Obj,
    ResourceType,
)
from autoscaler.sim.k8s.watch import serve_watch

_BODY_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")


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

    def __init__(
        self,
        model: K8sModel,
        *,
        bookmark_interval: float = 1.0,
        authorizer: RbacAuthorizer | None = None,
    ) -> None:
        self.model = model
        self.bookmark_interval = bookmark_interval
        #: ``None``: permissive (every review is allowed, as with ``AlwaysAllow``)
        self.authorizer = authorizer

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except K8sError as err:
            return status_response(err)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        found = discovery_response(request) or openapi_response(request)
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
        if rt.namespaced and info.namespace and info.resource != "namespaces":
            self.model.get(NAMESPACES, "", info.namespace)  # 404 for a missing namespace
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
        if rt is SELFSUBJECTACCESSREVIEWS and verb == "create":
            return await self._self_review(request)
        if verb == "create":
            body, _ = await read_body(request, rt, patch=False)
            body, warnings = validate_fields(request, rt, body)
            created = self.model.create(rt, info.namespace, body, dry_run=dry_run)
            return with_warnings(json_response(created, status=201), warnings)
        if verb == "update":
            body, _ = await read_body(request, rt, patch=False)
            body, warnings = validate_fields(request, rt, body)
            self._authorize_create_on_update(request, rt, info)
            obj, was_created = self.model.replace(
                rt, info.namespace, info.name, body, dry_run=dry_run
            )
            return with_warnings(json_response(obj, status=201 if was_created else 200), warnings)
        if verb == "patch":
            body, ctype = await read_body(request, rt, patch=True)
            body, warnings = validate_patch_fields(request, rt, body, PATCH_CONTENT_TYPES[ctype])
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
            return with_warnings(json_response(obj, status=201 if was_created else 200), warnings)
        if verb == "delete":
            options = await read_delete_options(request)
            result = self.model.delete(
                rt,
                info.namespace,
                info.name,
                preconditions=options.get("preconditions"),
                dry_run=dry_run or options.get("dryRun") == ["All"],
                grace_seconds=grace_period(request, options),
            )
            return json_response(result)
        raise method_not_allowed()

    def _authorize_create_on_update(
        self, request: web.Request, rt: ResourceType, info: RequestInfo
    ) -> None:
        """A PUT that would create the object needs ``create`` as well as ``update``.

        kube-apiserver ``handlers/update.go`` wraps the create-on-update path in
        ``withAuthorization(..., "create")``: for kinds whose strategy allows create on update
        (Leases, Events) the caller must hold both verbs, and a missing ``create`` gets the
        usual 403 naming ``create``.
        """
        if self.authorizer is None or not rt.create_on_update:
            return
        if self.model.exists(rt, info.namespace, info.name):
            return
        user = request.get(K8S_USER_KEY, "system:anonymous")
        self.authorizer.check(dataclasses.replace(info, verb="create"), user, request.path)

    def _get(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.Response:
        obj = self.model.get(rt, info.namespace, info.name)
        if wants_table(request):
            return json_response(
                table(rt, [obj], self.model.resource_version, self.model.clock.time())
            )
        return json_response(obj)

    def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        query = request.query
        try:
            limit = int(query.get("limit", "0") or 0)
        except ValueError as exc:
            raise bad_request(f"invalid limit: {exc}") from exc
        rv, match = query.get("resourceVersion", ""), query.get("resourceVersionMatch", "")
        if match == "Exact" and rv.isdigit() and int(rv) <= self.model.compacted_rv:
            # etcd3 errors.go expiredList: an exact read of a compacted revision
            raise expired("The resourceVersion for the provided list is too old.")
        page = self.model.list_page(
            rt,
            namespace,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            limit=max(0, limit),
            continue_token=query.get("continue", ""),
        )
        meta: Obj = {"resourceVersion": page.resource_version}
        if page.continue_token:
            meta["continue"] = page.continue_token
        if wants_table(request):
            out = table(rt, page.items, page.resource_version, self.model.clock.time())
            out["metadata"] = meta
            return json_response(out)
        return json_response(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": meta,
                "items": page.items,
            }
        )

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None
    ) -> web.StreamResponse:
        as_table = wants_table(request)

        def render(obj: Obj) -> Obj:
            if not as_table:
                return obj
            rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            return table(rt, [obj], rv, self.model.clock.time())

        return await serve_watch(
            request, self.model, rt, namespace, render=render,
            bookmark_interval=self.bookmark_interval,
        )  # fmt: skip

    async def _self_review(self, request: web.Request) -> web.Response:
        """``kubectl auth can-i``: may the caller do this? (K8S
        ``pkg/registry/authorization/selfsubjectaccessreview/rest.go``: 201, the review with
        ``status.allowed``/``reason``; nothing is stored)."""
        body, _ = await read_body(request, SELFSUBJECTACCESSREVIEWS, patch=False)
        spec = body.get("spec") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            spec = {}
        res, nonres = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if not isinstance(res, dict) and not isinstance(nonres, dict):
            raise invalid(
                "SelfSubjectAccessReview.authorization.k8s.io", "",
                [FieldError("spec.resourceAttributes", "Invalid",
                            "exactly one of nonResourceAttributes or resourceAttributes must be "
                            "specified", "null", raw=True)],
                group="authorization.k8s.io", kind="SelfSubjectAccessReview",
            )  # fmt: skip
        path = "/"
        if isinstance(res, dict):
            info = RequestInfo(
                True, str(res.get("verb", "")), str(res.get("group", "")),
                str(res.get("version", "")), str(res.get("namespace", "")),
                str(res.get("resource", "")), str(res.get("subresource", "")),
                str(res.get("name", "")),
            )  # fmt: skip
        else:
            assert isinstance(nonres, dict)
            info = RequestInfo(False, str(nonres.get("verb", "")))
            path = str(nonres.get("path", "/"))
        status: Obj = {"allowed": True}
        if self.authorizer is not None:
            user = request.get(K8S_USER_KEY, "system:anonymous")
            decision = self.authorizer.authorize(info, user, path)
            status = {"allowed": decision.allowed}
            if decision.reason:
                status["reason"] = decision.reason
        review = {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
        return json_response(review, status=201)

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


def validate_fields(request: web.Request, rt: ResourceType, body: Any) -> tuple[Any, list[str]]:
    """``fieldValidation`` (default Warn): drop undeclared fields; 400 with Strict, warnings
    with Warn (``fields.py``)."""
    pruned, unknown = prune_unknown(rt, body)
    if not unknown:
        return body, []
    directive = request.query.get("fieldValidation", "Warn")
    if directive == "Strict":
        raise decode_error(rt, "strict decoding error: " + ", ".join(unknown))
    return pruned, unknown if directive != "Ignore" else []


def validate_patch_fields(
    request: web.Request, rt: ResourceType, body: Any, patch_type: str
) -> tuple[Any, list[str]]:
    """Field validation of a merge / strategic-merge patch (JSON patches pass unchecked)."""
    if patch_type not in ("merge", "strategic"):
        return body, []
    pruned, unknown = prune_unknown(rt, body, patch=True)
    if not unknown:
        return body, []
    directive = request.query.get("fieldValidation", "Warn")
    if directive == "Strict":
        cause = FieldError(
            "patch", "Invalid", "strict decoding error: " + ", ".join(unknown), go_format(body)
        )
        raise K8sError(
            422,
            "Invalid",
            f' "" is invalid: {cause.field}: {cause.body}',
            {"causes": [{"reason": cause.reason, "message": cause.body, "field": cause.field}]},
        )
    return pruned, unknown if directive != "Ignore" else []


def grace_period(request: web.Request, options: Obj) -> float | None:
    """``gracePeriodSeconds`` from DeleteOptions (body) or the query; 400 when not a number."""
    raw = options.get("gracePeriodSeconds", request.query.get("gracePeriodSeconds"))
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"invalid gracePeriodSeconds: {raw!r}") from exc
    return float(max(0, value))


def with_warnings(response: web.Response, warnings: Sequence[str]) -> web.Response:
    """``Warning: 299 - "<text>"`` per warning (``pkg/endpoints/warning``)."""
    for text in warnings:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


def openapi_response(request: web.Request) -> web.Response | None:
    """``/openapi/v2`` (JSON only) and ``/openapi/v3[/<group-version path>]``."""
    path = request.path.rstrip("/")
    if request.method != "GET" or not path.startswith("/openapi/"):
        return None
    if path == "/openapi/v2":
        accept = request.headers.get("Accept", "")
        if accept and "json" not in accept and "*/*" not in accept:
            raise K8sError(406, "NotAcceptable", "only the following media types are accepted: "
                           "application/json")  # fmt: skip
        return json_response(v2_document())
    if path == "/openapi/v3":
        return json_response(v3_root())
    if path.startswith("/openapi/v3/"):
        doc = v3_for_path(path[len("/openapi/v3/") :])
        if doc is not None:
            return json_response(doc)
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


def add_k8s_routes(
    app: web.Application,
    model: K8sModel,
    *,
    request_log: RequestLog | None = None,
    authorizer: RbacAuthorizer | None = None,
) -> None:
    """``GET``/``DELETE /_sim/requests`` (the request log), then the API itself."""
    api = K8sApi(model, authorizer=authorizer)
    if request_log is not None:
        log = request_log

        async def requests(request: web.Request) -> web.Response:
            entries = log.entries()
            if request.method == "DELETE":  # answer with what was cleared (as on the ES port)
                log.clear()
            return web.json_response({"requests": entries})

        app.router.add_route("GET", "/_sim/requests", requests)
        app.router.add_route("DELETE", "/_sim/requests", requests)
    app.router.add_route("*", "/{tail:.*}", api.handle)


def build_k8s_app(
    model: K8sModel,
    *,
    auth: K8sAuth | None = None,
    middlewares: Sequence[Middleware] = (),
    rbac: bool = False,
    request_log: RequestLog | None = None,
) -> web.Application:
    """The Kubernetes API app: request log, authentication, RBAC (when on), then the given
    (fault) middlewares, then the API."""
    outer: list[Middleware] = []
    if request_log is not None:
        outer.append(request_log_middleware(request_log, model))
    outer.append(auth_middleware(auth or K8sAuth()))
    authorizer = RbacAuthorizer(model) if rbac else None
    if authorizer is not None:
        outer.append(rbac_middleware(authorizer))
    app = web.Application(middlewares=[*outer, *middlewares])
    add_k8s_routes(app, model, request_log=request_log, authorizer=authorizer)
    return app


def request_log_middleware(log: RequestLog, model: K8sModel) -> Middleware:
    """Record every served request with its RBAC attributes, user and status code."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        code = 500
        try:
            response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            info = request_info(request)
            log.add(
                RequestRecord(
                    at=model.clock.time(),
                    method=request.method,
                    path=request.path,
                    verb=info.verb,
                    group=info.group,
                    version=info.version,
                    resource=info.resource,
                    subresource=info.subresource,
                    namespace=info.namespace,
                    name=info.name,
                    user=request.get(K8S_USER_KEY, ""),
                    code=code,
                    resource_request=info.is_resource_request,
                )
            )

    return middleware


def rbac_middleware(authorizer: RbacAuthorizer) -> Middleware:
    """Authorization after authentication: 403 with the apiserver's text when RBAC denies."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        user = request.get(K8S_USER_KEY, "system:anonymous")
        try:
            authorizer.check(request_info(request), user, request.path)
        except K8sError as err:
            return status_response(err)
        return await handler(request)

    return middleware
