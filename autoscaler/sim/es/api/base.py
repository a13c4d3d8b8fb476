"""The Elasticsearch REST wire of the twin (aiohttp routes over a ``Cluster`` model).

The autoscaler talks to Elasticsearch through the real ``elasticsearch[async]`` client, so
the twin must answer exactly as a server would: paths, query parameters (unknown ones are
refused), the ``X-elastic-product`` header, content types and ``compatible-with``
negotiation of the emulated version, error bodies (``no handler found ...``, 405, 404,
``media_type_header_exception``), 408 health timeouts, ``filter_path`` and the ``_cat``
text/JSON tables. Reference: ``tests/fixtures/elasticsearch/BEHAVIOUR.md``.

Waiting endpoints (``_cluster/health?wait_for_*``, voting exclusions with
``wait_for_removal``): with a virtual clock nothing can change while a request waits, so they
answer at once with the current state (408 / timeout error when the condition is unmet);
with a real-time clock they poll the model until the condition holds or the (simulated)
timeout passes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from autoscaler.sim.es.cluster import Cluster
from autoscaler.sim.es.errors import EsError, illegal_argument
from autoscaler.sim.es.shards import Node
from autoscaler.sim.es.units import glob_rx, parse_time_value
from autoscaler.sim.filterpath import apply_filter_path

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


PRODUCT_HEADER = "X-elastic-product"


COMPAT_KEY: web.RequestKey[int | None] = web.RequestKey("es_compat")


COMMON_PARAMS = frozenset(
    {"pretty", "human", "error_trace", "filter_path", "format", "source", "source_content_type"}
)


_VENDOR_RE = re.compile(
    r"application/vnd\.elasticsearch\+[a-z\-]+\s*;\s*compatible-with\s*=\s*(\d+)", re.IGNORECASE
)


_LUCENE_8X = {
    0: "9.0.0",
    1: "9.0.0",
    2: "9.1.0",
    3: "9.2.0",
    4: "9.3.0",
    5: "9.4.1",
    6: "9.4.2",
    7: "9.5.0",
    8: "9.6.0",
    9: "9.7.0",
    10: "9.7.0",
    11: "9.8.0",
    12: "9.9.2",
    13: "9.10.0",
    14: "9.10.0",
    15: "9.11.1",
    16: "9.12.0",
    17: "9.12.0",
    18: "9.12.1",
    19: "9.12.2",
}


def bool_param(request: web.Request, name: str, default: bool) -> bool:
    """A boolean query parameter parsed as ES's REST layer does (``?x`` = true, strict)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default if raw is None else True
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise illegal_argument(f"Failed to parse value [{raw}] as only [true] or [false] are allowed.")


def index_not_found(name: str) -> EsError:
    """The 404 ``index_not_found_exception`` for ``name``."""
    return EsError(
        404,
        "index_not_found_exception",
        f"no such index [{name}]",
        meta={
            "resource.type": "index_or_alias",
            "resource.id": name,
            "index_uuid": "_na_",
            "index": name,
        },
    )


