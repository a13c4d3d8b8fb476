"""The cluster model's state: nodes, indices, shard copies, settings, the clock.

``Cluster`` is assembled from mixins (settings, deciders, allocator, explain, shutdown,
coordination, health), each one concept in its own file; this base holds the state they
share and its accessors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from autoscaler.sim.clock import SimClock
from autoscaler.sim.datasets import IndexSpec, default_indices
from autoscaler.sim.es.config import (
    AllocationConfig,
)
from autoscaler.sim.es.shards import (
    IndexState,
    Node,
    Recovery,
    ShardCopy,
)
from autoscaler.sim.es.units import (
    b64id,
)
from autoscaler.sim.loadmodel import (
    LoadModel,
    NodeCapacity,
    WorkloadSchedule,
)

#: the allocator also runs this often when nothing changed (simulated seconds)
REROUTE_INTERVAL_S = 10.0


class ClusterCore:
    """State of the cluster model and its plain accessors; behaviour lives in the mixins."""

    def __init__(
        self,
        *,
        clock: SimClock,
        version: str = "8.15.0",
        seed: int = 0,
        cluster_name: str = "sim-es",
        indices: Sequence[IndexSpec] | None = None,
        capacity: NodeCapacity | None = None,
    ) -> None:
        parts = [int(p) for p in re.findall(r"\d+", version)[:3]] + [0, 0, 0]
        self.version = version
        self.version_tuple: tuple[int, int, int] = (parts[0], parts[1], parts[2])
        self.major = parts[0]
        self.clock = clock
        self.seed = seed
        self.cluster_name = cluster_name
        self.cluster_uuid = b64id("cluster", seed, cluster_name)
        self.load = LoadModel(seed=seed, capacity=capacity)
        self.schedule = WorkloadSchedule()
        self._nodes: dict[str, Node] = {}
        self._nodes_by_id: dict[str, Node] = {}
        self._join_seq = 0
        self._indices: dict[str, IndexState] = {}
        self._copies: list[ShardCopy] = []
        self._unassigned: set[ShardCopy] = set()
        self._recoveries: list[Recovery] = []
        self._rebalancing = 0
        self._pinned: set[tuple[str, int]] = set()
        self.persistent: dict[str, str | list[str]] = {}
        self.transient: dict[str, str | list[str]] = {}
        self._cfg = self._parse_config()
        self._started = False
        self._layout_pending = False
        self._dirty = True
        self._shares_dirty = True
        self._shares: dict[str, float] = {}
        self._last_reroute = -math.inf
        self._invariants: list[dict[str, Any]] = []
        self.voting_exclusions: list[dict[str, str]] = []
        # coordination (see coordination.py): committed voting config, elected master, term
        self._committed_config: frozenset[str] = frozenset()
        self._master_id: str | None = None
        self._term = 0
        self._quorum_lost = False
        self._departed_names: dict[str, str] = {}
        self._replica_seq = 0  # replicas added by index settings get fresh allocation ids
        self._failing: set[tuple[str, int]] = set()  # fault: recoveries of these shards fail
        self._last_disk_check = -math.inf
        self._info_interval: float | None = None  # cluster.info.update.interval, cached
        self.shutdowns: dict[str, dict[str, Any]] = {}
        self._seen_node_ids: set[str] = set()
        self.model_seconds = 0.0
        self.relocations_completed = 0  # cumulative, for tests and benches
        self.relocated_bytes = 0
        now = clock.time()
        for spec in default_indices() if indices is None else indices:
            self._add_index(spec, now)

    def _now(self) -> float:
        return self.clock.time()

    def _add_index(self, spec: IndexSpec, now: float) -> None:
        if spec.name in self._indices:
            raise ValueError(f"index [{spec.name}] already exists")
        idx = IndexState(
            name=spec.name,
            uuid=b64id("index", self.seed, spec.name),
            primaries=spec.primaries,
            replicas=spec.replicas,
            shard_size=spec.shard_bytes,
            created_at=now,
            shards=[],
        )
        for s in range(spec.primaries):
            copies = []
            for r in range(1 + spec.replicas):
                c = ShardCopy(
                    index=spec.name,
                    shard=s,
                    primary=r == 0,
                    size=spec.shard_bytes,
                    docs=spec.shard_bytes // 600,
                    alloc_id=b64id("alloc", self.seed, spec.name, s, r),
                    unassigned_at=now,
                )
                copies.append(c)
                self._copies.append(c)
                self._unassigned.add(c)
            idx.shards.append(copies)
        self._indices[spec.name] = idx
        self._layout_pending = not self._started
        self._dirty = True

    def node_names(self) -> list[str]:
        return list(self._nodes)

    def nodes(self) -> list[Node]:
        self._ensure_layout()
        return list(self._nodes.values())

    def node(self, name: str) -> Node:
        return self._nodes[name]

    def indices(self) -> list[IndexState]:
        self._ensure_layout()
        return list(self._indices.values())

    def copies(self) -> list[ShardCopy]:
        self._ensure_layout()
        return self._copies

    @property
    def recoveries(self) -> list[Recovery]:
        return list(self._recoveries)

    @property
    def invariants(self) -> list[dict[str, Any]]:
        return [dict(v) for v in self._invariants]

    @property
    def is_virtual(self) -> bool:
        return bool(getattr(self.clock, "virtual", False))

    def _shard_copies(self, c: ShardCopy) -> list[ShardCopy]:
        return self._indices[c.index].shards[c.shard]

    def _primary_of(self, c: ShardCopy) -> ShardCopy | None:
        for o in self._shard_copies(c):
            if o.primary:
                return o
        return None

    def _data_nodes(self) -> list[Node]:
        return [n for n in self._nodes.values() if n.is_data]

    def _ensure_layout(self) -> None:
        if self._layout_pending and not self._started:
            self._bootstrap_layout()

    def _parse_config(self) -> AllocationConfig:  # provided by SettingsMixin
        raise NotImplementedError

    def _bootstrap_layout(self) -> None:  # provided by AllocatorMixin
        raise NotImplementedError
