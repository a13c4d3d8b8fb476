"""OpenAPI documents (``/openapi/v2``, ``/openapi/v3``) — what kubectl asks before it writes.

kubectl 1.29 validates ``apply -f``/``create -f``/``replace -f`` by default
(``--validate=strict``): it first asks whether the server does field validation itself
(``staging/src/k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go``
``supportsQueryParamV3``: the GroupVersion's OpenAPI v3 document has a PATCH operation tagged
with the kind's ``x-kubernetes-group-version-kind`` that takes a ``fieldValidation`` query
parameter); if so it sends ``fieldValidation=Strict`` and skips client-side schema checks,
otherwise it needs full schemas (``--validate=false`` being the only way out). The v3 root
(``GET /openapi/v3``) lists one ``serverRelativeURL`` per GroupVersion with a ``hash`` query
(``staging/src/k8s.io/client-go/openapi/client.go``).

The twin serves those documents with the operations of every served resource and stub
schemas. Their PATCH request bodies do not advertise ``strategic-merge-patch+json``, so
``kubectl apply`` computes strategic merges from its compiled-in Go types
(``staging/src/k8s.io/kubectl/pkg/cmd/apply/patcher.go`` falls back from OpenAPI v3 to v2 to
``NewPatchMetaFromStruct``) — for built-in kinds that is the same patch metadata the real
schemas carry (inferred equivalence). ``/openapi/v2`` is served as JSON only (kubectl asks for
protobuf first; the twin answers 406 and kubectl's v3 path is the one used — inferred from
client-go ``discovery_client.go`` ``OpenAPISchema``). The server does not enforce strict
field validation (unknown fields are dropped silently, as with ``fieldValidation=Ignore``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from autoscaler.sim.k8s.discovery import K8S_VERSION, SERVED
from autoscaler.sim.k8s.types import STATEFULSETS, Obj, ResourceType

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _param(name: str, where: str = "query", v3: bool = True) -> Obj:
    if v3:
        return {"name": name, "in": where, "schema": {"type": "string", "uniqueItems": True}}
    return {"name": name, "in": where, "type": "string", "uniqueItems": True}


def _operations(rt: ResourceType, *, v3: bool) -> dict[str, Obj]:
    """Paths → operations for one resource (collection, item, scale/status)."""
    gvk = {"group": rt.group, "kind": rt.kind, "version": rt.version}
    prefix = "/" + _gv_path(rt.group, rt.version)
    base = (
        f"{prefix}/namespaces/{{namespace}}/{rt.resource}"
        if rt.namespaced
        else (f"{prefix}/{rt.resource}")
    )
    ref = f"#/components/schemas/{rt.kind}" if v3 else f"#/definitions/{rt.kind}"
    schema = {"$ref": ref}

    def op(action: str, verb: str, *, body: tuple[str, ...] = (), kind: Obj = gvk) -> Obj:
        out: Obj = {
            "operationId": f"{verb}{rt.kind}",
            "parameters": [_param(q, v3=v3) for q in _QUERY],
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": kind,
        }
        if body:
            if v3:
                out["requestBody"] = {"content": {c: {"schema": schema} for c in body}}
            else:
                out["parameters"].append({"name": "body", "in": "body", "required": True,
                                          "schema": schema})  # fmt: skip
                out["consumes"] = list(body)
        return out

    patch_types = (
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    )
    paths: dict[str, Obj] = {
        base: {
            "get": op("list", "list"),
            "post": op("post", "create", body=("application/json",)),
        },
        f"{base}/{{name}}": {
            "get": op("get", "read"),
            "put": op("put", "replace", body=("application/json",)),
            "patch": op("patch", "patch", body=patch_types),
            "delete": op("delete", "delete"),
        },
    }
    if rt is STATEFULSETS:
        scale = {"group": "autoscaling", "kind": "Scale", "version": "v1"}
        paths[f"{base}/{{name}}/scale"] = {
            "get": op("get", "readScale", kind=scale),
            "put": op("put", "replaceScale", body=("application/json",), kind=scale),
            "patch": op("patch", "patchScale", body=patch_types, kind=scale),
        }
    return paths


def _schemas() -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    for rts in SERVED.values():
        for rt in rts:
            out[rt.kind] = {
                "type": "object",
                "description": f"{rt.kind} (stub schema served by the twin)",
                "x-kubernetes-group-version-kind": [
                    {"group": rt.group, "kind": rt.kind, "version": rt.version}
                ],
            }
    return out


def v3_document(group: str, version: str) -> Obj:
    paths: dict[str, Obj] = {}
    for rt in SERVED.get((group, version), ()):
        paths.update(_operations(rt, v3=True))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": K8S_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": _schemas()},
    }


def _hash(doc: Any) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def v3_root() -> Obj:
    paths = {}
    for group, version in SERVED:
        path = _gv_path(group, version)
        paths[path] = {
            "serverRelativeURL": f"/openapi/v3/{path}?hash={_hash(v3_document(group, version))}"
        }
    return {"paths": paths}


def v3_for_path(path: str) -> Obj | None:
    """The v3 document at ``/openapi/v3/<path>`` or ``None``."""
    for group, version in SERVED:
        if _gv_path(group, version) == path:
            return v3_document(group, version)
    return None


def v2_document() -> Obj:
    paths: dict[str, Obj] = {}
    for rts in SERVED.values():
        for rt in rts:
            paths.update(_operations(rt, v3=False))
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": K8S_VERSION["gitVersion"]},
        "paths": paths,
        "definitions": _schemas(),
    }