class EsApiBase:
    """Plumbing every handler shares: compat negotiation, rendering, errors, routing, node and index resolution."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def major(self) -> int:
        return self.cluster.major

    def allowed_compat(self) -> tuple[int, int]:
        m = self.major
        return (m, m) if m <= 7 else (m, m - 1)

    def check_compat(self, request: web.Request) -> int | None:
        """Apply ``RestCompatibleVersionHelper`` rules; return the requested version (or None)."""
        cur, minimum = self.allowed_compat()
        accept = request.headers.get("Accept")
        ctype = request.headers.get("Content-Type")
        am = _VENDOR_RE.search(accept) if accept else None
        av = int(am.group(1)) if am else None
        has_body = request.body_exists
        cm = _VENDOR_RE.search(ctype) if (ctype and has_body) else None
        cv = int(cm.group(1)) if cm else None

        def fail(msg: str) -> EsError:
            return EsError(
                400,
                "media_type_header_exception",
                "Invalid media-type value on headers [Accept, Content-Type]",
                caused_by=EsError(400, "status_exception", msg),
            )

        if av is not None and av not in (cur, minimum):
            raise fail(
                f"Accept version must be either version {cur} or {minimum}, but found {av}. Accept={accept}"
            )
        if has_body and cv is not None and cv not in (cur, minimum):
            raise fail(
                f"Content-Type version must be either version {cur} or {minimum}, but found {cv}. "
                f"Content-Type={ctype}"
            )
        if has_body and ctype and accept and av != cv and (av is not None or cv is not None):
            if av is not None and cv is not None:
                raise fail(
                    "A compatible version is required on both Content-Type and Accept headers if either one "
                    "has requested a compatible version and the compatible versions must match. "
                    f"Accept={accept}, Content-Type={ctype}"
                )
            if accept.strip() != "*/*":
                raise fail(
                    "A compatible version is required on both Content-Type and Accept headers if either one "
                    f"has requested a compatible version. Accept={accept}, Content-Type={ctype}"
                )
        return av if av is not None else cv

    def json_content_type(self, request: web.Request) -> str:
        compat = request.get(COMPAT_KEY)
        if compat is not None:
            return f"application/vnd.elasticsearch+json;compatible-with={compat}"
        if self.major <= 7:
            return "application/json; charset=UTF-8"
        return "application/json"

    def respond(
        self, request: web.Request, body: Any, status: int = 200, *, filtered: bool = True
    ) -> web.Response:
        fp = request.query.getall("filter_path", []) if filtered else []
        if fp and body is not None:
            body = apply_filter_path(body, ",".join(fp))
        pretty = "pretty" in request.query and request.query.get("pretty") != "false"
        if body is None:
            data = b""
        elif pretty:
            data = (json.dumps(body, indent=2) + "\n").encode()
        else:
            data = json.dumps(body, separators=(",", ":")).encode()
        return web.Response(
            body=data, status=status, headers={"Content-Type": self.json_content_type(request)}
        )

    def error(self, request: web.Request, err: EsError) -> web.Response:
        # ES builds error bodies unfiltered: AbstractRestChannel.newErrorBuilder "Disable
        # filtering when building error responses" (filter_path never hides an error).
        resp = self.respond(request, err.body(), status=err.status, filtered=False)
        for k, v in err.headers.items():
            resp.headers[k] = v
        return resp

    async def read_body(self, request: web.Request) -> dict[str, Any] | None:
        if not request.body_exists:
            return None
        raw = await request.read()
        if not raw.strip():
            return None
        ctype = request.headers.get("Content-Type")
        if not ctype:
            raise EsError(406, "", "Content-Type header is missing", simple=True)
        try:
            body = json.loads(raw)
        except ValueError as e:
            raise EsError(
                400, "x_content_parse_exception", f"Failed to parse object: {e}"
            ) from None
        if not isinstance(body, dict):
            raise EsError(400, "parse_exception", "request body is required to be an object")
        return body

    def route(
        self,
        app: web.Application,
        method: str,
        path: str,
        handler: Handler,
        params: Iterable[str] = (),
        resources: set[int] | None = None,
        *,
        needs_master: bool = True,
    ) -> None:
        """Add a route; unknown query parameters are refused, then (``needs_master``) a
        master-routed action waits ``master_timeout`` for a master and fails with 503."""
        allowed = COMMON_PARAMS | frozenset(params)

        async def wrapped(request: web.Request) -> web.StreamResponse:
            unknown = sorted(k for k in request.query if k not in allowed)
            if unknown:
                what = "parameter" if len(unknown) == 1 else "parameters"
                raise illegal_argument(
                    f"request [{request.path}] contains unrecognized {what}: "
                    + ", ".join(f"[{u}]" for u in unknown)
                )
            # ``local=true`` runs a master-node *read* action on the receiving node
            # (TransportMasterNodeReadAction), so it answers without a master
            if needs_master and request.query.get("local") not in ("", "true"):
                await self.require_master(request)
            return await handler(request)

        r = app.router.add_route(method, path, wrapped)
        if resources is not None:
            resources.add(id(r.resource))

    async def require_master(self, request: web.Request) -> None:
        """Master-routed actions fail with 503 after ``master_timeout`` when no master exists."""
        cl = self.cluster
        if cl.master() is not None:
            return
        wait = parse_time_value(request.query.get("master_timeout", "30s"), "master_timeout")
        deadline = cl.clock.time() + max(0.0, wait)
        while cl.master() is None:
            if cl.is_virtual or cl.clock.time() >= deadline:
                raise EsError(503, "master_not_discovered_exception", None)
            await asyncio.sleep(0.05)

    def version_info(self) -> dict[str, Any]:
        v = self.cluster.version
        major, minor, _ = self.cluster.version_tuple
        if major <= 7:
            lucene, wire, index = "8.11.3", "6.8.0", "6.0.0-beta1"
        elif major == 8:
            lucene, wire, index = _LUCENE_8X.get(minor, "9.12.2"), "7.17.0", "7.0.0"
        else:
            lucene, wire, index = "10.1.0" if minor == 0 else "10.2.2", "8.18.0", "8.0.0"
        return {
            "number": v,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": hashlib.sha1(f"elasticsearch-{v}".encode()).hexdigest(),
            "build_date": "2025-01-09T14:09:01.578835424Z",
            "build_snapshot": False,
            "lucene_version": lucene,
            "minimum_wire_compatibility_version": wire,
            "minimum_index_compatibility_version": index,
        }

    def local_node(self) -> Node | None:
        nodes = self.cluster.nodes()
        return nodes[0] if nodes else None

    async def root(self, request: web.Request) -> web.StreamResponse:
        local = self.local_node()
        body = {
            "name": local.name if local else f"{self.cluster.cluster_name}-0",
            "cluster_name": self.cluster.cluster_name,
            "cluster_uuid": self.cluster.cluster_uuid if self.cluster.master() else "_na_",
            "version": self.version_info(),
            "tagline": "You Know, for Search",
        }
        if request.method == "HEAD":
            return web.Response(
                status=200, headers={"Content-Type": self.json_content_type(request)}
            )
        return self.respond(request, body)

    def resolve_nodes(self, spec: str | None) -> list[Node]:
        nodes = self.cluster.nodes()
        if spec is None or spec.strip() in ("", "_all"):
            return nodes
        chosen: dict[str, Node] = {}
        roles_map = {
            "master": "master",
            "data": None,
            "ingest": "ingest",
            "voting_only": "voting_only",
            "ml": "ml",
            "remote_cluster_client": "remote_cluster_client",
            "transform": "transform",
        }
        for token in (t.strip() for t in spec.split(",")):
            if not token:
                continue
            if token == "_all":
                chosen.update((n.name, n) for n in nodes)
            elif token == "_local":
                local = self.local_node()
                if local is not None:
                    chosen[local.name] = local
            elif token == "_master":
                m = self.cluster.master()
                if m is not None:
                    chosen[m.name] = m
            elif ":" in token:
                key, _, val = token.partition(":")
                flag = val.lower() == "true"
                if key in roles_map or key.startswith("data_") or key == "coordinating_only":
                    for n in nodes:
                        if key == "data":
                            has = n.is_data
                        elif key == "coordinating_only":
                            has = not n.roles
                        else:
                            has = key in n.roles
                        if has and flag:
                            chosen[n.name] = n
                        elif has and not flag:
                            chosen.pop(n.name, None)
                else:
                    krx, vrx = glob_rx(key), glob_rx(val)
                    for n in nodes:
                        if any(krx.match(k) and vrx.match(v) for k, v in n.attributes.items()):
                            chosen[n.name] = n
            else:
                rx = glob_rx(token)
                for n in nodes:
                    if n.id == token or rx.match(n.name) or rx.match(n.ip) or rx.match(n.id):
                        chosen[n.name] = n
        return [n for n in nodes if n.name in chosen]

    def _resolve_indices(self, expr: str | None) -> tuple[list[str], list[str]]:
        """(matching index names, missing concrete names)."""
        names = [i.name for i in self.cluster.indices()]
        if expr is None or expr in ("", "_all", "*"):
            return names, []
        found: list[str] = []
        missing: list[str] = []
        for token in (t.strip() for t in expr.split(",")):
            if not token:
                continue
            if "*" in token:
                rx = glob_rx(token)
                found.extend(n for n in names if rx.match(n) and n not in found)
            elif token in names:
                if token not in found:
                    found.append(token)
            else:
                missing.append(token)
        return found, missing
