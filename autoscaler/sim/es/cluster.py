"""The Elasticsearch half of the twin: nodes, shards, an allocator and throttled recoveries.

The autoscaler's safety rests on what Elasticsearch does while nodes come and go: shards
must drain off a node before it is removed, rebalancing onto new nodes takes hours for
hundreds of GB, a replica-less index turns red when its node dies. This model reproduces
those dynamics with the real defaults and throttles so that policies rehearsed against the
twin behave as they would against a cluster:

* allocation deciders: same shard, cluster ``exclude/include/require`` filters (``_name``,
  ``_ip``, ``_host``, ``_id``, custom attributes, ``*`` wildcards), node shutdown
  (REMOVE/REPLACE), disk watermarks (low/high with 8.5+ max headrooms), total shards per
  node, allocation enable, throttling (``node_concurrent_incoming/outgoing_recoveries``,
  ``node_initial_primaries_recoveries``), "replica after primary active";
* recoveries progress at ``indices.recovery.max_bytes_per_sec`` per node (shared by every
  recovery a node takes part in, in or out); drains (shards that cannot remain) are
  started before balance moves; rebalancing is limited by
  ``cluster_concurrent_rebalance`` and only runs while all shards are active
  (``allow_rebalance: indices_all_active``), moving shards from the fullest to the emptiest
  node until counts differ by at most one (``balance.threshold`` 1.0);
* a node leaving promotes replicas, unassigns its copies (``NODE_LEFT``, delayed by
  ``index.unassigned.node_left.delayed_timeout`` = 1m, or the RESTART shutdown's
  ``allocation_delay``) and records an invariant violation when it still held copies; a
  primary without any other copy makes the cluster red (violation "primary_unassigned").
  If a node of the same name rejoins, its copies come back quickly (existing files reused).

Master quorum (``coordination``): master-eligible nodes form a voting configuration as ES's
``Reconfigurator`` computes it; losing half or more of it without voting exclusions leaves the
cluster without a master (master-routed APIs answer 503, invariant ``quorum_lost``, nothing is
allocated). Index settings (``indices``), the ``max_retry`` decider and the flood-stage monitor
(``diskmonitor``) complete what operations change and watch.

Time: ``step(dt)`` advances the model by ``dt`` seconds; it does not move the clock (the
twin owns the clock and calls ``clock.advance(1); cluster.step(1)``); timestamps are read
from the clock. ``run_for`` does both, for virtual clocks (tests, back-tests).

Bootstrap: nodes added before the first ``step`` join a cluster "recovered from disk" — the
data set is laid out balanced and STARTED at once. Nodes added later start empty.

Pinned shards (``pin_shard``, fault injection) are explained like an index-level filter
that ties the copy to its current node: decider ``filter``, "node does not match index
setting [index.routing.allocation.require] filters [_name:"<node>"]".

Costs: per simulated second O(active recoveries + nodes); the allocator runs only when
something changed (node joined/left, settings, recovery finished, pins) or every 10 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autoscaler.sim.es.config import (
    UNLIMITED_BPS,
)
from autoscaler.sim.es.coordination import CoordinationMixin
from autoscaler.sim.es.core import REROUTE_INTERVAL_S
from autoscaler.sim.es.diskmonitor import DiskMonitorMixin
from autoscaler.sim.es.health import HealthMixin
from autoscaler.sim.es.shards import (
    Node,
    Recovery,
    abbreviate_roles,
)
from autoscaler.sim.es.shutdown import ShutdownMixin
from autoscaler.sim.es.units import (
    b64id,
)
from autoscaler.sim.loadmodel import (
    NodeFacts,
    Workload,
    WorkloadSchedule,
)


class Cluster(ShutdownMixin, CoordinationMixin, HealthMixin, DiskMonitorMixin):
    """An Elasticsearch cluster model driven by ``step`` and queried by the wire layer."""

    def add_node(
        self,
        name: str,
        *,
        roles: Sequence[str] = ("data", "master", "ingest"),
        disk_bytes: int = 500 * 2**30,
        heap_bytes: int = 4 * 2**30,
        attributes: Mapping[str, str] | None = None,
        node_id: str | None = None,
        ip: str | None = None,
        started_at: float | None = None,
    ) -> None:
        """A node joins now. Before the first ``step`` the data set is laid out at once.

        ``node_id``: the persistent node id kept in the node's data path (the twin derives it
        from the pod's PersistentVolumeClaim). A name that comes back with an id never seen
        before has an empty data path: copies last held under that name are not on its disk.
        ``ip``: the node's publish address (the twin passes the pod IP).
        ``started_at``: when the JVM started (the twin passes the container start; default now).
        """
        if name in self._nodes:
            raise ValueError(f"node [{name}] is already in the cluster")
        now = self._now()
        seq = self._join_seq
        self._join_seq += 1
        if node_id is not None and node_id not in self._seen_node_ids:
            for c in self._copies:
                if c.last_node == name and c.node != name:
                    c.last_node = f"{name}[data path wiped]"  # no node will ever hold this name
        node_id = node_id or b64id("node", self.seed, name)
        attrs = {"xpack.installed": "true"}
        if self.major < 8:
            attrs.update(
                {
                    "ml.machine_memory": str(heap_bytes * 2),
                    "ml.max_open_jobs": "512",
                    "ml.max_jvm_size": str(heap_bytes),
                    "transform.node": "true",
                }
            )
        attrs.update(attributes or {})
        node = Node(
            name=name,
            id=node_id,
            roles=tuple(sorted(roles)),
            disk_bytes=disk_bytes,
            heap_bytes=heap_bytes,
            ip=ip or f"10.0.{seq // 250}.{seq % 250 + 4}",
            join_seq=seq,
            joined_at=now if started_at is None else started_at,
            attributes=attrs,
        )
        self._nodes[name] = node
        self._nodes_by_id[node_id] = node
        self._seen_node_ids.add(node_id)
        self.load.add(node_id, key=seq + 1, now=now if started_at is None else started_at)
        # voting exclusions given by name for an absent node pick up the id when it joins
        for ex in self.voting_exclusions:
            if ex["node_name"] == name and ex["node_id"] == "_absent_":
                ex["node_id"] = node_id
        if not self._started:
            self._layout_pending = True
        self._dirty = True
        self._shares_dirty = True
        self._departed_names.pop(node_id, None)
        self._coordinate()

    def remove_node(self, name: str, *, reason: str = "left") -> None:
        """A node leaves; its copies are lost (replicas promoted, missing copies unassigned)."""
        self._ensure_layout()
        node = self._nodes.get(name)
        if node is None:
            raise KeyError(f"node [{name}] is not in the cluster")
        now = self._now()
        held = sorted(node.copies, key=lambda c: (c.index, c.shard, not c.primary))
        if held:
            self._invariants.append(
                {
                    "at": now,
                    "kind": "node_left_with_shards",
                    "node": name,
                    "reason": reason,
                    "shard_copies": len(held),
                    "primaries": sum(1 for c in held if c.primary),
                    "shards": [f"{c.label()}[{'p' if c.primary else 'r'}]" for c in held[:50]],
                }
            )
        # relocations *onto* this node are cancelled: the copy stays on its source
        for c in list(node.incoming_relocs):
            self._cancel_relocation(c)
        # peer recoveries whose source is this node fail (the target copy is lost)
        for rec in list(self._recoveries):
            if rec.source == name and not rec.relocation:
                self._fail_copy(rec.copy, node_left=None, now=now)
            elif rec.relocation and rec.peer == name:
                # a replica relocating elsewhere loses its recovery source (the primary)
                self._cancel_relocation(rec.copy)
        del self._nodes[name]
        del self._nodes_by_id[node.id]
        self.load.remove(node.id)
        restart = self.shutdowns.get(node.id)
        restart_delay: float | None = None
        if restart is not None and restart["type"] == "RESTART":
            restart_delay = restart.get("_delay_s", 300.0)
        for c in held:
            if c.node != name:
                continue  # already failed above
            # index.unassigned.node_left.delayed_timeout (1m) unless a RESTART shutdown says
            delay = self._indices[c.index].delayed_timeout_s
            self._unassign_for_node_left(
                c, node, now, restart_delay if restart_delay is not None else delay
            )
        self._dirty = True
        self._shares_dirty = True
        if not self._started:
            self._layout_pending = True
        self._departed_names[node.id] = name
        self._coordinate()

    def crash_node(self, name: str) -> None:
        self.remove_node(name, reason="crashed")

    def set_workload(
        self,
        *,
        search_per_s: float,
        index_per_s: float,
        profile: Sequence[tuple[float, float, float]] | None = None,
    ) -> None:
        """Set the tier's workload now; ``profile`` adds steps ``(at_seconds_from_now, search, index)``.

        Each step holds until the next one; the base values apply until the first step.
        """
        now = self._now()
        steps = sorted((now + at, Workload(float(s), float(i))) for at, s, i in (profile or ()))
        self.schedule = WorkloadSchedule(Workload(float(search_per_s), float(index_per_s)), steps)

    def workload(self) -> Workload:
        return self.schedule.at(self._now())

    def pin_shard(self, index: str, shard: int) -> None:
        """Fault injection: this shard's copies can never move (an index filter is reported)."""
        if index not in self._indices or not 0 <= shard < self._indices[index].primaries:
            raise KeyError(f"no shard [{index}][{shard}]")
        self._pinned.add((index, shard))
        self._dirty = True

    def unpin_all(self) -> None:
        self._pinned.clear()
        self._dirty = True

    def set_disk_used(self, name: str, used_percent: float) -> dict[str, Any]:
        """Make ``name``'s disk ``used_percent`` full now (test/rehearsal control).

        The difference to the shard data is "other" bytes on the data path, so shards moving
        on or off the node still change its use afterwards, as on a real disk.
        """
        self._ensure_layout()
        node = self._nodes.get(name)
        if node is None:
            raise KeyError(f"node [{name}] is not in the cluster")
        if not 0.0 <= used_percent <= 100.0:
            raise ValueError("used_percent must be between 0 and 100")
        shard_bytes = node.used_bytes() - node.base_used()
        node.other_bytes = max(0, int(node.disk_bytes * used_percent / 100.0) - shard_bytes)
        self._dirty = True
        return self.disk_of(node)

    def disk_of(self, node: Node) -> dict[str, Any]:
        used = min(node.disk_bytes, node.used_bytes())
        return {
            "node": node.name,
            "total_bytes": node.disk_bytes,
            "used_bytes": used,
            "available_bytes": node.disk_bytes - used,
            "used_percent": round(used * 100.0 / node.disk_bytes, 2),
        }

    def shards_on(self, node_name: str) -> int:
        self._ensure_layout()
        node = self._nodes.get(node_name)
        return len(node.copies) if node is not None else 0

    def run_for(self, seconds: float, *, resolution: float = 1.0) -> None:
        """Advance a virtual clock and the model together, ``resolution`` seconds at a time."""
        remaining = seconds
        while remaining > 1e-9:
            dt = min(resolution, remaining)
            self.clock.advance(dt)
            self.step(dt)
            remaining -= dt

    def step(self, seconds: float) -> None:
        """Advance the model by ``seconds`` (in sub-steps of at most one second)."""
        if seconds < 0:
            raise ValueError("cannot step backwards")
        self._ensure_layout()
        self._started = True
        remaining = seconds
        while remaining > 1e-9:
            dt = min(1.0, remaining)
            self._substep(dt)
            remaining -= dt

    def _substep(self, dt: float) -> None:
        now = self._now()
        self.model_seconds += dt
        cfg = self._cfg
        if self._failing and self._recoveries:
            for rec in list(self._recoveries):
                c = rec.copy
                if not rec.relocation and (c.index, c.shard) in self._failing:
                    self._fail_allocation(rec, now)
        if self._recoveries:
            finished: list[Recovery] = []
            for rec in self._recoveries:
                if rec.kind != "peer":
                    rate = UNLIMITED_BPS
                else:
                    tgt = self._nodes[rec.target]
                    rate = cfg.max_bps / max(1, tgt.incoming + tgt.outgoing)
                    if rec.from_node is not None:
                        src = self._nodes[rec.from_node]
                        rate = min(rate, cfg.max_bps / max(1, src.incoming + src.outgoing))
                rec.done = min(float(rec.total), rec.done + rate * dt)
                if rec.done >= rec.total:
                    finished.append(rec)
            for rec in finished:
                self._finish(rec, now)
        # without an elected master nothing is allocated (the master runs the allocator)
        master = self._master_id is not None
        if master and (self._dirty or now - self._last_reroute >= REROUTE_INTERVAL_S):
            self._reroute()
        if master and self._disk_monitor_due(now):
            self.check_disk_watermarks()
        if self._shares_dirty:
            self._recompute_shares()
        self.load.advance(dt, self.schedule.at(now), self._shares)

    def _recompute_shares(self) -> None:
        self._shares_dirty = False
        counts = {n.id: n.active_count for n in self._nodes.values() if n.is_data}
        total = sum(counts.values())
        if total == 0:
            data = list(counts)
            self._shares = {nid: 1.0 / len(data) for nid in data} if data else {}
            return
        self._shares = {nid: cnt / total for nid, cnt in counts.items()}

    def node_facts(self, node: Node) -> NodeFacts:
        store = 0
        docs = 0
        for c in node.copies:
            if c.active:
                store += c.size
                docs += c.docs
            elif c.recovery is not None:
                store += int(c.recovery.done)
        for c in node.incoming_relocs:
            if c.recovery is not None:
                store += int(c.recovery.done)
        # the allocator's per-node counters already aggregate the recoveries (one pass per
        # change, shared by every node) instead of rescanning them for each node
        rs = node.outgoing
        rt = node.incoming
        return NodeFacts(
            id=node.id,
            name=node.name,
            ip=node.ip,
            host=node.host,
            roles=node.roles,
            attributes=node.attributes,
            disk_total=node.disk_bytes,
            disk_used=min(node.disk_bytes, node.used_bytes()),
            heap_max=node.heap_bytes,
            mem_total=node.heap_bytes * 2,
            docs=docs,
            store_bytes=store,
            shard_count=len(node.copies),
            is_data=node.is_data,
            recoveries_as_source=rs,
            recoveries_as_target=rt,
        )

    def state(self) -> dict[str, Any]:
        self._ensure_layout()
        h = self.health()
        w = self.workload()
        excluded = set(self.excluded_names())
        return {
            "time": self._now(),
            "version": self.version,
            "cluster_name": self.cluster_name,
            "health": h["status"],
            "nodes": [
                {
                    "name": n.name,
                    "id": n.id,
                    "ip": n.ip,
                    "roles": list(n.roles),
                    "shards": len(n.copies),
                    "incoming_relocations": len(n.incoming_relocs),
                    "disk_used_percent": round(n.used_bytes() * 100.0 / n.disk_bytes, 1),
                    "excluded": n.name in excluded,
                    "shutdown": (self.shutdowns.get(n.id) or {}).get("type"),
                }
                for n in self._nodes.values()
            ],
            "relocating": h["relocating_shards"],
            "initializing": h["initializing_shards"],
            "unassigned": h["unassigned_shards"],
            "unassigned_primaries": h["unassigned_primary_shards"],
            "pending_moves": [
                {
                    "index": r.copy.index,
                    "shard": r.copy.shard,
                    "primary": r.copy.primary,
                    "kind": "relocation" if r.relocation else r.kind,
                    "rebalance": r.rebalance,
                    "from": r.source,
                    "recovering_from": r.from_node,
                    "to": r.target,
                    "bytes_done": int(r.done),
                    "bytes_total": r.total,
                }
                for r in self._recoveries
            ],
            "settings": {
                "excluded_names": sorted(excluded),
                "persistent": dict(self.persistent),
                "transient": dict(self.transient),
            },
            "voting_config_exclusions": [dict(e) for e in self.voting_exclusions],
            "master": master.name if (master := self.master()) is not None else None,
            "voting_config": sorted(
                self._nodes_by_id[i].name if i in self._nodes_by_id else i
                for i in self._committed_config
            ),
            "shutdowns": {
                k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                for k, v in self.shutdowns.items()
            },
            "pinned": [f"{i}[{s}]" for i, s in sorted(self._pinned)],
            "workload": {"search_per_s": w.search_per_s, "index_per_s": w.index_per_s},
            "invariants": self.invariants,
        }

    def role_abbrev(self, node: Node) -> str:
        return abbreviate_roles(node.roles)
