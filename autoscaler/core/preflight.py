"""Scale-down preflight: may these victims leave the cluster without risking data or quorum?

One pure function answers it for the three callers that must agree (issue 8 §2): the engine
(from the disk percentage it observes), ``backtest`` (the same engine over recorded data) and
the operation runner (from live ``_cat`` / settings / voting facts it fetched through
``elastic/admin.py``). Each refusal is a short human reason the caller renders as
``unsafe(<reason>)``; an empty list means "safe". No IO, no clock: the caller brings the facts.

Rules, in the order they are reported (DESIGN §6, issue 8 §2):

* ``health_not_green`` — the cluster must be green (a yellow cluster already lacks a copy).
* ``no_relocations`` / ``no_initializing`` — shards must not be moving already.
* ``victims_known`` — every victim must be a node the cluster reports (else it is not ours to judge).
* ``some_node_remains`` — at least one tier node must remain.
* ``disk_projection`` — the data the tier holds must fit the remaining nodes' capacity at
  ``max_disk_percent`` or less (bytes when the runner has them, percentages in the engine).
* ``replicas_fit`` — every index needs ``replicas + 1`` distinct nodes (no two copies of a shard
  on one node).
* ``total_shards_per_node`` — an index limited to ``k`` copies per node needs
  ``ceil(copies / k)`` nodes.
* ``name_filters`` — an index whose ``index.routing.allocation.{require,include,exclude}._name``
  filters leave fewer remaining nodes it may use than it needs (``replicas + 1``, and
  ``ceil(copies / k)`` under a per-node limit) — e.g. ``require._name`` naming a victim.
  Only ``_name`` filters are judged; other attributes (``_ip``, ``_host``, custom ones) need
  node facts the caller does not bring, and are left to the drain's allocation-explain check.
* ``cluster_shards_per_node`` — ``cluster.routing.allocation.total_shards_per_node`` ``k``:
  every copy of every index must fit ``k`` per remaining data node (a necessary condition
  only; how the copies would have to be arranged is the allocator's business).

What this cannot see — a copy that fits in total but not where it must go (same-shard plus a
per-node limit, a receiver over the disk watermark, attribute filters) — is caught during the
drain by ``_cluster/allocation/explain`` (``operations/runner.py``): explain judges the current
placement, so it cannot be asked before our exclusion is in place.
* ``quorum`` — master-eligible victims must leave a majority of the committed voting
  configuration and at least one master-eligible node behind.
* ``pvc_retention_known`` — with an unknown PVC retention policy we cannot tell whether data on
  the victims outlives them, so we do not start.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

__all__ = [
    "HealthFacts",
    "IndexFacts",
    "NodeFacts",
    "PreflightInput",
    "disk_reason",
    "format_percent",
    "projected_disk_from_percent",
    "projected_disk_percent",
    "scale_down_preflight",
]


def projected_disk_percent(*, used_bytes: int, remaining_capacity_bytes: int) -> float:
    """Disk use of the remaining nodes once they hold everything: ``used ÷ capacity × 100``.

    A capacity of zero (or less) projects to infinity: nothing fits on no disk.
    """
    if remaining_capacity_bytes <= 0:
        return math.inf
    return 100.0 * used_bytes / remaining_capacity_bytes


def projected_disk_from_percent(*, disk_avg_percent: float, current: int, remaining: int) -> float:
    """``disk.avg × N ÷ (N − step)``: the same projection from the tier's average percentage,
    assuming equal disks (what the engine and ``backtest`` see). ``remaining`` = ``N − step``."""
    if remaining <= 0:
        return math.inf
    return disk_avg_percent * current / remaining


def format_percent(value: float) -> str:
    """``82.0`` → ``"82%"``, ``75.36`` → ``"75.4%"``: whole numbers stay whole, so a reason reads
    ``disk projection 82% > 75%`` and a value just above the limit is still visibly above it."""
    if math.isinf(value):
        return "∞%"
    rounded = round(value, 1)
    text = f"{rounded:.1f}".removesuffix(".0")
    return f"{text}%"


def disk_reason(projected: float, limit: float) -> str | None:
    """The ``disk_projection`` refusal text, or None when ``projected ≤ limit``."""
    if projected <= limit:
        return None
    shown, bound = format_percent(projected), format_percent(limit)
    if shown == bound:  # 75.04 > 75 must not read "75% > 75%"
        shown = f"{projected:.2f}%"
    return f"disk projection {shown} > {bound}"


@dataclass(frozen=True)
class HealthFacts:
    """The part of ``_cluster/health`` the preflight reads."""

    status: str
    relocating_shards: int = 0
    initializing_shards: int = 0


@dataclass(frozen=True)
class NodeFacts:
    """One node of the cluster as ``_cat/nodes`` + ``_cat/allocation`` describe it."""

    name: str
    roles: tuple[str, ...] = ("data",)
    master_eligible: bool = False
    node_id: str | None = None
    disk_used_bytes: int | None = None
    disk_total_bytes: int | None = None

    @property
    def holds_data(self) -> bool:
        return any(r == "data" or r.startswith("data_") for r in self.roles)


@dataclass(frozen=True)
class IndexFacts:
    """One index: its shape and its per-node limit (``None`` or ``-1`` = unbounded)."""

    name: str
    primaries: int
    replicas: int
    total_shards_per_node: int | None = None
    require_names: tuple[str, ...] = ()
    """``index.routing.allocation.require._name`` patterns (``*`` wildcards), if any."""
    include_names: tuple[str, ...] = ()
    exclude_names: tuple[str, ...] = ()

    @property
    def copies(self) -> int:
        return self.primaries * (self.replicas + 1)

    @property
    def nodes_needed(self) -> int:
        """Distinct nodes the index needs: one per copy of a shard, more under a limit."""
        needed = self.replicas + 1
        per_node = self.total_shards_per_node
        if per_node is not None and per_node > 0:
            needed = max(needed, math.ceil(self.copies / per_node))
        return needed

    def may_use(self, node: str) -> bool:
        """Whether the index's ``_name`` filters let a copy live on ``node``
        (``FilterAllocationDecider``: require and include need a match, exclude none)."""
        if self.require_names and not _matches_any(node, self.require_names):
            return False
        if self.include_names and not _matches_any(node, self.include_names):
            return False
        return not (self.exclude_names and _matches_any(node, self.exclude_names))

    def describe_name_filters(self) -> str:
        parts = [
            f"{kind}._name [{','.join(names)}]"
            for kind, names in (
                ("require", self.require_names),
                ("include", self.include_names),
                ("exclude", self.exclude_names),
            )
            if names
        ]
        return ", ".join(parts)


def _glob_match(pattern: str, name: str) -> bool:
    """ES ``Regex.simpleMatch``: ``*`` matches any run of characters, nothing else is special."""
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return pattern == name
    head, *middle, tail = pieces
    if not name.startswith(head) or not name.endswith(tail):
        return False
    if len(head) + len(tail) > len(name):
        return False
    pos = len(head)
    end = len(name) - len(tail)
    for piece in middle:
        found = name.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


def _matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    return any(_glob_match(p, name) for p in patterns)


@dataclass(frozen=True)
class PreflightInput:
    """Everything the scale-down preflight looks at, fetched by the caller.

    ``nodes`` are every node of the cluster; ``tier`` names the nodes the indices' copies may
    live on (the policy's tier; ``None`` = every data node). ``voting_config`` holds the node ids
    of the committed voting configuration (``None`` = not known: only the "one master-eligible
    node must remain" part of the quorum rule is checked). ``max_disk_percent`` ``None`` skips
    the disk rule. ``cluster_shards_per_node`` is the effective
    ``cluster.routing.allocation.total_shards_per_node`` (None: unbounded). ``pvc_retention`` is the StatefulSet's
    ``whenScaled`` policy (``Retain``/``Delete``) or any other known marker (e.g. ``"n/a"`` for
    VMs); ``None`` means unknown and is refused when ``require_pvc_retention``.
    """

    health: HealthFacts
    nodes: tuple[NodeFacts, ...]
    indices: tuple[IndexFacts, ...]
    victims: tuple[str, ...]
    tier: frozenset[str] | None = None
    voting_config: frozenset[str] | None = None
    max_disk_percent: float | None = None
    pvc_retention: str | None = None
    require_pvc_retention: bool = True
    cluster_shards_per_node: int | None = None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _tier_nodes(inp: PreflightInput) -> list[NodeFacts]:
    if inp.tier is None:
        return [n for n in inp.nodes if n.holds_data]
    return [n for n in inp.nodes if n.name in inp.tier]


def _disk_reasons(
    inp: PreflightInput, tier: list[NodeFacts], victims: Collection[str]
) -> list[str]:
    if inp.max_disk_percent is None:
        return []
    unknown = [n.name for n in tier if n.disk_used_bytes is None or n.disk_total_bytes is None]
    if unknown:
        return [f"disk use unknown on {', '.join(sorted(unknown))}"]
    used = sum(n.disk_used_bytes or 0 for n in tier)
    capacity = sum(n.disk_total_bytes or 0 for n in tier if n.name not in victims)
    projected = projected_disk_percent(used_bytes=used, remaining_capacity_bytes=capacity)
    reason = disk_reason(projected, inp.max_disk_percent)
    return [reason] if reason else []


def _index_reasons(inp: PreflightInput, remaining: int, left: list[str]) -> list[str]:
    out: list[str] = []
    for idx in inp.indices:
        needed = idx.replicas + 1
        if needed > remaining:
            out.append(
                f"index {idx.name} needs {_plural(needed, 'node')} "
                f"(replicas {idx.replicas} + 1), {remaining} would remain"
            )
            continue
        per_node = idx.total_shards_per_node
        if per_node is not None and per_node > 0:
            needed = math.ceil(idx.copies / per_node)
            if needed > remaining:
                out.append(
                    f"total_shards_per_node {per_node} on index {idx.name} needs "
                    f"{_plural(needed, 'node')}, {remaining} would remain"
                )
                continue
        if idx.require_names or idx.include_names or idx.exclude_names:
            usable = sum(1 for n in left if idx.may_use(n))
            if usable < idx.nodes_needed:
                out.append(
                    f"index {idx.name} needs {_plural(idx.nodes_needed, 'node')} its "
                    f"allocation filters ({idx.describe_name_filters()}) allow, "
                    f"{usable} would remain"
                )
    return out


def _cluster_limit_reasons(inp: PreflightInput, victims: Collection[str]) -> list[str]:
    limit = inp.cluster_shards_per_node
    if limit is None or limit <= 0:  # ES: 0 or less = no limit (ShardsLimitAllocationDecider)
        return []
    data_left = sum(1 for n in inp.nodes if n.holds_data and n.name not in victims)
    copies = sum(i.copies for i in inp.indices)
    if copies > limit * data_left:
        return [
            f"cluster total_shards_per_node {limit}: {copies} shard copies do not fit "
            f"{data_left} remaining data {'node' if data_left == 1 else 'nodes'}"
        ]
    return []


def _quorum_reasons(inp: PreflightInput, victims: Collection[str]) -> list[str]:
    masters = [n for n in inp.nodes if n.master_eligible]
    leaving = [n for n in masters if n.name in victims]
    if not leaving:
        return []
    if len(leaving) == len(masters):
        return ["quorum at risk: no master-eligible node would remain"]
    if inp.voting_config is None:
        return []
    leaving_ids = {n.node_id for n in leaving if n.node_id is not None}
    left = len(inp.voting_config - leaving_ids)
    need = len(inp.voting_config) // 2 + 1
    if left < need:
        return [
            f"quorum at risk: {left} of {len(inp.voting_config)} voting nodes would remain, "
            f"{need} needed"
        ]
    return []


def scale_down_preflight(inp: PreflightInput) -> list[str]:
    """``[]`` when removing ``inp.victims`` is safe, else every reason it is not (module doc)."""
    reasons: list[str] = []
    if inp.health.status != "green":
        reasons.append(f"cluster is {inp.health.status}")
    if inp.health.relocating_shards:
        reasons.append(f"{_plural(inp.health.relocating_shards, 'shard')} relocating")
    if inp.health.initializing_shards:
        reasons.append(f"{_plural(inp.health.initializing_shards, 'shard')} initializing")
    victims = set(inp.victims)
    known = {n.name for n in inp.nodes}
    missing = sorted(victims - known)
    if missing:
        reasons.append(f"victim {', '.join(missing)} is not a node of the cluster")
    tier = _tier_nodes(inp)
    left = [n.name for n in tier if n.name not in victims]
    remaining = len(left)
    if remaining < 1:
        reasons.append("no node of the tier would remain")
    else:
        reasons.extend(_disk_reasons(inp, tier, victims))
        reasons.extend(_index_reasons(inp, remaining, left))
        reasons.extend(_cluster_limit_reasons(inp, victims))
    reasons.extend(_quorum_reasons(inp, victims))
    if inp.pvc_retention is None and inp.require_pvc_retention:
        reasons.append("PVC retention policy unknown")
    return reasons
