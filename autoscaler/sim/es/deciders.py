"""Allocation deciders: may this copy go to (or stay on) that node, with ES's explanations.

Each decision is ``(decider, YES|NO|THROTTLE, explanation)`` in the words of the real
decider classes (``FilterAllocationDecider``, ``DiskThresholdDecider``, ``ThrottlingAllocationDecider``, ...).

Sources (elastic/elasticsearch, ``server/src/main/java/org/elasticsearch/cluster/``; BEHAVIOUR
§9 and §18):

* order of the deciders, which is the order an explain lists them in:
  ``ClusterModule.createAllocationDeciders`` — max_retry, replica_after_primary_active, enable,
  node_shutdown, filter, same_shard, disk_threshold, throttling, shards_limit;
* ``routing/allocation/decider/FilterAllocationDecider.java``: the *cluster* filters are
  judged before the index filters (``shouldFilter``); the index exclude names its setting by
  the group key ``index.routing.allocation.exclude.`` (trailing dot — ``IndexMetadata``
  ``INDEX_ROUTING_EXCLUDE_GROUP_SETTING.getKey()``, also seen in real explain transcripts),
  require/include by their prefix without the dot;
* ``.../SameShardAllocationDecider.java``: ``a copy of this shard is already allocated to
  this node [<ShardRouting>]``;
* ``.../ShardsLimitAllocationDecider.java``: one decision, the cluster-wide limit checked
  before the index limit, a limit of 0 or less is "no limit", ``count >= limit`` refuses an
  allocation and ``count > limit`` a copy that stays;
* ``.../DiskThresholdDecider.java``: the low/high watermark texts below.
"""

from __future__ import annotations

from collections.abc import Sequence

from autoscaler.sim.es.settings import SettingsMixin
from autoscaler.sim.es.shards import (
    DECISION_ORDER,
    Decision,
    Node,
    ShardCopy,
)
from autoscaler.sim.es.units import (
    format_bytes,
    glob_rx,
)


