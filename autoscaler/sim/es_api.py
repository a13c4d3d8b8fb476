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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from autoscaler.sim.cluster import (
    INITIALIZING,
    RELOCATING,
    UNASSIGNED,
    Cluster,
    EsError,
    Node,
    ShardCopy,
    format_bytes,
    format_time,
    illegal_argument,
    iso_ms,
    parse_time_value,
    structured,
    validation_failed,
)
from autoscaler.sim.filterpath import apply_filter_path
from autoscaler.sim.loadmodel import ALL_METRICS, node_stats_doc

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
_NO_UNASSIGNED_OLD = (
    "No shard was specified in the request which means the response should explain a "
    "randomly-chosen unassigned shard, but there are no unassigned shards in this cluster. To "
    "explain the allocation of an assigned shard you must specify the target shard in the request."
)
_NO_UNASSIGNED_NEW = (
    "There are no unassigned shards in this cluster. Specify an assigned shard in the request body "
    "to explain its allocation. See https://www.elastic.co/docs/api/doc/elasticsearch/v9/operation/"
    "operation-cluster-allocation-explain for more information."
)
_NO_SHARD_NOTE = (
    "No shard was specified in the explain API request, so this response explains a randomly "
    "chosen unassigned shard. There may be other unassigned shards in this cluster which cannot be "
    "assigned for different reasons. It may not be possible to assign this shard until one of the "
    "other shards is assigned correctly. To explain the allocation of other shards (whether "
    "assigned or unassigned) you must specify the target shard in the request to this API."
)
_STATUS_RANK = {"green": 0, "yellow": 1, "red": 2}


