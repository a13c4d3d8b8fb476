"""Cluster-level admin APIs: settings, voting configuration exclusions, cluster state."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from autoscaler.sim.es.api.base import (
    EsApiBase,
    bool_param,
)
from autoscaler.sim.es.config import structured
from autoscaler.sim.es.errors import EsError, illegal_argument, validation_failed
from autoscaler.sim.es.units import iso_ms, parse_time_value


class ClusterApi(EsApiBase):
    """``_cluster/settings``, ``_cluster/voting_config_exclusions``, ``_cluster/state``."""

    def _render_settings(self, flat: dict[str, Any], flat_settings: bool) -> dict[str, Any]:
        if flat_settings:
            return dict(sorted(flat.items()))
        return structured(flat)

    async def get_settings(self, request: web.Request) -> web.StreamResponse:
        flat_settings = bool_param(request, "flat_settings", False)
        include_defaults = bool_param(request, "include_defaults", False)
        bool_param(request, "local", False)
        cl = self.cluster
        body: dict[str, Any] = {
            "persistent": self._render_settings(dict(cl.persistent), flat_settings),
            "transient": self._render_settings(dict(cl.transient), flat_settings),
        }
        if include_defaults:
            body["defaults"] = self._render_settings(dict(cl.defaults()), flat_settings)
        return self.respond(request, body)

    async def put_settings(self, request: web.Request) -> web.StreamResponse:
        flat_settings = bool_param(request, "flat_settings", False)
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
        cl = self.cluster
        resolved = cl.add_voting_exclusions(node_names=names, node_ids=ids)
        # TransportAddVotingConfigExclusionsAction: answer once no excluded id is in the last
        # *committed* voting configuration, else timeout_exception after ``timeout`` (the
        # exclusions stay added either way)
        deadline = cl.clock.time() + timeout
        while not cl.exclusions_committed(resolved):
            if cl.is_virtual or cl.clock.time() >= deadline:
                pending = ", ".join(f"{{{e['node_id']}}}{{{e['node_name']}}}" for e in resolved)
                raise self._timeout_error(
                    f"timed out waiting for voting config exclusions [{pending}] to take effect"
                )
            await asyncio.sleep(0.05)
        return self.respond(request, None)

    async def delete_voting_exclusions(self, request: web.Request) -> web.StreamResponse:
        wait = bool_param(request, "wait_for_removal", True)
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
            body["nodes"] = self._state_nodes()
        if everything or "metadata" in metrics:
            cfg = cl.voting_config()
            body["metadata"] = {
                "cluster_uuid": cl.cluster_uuid,
                "cluster_uuid_committed": True,
                "cluster_coordination": {
                    "term": cl.term,
                    "last_committed_config": cfg,
                    "last_accepted_config": cfg,
                    "voting_config_exclusions": [dict(e) for e in cl.voting_exclusions],
                },
            }
        if everything or "routing_table" in metrics:
            body["routing_table"] = self._routing_table()
        return self.respond(request, body)

    def _state_nodes(self) -> dict[str, Any]:
        """The ``nodes`` section of the cluster state (``_cluster/state`` and reroute's ``state``)."""
        return {
            n.id: {
                "name": n.name,
                "ephemeral_id": n.id[::-1],
                "transport_address": f"{n.ip}:9300",
                "attributes": dict(n.attributes),
                "roles": list(n.roles),
            }
            for n in self.cluster.nodes()
        }

    def _routing_table(self) -> dict[str, Any]:
        cl = self.cluster
        indices: dict[str, Any] = {}
        for idx in cl.indices():
            shards: dict[str, Any] = {}
            for s, copies in enumerate(idx.shards):
                rows = []
                for c in copies:
                    node = cl.node(c.node) if c.node in cl.node_names() else None
                    target = cl.node(c.relocating_to) if c.relocating_to else None
                    row: dict[str, Any] = {
                        "state": c.state,
                        "primary": c.primary,
                        "node": node.id if node is not None else None,
                        "relocating_node": target.id if target is not None else None,
                        "shard": s,
                        "index": idx.name,
                    }
                    if c.state != "UNASSIGNED":
                        row["allocation_id"] = {"id": c.alloc_id}
                    else:
                        row["unassigned_info"] = {
                            "reason": c.unassigned_reason or "INDEX_CREATED",
                            "at": iso_ms(c.unassigned_at),
                            **({"failed_attempts": c.failed_attempts} if c.failed_attempts else {}),
                            "delayed": c.delayed_until > cl.clock.time(),
                            "allocation_status": "no_attempt",
                        }
                    rows.append(row)
                shards[str(s)] = rows
            indices[idx.name] = {"shards": shards}
        return {"indices": indices}

    async def reroute(self, request: web.Request) -> web.StreamResponse:
        """``POST /_cluster/reroute``: ``retry_failed`` resets the failed-allocation counters
        (``MaxRetryAllocationDecider``), then the allocator runs; the answer is
        ``{"acknowledged": true, "state": ...}`` with every state metric but ``metadata``
        (``RestClusterRerouteAction``). Allocation ``commands`` are not modelled (400)."""
        dry_run = bool_param(request, "dry_run", False)
        bool_param(request, "explain", False)
        retry = bool_param(request, "retry_failed", False)
        body = await self.read_body(request) or {}
        for key in body:
            if key not in ("commands", "dry_run"):
                raise EsError(
                    400,
                    "x_content_parse_exception",
                    f"[1:2] [cluster_reroute] unknown field [{key}]",
                )
        if body.get("commands"):
            raise illegal_argument(
                "the twin does not model allocation commands in _cluster/reroute"
            )
        cl = self.cluster
        if not (dry_run or body.get("dry_run") is True):
            if retry:
                cl.retry_failed()
            cl.reroute()
        metric = request.query.get("metric")
        master = cl.master()
        state: dict[str, Any] = {
            "cluster_uuid": cl.cluster_uuid,
            "master_node": master.id if master else None,
            "blocks": {},
            "nodes": self._state_nodes(),
            "routing_table": self._routing_table(),
        }
        if metric is not None and metric != "_all":
            wanted = set(metric.split(","))
            state = {k: v for k, v in state.items() if k == "cluster_uuid" or k in wanted}
        return self.respond(request, {"acknowledged": True, "state": state})
