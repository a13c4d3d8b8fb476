"""The ``_cat`` APIs: column selection (``h``), sorting (``s``), ``v``, ``bytes``/``time`` units, JSON or text."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from autoscaler.sim.es.api.base import (
    EsApiBase,
    bool_param,
    index_not_found,
)
from autoscaler.sim.es.errors import EsError, illegal_argument
from autoscaler.sim.es.shards import INITIALIZING, RELOCATING, UNASSIGNED, ShardCopy
from autoscaler.sim.es.units import format_bytes, format_time, glob_rx, iso_ms
from autoscaler.sim.loadmodel import node_stats_doc


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
                rx = glob_rx(token)
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
    verbose = bool_param(request, "v", False)
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


class CatApi(EsApiBase):
    """``_cat/shards``, ``allocation``, ``nodes``, ``recovery``."""

    def _cat_respond(
        self, request: web.Request, cols: Sequence[Col], rows: list[dict[str, Any]]
    ) -> web.Response:
        if bool_param(request, "help", False):
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
            raise index_not_found(missing[0])
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

    async def cat_indices(self, request: web.Request) -> web.StreamResponse:
        """``_cat/indices`` (``RestIndicesAction``: default columns health status index uuid pri
        rep docs.count docs.deleted store.size pri.store.size; ``dataset.size`` from 8.11)."""
        cl = self.cluster
        found, missing = self._resolve_indices(request.match_info.get("index"))
        if missing:
            raise index_not_found(missing[0])
        want = request.query.get("health")
        if want is not None and want not in ("green", "yellow", "red"):
            raise illegal_argument(
                "No enum constant org.elasticsearch.cluster.health.ClusterHealthStatus."
                + want.upper()
            )
        pri_only = bool_param(request, "pri", False)
        health = cl.health(found)["indices"]
        rows: list[dict[str, Any]] = []
        for idx in cl.indices():
            if idx.name not in found:
                continue
            status = ("green", "yellow", "red")[health[idx.name]["rank"]]
            if want is not None and status != want:
                continue
            active = [c for copies in idx.shards for c in copies if c.active]
            primaries = [c for c in active if c.primary]
            docs = sum(c.docs for c in primaries)
            store = sum(c.size for c in active)
            pri_store = sum(c.size for c in primaries)
            rows.append(
                {
                    "health": status,
                    "status": "open",
                    "index": idx.name,
                    "uuid": idx.uuid,
                    "pri": str(idx.primaries),
                    "_sort_pri": idx.primaries,
                    "rep": str(idx.replicas),
                    "_sort_rep": idx.replicas,
                    "docs.count": str(docs),
                    "_sort_docs.count": docs,
                    "docs.deleted": "0",
                    "creation.date": str(int(idx.created_at * 1000)),
                    "creation.date.string": iso_ms(idx.created_at),
                    "store.size": _size(request, store),
                    "_sort_store.size": store,
                    "pri.store.size": _size(request, pri_store),
                    "_sort_pri.store.size": pri_store,
                    "dataset.size": _size(request, pri_store),
                }
            )
        rows.sort(key=lambda r: r["index"])
        cols = [
            Col("health", ("h",)),
            Col("status", ("s",)),
            Col("index", ("i", "idx")),
            Col("uuid", ("id",)),
            Col("pri", ("p", "shards.primary", "shardsPrimary"), right=True),
            Col("rep", ("r", "shards.replica", "shardsReplica"), right=True),
            Col("docs.count", ("dc", "docsCount"), right=True),
            Col("docs.deleted", ("dd", "docsDeleted"), right=True),
            Col("creation.date", ("cd",), default=False),
            Col("creation.date.string", ("cds",), default=False),
            Col("store.size", ("ss", "storeSize"), default=not pri_only, right=True),
            Col("pri.store.size", (), right=True),
        ]
        if cl.version_tuple[:2] >= (8, 11):
            cols.append(Col("dataset.size", (), right=True))
        return self._cat_respond(request, cols, rows)

    async def cat_health(self, request: web.Request) -> web.StreamResponse:
        """``_cat/health`` (``RestHealthAction``; ``epoch``/``timestamp`` unless ``ts=false``)."""
        cl = self.cluster
        h = cl.health()
        now = cl.clock.time()
        with_ts = bool_param(request, "ts", True)
        cols = []
        if with_ts:
            cols += [Col("epoch", ("t", "time")), Col("timestamp", ("ts", "hms", "hhmmss"))]
        cols += [
            Col("cluster", ("cl",)),
            Col("status", ("st",)),
            Col("node.total", ("nt", "nodeTotal"), right=True),
            Col("node.data", ("nd", "nodeData"), right=True),
            Col("shards", ("t", "sh", "shards.total", "shardsTotal"), right=True),
            Col("pri", ("p", "shards.primary", "shardsPrimary"), right=True),
            Col("relo", ("r", "shards.relocating", "shardsRelocating"), right=True),
            Col("init", ("i", "shards.initializing", "shardsInitializing"), right=True),
            Col("unassign", ("u", "shards.unassigned", "shardsUnassigned"), right=True),
        ]
        if cl.version_tuple[:2] >= (8, 16):
            cols.append(Col("unassign.pri", ("up", "shards.unassigned.primary"), right=True))
        cols += [
            Col("pending_tasks", ("pt", "pendingTasks"), right=True),
            Col("max_task_wait_time", ("mtwt", "maxTaskWaitTime"), right=True),
            Col("active_shards_percent", ("asp", "activeShardsPercent"), right=True),
        ]
        row = {
            "epoch": str(int(now)),
            "timestamp": time.strftime("%H:%M:%S", time.gmtime(now)),
            "cluster": cl.cluster_name,
            "status": h["status"],
            "node.total": str(h["number_of_nodes"]),
            "node.data": str(h["number_of_data_nodes"]),
            "shards": str(h["active_shards"]),
            "pri": str(h["active_primary_shards"]),
            "relo": str(h["relocating_shards"]),
            "init": str(h["initializing_shards"]),
            "unassign": str(h["unassigned_shards"]),
            "unassign.pri": str(h["unassigned_primary_shards"]),
            "pending_tasks": "0",
            "max_task_wait_time": "-",
            "active_shards_percent": f"{h['active_shards_percent_as_number']:.1f}%",
        }
        return self._cat_respond(request, cols, [row])

    async def cat_nodes(self, request: web.Request) -> web.StreamResponse:
        cl = self.cluster
        full_id = bool_param(request, "full_id", False)
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
        active_only = bool_param(request, "active_only", False)
        names, missing = self._resolve_indices(request.match_info.get("index"))
        if missing:
            raise index_not_found(missing[0])
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
                    origin = rec.from_node  # a replica recovers from the primary's node
                    src = (
                        cl.node(origin)
                        if origin is not None and origin in cl.node_names()
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
                            "source_node": src.name if src else (origin or "n/a"),
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
