"""The model's objects: nodes, shard copies, recoveries, index state, decider decisions.

Plain mutable records the allocator, health and explain code share; no behaviour beyond
derived byte counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

UNASSIGNED = "UNASSIGNED"


INITIALIZING = "INITIALIZING"


STARTED = "STARTED"


RELOCATING = "RELOCATING"


DATA_ROLES = frozenset(
    {"data", "data_content", "data_hot", "data_warm", "data_cold", "data_frozen"}
)


@dataclass(eq=False)
class Recovery:
    copy: ShardCopy
    kind: str  # "peer" | "existing_store" | "empty_store"
    source: str | None
    target: str
    total: int
    started_at: float
    relocation: bool = False
    rebalance: bool = False
    done: float = 0.0
    stopped_at: float | None = None
    #: node the bytes are copied from when not ``source``: a *replica* relocation recovers
    #: from the primary's node, not from the relocating copy (peer recovery)
    peer: str | None = None

    @property
    def from_node(self) -> str | None:
        """Where the data comes from (counts as that node's outgoing recovery)."""
        return self.peer if self.peer is not None else self.source


@dataclass(eq=False)
class ShardCopy:
    index: str
    shard: int
    primary: bool
    size: int
    docs: int
    alloc_id: str
    state: str = UNASSIGNED
    node: str | None = None
    relocating_to: str | None = None
    recovery: Recovery | None = None
    last_recovery: Recovery | None = None
    unassigned_reason: str | None = "INDEX_CREATED"
    unassigned_at: float = 0.0
    unassigned_details: str | None = None
    delayed_until: float = 0.0
    last_node: str | None = None
    #: UnassignedInfo.failed_allocations: failed recoveries in a row (``max_retry`` decider)
    failed_attempts: int = 0
    #: ids of the nodes those failed recoveries ran on (``failed_nodes``)
    failed_nodes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state in (STARTED, RELOCATING)

    def label(self) -> str:
        return f"[{self.index}][{self.shard}]"


@dataclass(eq=False)
class Node:
    name: str
    id: str
    roles: tuple[str, ...]
    disk_bytes: int
    heap_bytes: int
    ip: str
    join_seq: int
    joined_at: float
    attributes: dict[str, str]
    copies: set[ShardCopy] = field(default_factory=set)
    incoming_relocs: set[ShardCopy] = field(default_factory=set)
    in_recs: list[Recovery] = field(default_factory=list)  # active recoveries targeting this node
    index_counts: Counter[str] = field(default_factory=Counter)
    data_bytes: int = 0
    incoming: int = 0
    outgoing: int = 0
    reloc_out: int = 0
    #: bytes on the data path that are not shard data (``/_sim/nodes/{name}/disk``); None = 1 %
    other_bytes: int | None = None

    @property
    def is_data(self) -> bool:
        return bool(DATA_ROLES.intersection(self.roles))

    @property
    def host(self) -> str:
        return self.ip

    @property
    def proj_count(self) -> int:
        return len(self.copies) - self.reloc_out + len(self.incoming_relocs)

    def base_used(self) -> int:
        return self.disk_bytes // 100 if self.other_bytes is None else self.other_bytes

    def used_bytes(self) -> int:
        inc = 0
        for rec in self.in_recs:
            inc += int(rec.done)
        return self.base_used() + self.data_bytes + inc

    def reserved_bytes(self) -> int:
        """Used + what incoming recoveries will still write (ES reserves it)."""
        extra = 0
        for rec in self.in_recs:
            extra += rec.copy.size
        return self.base_used() + self.data_bytes + extra

    @property
    def active_count(self) -> int:
        """Copies here that serve requests (STARTED or RELOCATING away)."""
        return len(self.copies) - (self.incoming - len(self.incoming_relocs))


@dataclass(eq=False)
class IndexState:
    name: str
    uuid: str
    primaries: int
    replicas: int
    shard_size: int
    created_at: float
    shards: list[list[ShardCopy]]
    #: explicitly set dynamic index settings, flat (``index.routing.allocation.exclude._name``)
    settings: dict[str, str] = field(default_factory=dict)
    #: parsed from ``settings`` (``indices.IndicesMixin._apply_index_settings``)
    require: tuple[tuple[str, tuple[str, ...]], ...] = ()
    include: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[tuple[str, tuple[str, ...]], ...] = ()
    total_shards_per_node: int = -1
    max_retries: int = 5
    delayed_timeout_s: float = 60.0
    #: ``index.blocks.read_only_allow_delete`` (set by the flood-stage disk monitor)
    read_only_allow_delete: bool = False
    #: the flood-stage monitor set the block (and may release it)
    auto_blocked: bool = False


Decision = tuple[str, str, str]  # (decider, "YES"|"NO"|"THROTTLE", explanation)


#: decider verdicts from best to worst: the worst one of all deciders wins
DECISION_ORDER = {"YES": 0, "THROTTLE": 1, "NO": 2}


def abbreviate_roles(roles: Iterable[str]) -> str:
    """The ``node.role`` column of ``_cat/nodes`` (``dim``, ``hs``; ``-`` for none)."""
    letters = {
        "data_cold": "c",
        "data": "d",
        "data_frozen": "f",
        "data_hot": "h",
        "ingest": "i",
        "ml": "l",
        "master": "m",
        "remote_cluster_client": "r",
        "data_content": "s",
        "transform": "t",
        "voting_only": "v",
        "data_warm": "w",
    }
    s = "".join(sorted(letters[r] for r in roles if r in letters))
    return s or "-"
