"""Node shutdown API (``_nodes/{id}/shutdown``): records and shard-migration status."""

from __future__ import annotations

from typing import Any

from autoscaler.sim.es.errors import EsError, illegal_argument, validation_failed
from autoscaler.sim.es.explain import ExplainMixin
from autoscaler.sim.es.shards import (
    INITIALIZING,
    RELOCATING,
    STARTED,
    ShardCopy,
)
from autoscaler.sim.es.units import (
    parse_time_value,
)


class ShutdownMixin(ExplainMixin):
    """Shutdown records and their ``shard_migration`` status."""

    def put_shutdown(
        self,
        node_id: str,
        *,
        type_: str,
        reason: str,
        allocation_delay: str | None = None,
        target_node_name: str | None = None,
    ) -> None:
        t = type_.upper()
        if t not in ("RESTART", "REMOVE", "REPLACE", "SIGTERM"):
            raise illegal_argument(f"unknown shutdown type [{type_}]")
        errors = []
        if allocation_delay is not None and t != "RESTART":
            errors.append("allocation_delay is only allowed for RESTART-type shutdown requests")
        if t == "REPLACE" and not target_node_name:
            errors.append("target node name is required for REPLACE type shutdowns")
        if errors:
            raise validation_failed(errors)
        rec: dict[str, Any] = {
            "node_id": node_id,
            "type": t,
            "reason": reason,
            "shutdown_startedmillis": int(self._now() * 1000),
        }
        if t == "RESTART":
            delay = allocation_delay or "5m"
            rec["allocation_delay"] = delay
            rec["_delay_s"] = parse_time_value(delay, "allocation_delay")
        if target_node_name:
            rec["target_node_name"] = target_node_name
        old = self.shutdowns.get(node_id)
        if old is not None and old["type"] == t and old["reason"] == reason:
            return
        self.shutdowns[node_id] = rec
        self._dirty = True

    def delete_shutdown(self, node_id: str) -> None:
        if node_id not in self.shutdowns:
            raise EsError(
                404,
                "resource_not_found_exception",
                f"node [{node_id}] is not currently shutting down",
            )
        del self.shutdowns[node_id]
        self._dirty = True

    def shutdown_status(self, node_id: str) -> dict[str, Any]:
        self._ensure_layout()
        rec = self.shutdowns[node_id]
        out: dict[str, Any] = {"node_id": node_id, "type": rec["type"], "reason": rec["reason"]}
        if "allocation_delay" in rec:
            out["allocation_delay"] = rec["allocation_delay"]
        out["shutdown_startedmillis"] = rec["shutdown_startedmillis"]
        sm = self._shard_migration(node_id, rec["type"])
        out["status"] = sm["status"]
        out["shard_migration"] = sm
        out["persistent_tasks"] = {"status": "COMPLETE"}
        out["plugins"] = {"status": "COMPLETE"}
        if "target_node_name" in rec:
            out["target_node_name"] = rec["target_node_name"]
        return out

    def _shard_migration(self, node_id: str, type_: str) -> dict[str, Any]:
        detailed = self.version_tuple[:2] >= (8, 12)

        def res(
            status: str, started: int, reloc: int, init: int, remaining: int, expl: str | None
        ) -> dict[str, Any]:
            d: dict[str, Any] = {"status": status}
            if detailed:
                d.update(
                    {
                        "started_shards": started,
                        "relocating_shards": reloc,
                        "initializing_shards": init,
                    }
                )
            d["shard_migrations_remaining"] = remaining
            if expl is not None:
                d["explanation"] = expl
            return d

        if type_ == "RESTART":
            return res(
                "COMPLETE", 0, 0, 0, 0, "no shard relocation is necessary for a node restart"
            )
        node = self._nodes_by_id.get(node_id)
        if node is None:
            return res("NOT_STARTED", 0, 0, 0, 0, "node is not currently part of the cluster")
        started = [c for c in node.copies if c.state == STARTED]
        reloc = [c for c in node.copies if c.state == RELOCATING]
        init = [c for c in node.copies if c.state == INITIALIZING]
        total = len(started) + len(reloc) + len(init)
        for c in sorted(self._unassigned, key=lambda c: (c.index, c.shard)):
            if c.primary and c.last_node == node.name:
                expl = (
                    f"shard [{c.shard}] [primary] of index [{c.index}] is unassigned, see "
                    "[node_allocation_decision] for details or use the cluster allocation explain API"
                )
                d = res("STALLED", len(started), len(reloc), len(init), total + 1, expl)
                d["node_allocation_decision"] = self.explain(c)
                return d
        if total == 0:
            return res("COMPLETE", 0, 0, 0, 0, None)
        if reloc:
            return res("IN_PROGRESS", len(started), len(reloc), len(init), total, None)
        if not started:
            return res(
                "IN_PROGRESS",
                0,
                0,
                len(init),
                total,
                "all remaining shards are currently INITIALIZING and must finish before they can be "
                "moved off this node",
            )
        stuck_without_copy: list[ShardCopy] = []
        stuck_with_copy = 0
        throttled: ShardCopy | None = None
        data_nodes = [n for n in self._data_nodes() if n is not node]
        for c in sorted(started, key=lambda c: (c.index, c.shard, not c.primary)):
            verdicts = {
                self._verdict(self._allocate_decisions(c, n, explain=True, source=node))
                for n in data_nodes
            }
            if "YES" in verdicts:
                continue
            if "THROTTLE" in verdicts:
                throttled = throttled or c
                continue
            elsewhere = any(
                o is not c and o.active and o.node is not None and o.node != node.name
                for o in self._shard_copies(c)
            )
            if elsewhere:
                stuck_with_copy += 1
            else:
                stuck_without_copy.append(c)
        if stuck_without_copy:
            c = stuck_without_copy[0]
            d = res(
                "STALLED",
                len(started),
                0,
                len(init),
                total,
                f"shard [{c.shard}] [{'primary' if c.primary else 'replica'}] of index [{c.index}] cannot "
                "move, see [node_allocation_decision] for details or use the cluster allocation explain API",
            )
            d["node_allocation_decision"] = self.explain(c)
            return d
        if stuck_with_copy == len(started) and not init:
            return res(
                "COMPLETE",
                len(started),
                0,
                0,
                0,
                f"[{stuck_with_copy}] shards cannot be moved away from this node but have at least one "
                "copy on another node in the cluster",
            )
        if throttled is not None:
            c = throttled
            return res(
                "IN_PROGRESS",
                len(started),
                0,
                len(init),
                total,
                f"shard [{c.shard}] [{'primary' if c.primary else 'replica'}] of index [{c.index}] is "
                "waiting to be moved, see [node_allocation_decision] for details or use the cluster "
                "allocation explain API",
            )
        return res("IN_PROGRESS", len(started), 0, len(init), total, None)
