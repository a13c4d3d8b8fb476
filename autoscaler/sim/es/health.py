"""Cluster health counts (``_cluster/health`` at cluster, index and shard level)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from autoscaler.sim.es.allocator import AllocatorMixin
from autoscaler.sim.es.shards import (
    INITIALIZING,
    RELOCATING,
)


class HealthMixin(AllocatorMixin):
    """Green/yellow/red and shard counters from the copies' states."""

    def health(self, indices: Sequence[str] | None = None) -> dict[str, Any]:
        """Counts as ``_cluster/health`` reports them (optionally for some indices only)."""
        self._ensure_layout()
        names = list(self._indices) if indices is None else list(indices)
        per_index: dict[str, dict[str, Any]] = {}
        tot = Counter[str]()
        status_rank = 0
        now = self._now()
        for name in names:
            idx = self._indices[name]
            ic = Counter[str]()
            shards: dict[str, dict[str, Any]] = {}
            irank = 0
            for s, copies in enumerate(idx.shards):
                sc = Counter[str]()
                primary_active = False
                for c in copies:
                    if c.active:
                        sc["active_shards"] += 1
                        if c.primary:
                            sc["active_primary_shards"] += 1
                            primary_active = True
                        if c.state == RELOCATING:
                            sc["relocating_shards"] += 1
                    elif c.state == INITIALIZING:
                        sc["initializing_shards"] += 1
                    else:
                        sc["unassigned_shards"] += 1
                        if c.primary:
                            sc["unassigned_primary_shards"] += 1
                        if c.delayed_until > now:
                            sc["delayed_unassigned_shards"] += 1
                rank = 2 if not primary_active else (1 if sc["active_shards"] < len(copies) else 0)
                irank = max(irank, rank)
                shards[str(s)] = {"rank": rank, "primary_active": primary_active, **sc}
                ic.update(sc)
            status_rank = max(status_rank, irank)
            per_index[name] = {
                "rank": irank,
                "number_of_shards": idx.primaries,
                "number_of_replicas": idx.replicas,
                "counts": ic,
                "shards": shards,
            }
            tot.update(ic)
        total_copies = sum(len(c) for n in names for c in self._indices[n].shards)
        return {
            "status": ("green", "yellow", "red")[status_rank],
            "number_of_nodes": len(self._nodes),
            "number_of_data_nodes": sum(1 for n in self._nodes.values() if n.is_data),
            "active_primary_shards": tot["active_primary_shards"],
            "active_shards": tot["active_shards"],
            "relocating_shards": tot["relocating_shards"],
            "initializing_shards": tot["initializing_shards"],
            "unassigned_shards": tot["unassigned_shards"],
            "unassigned_primary_shards": tot["unassigned_primary_shards"],
            "delayed_unassigned_shards": tot["delayed_unassigned_shards"],
            "active_shards_percent_as_number": (
                100.0 if total_copies == 0 else tot["active_shards"] * 100.0 / total_copies
            ),
            "indices": per_index,
        }
