"""The allocator: initial layout, reroute (assign, drain, rebalance) and recovery bookkeeping."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from autoscaler.sim.es.deciders import DecidersMixin
from autoscaler.sim.es.shards import (
    INITIALIZING,
    RELOCATING,
    STARTED,
    UNASSIGNED,
    Node,
    Recovery,
    ShardCopy,
)


class AllocatorMixin(DecidersMixin):
    """Moves shard copies between nodes as ES's ``BalancedShardsAllocator`` would, simplified."""

    def _unassign_for_node_left(self, c: ShardCopy, node: Node, now: float, delay: float) -> None:
        if c.state == RELOCATING:
            self._cancel_relocation(c, source_lost=True)
        was_primary = c.primary
        self._detach(c)
        c.state = UNASSIGNED
        c.unassigned_reason = "NODE_LEFT"
        restart = self.shutdowns.get(node.id)
        if restart is not None and restart["type"] == "RESTART":
            c.unassigned_reason = "NODE_RESTARTING"
        c.unassigned_at = now
        c.unassigned_details = f"node_left [{node.id}]"
        c.last_node = node.name
        c.delayed_until = now + delay
        self._unassigned.add(c)
        if was_primary:
            others = [o for o in self._shard_copies(c) if o is not c and o.active]
            if others:
                promoted = others[0]
                promoted.primary = True
                c.primary = False
            else:
                c.delayed_until = 0.0
                # replicas still initializing from this primary cannot finish
                for o in self._shard_copies(c):
                    if o is not c and o.state == INITIALIZING:
                        self._fail_copy(o, node_left=None, now=now)
                self._invariants.append(
                    {
                        "at": now,
                        "kind": "primary_unassigned",
                        "index": c.index,
                        "shard": c.shard,
                        "node": node.name,
                    }
                )

    def _detach(self, c: ShardCopy) -> None:
        """Remove a copy from its node's bookkeeping (not from relocation targets)."""
        if c.recovery is not None and not c.recovery.relocation:
            self._end_recovery(c.recovery)
        if c.node is not None:
            n = self._nodes.get(c.node)
            if n is not None:
                n.copies.discard(c)
                n.index_counts[c.index] -= 1
                if c.state in (STARTED, RELOCATING):
                    n.data_bytes -= c.size
        c.node = None

    def _fail_copy(self, c: ShardCopy, *, node_left: Node | None, now: float) -> None:
        """An initializing copy whose recovery cannot continue goes back to unassigned."""
        self._detach(c)
        c.state = UNASSIGNED
        c.unassigned_reason = "ALLOCATION_FAILED"
        c.unassigned_at = now
        c.unassigned_details = "failed recovery: source node left the cluster"
        self._unassigned.add(c)
        self._dirty = True

    def _end_recovery(self, rec: Recovery) -> None:
        if rec in self._recoveries:
            self._recoveries.remove(rec)
        tgt = self._nodes.get(rec.target)
        if tgt is not None:
            tgt.incoming -= 1
            tgt.in_recs.remove(rec)
        if rec.from_node is not None:
            src = self._nodes.get(rec.from_node)
            if src is not None:
                src.outgoing -= 1
        if rec.rebalance:
            self._rebalancing -= 1
        rec.copy.recovery = None

    def _cancel_relocation(self, c: ShardCopy, *, source_lost: bool = False) -> None:
        rec = c.recovery
        if rec is None or not rec.relocation:
            return
        self._end_recovery(rec)
        tgt = self._nodes.get(rec.target)
        if tgt is not None:
            tgt.incoming_relocs.discard(c)
            tgt.index_counts[c.index] -= 1
        src = self._nodes.get(rec.source or "")
        if src is not None:
            src.reloc_out -= 1
            if not source_lost:
                src.index_counts[c.index] += 1
        c.relocating_to = None
        c.state = STARTED
        self._dirty = True
        self._shares_dirty = True

    def _bootstrap_layout(self) -> None:
        """Place every copy STARTED at once, balanced (a cluster recovered from disk)."""
        self._layout_pending = False
        now = self._now()
        for n in self._nodes.values():
            n.copies.clear()
            n.incoming_relocs.clear()
            n.in_recs.clear()
            n.index_counts.clear()
            n.data_bytes = 0
            n.incoming = n.outgoing = n.reloc_out = 0
        self._recoveries.clear()
        self._rebalancing = 0
        self._unassigned = set()
        cands = [n for n in self._data_nodes() if self._cluster_filter_decision(n)[1] == "YES"]
        cands = [n for n in cands if self._shutdown_decision(n)[1] == "YES"]
        heap: list[tuple[int, int, str]] = [(0, n.join_seq, n.name) for n in cands]
        heapq.heapify(heap)
        order = sorted(self._copies, key=lambda c: (not c.primary, c.index, c.shard))
        for c in order:
            c.state, c.node, c.relocating_to, c.recovery = UNASSIGNED, None, None, None
        for c in order:
            if c.primary is False and self._primary_of(c) is not None:
                pass
            taken: list[tuple[int, int, str]] = []
            placed: Node | None = None
            while heap:
                item = heapq.heappop(heap)
                node = self._nodes[item[2]]
                holders = {o.node for o in self._shard_copies(c) if o.node is not None}
                free = node.disk_bytes - node.base_used() - node.data_bytes - c.size
                if node.name not in holders and free >= self._cfg.high.required_free(
                    node.disk_bytes
                ):
                    placed = node
                    taken.append((item[0] + 1, item[1], item[2]))
                    break
                taken.append(item)
            for t in taken:
                heapq.heappush(heap, t)
            if placed is None:
                c.unassigned_reason = "CLUSTER_RECOVERED"
                c.unassigned_at = now
                self._unassigned.add(c)
                continue
            c.state = STARTED
            c.node = placed.name
            c.last_node = placed.name
            c.unassigned_reason = None
            placed.copies.add(c)
            placed.index_counts[c.index] += 1
            placed.data_bytes += c.size
            c.last_recovery = Recovery(
                copy=c,
                kind="existing_store",
                source=None,
                target=placed.name,
                total=c.size,
                started_at=now,
                done=float(c.size),
                stopped_at=now + 0.5,
            )
        self._shares_dirty = True
        self._dirty = True

    def reroute(self) -> None:
        """Run the allocator now (normally done by ``step`` when something changed)."""
        self._ensure_layout()
        self._reroute()

    def _reroute(self) -> None:
        now = self._now()
        self._dirty = False
        self._last_reroute = now
        cfg = self._cfg
        data_nodes = self._data_nodes()
        if not data_nodes:
            return
        # 1. unassigned copies: primaries first
        if self._unassigned:
            for c in sorted(
                self._unassigned, key=lambda c: (not c.primary, c.index, c.shard, c.alloc_id)
            ):
                if c.state != UNASSIGNED:
                    continue
                if c.delayed_until > now:
                    returning = self._nodes.get(c.last_node or "")
                    if returning is None:
                        continue
                    cands = [returning]
                elif c.primary:
                    has_data = c.last_node is not None
                    if has_data:
                        holder = self._nodes.get(c.last_node or "")
                        if holder is None or not holder.is_data:
                            continue  # no valid shard copy: red until that node returns
                        cands = [holder]
                    else:
                        cands = sorted(data_nodes, key=lambda n: (n.proj_count, n.join_seq))
                else:
                    prefer = self._nodes.get(c.last_node or "")
                    cands = sorted(
                        data_nodes, key=lambda n: (n is not prefer, n.proj_count, n.join_seq)
                    )
                for node in cands:
                    if not node.is_data:
                        continue
                    ds = self._allocate_decisions(c, node, explain=False)
                    if ds and ds[-1][1] != "YES":
                        continue
                    self._start_initial_recovery(c, node, now)
                    break
        # 2. copies that cannot remain where they are (drains, shutdowns, high watermark,
        #    index-level filters and total_shards_per_node)
        constrained = {
            i.name
            for i in self._indices.values()
            if i.require or i.include or i.exclude or i.total_shards_per_node > 0
        }
        for node in data_nodes:
            must_all = (
                self._cluster_filter_decision(node)[1] == "NO"
                or self._shutdown_decision(node)[1] == "NO"
            )
            over_high = False
            if not must_all and cfg.threshold_enabled:
                over_high = self._disk_remain_decision(node)[1] == "NO"
            if not (must_all or over_high):
                if constrained:
                    self._move_constrained(node, constrained, data_nodes, now)
                continue
            excess = 0
            if over_high:
                excess = cfg.high.required_free(node.disk_bytes) - (
                    node.disk_bytes - node.used_bytes()
                )
                for c in node.copies:
                    if c.state == RELOCATING:
                        excess -= c.size
                if excess <= 0:
                    continue
            for c in sorted(node.copies, key=lambda c: (c.index, c.shard, not c.primary)):
                if c.state != STARTED or (c.index, c.shard) in self._pinned:
                    continue
                if self._peer_busy(c, node):
                    continue
                target = self._best_target(c, node, data_nodes)
                if target is not None:
                    self._start_relocation(c, node, target, now, rebalance=False)
                    if over_high:
                        excess -= c.size
                        if excess <= 0:
                            break
        # 3. rebalance
        self._rebalance(data_nodes, now)

    def _peer_busy(self, c: ShardCopy, node: Node) -> bool:
        """Fast pre-check of the outgoing throttle: the recovery source of moving ``c`` off
        ``node`` (the node itself for a primary, the primary's node for a replica) is full."""
        peer: Node | None = node
        if not c.primary:
            primary = self._primary_of(c)
            peer = self._nodes.get(primary.node or "") if primary is not None else None
        return peer is not None and peer.outgoing >= self._cfg.outgoing

    def _move_constrained(
        self, node: Node, constrained: set[str], data_nodes: Sequence[Node], now: float
    ) -> None:
        """Move copies an index-level filter or shard limit no longer lets stay on ``node``."""
        for c in sorted(node.copies, key=lambda c: (c.index, c.shard, not c.primary)):
            if c.index not in constrained or c.state != STARTED:
                continue
            if self._peer_busy(c, node):
                continue
            if (c.index, c.shard) in self._pinned or not self._index_cannot_remain(c, node):
                continue
            target = self._best_target(c, node, data_nodes)
            if target is not None:
                self._start_relocation(c, node, target, now, rebalance=False)

    def _fail_allocation(self, rec: Recovery, now: float) -> None:
        """A recovery failed on its target (fault injection): ``ALLOCATION_FAILED``, counted
        towards ``index.allocation.max_retries``."""
        c = rec.copy
        node = self._nodes.get(rec.target)
        node_id = node.id if node is not None else rec.target
        self._fail_copy(c, node_left=None, now=now)
        c.failed_attempts += 1
        if node_id not in c.failed_nodes:
            c.failed_nodes.append(node_id)
        c.last_node = c.last_node if c.primary else None
        c.unassigned_details = (
            f"failed shard on node [{node_id}]: failed recovery, failure RecoveryFailedException"
            f"[[{c.index}][{c.shard}]: Recovery failed on {rec.target}]; nested: "
            "IOException[simulated fault: shard_allocation_failure]; "
        )

    def _best_target(self, c: ShardCopy, source: Node, data_nodes: Sequence[Node]) -> Node | None:
        for node in sorted(data_nodes, key=lambda n: (n.proj_count, n.join_seq)):
            if node is source:
                continue
            ds = self._allocate_decisions(c, node, explain=False, source=source)
            if ds and ds[-1][1] == "YES":
                return node
        return None

    def _rebalance(self, data_nodes: Sequence[Node], now: float) -> None:
        cfg = self._cfg
        if self._rebalance_blockers():
            return
        receivers = [
            n
            for n in data_nodes
            if self._cluster_filter_decision(n)[1] == "YES"
            and self._shutdown_decision(n)[1] == "YES"
        ]
        if len(receivers) < 2:
            return
        while self._rebalancing < cfg.concurrent_rebalance:
            ordered = sorted(receivers, key=lambda n: (n.proj_count, n.join_seq))
            moved = False
            for hi in reversed(ordered):
                if hi.outgoing >= cfg.outgoing:
                    continue
                for lo in ordered:
                    if hi.proj_count - lo.proj_count <= 1:
                        break
                    if lo.incoming >= cfg.incoming:
                        continue
                    cands = [
                        c
                        for c in hi.copies
                        if c.state == STARTED and (c.index, c.shard) not in self._pinned
                    ]
                    cands.sort(
                        key=lambda c: (
                            -(hi.index_counts[c.index] - lo.index_counts[c.index]),
                            c.index,
                            c.shard,
                            not c.primary,
                        )
                    )
                    for c in cands:
                        ds = self._allocate_decisions(c, lo, explain=False, source=hi)
                        if ds and ds[-1][1] == "YES":
                            self._start_relocation(c, hi, lo, now, rebalance=True)
                            moved = True
                            break
                    if moved:
                        break
                if moved:
                    break
            if not moved:
                return

    def _start_initial_recovery(self, c: ShardCopy, node: Node, now: float) -> None:
        self._unassigned.discard(c)
        reuse = c.last_node == node.name
        if c.primary:
            kind = "existing_store" if c.last_node is not None else "empty_store"
            source = None
            total = c.size if kind == "existing_store" else 0
        else:
            kind = "peer"
            primary = self._primary_of(c)
            source = primary.node if primary is not None else None
            total = max(2**20, c.size // 50) if reuse else c.size
        rec = Recovery(
            copy=c, kind=kind, source=source, target=node.name, total=total, started_at=now
        )
        c.state = INITIALIZING
        c.node = node.name
        c.recovery = rec
        c.delayed_until = 0.0
        node.copies.add(c)
        node.index_counts[c.index] += 1
        node.incoming += 1
        node.in_recs.append(rec)
        if source is not None:
            self._nodes[source].outgoing += 1
        self._recoveries.append(rec)
        self._shares_dirty = True

    def _start_relocation(
        self, c: ShardCopy, src: Node, dst: Node, now: float, *, rebalance: bool
    ) -> None:
        # peer recovery always copies from the primary (RecoverySource.PeerRecoverySource;
        # IndicesClusterStateService: a replica recovers from the primary's node)
        peer = src
        if not c.primary:
            primary = self._primary_of(c)
            if primary is not None and primary.node is not None:
                peer = self._nodes[primary.node]
        rec = Recovery(
            copy=c,
            kind="peer",
            source=src.name,
            target=dst.name,
            total=c.size,
            started_at=now,
            relocation=True,
            rebalance=rebalance,
            peer=peer.name if peer is not src else None,
        )
        c.state = RELOCATING
        c.relocating_to = dst.name
        c.recovery = rec
        peer.outgoing += 1
        src.reloc_out += 1
        src.index_counts[c.index] -= 1
        dst.incoming += 1
        dst.in_recs.append(rec)
        dst.incoming_relocs.add(c)
        dst.index_counts[c.index] += 1
        if rebalance:
            self._rebalancing += 1
        self._recoveries.append(rec)

    def _finish(self, rec: Recovery, now: float) -> None:
        c = rec.copy
        self._end_recovery(rec)
        rec.done = float(rec.total)
        rec.stopped_at = now
        c.last_recovery = rec
        if rec.relocation:
            self.relocations_completed += 1
            self.relocated_bytes += rec.total
            src = self._nodes[rec.source or ""]
            dst = self._nodes[rec.target]
            src.copies.discard(c)
            src.reloc_out -= 1
            src.data_bytes -= c.size
            dst.incoming_relocs.discard(c)
            dst.copies.add(c)
            dst.data_bytes += c.size
            c.node = dst.name
            c.relocating_to = None
        else:
            self._nodes[rec.target].data_bytes += c.size
        c.state = STARTED
        c.failed_attempts = 0
        c.failed_nodes = []
        c.last_node = c.node
        c.unassigned_reason = None
        self._dirty = True
        self._shares_dirty = True
