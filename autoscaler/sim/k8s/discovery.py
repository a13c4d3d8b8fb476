"""Discovery: ``/version``, ``/api``, ``/apis`` and the per-group resource lists.

kubectl and kubernetes-asyncio learn what exists (kinds, verbs, short names, subresources)
from these documents before any other call.
"""

from __future__ import annotations

from aiohttp import web

from autoscaler.sim.k8s.responses import json_response
from autoscaler.sim.k8s.types import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    CONFIGMAPS,
    CONTROLLERREVISIONS,
    EVENTS,
    EVENTS_V1,
    LEASES,
    NAMESPACES,
    PODS,
    PVCS,
    ROLEBINDINGS,
    ROLES,
    SELFSUBJECTACCESSREVIEWS,
    SERVICEACCOUNTS,
    STATEFULSETS,
    Obj,
    ResourceType,
)

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
    ("", "v1"): (NAMESPACES, PODS, CONFIGMAPS, EVENTS, PVCS, SERVICEACCOUNTS),
    ("apps", "v1"): (STATEFULSETS, CONTROLLERREVISIONS),
    ("coordination.k8s.io", "v1"): (LEASES,),
    ("events.k8s.io", "v1"): (EVENTS_V1,),
    ("rbac.authorization.k8s.io", "v1"): (ROLES, ROLEBINDINGS, CLUSTERROLES, CLUSTERROLEBINDINGS),
    ("authorization.k8s.io", "v1"): (SELFSUBJECTACCESSREVIEWS,),
}


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


def discovery_response(request: web.Request) -> web.Response | None:
    parts = [p for p in request.path.split("/") if p]
    if request.method != "GET":
        return None
    if parts == ["version"]:
        return json_response(K8S_VERSION)
    if parts in (["healthz"], ["readyz"], ["livez"]):
        return web.Response(text="ok", content_type="text/plain")
    if parts == ["api"]:
        host = request.host or "127.0.0.1"
        return json_response(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
            }
        )
    if parts == ["apis"]:
        names = sorted({g for (g, _v) in SERVED if g})
        return json_response(
            {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in names]}
        )
    if parts == ["api", "v1"]:
        return json_response(_resource_list("", "v1"))
    if len(parts) == 2 and parts[0] == "apis" and any(g == parts[1] for g, _ in SERVED):
        return json_response({"kind": "APIGroup", "apiVersion": "v1", **_group(parts[1])})
    if len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in SERVED:
        return json_response(_resource_list(parts[1], parts[2]))
    return None
