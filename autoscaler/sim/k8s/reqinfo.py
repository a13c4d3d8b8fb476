"""Classify a request path the way the apiserver's ``RequestInfoFactory`` does.

Authorization (RBAC), the request log, fault injection and the handler all key on the same
verb / group / resource / subresource / namespace / name, so the classification exists once —
and runs once per request: like the apiserver's ``WithRequestInfo`` filter, which resolves it
before every other filter and stores it in the request context for them
(kubernetes/kubernetes ``staging/src/k8s.io/apiserver/pkg/endpoints/filters/requestinfo.go``),
``request_info`` stores it on the aiohttp request the first time it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from autoscaler.sim.k8s.discovery import SERVED
from autoscaler.sim.k8s.types import ResourceType


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


REQUEST_INFO_KEY = web.RequestKey("k8s_request_info", RequestInfo)


def request_info(request: web.Request) -> RequestInfo:
    """The request's ``RequestInfo``: resolved on the first call, then read from the request."""
    info = request.get(REQUEST_INFO_KEY)
    if info is None:
        info = request[REQUEST_INFO_KEY] = resolve_request_info(request)
    return info


def resolve_request_info(request: web.Request) -> RequestInfo:
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