class DecidersMixin(SettingsMixin):
    """The deciders, as methods over the model's state."""

    def _filter_match(self, node: Node, attr: str, vals: Sequence[str]) -> bool:
        if attr == "_name":
            cand = [node.name]
        elif attr in ("_ip", "_host_ip", "_publish_ip"):
            cand = [node.ip]
        elif attr == "_host":
            cand = [node.host, node.ip]
        elif attr == "_id":
            cand = [node.id]
        elif attr == "_tier":
            cand = list(node.roles)
        else:
            v = node.attributes.get(attr)
            cand = [v] if v is not None else []
        for pat in vals:
            rx = glob_rx(pat)
            if any(rx.match(c) for c in cand):
                return True
        return False

    def _cluster_filter_decision(self, node: Node) -> Decision:
        cfg = self._cfg
        if cfg.require.attrs and not all(
            self._filter_match(node, a, v) for a, v in cfg.require.attrs
        ):
            return (
                "filter",
                "NO",
                "node does not match cluster setting [cluster.routing.allocation.require] "
                f"filters [{cfg.require.describe()}]",
            )
        if cfg.include.attrs and not any(
            self._filter_match(node, a, v) for a, v in cfg.include.attrs
        ):
            return (
                "filter",
                "NO",
                "node does not match cluster setting [cluster.routing.allocation.include] "
                f"filters [{cfg.include.describe()}]",
            )
        if cfg.exclude.attrs and any(self._filter_match(node, a, v) for a, v in cfg.exclude.attrs):
            return (
                "filter",
                "NO",
                "node matches cluster setting [cluster.routing.allocation.exclude] "
                f"filters [{cfg.exclude.describe()}]",
            )
        return ("filter", "YES", "node passes include/exclude/require filters")

    def _shutdown_decision(self, node: Node) -> Decision:
        rec = self.shutdowns.get(node.id)
        if rec is not None and rec["type"] in ("REMOVE", "REPLACE", "SIGTERM"):
            return (
                "node_shutdown",
                "NO",
                f"node [{node.id}] is preparing to be removed from the cluster",
            )
        return ("node_shutdown", "YES", "this node is not currently shutting down")

    def _index_filter_decision(self, index: str, node: Node) -> Decision | None:
        """``FilterAllocationDecider`` index part (checked before the cluster filters)."""
        idx = self._indices[index]

        def describe(attrs: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
            return ",".join(f'{a}:"{" OR ".join(v)}"' for a, v in attrs)

        if idx.require and not all(self._filter_match(node, a, v) for a, v in idx.require):
            return (
                "filter",
                "NO",
                "node does not match index setting [index.routing.allocation.require] "
                f"filters [{describe(idx.require)}]",
            )
        if idx.include and not any(self._filter_match(node, a, v) for a, v in idx.include):
            return (
                "filter",
                "NO",
                "node does not match index setting [index.routing.allocation.include] "
                f"filters [{describe(idx.include)}]",
            )
        if idx.exclude and any(self._filter_match(node, a, v) for a, v in idx.exclude):
            return (
                "filter",
                "NO",
                "node matches index setting [index.routing.allocation.exclude.] "
                f"filters [{describe(idx.exclude)}]",
            )
        return None

    def _shards_limit(
        self, c: ShardCopy, node: Node, *, remain: bool, explain: bool = False
    ) -> Decision | None:
        """``ShardsLimitAllocationDecider.doDecide``: the cluster limit, then the index limit;
        ``count >= limit`` refuses an allocation, ``count > limit`` a copy staying (``remain``).
        None for YES unless ``explain`` (then the YES text). Counts are the twin's projected
        ones (a relocation counts on its target; ES counts owning shards, i.e. the source) —
        equal whenever nothing is relocating."""
        index_limit = self._indices[c.index].total_shards_per_node
        cluster_limit = self._cfg.total_shards_per_node
        if index_limit <= 0 and cluster_limit <= 0:
            if not explain:
                return None
            return (
                "shards_limit",
                "YES",
                "total shard limits are disabled: "
                f"[index: {index_limit}, cluster: {cluster_limit}] <= 0",
            )

        def over(count: int, limit: int) -> bool:
            return count > limit if remain else count >= limit

        count = node.proj_count
        if cluster_limit > 0 and over(count, cluster_limit):
            return (
                "shards_limit",
                "NO",
                f"too many shards [{count}] allocated to this node, cluster setting "
                f"[cluster.routing.allocation.total_shards_per_node={cluster_limit}]",
            )
        on_node = node.index_counts[c.index]
        if index_limit > 0 and over(on_node, index_limit):
            return (
                "shards_limit",
                "NO",
                f"too many shards [{on_node}] allocated to this node for index [{c.index}], "
                f"index setting [index.routing.allocation.total_shards_per_node={index_limit}]",
            )
        if not explain:
            return None
        return (
            "shards_limit",
            "YES",
            f"the shard count [{count}] for this node is under the index limit [{index_limit}] "
            f"and cluster level node limit [{cluster_limit}]",
        )

    def _index_cannot_remain(self, c: ShardCopy, node: Node) -> bool:
        """Index-level constraints only (filters, ``index...total_shards_per_node``): what the
        allocator's constrained-move pass looks for."""
        limit = self._indices[c.index].total_shards_per_node
        return self._index_filter_decision(c.index, node) is not None or (
            limit > 0 and node.index_counts[c.index] > limit
        )

    def _filter_decision(self, index: str, node: Node) -> Decision:
        """``FilterAllocationDecider.shouldFilter``: cluster filters first, then the index's."""
        cluster = self._cluster_filter_decision(node)
        if cluster[1] == "NO":
            return cluster
        return self._index_filter_decision(index, node) or cluster

    def _can_remain(self, c: ShardCopy, node: Node) -> list[Decision]:
        """``AllocationDeciders.canRemain`` in decider order (node_shutdown before filter)."""
        out = [self._shutdown_decision(node), self._filter_decision(c.index, node)]
        out.append(self._disk_remain_decision(node))
        limit = self._shards_limit(c, node, remain=True)
        if limit is not None:
            out.append(limit)
        return out

    def _disk_remain_decision(self, node: Node) -> Decision:
        cfg = self._cfg
        if not cfg.threshold_enabled:
            return ("disk_threshold", "YES", "the disk threshold decider is disabled")
        total = node.disk_bytes
        used = node.used_bytes()
        free = total - used
        req = cfg.high.required_free(total)
        if free < req:
            return (
                "disk_threshold",
                "NO",
                "the shard cannot remain on this node because it is above the high watermark cluster "
                f"setting [cluster.routing.allocation.disk.watermark.high={cfg.high.raw}] and there is "
                f"less than the required [{format_bytes(req)}] free space on node, actual free: "
                f"[{format_bytes(free)}], actual used: [{used * 100.0 / total:.1f}%]",
            )
        return (
            "disk_threshold",
            "YES",
            "there is enough disk on this node for the shard to remain, free: "
            f"[{format_bytes(free)}]",
        )

    def unassigned_info_text(self, c: ShardCopy) -> str:  # provided by IndicesMixin
        raise NotImplementedError

    def _pin_decision(self, c: ShardCopy, node: Node, holder: str | None) -> Decision | None:
        if (c.index, c.shard) not in self._pinned:
            return None
        where = holder or c.node or c.last_node or "_none_"
        if node.name == where:
            return None
        return (
            "filter",
            "NO",
            "node does not match index setting [index.routing.allocation.require] "
            f'filters [_name:"{where}"]',
        )

    def _allocate_decisions(
        self, c: ShardCopy, node: Node, *, explain: bool, source: Node | None = None
    ) -> list[Decision]:
        """Deciders for putting copy ``c`` on ``node`` (a new copy or a relocation from ``source``).

        Without ``explain`` the list stops at the first non-YES decision.
        """
        cfg = self._cfg
        out: list[Decision] = []

        def add(d: Decision) -> bool:
            out.append(d)
            return d[1] != "YES" and not explain

        idx = self._indices[c.index]
        if source is None:  # MaxRetryAllocationDecider (first decider in ES)
            if c.failed_attempts >= idx.max_retries and c.failed_attempts > 0:
                add(
                    (
                        "max_retry",
                        "NO",
                        f"shard has exceeded the maximum number of retries [{idx.max_retries}] on "
                        "failed allocation attempts - manually call "
                        "[/_cluster/reroute?retry_failed=true] to retry, "
                        f"[{self.unassigned_info_text(c)}]",
                    )
                )
                if not explain:
                    return out
            elif explain and c.failed_attempts:
                out.append(
                    (
                        "max_retry",
                        "YES",
                        f"shard has failed allocating [{c.failed_attempts}] times but "
                        f"[{idx.max_retries}] retries are allowed",
                    )
                )
            elif explain:
                out.append(("max_retry", "YES", "shard has no previous failures"))
        primary = self._primary_of(c)
        if (
            not c.primary
            and (primary is None or not primary.active)
            and add(
                (
                    "replica_after_primary_active",
                    "NO",
                    "primary shard for this replica is not yet active",
                )
            )
        ):
            return out
        if cfg.enable == "none":
            enable_msg = "no allocations are allowed due to cluster setting"
        elif cfg.enable in ("primaries", "new_primaries") and not c.primary:
            enable_msg = "replica allocations are forbidden due to cluster setting"
        else:
            enable_msg = ""
        if enable_msg and add(
            ("enable", "NO", f"{enable_msg} [cluster.routing.allocation.enable={cfg.enable}]")
        ):
            return out
        # node_shutdown, then filter, then same_shard (ClusterModule's decider order)
        if add(self._shutdown_decision(node)):
            return out
        fd = self._filter_decision(c.index, node)
        if fd[1] == "YES":
            pin = self._pin_decision(c, node, source.name if source is not None else None)
            if pin is not None:
                fd = pin
        if add(fd):
            return out
        for o in self._shard_copies(c):
            if o is c and source is None:
                continue
            here = o.node == node.name or o.relocating_to == node.name
            if here:
                if add(
                    (
                        "same_shard",
                        "NO",
                        "a copy of this shard is already allocated to this node "
                        f"[{c.label()}, node[{node.id}], [{'P' if o.primary else 'R'}], "
                        f"s[{o.state}], a[id={o.alloc_id}]]",
                    )
                ):
                    return out
                break
        else:
            if explain:
                out.append(("same_shard", "YES", "this node does not hold a copy of this shard"))
        if cfg.threshold_enabled:
            total = node.disk_bytes
            used = node.reserved_bytes()
            free = total - used
            low_req = cfg.low.required_free(total)
            high_req = cfg.high.required_free(total)
            if free < low_req:
                d: Decision = (
                    "disk_threshold",
                    "NO",
                    "the node is above the low watermark cluster setting "
                    f"[cluster.routing.allocation.disk.watermark.low={cfg.low.raw}], having less than "
                    f"the minimum required [{format_bytes(low_req)}] free space, actual free: "
                    f"[{format_bytes(free)}], actual used: [{used * 100.0 / total:.1f}%]",
                )
            elif free - c.size < high_req:
                d = (
                    "disk_threshold",
                    "NO",
                    "allocating the shard to this node will bring the node above the high watermark "
                    f"cluster setting [cluster.routing.allocation.disk.watermark.high={cfg.high.raw}] "
                    f"and cause it to have less than the minimum required [{format_bytes(high_req)}] "
                    f"of free space (free: [{format_bytes(free)}], used: [{used * 100.0 / total:.1f}%], "
                    f"estimated shard size: [{format_bytes(c.size)}])",
                )
            else:
                d = (
                    "disk_threshold",
                    "YES",
                    f"enough disk for shard on node, free: [{format_bytes(free)}], used: "
                    f"[{used * 100.0 / total:.1f}%], shard size: [{format_bytes(c.size)}], free after "
                    f"allocating shard: [{format_bytes(free - c.size)}]",
                )
            if add(d):
                return out
        throttle = self._throttle_decision(c, node, source=source, primary=primary, explain=explain)
        limit = self._shards_limit(c, node, remain=False, explain=explain)
        if explain:  # throttling, then shards_limit (decider order)
            out.extend(d for d in (throttle, limit) if d is not None)
            return out
        # Without explain the list ends with the deciding decision, and a NO wins over a
        # THROTTLE (AllocationDeciders.canAllocate returns at a NO, only remembers a THROTTLE).
        if limit is not None:
            out.append(limit)
        elif throttle is not None:
            out.append(throttle)
        return out

    def _throttle_decision(
        self,
        c: ShardCopy,
        node: Node,
        *,
        source: Node | None,
        primary: ShardCopy | None,
        explain: bool,
    ) -> Decision | None:
        """``ThrottlingAllocationDecider``: THROTTLE, or (``explain`` only) its YES."""
        cfg = self._cfg
        if c.primary and source is None and primary is c:
            init = sum(
                1 for r in self._recoveries if r.target == node.name and r.kind == "existing_store"
            )
            if init >= cfg.initial_primaries:
                return (
                    "throttling",
                    "THROTTLE",
                    f"reached the limit of ongoing initial primary recoveries [{init}], cluster "
                    "setting [cluster.routing.allocation.node_initial_primaries_recoveries="
                    f"{cfg.initial_primaries}]",
                )
            return None
        if node.incoming >= cfg.incoming:
            return (
                "throttling",
                "THROTTLE",
                f"reached the limit of incoming shard recoveries [{node.incoming}], cluster "
                "setting [cluster.routing.allocation.node_concurrent_incoming_recoveries="
                f"{cfg.incoming}] (can also be set via "
                "[cluster.routing.allocation.node_concurrent_recoveries])",
            )
        # ThrottlingAllocationDecider counts outgoing recoveries on the node of the
        # primary (the peer recovery source), also when a replica relocates
        src = source if c.primary else None
        if src is None and primary is not None and primary.node is not None:
            src = self._nodes.get(primary.node)
        if src is not None and src.outgoing >= cfg.outgoing:
            return (
                "throttling",
                "THROTTLE",
                f"reached the limit of outgoing shard recoveries [{src.outgoing}] on the node "
                f"[{src.id}] which holds the primary, cluster setting "
                "[cluster.routing.allocation.node_concurrent_outgoing_recoveries="
                f"{cfg.outgoing}] (can also be set via "
                "[cluster.routing.allocation.node_concurrent_recoveries])",
            )
        if not explain:
            return None
        return ("throttling", "YES", "below shard recovery limit of [" + str(cfg.incoming) + "]")

    @staticmethod
    def _verdict(decisions: Sequence[Decision]) -> str:
        worst = "YES"
        for _, dec, _ in decisions:
            if DECISION_ORDER[dec] > DECISION_ORDER[worst]:
                worst = dec
        return worst

    def _rebalance_blockers(self) -> list[Decision]:
        cfg = self._cfg
        out: list[Decision] = []
        if cfg.rebalance_enable == "none":
            out.append(
                (
                    "enable",
                    "NO",
                    "no rebalancing is allowed due to cluster setting [cluster.routing.rebalance.enable=none]",
                )
            )
        if cfg.allow_rebalance != "always":
            blocked = False
            for c in self._unassigned:
                if cfg.allow_rebalance == "indices_all_active" or c.primary:
                    blocked = True
                    break
            if not blocked:
                for r in self._recoveries:
                    if not r.relocation and (
                        cfg.allow_rebalance == "indices_all_active" or r.copy.primary
                    ):
                        blocked = True
                        break
            if blocked:
                what = (
                    "replicas" if cfg.allow_rebalance == "indices_all_active" else "primary shards"
                )
                out.append(
                    (
                        "rebalance_only_when_active",
                        "NO",
                        f"rebalancing is not allowed until all {what} in the cluster are active",
                    )
                )
        if self._rebalancing >= cfg.concurrent_rebalance:
            out.append(
                (
                    "concurrent_rebalance",
                    "THROTTLE",
                    f"reached the limit of concurrently rebalancing shards [{self._rebalancing}], cluster "
                    "setting [cluster.routing.allocation.cluster_concurrent_rebalance="
                    f"{cfg.concurrent_rebalance}]",
                )
            )
        return out
