"""``_cluster/allocation/explain`` bodies built from the deciders.

Shapes and words from elastic/elasticsearch (BEHAVIOUR §9, §18): ``ClusterAllocationExplanation``
and ``routing/allocation/MoveDecision.java`` (``can_move_to_other_node`` is ``"yes"`` only for
a YES move — a THROTTLED one prints ``"no"`` with the "busy ... Please wait" explanation),
``routing/allocation/Explanations.java`` (the texts), and
``action/admin/cluster/allocation/TransportClusterAllocationExplainAction.findShardToExplain``
(the 400s for a copy that is not on ``current_node``).
"""

from __future__ import annotations

from typing import Any

from autoscaler.sim.es.allocator import AllocatorMixin
from autoscaler.sim.es.errors import EsError, illegal_argument
from autoscaler.sim.es.shards import (
    RELOCATING,
    UNASSIGNED,
    Decision,
    Node,
    ShardCopy,
)
from autoscaler.sim.es.units import (
    format_time,
    iso_ms,
)


class ExplainMixin(AllocatorMixin):
    """Explains one shard copy as ``ClusterAllocationExplanation`` does."""

    def _node_ref(self, node: Node, *, with_attrs: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": node.id,
            "name": node.name,
            "transport_address": f"{node.ip}:9300",
        }
        if with_attrs:
            d["attributes"] = dict(node.attributes)
        if self.version_tuple[:2] >= (8, 11):
            d["roles"] = list(node.roles)
        return d

    def _weight_ranks(self) -> dict[str, int]:
        ordered = sorted(self._nodes.values(), key=lambda n: (n.proj_count, n.join_seq))
        return {n.name: i + 1 for i, n in enumerate(ordered)}

    def _node_decision_entry(
        self, node: Node, decisions: list[Decision], verdict: str, rank: int, include_yes: bool
    ) -> dict[str, Any]:
        e: dict[str, Any] = {
            "node_id": node.id,
            "node_name": node.name,
            "transport_address": f"{node.ip}:9300",
            "node_attributes": dict(node.attributes),
        }
        if self.version_tuple[:2] >= (8, 11):
            e["roles"] = list(node.roles)
        e["node_decision"] = verdict
        e["weight_ranking"] = rank
        shown = [d for d in decisions if include_yes or d[1] != "YES"]
        if shown:
            e["deciders"] = [{"decider": a, "decision": b, "explanation": x} for a, b, x in shown]
        return e

    def find_copy(
        self, index: str, shard: int, primary: bool, current_node: str | None = None
    ) -> ShardCopy:
        idx = self._indices.get(index)
        if idx is None:
            raise EsError(
                404,
                "index_not_found_exception",
                f"no such index [{index}]",
                meta={
                    "resource.type": "index_or_alias",
                    "resource.id": index,
                    "index_uuid": "_na_",
                    "index": index,
                },
            )
        if not 0 <= shard < idx.primaries:
            raise illegal_argument(f"shardId [{shard}] is out of bounds for index [{index}]")
        for c in idx.shards[shard]:
            if c.primary != primary:
                continue
            if current_node is not None:
                n = self._nodes.get(current_node) or self._nodes_by_id.get(current_node)
                if n is None:  # DiscoveryNodes.resolveNode
                    raise illegal_argument(f"failed to resolve [{current_node}], no matching nodes")
                if c.node != n.name:
                    continue
            return c
        if primary:  # findShardToExplain: the primary is on another node
            raise illegal_argument(
                f"unable to find primary shard assigned to node [{current_node}]"
            )
        if current_node is not None:
            raise illegal_argument(
                f"unable to find a replica shard assigned to node [{current_node}]"
            )
        # ClusterAllocationExplainRequest.toString() (no closing bracket of its own);
        # includeYesDecisions is not known here and printed false
        request = (
            f"ClusterAllocationExplainRequest[index={index},shard={shard},primary?=false,"
            "includeYesDecisions?=false"
        )
        raise illegal_argument(
            f"unable to find any shards to explain [{request}] in the routing table"
        )

    def first_unassigned(self) -> ShardCopy | None:
        self._ensure_layout()
        cands = sorted(
            self._unassigned, key=lambda c: (not c.primary, c.index, c.shard, c.alloc_id)
        )
        return cands[0] if cands else None

    def explain(
        self, c: ShardCopy, *, include_yes: bool = False, note: str | None = None
    ) -> dict[str, Any]:
        """The ``_cluster/allocation/explain`` body for one copy (8.x key order)."""
        self._ensure_layout()
        now = self._now()
        out: dict[str, Any] = {}
        if note is not None:
            out["note"] = note
        out.update(
            {
                "index": c.index,
                "shard": c.shard,
                "primary": c.primary,
                "current_state": c.state.lower(),
            }
        )
        ranks = self._weight_ranks()
        data_nodes = self._data_nodes()
        if c.state == UNASSIGNED:
            info: dict[str, Any] = {
                "reason": c.unassigned_reason or "INDEX_CREATED",
                "at": iso_ms(c.unassigned_at),
            }
            if c.failed_attempts:
                info["failed_allocation_attempts"] = c.failed_attempts
            if c.delayed_until > now:
                info["delayed"] = True
            if c.unassigned_details:
                info["details"] = c.unassigned_details
            entries = []
            verdicts = []
            no_copy = c.primary and (c.last_node is None or c.last_node not in self._nodes)
            no_copy = no_copy and c.last_node is not None
            for node in data_nodes:
                if no_copy:
                    ds: list[Decision] = []
                    verdict = "no"
                    e = self._node_decision_entry(node, ds, verdict, ranks[node.name], include_yes)
                    e["store"] = {"found": False}
                else:
                    ds = self._allocate_decisions(c, node, explain=True)
                    v = self._verdict(ds)
                    verdict = {"YES": "yes", "NO": "no", "THROTTLE": "throttled"}[v]
                    e = self._node_decision_entry(node, ds, verdict, ranks[node.name], include_yes)
                verdicts.append(verdict)
                entries.append(e)
            entries.sort(
                key=lambda e: (
                    {"yes": 0, "throttled": 1, "no": 2}[e["node_decision"]],
                    e["weight_ranking"],
                    e["node_id"],
                )
            )
            if no_copy:
                can, expl = (
                    "no_valid_shard_copy",
                    "Elasticsearch can't allocate this shard because there are no copies of its data in "
                    "the cluster. Elasticsearch will allocate this shard when a node holding a good copy "
                    "of its data joins the cluster. If no such node is available, restore this index "
                    "from a recent snapshot.",
                )
                info["last_allocation_status"] = "no_valid_shard_copy"
            elif c.delayed_until > now:
                can = "allocation_delayed"
                expl = (
                    "The node containing this shard copy recently left the cluster. Elasticsearch is "
                    "waiting for it to return. If the node does not return within "
                    f"[{format_time((c.delayed_until - c.unassigned_at) * 1000)}] then Elasticsearch will "
                    "allocate this shard to another node. Please wait."
                )
                info["last_allocation_status"] = "no_attempt"
            elif "yes" in verdicts:
                can, expl = "yes", "Elasticsearch can allocate the shard."
                info["last_allocation_status"] = "no_attempt"
            elif "throttled" in verdicts:
                can = "throttled"
                expl = (
                    "Elasticsearch is currently busy with other activities. It expects to be able to "
                    "allocate this shard when those activities finish. Please wait."
                )
                info["last_allocation_status"] = "throttled"
            else:
                can = "no"
                expl = (
                    "Elasticsearch isn't allowed to allocate this shard to any of the nodes in the "
                    "cluster. Choose a node to which you expect this shard to be allocated, find this "
                    "node in the node-by-node explanation, and address the reasons which prevent "
                    "Elasticsearch from allocating this shard there."
                )
                info["last_allocation_status"] = "no"
            out["unassigned_info"] = info
            out["can_allocate"] = can
            out["allocate_explanation"] = expl
            if can == "allocation_delayed":
                out["configured_delay_in_millis"] = int((c.delayed_until - c.unassigned_at) * 1000)
                out["remaining_delay_in_millis"] = int((c.delayed_until - now) * 1000)
            out["node_allocation_decisions"] = entries
            return out
        node = self._nodes[c.node or ""]
        cur = self._node_ref(node)
        cur["weight_ranking"] = ranks[node.name]
        out["current_node"] = cur
        if c.state == RELOCATING and c.relocating_to is not None:
            out["target_node"] = self._node_ref(self._nodes[c.relocating_to])
        remain = self._can_remain(c, node)
        remain_verdict = self._verdict(remain)
        others = [n for n in data_nodes if n is not node]
        entries = []
        verdicts = []
        for other in others:
            ds = self._allocate_decisions(c, other, explain=True, source=node)
            v = self._verdict(ds)
            verdict = {"YES": "yes", "NO": "no", "THROTTLE": "throttled"}[v]
            if (
                verdict == "yes"
                and remain_verdict == "YES"
                and other.proj_count >= node.proj_count - 1
            ):
                verdict = "worse_balance"
            verdicts.append(verdict)
            entries.append(
                self._node_decision_entry(other, ds, verdict, ranks[other.name], include_yes)
            )
        entries.sort(
            key=lambda e: (
                {"yes": 0, "throttled": 1, "worse_balance": 2, "no": 3}[e["node_decision"]],
                e["weight_ranking"],
                e["node_id"],
            )
        )
        if remain_verdict == "NO":
            out["can_remain_on_current_node"] = "no"
            out["can_remain_decisions"] = [
                {"decider": a, "decision": b, "explanation": x} for a, b, x in remain if b != "YES"
            ]
            if "yes" in verdicts:
                out["can_move_to_other_node"] = "yes"
                out["move_explanation"] = (
                    "This shard may not remain on its current node. Elasticsearch will move it to another node."
                )
            elif "throttled" in verdicts:
                out["can_move_to_other_node"] = "no"
                out["move_explanation"] = (
                    "This shard may not remain on its current node. Elasticsearch is currently busy with "
                    "other activities and will move this shard to another node when those activities "
                    "finish. Please wait."
                )
            else:
                out["can_move_to_other_node"] = "no"
                out["move_explanation"] = (
                    "This shard may not remain on its current node, but Elasticsearch isn't allowed to "
                    "move it to another node. Choose a node to which you expect this shard to be "
                    "allocated, find this node in the node-by-node explanation, and address the reasons "
                    "which prevent Elasticsearch from allocating this shard there."
                )
        else:
            out["can_remain_on_current_node"] = "yes"
            blockers = self._rebalance_blockers()
            if blockers:
                v = self._verdict(blockers)
                out["can_rebalance_cluster"] = "no" if v == "NO" else "throttled"
                out["can_rebalance_cluster_decisions"] = [
                    {"decider": a, "decision": b, "explanation": x} for a, b, x in blockers
                ]
            else:
                out["can_rebalance_cluster"] = "yes"
            if "yes" in verdicts and not blockers:
                out["can_rebalance_to_other_node"] = "yes"
                out["rebalance_explanation"] = (
                    "Elasticsearch can rebalance this shard to another node."
                )
            elif "worse_balance" in verdicts or ("yes" in verdicts and blockers):
                out["can_rebalance_to_other_node"] = "no"
                out["rebalance_explanation"] = (
                    "This shard is in a well-balanced location and satisfies all allocation rules so it "
                    "will remain on this node. Elasticsearch cannot improve the cluster balance by moving "
                    "it to another node. If you expect this shard to be rebalanced to another node, find "
                    "the other node in the node-by-node explanation and address the reasons which prevent "
                    "Elasticsearch from rebalancing this shard there."
                )
            elif "throttled" in verdicts:
                out["can_rebalance_to_other_node"] = "throttled"
                out["rebalance_explanation"] = (
                    "Elasticsearch is currently busy with other activities. It will rebalance this shard "
                    "when those activities finish. Please wait."
                )
            else:
                out["can_rebalance_to_other_node"] = "no"
                out["rebalance_explanation"] = (
                    "Elasticsearch is not allowed to allocate or rebalance this shard to another node. If "
                    "you expect this shard to be rebalanced to another node, find this other node in the "
                    "node-by-node explanation and address the reasons which prevent Elasticsearch from "
                    "rebalancing this shard there."
                )
        out["node_allocation_decisions"] = entries
        return out