def _bool_param(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default if raw is None else True
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise illegal_argument(f"Failed to parse value [{raw}] as only [true] or [false] are allowed.")


def _glob_rx(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")


# --------------------------------------------------------------------------- _cat tables


@dataclass(frozen=True)
class Col:
    name: str
    aliases: tuple[str, ...] = ()
    default: bool = True
    right: bool = False


def _render_table(
    request: web.Request,
    cols: Sequence[Col],
    rows: list[dict[str, Any]],
    *,
    json_out: bool,
) -> tuple[Any, str]:
    """Select columns (``h``), sort (``s``) and render as JSON rows or an aligned text table."""
    h = request.query.get("h")
    selected: list[tuple[str, Col]] = []
    if h:
        for token in (t.strip() for t in h.split(",")):
            if not token:
                continue
            if "*" in token:
                rx = _glob_rx(token)
                for c in cols:
                    if rx.match(c.name) or any(rx.match(a) for a in c.aliases):
                        selected.append((c.name, c))
            else:
                for c in cols:
                    if token == c.name or token in c.aliases:
                        selected.append((token, c))
                        break
    else:
        selected = [(c.name, c) for c in cols if c.default]
    sort = request.query.get("s")
    if sort:
        keys = []
        for token in sort.split(","):
            name, _, direction = token.partition(":")
            col = next((c for c in cols if name == c.name or name in c.aliases), None)
            if col is None:
                raise EsError(
                    500,
                    "unsupported_operation_exception",
                    f"Unable to sort by unknown sort key `{name}`",
                )
            keys.append((col.name, direction == "desc"))
        for colname, desc in reversed(keys):

            def row_key(r: dict[str, Any], k: str = colname) -> tuple[int, Any]:
                return _sort_key(r.get("_sort_" + k, r.get(k)))

            rows.sort(key=row_key, reverse=desc)
    if json_out:
        return [{key: r.get(c.name) for key, c in selected} for r in rows], "json"
    table = [
        [("" if r.get(c.name) is None else str(r.get(c.name))) for _, c in selected] for r in rows
    ]
    header = [key for key, _ in selected]
    verbose = _bool_param(request, "v", False)
    widths = [len(hd) if verbose else 0 for hd in header]
    for row in table:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    if verbose:
        lines.append(" ".join(hd.ljust(widths[i]) for i, hd in enumerate(header)).rstrip())
    for row in table:
        cells = [
            cell.rjust(widths[i]) if selected[i][1].right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append(" ".join(cells).rstrip())
    return "".join(line + "\n" for line in lines), "text"


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (1, 0)
    if isinstance(v, (int, float)):
        return (0, v)
    try:
        return (0, float(v))
    except (TypeError, ValueError):
        return (0, str(v))


def _size(request: web.Request, n: int | float | None) -> str | None:
    if n is None:
        return None
    unit = request.query.get("bytes")
    mult = {
        "b": 1,
        "k": 2**10,
        "kb": 2**10,
        "m": 2**20,
        "mb": 2**20,
        "g": 2**30,
        "gb": 2**30,
        "t": 2**40,
        "tb": 2**40,
        "p": 2**50,
        "pb": 2**50,
    }
    if unit in mult:
        return str(int(n) // mult[unit])
    return format_bytes(n)


def _duration(request: web.Request, ms: float) -> str:
    unit = request.query.get("time")
    mult = {
        "nanos": 1e-6,
        "micros": 1e-3,
        "ms": 1.0,
        "s": 1000.0,
        "m": 60000.0,
        "h": 3600000.0,
        "d": 86400000.0,
    }
    if unit in mult:
        return str(int(ms / mult[unit]))
    return format_time(ms)


# --------------------------------------------------------------------------- the API


def _shard_counts(counts: Mapping[str, Any], vt: tuple[int, ...]) -> dict[str, Any]:
    """The shard-state counters of a health body, in ES's key order, at any level;
    ``unassigned_primary_shards`` exists from 8.16 on."""
    out = {
        k: counts.get(k, 0)
        for k in ("active_shards", "relocating_shards", "initializing_shards", "unassigned_shards")
    }
    if vt >= (8, 16):
        out["unassigned_primary_shards"] = counts.get("unassigned_primary_shards", 0)
    return out


class EsApi:
    """Route handlers bound to one cluster model."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    # ------------------------------------------------------------------ plumbing

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

    def respond(self, request: web.Request, body: Any, status: int = 200) -> web.Response:
        fp = request.query.getall("filter_path", [])
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
        resp = self.respond(request, err.body(), status=err.status)
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
    ) -> None:
        allowed = COMMON_PARAMS | frozenset(params)

        async def wrapped(request: web.Request) -> web.StreamResponse:
            unknown = sorted(k for k in request.query if k not in allowed)
            if unknown:
                what = "parameter" if len(unknown) == 1 else "parameters"
                raise illegal_argument(
                    f"request [{request.path}] contains unrecognized {what}: "
                    + ", ".join(f"[{u}]" for u in unknown)
                )
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

    # ------------------------------------------------------------------ GET /

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

    # ------------------------------------------------------------------ node selection

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
                    krx, vrx = _glob_rx(key), _glob_rx(val)
                    for n in nodes:
                        if any(krx.match(k) and vrx.match(v) for k, v in n.attributes.items()):
                            chosen[n.name] = n
            else:
                rx = _glob_rx(token)
                for n in nodes:
                    if n.id == token or rx.match(n.name) or rx.match(n.ip) or rx.match(n.id):
                        chosen[n.name] = n
        return [n for n in nodes if n.name in chosen]

    # ------------------------------------------------------------------ _nodes/stats

    def _parse_metrics(self, request: web.Request, raw: str | None) -> frozenset[str]:
        if raw is None:
            return frozenset(ALL_METRICS)
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if "_all" in parts:
            if len(parts) > 1:
                raise illegal_argument(
                    f"request [{request.path}] contains _all and individual metrics [{raw}]"
                )
            return frozenset(ALL_METRICS)
        bad = [p for p in parts if p not in ALL_METRICS]
        if bad:
            what = "metric" if len(bad) == 1 else "metrics"
            raise illegal_argument(
                f"request [{request.path}] contains unrecognized {what}: "
                + ", ".join(f"[{b}]" for b in bad)
            )
        return frozenset(parts)

    def nodes_stats_body(
        self, node_spec: str | None, metrics: frozenset[str], index_metrics: list[str] | None
    ) -> dict[str, Any]:
        cl = self.cluster
        chosen = self.resolve_nodes(node_spec)
        now = cl.clock.time()
        out_nodes: dict[str, Any] = {}
        for n in chosen:
            load = cl.load.nodes.get(n.id)
            if load is None:
                continue
            doc = node_stats_doc(
                cl.node_facts(n), load, model=cl.load, now=now, major=cl.major, metrics=metrics
            )
            if index_metrics and "indices" in doc:
                doc["indices"] = {k: v for k, v in doc["indices"].items() if k in index_metrics}
            out_nodes[n.id] = doc
        return {
            "_nodes": {"total": len(out_nodes), "successful": len(out_nodes), "failed": 0},
            "cluster_name": cl.cluster_name,
            "nodes": out_nodes,
        }

    async def nodes_stats(self, request: web.Request) -> web.StreamResponse:
        mi = request.match_info
        level = request.query.get("level")
        if level is not None and level not in ("node", "indices", "shards"):
            raise illegal_argument(
                f"level parameter must be one of [node] or [indices] or [shards] but was [{level}]"
            )
        metrics = self._parse_metrics(request, mi.get("metric"))
        index_metrics = None
        if mi.get("index_metric"):
            if "indices" not in metrics:
                raise illegal_argument(
                    f"request [{request.path}] contains index metrics [{mi['index_metric']}] but indices stats not requested"
                )
            if mi.get("metric") == "_all":
                raise illegal_argument(
                    f"request [{request.path}] contains index metrics [{mi['index_metric']}] but all stats requested"
                )
            index_metrics = [
                m.strip() for m in mi["index_metric"].split(",") if m.strip() and m != "_all"
            ] or None
        return self.respond(
            request, self.nodes_stats_body(mi.get("node_id"), metrics, index_metrics)
        )

    # ------------------------------------------------------------------ _nodes (info)

    _INFO_METRICS = frozenset(
        {
            "settings",
            "os",
            "process",
            "jvm",
            "thread_pool",
            "transport",
            "http",
            "plugins",
            "ingest",
            "aggregations",
            "indices",
        }
    )

    async def nodes_info(self, request: web.Request) -> web.StreamResponse:
        mi = request.match_info
        node_spec = mi.get("node_id")
        metric_raw = mi.get("metric")
        if node_spec is not None and metric_raw is None:
            parts = {p.strip() for p in node_spec.split(",")}
            if parts <= (self._INFO_METRICS | {"_all"}) and parts != {"_all"}:
                metric_raw, node_spec = node_spec, None
        metrics = set(self._INFO_METRICS)
        if metric_raw and metric_raw != "_all":
            metrics = {m.strip() for m in metric_raw.split(",")}
        cl = self.cluster
        out: dict[str, Any] = {}
        for n in self.resolve_nodes(node_spec):
            doc: dict[str, Any] = {
                "name": n.name,
                "transport_address": f"{n.ip}:9300",
                "host": n.host,
                "ip": n.ip,
                "version": cl.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": self.version_info()["build_hash"],
                "total_indexing_buffer": n.heap_bytes // 10,
                "roles": list(n.roles),
                "attributes": dict(n.attributes),
            }
            if "settings" in metrics:
                doc["settings"] = {
                    "cluster": {"name": cl.cluster_name},
                    "node": {"name": n.name, "attr": dict(n.attributes)},
                }
            if "os" in metrics:
                p = cl.load.capacity.processors
                doc["os"] = {
                    "refresh_interval_in_millis": 1000,
                    "name": "Linux",
                    "pretty_name": "Ubuntu 22.04.4 LTS",
                    "arch": "amd64",
                    "version": "5.15.0",
                    "available_processors": p,
                    "allocated_processors": p,
                }
            if "process" in metrics:
                doc["process"] = {"refresh_interval_in_millis": 1000, "id": 7, "mlockall": False}
            if "jvm" in metrics:
                doc["jvm"] = {
                    "pid": 7,
                    "version": "21.0.2",
                    "vm_name": "OpenJDK 64-Bit Server VM",
                    "start_time_in_millis": int(n.joined_at * 1000),
                    "mem": {
                        "heap_init_in_bytes": n.heap_bytes,
                        "heap_max_in_bytes": n.heap_bytes,
                        "non_heap_init_in_bytes": 7667712,
                        "non_heap_max_in_bytes": 0,
                        "direct_max_in_bytes": 0,
                    },
                }
            if "transport" in metrics:
                doc["transport"] = {
                    "bound_address": [f"{n.ip}:9300"],
                    "publish_address": f"{n.ip}:9300",
                    "profiles": {},
                }
            if "http" in metrics:
                doc["http"] = {
                    "bound_address": [f"{n.ip}:9200"],
                    "publish_address": f"{n.ip}:9200",
                    "max_content_length_in_bytes": 104857600,
                }
            out[n.id] = doc
        return self.respond(
            request,
            {
                "_nodes": {"total": len(out), "successful": len(out), "failed": 0},
                "cluster_name": cl.cluster_name,
                "nodes": out,
            },
        )

    # ------------------------------------------------------------------ _cluster/health

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
                rx = _glob_rx(token)
                found.extend(n for n in names if rx.match(n) and n not in found)
            elif token in names:
                if token not in found:
                    found.append(token)
            else:
                missing.append(token)
        return found, missing

    def health_body(
        self, request: web.Request, index_expr: str | None
    ) -> tuple[dict[str, Any], bool]:
        found, missing = self._resolve_indices(index_expr)
        cl = self.cluster
        h = cl.health(found)
        status = "red" if missing else h["status"]
        vt = cl.version_tuple[:2]
        body: dict[str, Any] = {
            "cluster_name": cl.cluster_name,
            "status": status,
            "timed_out": False,
            "number_of_nodes": h["number_of_nodes"],
            "number_of_data_nodes": h["number_of_data_nodes"],
            "active_primary_shards": h["active_primary_shards"],
            **_shard_counts(h, vt),
        }
        body["delayed_unassigned_shards"] = h["delayed_unassigned_shards"]
        body["number_of_pending_tasks"] = 0
        body["number_of_in_flight_fetch"] = 0
        human = "human" in request.query and request.query.get("human") != "false"
        if human:
            body["task_max_waiting_in_queue"] = "0s"
        body["task_max_waiting_in_queue_millis"] = 0
        if human:
            body["active_shards_percent"] = f"{h['active_shards_percent_as_number']:.1f}%"
        body["active_shards_percent_as_number"] = float(h["active_shards_percent_as_number"])
        level = request.query.get("level", "cluster")
        if level in ("indices", "shards"):
            idx_out: dict[str, Any] = {}
            for name, ih in h["indices"].items():
                ic = ih["counts"]
                entry: dict[str, Any] = {
                    "status": ("green", "yellow", "red")[ih["rank"]],
                    "number_of_shards": ih["number_of_shards"],
                    "number_of_replicas": ih["number_of_replicas"],
                    "active_primary_shards": ic["active_primary_shards"],
                    **_shard_counts(ic, vt),
                }
                if level == "shards":
                    shards: dict[str, Any] = {}
                    for sid, sh in ih["shards"].items():
                        se = {
                            "status": ("green", "yellow", "red")[sh["rank"]],
                            "primary_active": sh["primary_active"],
                            **_shard_counts(sh, vt),
                        }
                        shards[sid] = se
                    entry["shards"] = shards
                idx_out[name] = entry
            body["indices"] = idx_out
        return body, not missing

    def _health_conditions(self, request: web.Request) -> Callable[[dict[str, Any]], bool]:
        q = request.query
        if "wait_for_relocating_shards" in q:
            raise illegal_argument(
                "wait_for_relocating_shards has been removed, use wait_for_no_relocating_shards [true/false] instead"
            )
        checks: list[Callable[[dict[str, Any]], bool]] = []
        ws = q.get("wait_for_status")
        if ws:
            if ws.lower() not in _STATUS_RANK:
                raise illegal_argument(
                    f"No enum constant org.elasticsearch.cluster.health.ClusterHealthStatus.{ws.upper()}"
                )
            want = _STATUS_RANK[ws.lower()]
            checks.append(lambda b: _STATUS_RANK[b["status"]] <= want)
        if _bool_param(request, "wait_for_no_relocating_shards", False):
            checks.append(lambda b: b["relocating_shards"] == 0)
        if _bool_param(request, "wait_for_no_initializing_shards", False):
            checks.append(lambda b: b["initializing_shards"] == 0)
        wn = q.get("wait_for_nodes")
        if wn:
            checks.append(_nodes_condition(wn))
        wa = q.get("wait_for_active_shards")
        if wa:
            if wa == "all":
                checks.append(
                    lambda b: b["unassigned_shards"] == 0 and b["initializing_shards"] == 0
                )
            else:
                try:
                    want_active = int(wa)
                except ValueError:
                    raise illegal_argument(f'For input string: "{wa}"') from None
                checks.append(lambda b: b["active_shards"] >= want_active)
        return lambda b: all(c(b) for c in checks)

    async def health(self, request: web.Request) -> web.StreamResponse:
        level = request.query.get("level")
        if level is not None and level not in ("cluster", "indices", "shards"):
            raise illegal_argument(
                f"level parameter must be one of [cluster] or [indices] or [shards] but was [{level}]"
            )
        timeout = parse_time_value(request.query.get("timeout", "30s"), "timeout")
        if "master_timeout" in request.query:
            parse_time_value(request.query["master_timeout"], "master_timeout")
        cond = self._health_conditions(request)
        if not _bool_param(request, "local", False):
            await self.require_master(request)
        index_expr = request.match_info.get("index")
        cl = self.cluster
        deadline = cl.clock.time() + max(0.0, timeout)
        while True:
            body, indices_ok = self.health_body(request, index_expr)
            ok = indices_ok and cond(body)
            if ok:
                return self.respond(request, body)
            if cl.is_virtual or cl.clock.time() >= deadline:
                body["timed_out"] = True
                return self.respond(request, body, status=408)
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ _cluster/settings

    def _render_settings(self, flat: dict[str, Any], flat_settings: bool) -> dict[str, Any]:
        if flat_settings:
            return dict(sorted(flat.items()))
        return structured(flat)

    async def get_settings(self, request: web.Request) -> web.StreamResponse:
        flat_settings = _bool_param(request, "flat_settings", False)
        include_defaults = _bool_param(request, "include_defaults", False)
        _bool_param(request, "local", False)
        cl = self.cluster
        body: dict[str, Any] = {
            "persistent": self._render_settings(dict(cl.persistent), flat_settings),
            "transient": self._render_settings(dict(cl.transient), flat_settings),
        }
        if include_defaults:
            body["defaults"] = self._render_settings(dict(cl.defaults()), flat_settings)
        return self.respond(request, body)

    async def put_settings(self, request: web.Request) -> web.StreamResponse:
        flat_settings = _bool_param(request, "flat_settings", False)
        await self.require_master(request)
        body = await self.read_body(request)
        if body is None:
            raise validation_failed(["no settings to update"])
        unknown = [k for k in body if k not in ("persistent", "transient")]
        if unknown:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[1:2] [cluster_update_settings_request] unknown field [{unknown[0]}]",
            )
        if not body.get("persistent") and not body.get("transient"):
            raise validation_failed(["no settings to update"])
        p, t = self.cluster.update_settings(
            persistent=body.get("persistent") or None, transient=body.get("transient") or None
        )
        return self.respond(
            request,
            {
                "acknowledged": True,
                "persistent": self._render_settings(p, flat_settings),
                "transient": self._render_settings(t, flat_settings),
            },
        )

    # ------------------------------------------------------------------ _cat

    def _cat_respond(
        self, request: web.Request, cols: Sequence[Col], rows: list[dict[str, Any]]
    ) -> web.Response:
        if _bool_param(request, "help", False):
            text = "".join(f"{c.name} | {','.join(c.aliases)} |\n" for c in cols)
            return web.Response(
                body=text.encode(), headers={"Content-Type": "text/plain; charset=UTF-8"}
            )
        fmt = request.query.get("format")
        if fmt is None:
            accept = request.headers.get("Accept", "")
            first = accept.split(",")[0].strip().lower()
            json_out = "json" in first and "text/plain" not in first
        else:
            json_out = fmt.lower() == "json"
            if fmt.lower() not in ("json", "txt", "text"):
                raise illegal_argument(f"unsupported format [{fmt}]")
        data, kind = _render_table(request, cols, rows, json_out=json_out)
        if kind == "json":
            return self.respond(request, data)
        return web.Response(
            body=str(data).encode(), headers={"Content-Type": "text/plain; charset=UTF-8"}
        )

    def _shard_cols(self) -> list[Col]:
        cols = [
            Col("index", ("i", "idx")),
            Col("shard", ("s", "sh"), right=True),
            Col("prirep", ("p", "pr", "primaryOrReplica"), right=True),
            Col("state", ("st",)),
            Col("docs", ("d", "dc"), right=True),
            Col("store", ("sto",), right=True),
        ]
        if self.cluster.version_tuple[:2] >= (8, 11):
            cols.append(Col("dataset", ("ds",), right=True))
        cols += [
            Col("ip"),
            Col("id", default=False),
            Col("node", ("n",)),
            Col("sync_id", default=False),
            Col("unassigned.reason", ("ur",), default=False),
            Col("unassigned.at", ("ua",), default=False),
            Col("unassigned.for", ("uf",), default=False),
            Col("unassigned.details", ("ud",), default=False),
            Col("recoverysource.type", ("rs",), default=False),
        ]
        return cols

    async def cat_shards(self, request: web.Request) -> web.StreamResponse:
        cl = self.cluster
        names, missing = self._resolve_indices(request.match_info.get("index"))
        if missing:
            raise _index_not_found(missing[0])
        now = cl.clock.time()
        rows = []
        for name in names:
            idx = next(i for i in cl.indices() if i.name == name)
            for copies in idx.shards:
                for c in sorted(copies, key=lambda c: not c.primary):
                    rows.append(self._shard_row(request, c, now))
        return self._cat_respond(request, self._shard_cols(), rows)

    def _shard_row(self, request: web.Request, c: ShardCopy, now: float) -> dict[str, Any]:
        cl = self.cluster
        node = cl.node(c.node) if c.node is not None else None
        store: int | None = None
        docs: int | None = None
        if c.state in ("STARTED", RELOCATING):
            store, docs = c.size, c.docs
        elif c.state == INITIALIZING and c.recovery is not None:
            store, docs = int(c.recovery.done), 0
        node_col = node.name if node else None
        if c.state == RELOCATING and c.relocating_to and node is not None:
            tgt = cl.node(c.relocating_to)
            node_col = f"{node.name} -> {tgt.ip} {tgt.id} {tgt.name}"
        un = c.state == UNASSIGNED
        return {
            "index": c.index,
            "shard": str(c.shard),
            "prirep": "p" if c.primary else "r",
            "state": c.state,
            "docs": None if docs is None else str(docs),
            "store": _size(request, store),
            "_sort_store": store,
            "dataset": _size(request, store),
            "ip": node.ip if node else None,
            "id": node.id if node else None,
            "node": node_col,
            "sync_id": None,
            "unassigned.reason": c.unassigned_reason if un else None,
            "unassigned.at": iso_ms(c.unassigned_at) if un else None,
            "unassigned.for": _duration(request, (now - c.unassigned_at) * 1000) if un else None,
            "unassigned.details": c.unassigned_details if un else None,
            "recoverysource.type": (
                None
                if c.state != INITIALIZING or c.recovery is None
                else ("peer" if c.recovery.kind == "peer" else c.recovery.kind)
            ),
        }

    def _allocation_cols(self) -> list[Col]:
        vt = self.cluster.version_tuple[:2]
        cols = [Col("shards", ("s",), right=True)]
        if vt >= (8, 14):
            cols += [
                Col("shards.undesired", right=True),
                Col("write_load.forecast", ("wlf", "writeLoadForecast"), right=True),
                Col("disk.indices.forecast", ("dif", "diskIndicesForecast"), right=True),
            ]
        cols += [
            Col("disk.indices", ("di", "diskIndices"), right=True),
            Col("disk.used", ("du", "diskUsed"), right=True),
            Col("disk.avail", ("da", "diskAvail"), right=True),
            Col("disk.total", ("dt", "diskTotal"), right=True),
            Col("disk.percent", ("dp", "diskPercent"), right=True),
            Col("host", ("h",)),
            Col("ip"),
            Col("node", ("n",)),
        ]
        if vt >= (8, 10):
            cols.append(Col("node.role", ("r", "role", "nodeRole"), default=vt >= (8, 12)))
        return cols

    async def cat_allocation(self, request: web.Request) -> web.StreamResponse:
        cl = self.cluster
        spec = request.match_info.get("nodes")
        nodes = [n for n in self.resolve_nodes(spec) if n.is_data]
        rows: list[dict[str, Any]] = []
        for n in nodes:
            f = cl.node_facts(n)
            used = f.disk_used
            avail = f.disk_total - used
            rows.append(
                {
                    "shards": str(len(n.copies) - 0),
                    "_sort_shards": len(n.copies),
                    "shards.undesired": "0",
                    "write_load.forecast": "0.0",
                    "disk.indices.forecast": _size(request, f.store_bytes),
                    "disk.indices": _size(request, f.store_bytes),
                    "disk.used": _size(request, used),
                    "disk.avail": _size(request, avail),
                    "disk.total": _size(request, f.disk_total),
                    "disk.percent": str(used * 100 // max(1, used + avail)),
                    "host": n.host,
                    "ip": n.ip,
                    "node": n.name,
                    "node.role": cl.role_abbrev(n),
                }
            )
        unassigned = sum(1 for c in cl.copies() if c.state == UNASSIGNED)
        if unassigned:
            rows.append(
                {"shards": str(unassigned), "_sort_shards": unassigned, "node": "UNASSIGNED"}
            )
        return self._cat_respond(request, self._allocation_cols(), rows)

    async def cat_nodes(self, request: web.Request) -> web.StreamResponse:
        cl = self.cluster
        full_id = _bool_param(request, "full_id", False)
        master = cl.master()
        cols = [
            Col("id", ("nodeId",), default=False),
            Col("pid", ("p",), default=False),
            Col("ip", ("i",)),
            Col("port", ("po",), default=False),
            Col("http_address", ("http",), default=False),
            Col("version", ("v",), default=False),
            Col("heap.current", ("hc", "heapCurrent"), default=False, right=True),
            Col("heap.percent", ("hp", "heapPercent"), right=True),
            Col("heap.max", ("hm", "heapMax"), default=False, right=True),
            Col("ram.current", ("rc", "ramCurrent"), default=False, right=True),
            Col("ram.percent", ("rp", "ramPercent"), right=True),
            Col("ram.max", ("rm", "ramMax"), default=False, right=True),
            Col("disk.total", ("dt", "diskTotal"), default=False, right=True),
            Col("disk.used", ("du", "diskUsed"), default=False, right=True),
            Col("disk.avail", ("d", "da", "disk", "diskAvail"), default=False, right=True),
            Col("disk.used_percent", ("dup", "diskUsedPercent"), default=False, right=True),
            Col("cpu", right=True),
            Col("load_1m", ("l",), right=True),
            Col("load_5m", ("l",), right=True),
            Col("load_15m", ("l",), right=True),
            Col("uptime", ("u",), default=False, right=True),
            Col("node.role", ("r", "role", "nodeRole")),
            Col("master", ("m",)),
            Col("name", ("n",)),
        ]
        rows = []
        now = cl.clock.time()
        metrics = frozenset({"os", "jvm", "fs"})
        for n in self.resolve_nodes(None):
            load = cl.load.nodes.get(n.id)
            if load is None:
                continue
            f = cl.node_facts(n)
            doc = node_stats_doc(f, load, model=cl.load, now=now, major=cl.major, metrics=metrics)
            os_ = doc["os"]
            jvm = doc["jvm"]
            la = os_["cpu"]["load_average"]
            rows.append(
                {
                    "id": n.id if full_id else n.id[:4],
                    "pid": "7",
                    "ip": n.ip,
                    "port": "9300",
                    "http_address": f"{n.ip}:9200",
                    "version": cl.version,
                    "heap.current": _size(request, jvm["mem"]["heap_used_in_bytes"]),
                    "heap.percent": str(jvm["mem"]["heap_used_percent"]),
                    "heap.max": _size(request, n.heap_bytes),
                    "ram.current": _size(request, os_["mem"]["used_in_bytes"]),
                    "ram.percent": str(os_["mem"]["used_percent"]),
                    "ram.max": _size(request, os_["mem"]["total_in_bytes"]),
                    "disk.total": _size(request, f.disk_total),
                    "disk.used": _size(request, f.disk_used),
                    "disk.avail": _size(request, f.disk_total - f.disk_used),
                    "disk.used_percent": f"{f.disk_used * 100.0 / f.disk_total:.2f}",
                    "cpu": str(os_["cpu"]["percent"]),
                    "load_1m": f"{la['1m']:.2f}",
                    "load_5m": f"{la['5m']:.2f}",
                    "load_15m": f"{la['15m']:.2f}",
                    "uptime": _duration(request, doc["jvm"]["uptime_in_millis"]),
                    "node.role": cl.role_abbrev(n),
                    "master": "*" if master is n else "-",
                    "name": n.name,
                }
            )
        return self._cat_respond(request, cols, rows)

    async def cat_recovery(self, request: web.Request) -> web.StreamResponse:
        cl = self.cluster
        active_only = _bool_param(request, "active_only", False)
        names, missing = self._resolve_indices(request.match_info.get("index"))
        if missing:
            raise _index_not_found(missing[0])
        cols = [
            Col("index", ("i", "idx")),
            Col("shard", ("s", "sh"), right=True),
            Col("start_time", ("start",), default=False),
            Col("start_time_millis", ("start_millis",), default=False),
            Col("stop_time", ("stop",), default=False),
            Col("stop_time_millis", ("stop_millis",), default=False),
            Col("time", ("t", "ti"), right=True),
            Col("type", ("ty",)),
            Col("stage", ("st",)),
            Col("source_host", ("shost",)),
            Col("source_node", ("snode",)),
            Col("target_host", ("thost",)),
            Col("target_node", ("tnode",)),
            Col("repository", ("rep",)),
            Col("snapshot", ("snap",)),
            Col("files", ("f",), right=True),
            Col("files_recovered", ("fr",), right=True),
            Col("files_percent", ("fp",), right=True),
            Col("files_total", ("tf",), right=True),
            Col("bytes", ("b",), right=True),
            Col("bytes_recovered", ("br",), right=True),
            Col("bytes_percent", ("bp",), right=True),
            Col("bytes_total", ("tb",), right=True),
            Col("translog_ops", ("to",), right=True),
            Col("translog_ops_recovered", ("tor",), right=True),
            Col("translog_ops_percent", ("top",), right=True),
        ]
        now = cl.clock.time()
        rows = []
        wanted = set(names)
        for idx in cl.indices():
            if idx.name not in wanted:
                continue
            for copies in idx.shards:
                for c in sorted(copies, key=lambda c: not c.primary):
                    rec = c.recovery or c.last_recovery
                    if rec is None or c.state == UNASSIGNED:
                        continue
                    active = rec.stopped_at is None
                    if active_only and not active:
                        continue
                    stop = rec.stopped_at if rec.stopped_at is not None else now
                    pct = 100.0 if rec.total == 0 else rec.done * 100.0 / rec.total
                    files_total = max(1, rec.total // (64 * 2**20))
                    files_done = int(files_total * pct / 100.0)
                    src = (
                        cl.node(rec.source)
                        if rec.source is not None and rec.source in cl.node_names()
                        else None
                    )
                    tgt = cl.node(rec.target) if rec.target in cl.node_names() else None
                    rows.append(
                        {
                            "index": c.index,
                            "shard": str(c.shard),
                            "_sort_shard": c.shard,
                            "start_time": iso_ms(rec.started_at),
                            "start_time_millis": str(int(rec.started_at * 1000)),
                            "stop_time": iso_ms(stop) if not active else "-",
                            "stop_time_millis": str(int(stop * 1000)) if not active else "-",
                            "time": _duration(request, (stop - rec.started_at) * 1000),
                            "type": rec.kind,
                            "stage": "index" if active else "done",
                            "source_host": src.host if src else "n/a",
                            "source_node": src.name if src else (rec.source or "n/a"),
                            "target_host": tgt.host if tgt else "n/a",
                            "target_node": tgt.name if tgt else rec.target,
                            "repository": "n/a",
                            "snapshot": "n/a",
                            "files": str(files_total),
                            "files_recovered": str(files_done),
                            "files_percent": f"{pct:.1f}%",
                            "files_total": str(files_total),
                            "bytes": _size(request, rec.total),
                            "bytes_recovered": _size(request, rec.done),
                            "bytes_percent": f"{pct:.1f}%",
                            "bytes_total": _size(request, rec.total),
                            "translog_ops": "0",
                            "translog_ops_recovered": "0",
                            "translog_ops_percent": "100.0%",
                        }
                    )
        return self._cat_respond(request, cols, rows)

    # ------------------------------------------------------------------ voting exclusions

    def _timeout_error(self, reason: str) -> EsError:
        return EsError(429 if self.major >= 9 else 500, "timeout_exception", reason)

    async def post_voting_exclusions(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        names = [n for n in q.get("node_names", "").split(",") if n]
        ids = [n for n in q.get("node_ids", "").split(",") if n]
        if bool(names) == bool(ids):
            raise illegal_argument("You must set [node_names] or [node_ids] but not both")
        timeout = parse_time_value(q.get("timeout", "30s"), "timeout")
        if timeout < 0:
            raise illegal_argument(f"timeout [{q.get('timeout')}] must be non-negative")
        self.cluster.add_voting_exclusions(node_names=names, node_ids=ids)
        return self.respond(request, None)

    async def delete_voting_exclusions(self, request: web.Request) -> web.StreamResponse:
        wait = _bool_param(request, "wait_for_removal", True)
        cl = self.cluster
        if wait:
            deadline = cl.clock.time() + 30.0
            while cl.excluded_still_present():
                if cl.is_virtual or cl.clock.time() >= deadline:
                    pending = ", ".join(
                        f"{{{e['node_id']}}}{{{e['node_name']}}}"
                        for e in cl.excluded_still_present()
                    )
                    raise self._timeout_error(
                        "timed out waiting for removal of nodes; if nodes should not be removed, set "
                        f"waitForRemoval to false. [{pending}]"
                    )
                await asyncio.sleep(0.05)
        cl.clear_voting_exclusions()
        return self.respond(request, None)

    async def cluster_state(self, request: web.Request) -> web.StreamResponse:
        cl = self.cluster
        metrics = set((request.match_info.get("metric") or "_all").split(","))
        everything = "_all" in metrics
        body: dict[str, Any] = {"cluster_name": cl.cluster_name, "cluster_uuid": cl.cluster_uuid}
        master = cl.master()
        if everything or "master_node" in metrics:
            body["master_node"] = master.id if master else None
        if everything or "nodes" in metrics:
            body["nodes"] = {
                n.id: {
                    "name": n.name,
                    "ephemeral_id": n.id[::-1],
                    "transport_address": f"{n.ip}:9300",
                    "attributes": dict(n.attributes),
                    "roles": list(n.roles),
                }
                for n in cl.nodes()
            }
        if everything or "metadata" in metrics:
            cfg = cl.voting_config()
            body["metadata"] = {
                "cluster_uuid": cl.cluster_uuid,
                "cluster_uuid_committed": True,
                "cluster_coordination": {
                    "term": 1,
                    "last_committed_config": cfg,
                    "last_accepted_config": cfg,
                    "voting_config_exclusions": [dict(e) for e in cl.voting_exclusions],
                },
            }
        return self.respond(request, body)

    # ------------------------------------------------------------------ node shutdown

    async def put_shutdown(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_body(request) or {}
        errors = []
        if not body.get("type"):
            errors.append("the type of shutdown must be specified")
        if not body.get("reason"):
            errors.append("the reason for shutdown must be specified")
        if errors:
            raise validation_failed(errors)
        self.cluster.put_shutdown(
            request.match_info["node_id"],
            type_=str(body["type"]),
            reason=str(body["reason"]),
            allocation_delay=body.get("allocation_delay"),
            target_node_name=body.get("target_node_name"),
        )
        return self.respond(request, {"acknowledged": True})

    async def get_shutdown(self, request: web.Request) -> web.StreamResponse:
        cl = self.cluster
        spec = request.match_info.get("node_id")
        ids = (
            list(cl.shutdowns)
            if spec in (None, "_all")
            else [i for i in (spec or "").split(",") if i]
        )
        return self.respond(
            request, {"nodes": [cl.shutdown_status(i) for i in ids if i in cl.shutdowns]}
        )

    async def delete_shutdown(self, request: web.Request) -> web.StreamResponse:
        self.cluster.delete_shutdown(request.match_info["node_id"])
        return self.respond(request, {"acknowledged": True})

    # ------------------------------------------------------------------ allocation explain

    async def allocation_explain(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_body(request) or {}
        q = request.query
        for k in ("index", "shard", "primary", "current_node"):
            if k in q and k not in body:
                body[k] = q[k]
        include_yes = _bool_param(request, "include_yes_decisions", False)
        _bool_param(request, "include_disk_info", False)
        cl = self.cluster
        if any(k in body for k in ("index", "shard", "primary", "current_node")):
            missing = [m for m in ("index", "shard", "primary") if body.get(m) is None]
            if missing:
                raise validation_failed([f"{m} must be specified" for m in missing])
            primary = body["primary"]
            if isinstance(primary, str):
                primary = primary == "true"
            c = cl.find_copy(
                str(body["index"]), int(body["shard"]), bool(primary), body.get("current_node")
            )
            return self.respond(request, cl.explain(c, include_yes=include_yes))
        c2 = cl.first_unassigned()
        if c2 is None:
            raise illegal_argument(_NO_UNASSIGNED_NEW if self.major >= 9 else _NO_UNASSIGNED_OLD)
        return self.respond(request, cl.explain(c2, include_yes=include_yes, note=_NO_SHARD_NOTE))

    # ------------------------------------------------------------------ catch-all index

    async def get_index(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["index"]
        found, missing = self._resolve_indices(name)
        if missing or not found:
            if request.method == "HEAD":
                return web.Response(
                    status=404, headers={"Content-Type": self.json_content_type(request)}
                )
            raise _index_not_found(missing[0] if missing else name)
        if request.method == "HEAD":
            return web.Response(
                status=200, headers={"Content-Type": self.json_content_type(request)}
            )
        out = {}
        for i in self.cluster.indices():
            if i.name in found:
                out[i.name] = {
                    "aliases": {},
                    "mappings": {},
                    "settings": {
                        "index": {
                            "number_of_shards": str(i.primaries),
                            "number_of_replicas": str(i.replicas),
                            "uuid": i.uuid,
                            "provided_name": i.name,
                            "creation_date": str(int(i.created_at * 1000)),
                            "version": {"created": "8500000"},
                        }
                    },
                }
        return self.respond(request, out)


def _index_not_found(name: str) -> EsError:
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


def _nodes_condition(spec: str) -> Callable[[dict[str, Any]], bool]:
    s = spec.strip()
    ops: list[tuple[str, Callable[[int, int], bool]]] = [
        (">=", lambda a, b: a >= b),
        ("ge(", lambda a, b: a >= b),
        ("<=", lambda a, b: a <= b),
        ("le(", lambda a, b: a <= b),
        (">", lambda a, b: a > b),
        ("gt(", lambda a, b: a > b),
        ("<", lambda a, b: a < b),
        ("lt(", lambda a, b: a < b),
    ]
    for prefix, fn in ops:
        if s.startswith(prefix):
            raw = s[len(prefix) :].rstrip(")") if prefix.endswith("(") else s[len(prefix) :]
            n = _int_or_error(raw)
            return _bound_condition(fn, n)
    n = _int_or_error(s)
    return lambda b: b["number_of_nodes"] == n


def _bound_condition(fn: Callable[[int, int], bool], n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda b: fn(b["number_of_nodes"], n)


def _int_or_error(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise EsError(400, "number_format_exception", f'For input string: "{raw}"') from None


# --------------------------------------------------------------------------- app wiring


def add_es_routes(
    app: web.Application, cluster: Cluster, *, passthrough_prefixes: Sequence[str] = ("/_sim",)
) -> None:
    """Register every ES route and the ES middleware on ``app``.

    Paths under ``passthrough_prefixes`` (the twin's control API) are left alone by the
    middleware: no compat check, no ES error rendering, no product header.
    """
    api = EsApi(cluster)
    prefixes = tuple(passthrough_prefixes)
    resources: set[int] = set()

    def r(method: str, path: str, handler: Handler, params: Iterable[str] = ()) -> None:
        api.route(app, method, path, handler, params, resources)

    health_p = (
        "expand_wildcards", "level", "local", "master_timeout", "timeout", "wait_for_active_shards",
        "wait_for_events", "wait_for_nodes", "wait_for_no_initializing_shards",
        "wait_for_no_relocating_shards", "wait_for_status", "wait_for_relocating_shards",
    )  # fmt: skip
    stats_p = (
        "completion_fields", "fielddata_fields", "fields", "groups", "level", "timeout", "types",
        "include_segment_file_sizes", "include_unloaded_segments", "master_timeout",
    )  # fmt: skip
    cat_p = ("h", "help", "s", "v", "bytes", "time", "local", "master_timeout")
    r("GET", "/", api.root)
    r("HEAD", "/", api.root)
    for path in (
        "/_nodes/stats",
        "/_nodes/stats/{metric}",
        "/_nodes/stats/{metric}/{index_metric}",
        "/_nodes/{node_id}/stats",
        "/_nodes/{node_id}/stats/{metric}",
        "/_nodes/{node_id}/stats/{metric}/{index_metric}",
    ):
        r("GET", path, api.nodes_stats, stats_p)
    r("GET", "/_nodes/shutdown", api.get_shutdown, ("master_timeout", "timeout"))
    r("PUT", "/_nodes/{node_id}/shutdown", api.put_shutdown, ("master_timeout", "timeout"))
    r("GET", "/_nodes/{node_id}/shutdown", api.get_shutdown, ("master_timeout", "timeout"))
    r("DELETE", "/_nodes/{node_id}/shutdown", api.delete_shutdown, ("master_timeout", "timeout"))
    for path in ("/_nodes", "/_nodes/{node_id}", "/_nodes/{node_id}/{metric}"):
        r("GET", path, api.nodes_info, ("flat_settings", "master_timeout", "timeout"))
    r("GET", "/_cluster/health", api.health, health_p)
    r("GET", "/_cluster/health/{index}", api.health, health_p)
    settings_p = ("flat_settings", "include_defaults", "local", "master_timeout", "timeout")
    r("GET", "/_cluster/settings", api.get_settings, settings_p)
    r("PUT", "/_cluster/settings", api.put_settings, settings_p)
    r("GET", "/_cat/shards", api.cat_shards, (*cat_p, "index", "expand_wildcards"))
    r("GET", "/_cat/shards/{index}", api.cat_shards, (*cat_p, "expand_wildcards"))
    r("GET", "/_cat/allocation", api.cat_allocation, cat_p)
    r("GET", "/_cat/allocation/{nodes}", api.cat_allocation, cat_p)
    r("GET", "/_cat/nodes", api.cat_nodes, (*cat_p, "full_id", "include_unloaded_segments"))
    rec_p = (*cat_p, "active_only", "detailed", "index", "expand_wildcards")
    r("GET", "/_cat/recovery", api.cat_recovery, rec_p)
    r("GET", "/_cat/recovery/{index}", api.cat_recovery, rec_p)
    vp = ("node_names", "node_ids", "timeout", "master_timeout")
    r("POST", "/_cluster/voting_config_exclusions", api.post_voting_exclusions, vp)
    r(
        "DELETE",
        "/_cluster/voting_config_exclusions",
        api.delete_voting_exclusions,
        ("wait_for_removal", "master_timeout"),
    )
    xp = (
        "include_yes_decisions",
        "include_disk_info",
        "master_timeout",
        "index",
        "shard",
        "primary",
        "current_node",
    )
    r("GET", "/_cluster/allocation/explain", api.allocation_explain, xp)
    r("POST", "/_cluster/allocation/explain", api.allocation_explain, xp)
    sp = ("local", "master_timeout", "flat_settings", "wait_for_metadata_version", "wait_for_timeout",
          "expand_wildcards", "allow_no_indices", "ignore_unavailable")  # fmt: skip
    r("GET", "/_cluster/state", api.cluster_state, sp)
    r("GET", "/_cluster/state/{metric}", api.cluster_state, sp)
    r("GET", "/_cluster/state/{metric}/{index}", api.cluster_state, sp)
    r(
        "GET",
        "/{index}",
        api.get_index,
        ("expand_wildcards", "include_defaults", "flat_settings", "local"),
    )
    r("HEAD", "/{index}", api.get_index, ("expand_wildcards", "local"))

    @web.middleware
    async def es_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(prefixes):
            return await handler(request)
        try:
            try:
                request[COMPAT_KEY] = api.check_compat(request)
            except EsError:
                request[COMPAT_KEY] = None
                raise
            exc = request.match_info.http_exception
            if exc is not None:
                if isinstance(exc, web.HTTPMethodNotAllowed):
                    allowed = sorted(exc.allowed_methods)
                    err = EsError(
                        405,
                        "",
                        f"Incorrect HTTP method for uri [{request.raw_path}] and method [{request.method}], "
                        f"allowed: [{', '.join(allowed)}]",
                        simple=True,
                        headers={"Allow": ",".join(allowed)},
                    )
                    raise err
                resp: web.StreamResponse = api.respond(
                    request,
                    {
                        "error": f"no handler found for uri [{request.raw_path}] and method [{request.method}]"
                    },
                    status=400,
                )
            elif id(request.match_info.route.resource) in resources:
                resp = await handler(request)
            else:
                return await handler(request)
        except EsError as e:
            resp = api.error(request, e)
        if resp.status not in (401, 403):
            resp.headers[PRODUCT_HEADER] = "Elasticsearch"
        return resp

    app.middlewares.append(es_middleware)


def build_es_app(cluster: Cluster) -> web.Application:
    """A fresh aiohttp app serving the ES wire for ``cluster`` (tests, standalone use)."""
    app = web.Application()
    add_es_routes(app, cluster)
    return app
