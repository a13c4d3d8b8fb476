"""``_cluster/health`` with its levels and ``wait_for_*`` long-polls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from autoscaler.sim.es.api.base import (
    EsApiBase,
    bool_param,
)
from autoscaler.sim.es.errors import EsError, illegal_argument
from autoscaler.sim.es.units import parse_time_value

_STATUS_RANK = {"green": 0, "yellow": 1, "red": 2}


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


class HealthApi(EsApiBase):
    """Cluster health handler."""

    def health_body(
        self, request: web.Request, index_expr: str | None
    ) -> tuple[dict[str, Any], bool]:
        found, missing = self._resolve_indices(index_expr)
        cl = self.cluster
        h = cl.health(found)
        status = "red" if missing else h["status"]
        if cl.master() is None:
            # local=true without a master: the NO_MASTER_BLOCK is a 503 global block, which
            # ClusterStateHealth reports as RED whatever the shards
            status = "red"
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
        if bool_param(request, "wait_for_no_relocating_shards", False):
            checks.append(lambda b: b["relocating_shards"] == 0)
        if bool_param(request, "wait_for_no_initializing_shards", False):
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
        if not bool_param(request, "local", False):
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
