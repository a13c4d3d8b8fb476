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

import base64
import hashlib
import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from autoscaler.sim.clock import SimClock
from autoscaler.sim.datasets import IndexSpec, default_indices, parse_size
from autoscaler.sim.loadmodel import (
    LoadModel,
    NodeCapacity,
    NodeFacts,
    Workload,
    WorkloadSchedule,
)

__all__ = [
    "Cluster",
    "EsError",
    "IndexSpec",
    "format_bytes",
    "format_time",
    "parse_time_value",
]

UNASSIGNED = "UNASSIGNED"
INITIALIZING = "INITIALIZING"
STARTED = "STARTED"
RELOCATING = "RELOCATING"

DATA_ROLES = frozenset(
    {"data", "data_content", "data_hot", "data_warm", "data_cold", "data_frozen"}
)
_REROUTE_INTERVAL_S = 10.0
_UNLIMITED_BPS = float(2**50)


# --------------------------------------------------------------------------- errors, formats


def validation_failed(problems: Sequence[str]) -> EsError:
    """ES's ``action_request_validation_exception``: ``Validation Failed: 1: a;2: b;``."""
    return EsError(
        400,
        "action_request_validation_exception",
        "Validation Failed: " + "".join(f"{i + 1}: {m};" for i, m in enumerate(problems)),
    )


class EsError(Exception):
    """An Elasticsearch error response; ``es_api`` renders it with the real body shape."""

    def __init__(
        self,
        status: int,
        type_: str,
        reason: str | None,
        *,
        meta: Mapping[str, Any] | None = None,
        caused_by: EsError | None = None,
        simple: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.type = type_
        self.reason = reason
        self.meta = dict(meta or {})
        self.caused_by = caused_by
        self.simple = simple  # body {"error": "<reason>", "status": N}
        self.headers = dict(headers or {})

    def _obj(self, with_cause: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type, "reason": self.reason, **self.meta}
        if with_cause and self.caused_by is not None:
            d["caused_by"] = self.caused_by._obj(True)
        return d

    def body(self) -> dict[str, Any]:
        if self.simple:
            return {"error": self.reason, "status": self.status}
        root: EsError = self
        err: dict[str, Any] = self._obj(True)
        return {"error": {"root_cause": [root._obj(False)], **err}, "status": self.status}


def illegal_argument(reason: str, *, caused_by: EsError | None = None) -> EsError:
    return EsError(400, "illegal_argument_exception", reason, caused_by=caused_by)


def _format1(value: float, suffix: str) -> str:
    p = repr(float(value))
    if "e" in p or "E" in p:
        return f"{value:.1f}{suffix}"
    whole, _, frac = p.partition(".")
    if not frac or frac[0] == "0":
        return whole + suffix
    return f"{whole}.{frac[0]}{suffix}"


def format_bytes(n: float) -> str:
    """Elasticsearch ``ByteSizeValue.toString``: ``"36.4mb"``, ``"208b"``, ``"1gb"``."""
    n = int(n)
    for unit, mult in (("pb", 2**50), ("tb", 2**40), ("gb", 2**30), ("mb", 2**20), ("kb", 2**10)):
        if n >= mult:
            return _format1(n / mult, unit)
    return f"{n}b"


def format_time(ms: float) -> str:
    """Elasticsearch ``TimeValue.toString`` for a duration in milliseconds."""
    if ms <= 0:
        return "0s"
    for unit, mult in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= mult:
            return _format1(ms / mult, unit)
    return _format1(ms, "ms")


_TIME_UNITS = {
    "nanos": 1e-9,
    "micros": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def parse_time_value(text: str, setting: str) -> float:
    """Parse a time value like Elasticsearch 8.x (``30s``, ``100ms``, ``0``, ``-1``) → seconds."""
    t = text.strip()
    if t in ("0", "-1"):
        return float(t)
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(nanos|micros|ms|s|m|h|d)", t.lower())
    if not m:
        raise illegal_argument(
            f"failed to parse setting [{setting}] with value [{text}] as a time value: "
            "unit is missing or unrecognized"
        )
    if "." in m.group(1):
        raise illegal_argument(
            f"failed to parse [{text}], fractional time values are not supported"
        )
    v = int(m.group(1))
    if v < 0 and v != -1:
        raise illegal_argument(
            f"failed to parse setting [{setting}] with value [{text}] as a time value: "
            "negative durations are not supported"
        )
    return v * _TIME_UNITS[m.group(2)]


def iso_ms(t: float) -> str:
    return (
        datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(t * 1000) % 1000:03d}Z"
    )


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$")


def _b64id(*parts: object) -> str:
    h = hashlib.sha1(":".join(str(p) for p in parts).encode()).digest()
    return base64.urlsafe_b64encode(h[:16]).decode().rstrip("=")


# --------------------------------------------------------------------------- settings


def _defaults_table(version: tuple[int, int], cluster_name: str) -> dict[str, str | list[str]]:
    major, minor = version
    a = "cluster.routing.allocation."
    d: dict[str, str | list[str]] = {
        "cluster.name": cluster_name,
        "cluster.max_shards_per_node": "1000",
        "cluster.max_voting_config_exclusions": "10",
        "cluster.info.update.interval": "30s",
        "cluster.routing.use_adaptive_replica_selection": "true",
        "cluster.routing.rebalance.enable": "all",
        a + "enforce_default_tier_preference": "true" if major >= 8 else "false",
        a + "node_concurrent_incoming_recoveries": "2",
        a + "node_initial_primaries_recoveries": "4",
        a + "same_shard.host": "false",
        a + "total_shards_per_node": "-1",
        a + "type": "desired_balance" if (major, minor) >= (8, 6) else "balanced",
        a + "disk.threshold_enabled": "true",
        a + "disk.reroute_interval": "60s",
        a + "disk.watermark.low": "85%",
        a + "disk.watermark.high": "90%",
        a + "disk.watermark.flood_stage": "95%",
        a + "disk.watermark.flood_stage.frozen": "95%",
        a + "disk.watermark.flood_stage.frozen.max_headroom": "20GB",
        a + "disk.watermark.enable_for_single_data_node": "true" if major >= 8 else "false",
        a + "awareness.attributes": [],
        a + "balance.index": "0.55",
        a + "balance.threshold": "1.0",
        a + "balance.shard": "0.45",
        a + "enable": "all",
        a + "node_concurrent_outgoing_recoveries": "2",
        a + "allow_rebalance": "indices_all_active",
        a + "cluster_concurrent_rebalance": "2",
        a + "node_concurrent_recoveries": "2",
        "indices.recovery.internal_action_retry_timeout": "1m",
        "indices.recovery.recovery_activity_timeout": "1800000ms",
        "indices.recovery.retry_delay_network": "5s",
        "indices.recovery.internal_action_timeout": "15m",
        "indices.recovery.max_concurrent_snapshot_file_downloads_per_node": "25",
        "indices.recovery.retry_delay_state_sync": "500ms",
        "indices.recovery.max_concurrent_snapshot_file_downloads": "5",
        "indices.recovery.internal_action_long_timeout": "1800000ms",
        "indices.recovery.max_concurrent_operations": "1",
        "indices.recovery.use_snapshots": "true",
        "indices.recovery.max_bytes_per_sec": "40mb",
        "indices.recovery.max_concurrent_file_chunks": "2",
        "action.destructive_requires_name": "true" if major >= 8 else "false",
    }
    if major >= 8:
        d["cluster.max_shards_per_node.frozen"] = "3000"
        d[a + "desired_balance.progress_log_interval"] = "1m"
        d[a + "desired_balance.undesired_allocations.log_interval"] = "1h"
        d[a + "desired_balance.undesired_allocations.threshold"] = "0.1"
        d[a + "balance.disk_usage"] = "2.0E-11"
        d[a + "balance.write_load"] = "10.0"
    else:
        d[a + "include._tier"] = ""
        d[a + "require._tier"] = ""
        d[a + "exclude._tier"] = ""
        d[a + "shard_state.reroute.priority"] = "NORMAL"
        d[a + "disk.include_relocations"] = "true"
    return d


_STATIC_SETTINGS = frozenset({"cluster.name"})
_DYNAMIC_PREFIXES = (
    "cluster.routing.allocation.exclude.",
    "cluster.routing.allocation.include.",
    "cluster.routing.allocation.require.",
    "cluster.routing.allocation.awareness.force.",
    "logger.",
    "cluster.metadata.",
    "cluster.remote.",
    "xpack.",
    "search.",
    "indices.breaker.",
    "script.",
)
_HEADROOM_DEFAULTS = {"low": "200GB", "high": "150GB", "flood_stage": "100GB"}
_INT_SETTINGS = frozenset(
    "cluster.routing.allocation." + k
    for k in (
        "node_concurrent_incoming_recoveries",
        "node_concurrent_outgoing_recoveries",
        "node_concurrent_recoveries",
        "node_initial_primaries_recoveries",
        "cluster_concurrent_rebalance",
        "total_shards_per_node",
    )
) | {"cluster.max_shards_per_node", "cluster.max_voting_config_exclusions"}
_BOOL_SETTINGS = frozenset(
    {
        "cluster.routing.allocation.disk.threshold_enabled",
        "cluster.routing.allocation.same_shard.host",
        "action.destructive_requires_name",
    }
)
_ENUM_SETTINGS: dict[str, tuple[str, ...]] = {
    "cluster.routing.allocation.enable": ("all", "primaries", "new_primaries", "none"),
    "cluster.routing.rebalance.enable": ("all", "primaries", "replicas", "none"),
    "cluster.routing.allocation.allow_rebalance": (
        "always",
        "indices_primaries_active",
        "indices_all_active",
    ),
}
_ENUM_CLASS = {
    "cluster.routing.allocation.enable": "EnableAllocationDecider.Allocation",
    "cluster.routing.rebalance.enable": "EnableAllocationDecider.Rebalance",
    "cluster.routing.allocation.allow_rebalance": "ClusterRebalanceAllocationDecider.ClusterRebalanceType",
}


def flatten_settings(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested or flat settings → flat keys (both forms may be mixed, as ES accepts)."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_settings(v, key + "."))
        else:
            out[key] = v
    return out


def _as_setting_value(v: Any) -> str | list[str]:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return [_as_setting_value(x) if not isinstance(x, list) else str(x) for x in v]  # type: ignore[misc]
    if isinstance(v, float):
        return repr(v)
    return str(v)


def structured(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat keys → nested objects with ES's rule for keys that are both a value and a prefix."""
    root: dict[str, Any] = {}
    for key in sorted(flat):
        _process_setting(root, "", key, flat[key])
    return root


def _process_setting(m: dict[str, Any], prefix: str, setting: str, value: Any) -> None:
    # Port of the algorithm behind Settings.getAsStructuredMap.
    dot = setting.find(".")
    if dot == -1:
        inner = m.get(prefix + setting)
        if isinstance(inner, dict):
            for k, v in inner.items():
                m[prefix + setting + "." + k] = v
        m[prefix + setting] = value
        return
    key, rest = setting[:dot], setting[dot + 1 :]
    existing = m.get(prefix + key)
    if existing is None:
        new: dict[str, Any] = {}
        _process_setting(new, "", rest, value)
        m[prefix + key] = new
    elif isinstance(existing, dict):
        _process_setting(existing, "", rest, value)
    else:
        _process_setting(m, prefix + key + ".", rest, value)


@dataclass(frozen=True)
class _Watermark:
    ratio: float | None  # used fraction allowed, when given as % or ratio
    free_bytes: int | None  # free space required, when given as absolute bytes
    headroom: int  # -1 = none
    raw: str

    def required_free(self, total: int) -> int:
        if self.free_bytes is not None:
            return self.free_bytes
        assert self.ratio is not None
        req = int((1.0 - self.ratio) * total)
        if self.headroom >= 0:
            req = min(req, self.headroom)
        return req


def _parse_watermark(raw: str, headroom_raw: str, key: str) -> _Watermark:
    r = raw.strip()
    headroom = -1 if headroom_raw.strip() == "-1" else parse_size(headroom_raw)
    try:
        if r.endswith("%"):
            return _Watermark(float(r[:-1]) / 100.0, None, headroom, raw)
        f = float(r)
        if 0.0 <= f <= 1.0:
            return _Watermark(f, None, headroom, raw)
    except ValueError:
        pass
    try:
        return _Watermark(None, parse_size(r), -1, raw)
    except ValueError:
        raise illegal_argument(
            f"failed to parse value [{raw}] for setting [{key}] as a percentage or a byte size"
        ) from None


@dataclass(frozen=True)
class _Filter:
    """One ``cluster.routing.allocation.<kind>`` filter group: attr → alternatives."""

    kind: str
    attrs: tuple[tuple[str, tuple[str, ...]], ...]

    def describe(self) -> str:
        return ",".join(f'{attr}:"{" OR ".join(vals)}"' for attr, vals in self.attrs)


@dataclass(frozen=True)
class _Config:
    enable: str
    rebalance_enable: str
    allow_rebalance: str
    concurrent_rebalance: int
    incoming: int
    outgoing: int
    initial_primaries: int
    max_bps: float
    threshold_enabled: bool
    low: _Watermark
    high: _Watermark
    flood: _Watermark
    total_shards_per_node: int
    exclude: _Filter
    include: _Filter
    require: _Filter


# --------------------------------------------------------------------------- model objects


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
        return self.disk_bytes // 100

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


Decision = tuple[str, str, str]  # (decider, "YES"|"NO"|"THROTTLE", explanation)
_ORDER = {"YES": 0, "THROTTLE": 1, "NO": 2}


def _role_abbrev(roles: Iterable[str]) -> str:
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


# --------------------------------------------------------------------------- the cluster


class Cluster:
    """An Elasticsearch cluster model driven by ``step`` and queried by the wire layer."""

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
        self.cluster_uuid = _b64id("cluster", seed, cluster_name)
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
        self.shutdowns: dict[str, dict[str, Any]] = {}
        self._seen_node_ids: set[str] = set()
        self.model_seconds = 0.0
        self.relocations_completed = 0  # cumulative, for tests and benches
        self.relocated_bytes = 0
        now = clock.time()
        for spec in default_indices() if indices is None else indices:
            self._add_index(spec, now)

    # ------------------------------------------------------------------ basics

    def _now(self) -> float:
        return self.clock.time()

    @property
    def version_major_minor(self) -> tuple[int, int]:
        return self.version_tuple[0], self.version_tuple[1]

    def _add_index(self, spec: IndexSpec, now: float) -> None:
        if spec.name in self._indices:
            raise ValueError(f"index [{spec.name}] already exists")
        idx = IndexState(
            name=spec.name,
            uuid=_b64id("index", self.seed, spec.name),
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
                    alloc_id=_b64id("alloc", self.seed, spec.name, s, r),
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

    def node_by_id(self, node_id: str) -> Node | None:
        return self._nodes_by_id.get(node_id)

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

    def master(self) -> Node | None:
        excluded = {e["node_id"] for e in self.voting_exclusions}
        for n in self._nodes.values():
            if "master" in n.roles and n.id not in excluded:
                return n
        for n in self._nodes.values():
            if "master" in n.roles:
                return n
        return None

    # ------------------------------------------------------------------ membership

    def add_node(
        self,
        name: str,
        *,
        roles: Sequence[str] = ("data", "master", "ingest"),
        disk_bytes: int = 500 * 2**30,
        heap_bytes: int = 4 * 2**30,
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        """A node joins now. Before the first ``step`` the data set is laid out at once."""
        if name in self._nodes:
            raise ValueError(f"node [{name}] is already in the cluster")
        now = self._now()
        seq = self._join_seq
        self._join_seq += 1
        node_id = _b64id("node", self.seed, name)
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
            ip=f"10.0.{seq // 250}.{seq % 250 + 4}",
            join_seq=seq,
            joined_at=now,
            attributes=attrs,
        )
        self._nodes[name] = node
        self._nodes_by_id[node_id] = node
        self._seen_node_ids.add(node_id)
        self.load.add(node_id, key=seq + 1, now=now)
        # voting exclusions given by name for an absent node pick up the id when it joins
        for ex in self.voting_exclusions:
            if ex["node_name"] == name and ex["node_id"] == "_absent_":
                ex["node_id"] = node_id
        if not self._started:
            self._layout_pending = True
        self._dirty = True
        self._shares_dirty = True

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
        del self._nodes[name]
        del self._nodes_by_id[node.id]
        self.load.remove(node.id)
        restart = self.shutdowns.get(node.id)
        delay = 60.0
        if restart is not None and restart["type"] == "RESTART":
            delay = restart.get("_delay_s", 300.0)
        for c in held:
            if c.node != name:
                continue  # already failed above
            self._unassign_for_node_left(c, node, now, delay)
        self._dirty = True
        self._shares_dirty = True
        if not self._started:
            self._layout_pending = True

    def crash_node(self, name: str) -> None:
        self.remove_node(name, reason="crashed")

    def _shard_copies(self, c: ShardCopy) -> list[ShardCopy]:
        return self._indices[c.index].shards[c.shard]

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
        if rec.source is not None:
            src = self._nodes.get(rec.source)
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

    # ------------------------------------------------------------------ settings

    def effective(self, key: str) -> str | list[str] | None:
        if key in self.transient:
            return self.transient[key]
        if key in self.persistent:
            return self.persistent[key]
        return self.defaults().get(key)

    def _eff_str(self, key: str) -> str:
        v = self.effective(key)
        if isinstance(v, list):
            return "[" + ", ".join(v) + "]"  # a list is read through its string form
        return "" if v is None else v

    def defaults(self) -> dict[str, str | list[str]]:
        """Defaults of every setting not set explicitly (8.5+ headrooms depend on what is set)."""
        d = _defaults_table((self.version_tuple[0], self.version_tuple[1]), self.cluster_name)
        if self.version_tuple[:2] >= (8, 5):
            for level, default in _HEADROOM_DEFAULTS.items():
                wm = f"cluster.routing.allocation.disk.watermark.{level}"
                explicit = wm in self.persistent or wm in self.transient
                d[wm + ".max_headroom"] = "-1" if explicit else default
        for k in list(d):
            if k in self.persistent or k in self.transient:
                del d[k]
        return d

    def _known_setting(self, key: str) -> bool:
        table = _defaults_table((self.version_tuple[0], self.version_tuple[1]), self.cluster_name)
        if key in table or key.endswith(".max_headroom"):
            return True
        return key.startswith(_DYNAMIC_PREFIXES)

    def update_settings(
        self,
        *,
        persistent: Mapping[str, Any] | None = None,
        transient: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply a ``PUT _cluster/settings``; returns the applied (flat) keys per scope."""
        applied: dict[str, dict[str, Any]] = {}
        staged = {"persistent": dict(self.persistent), "transient": dict(self.transient)}
        for scope, raw in (("transient", transient), ("persistent", persistent)):
            applied[scope] = {}
            if not raw:
                continue
            store = staged[scope]
            for key, value in flatten_settings(raw).items():
                if value is None:
                    if key.endswith("*"):
                        prefix = key[:-1]
                        for k in [k for k in store if k.startswith(prefix)]:
                            del store[k]
                        continue
                    if key not in store and not self._known_setting(key):
                        raise illegal_argument(f"{scope} setting [{key}], not recognized")
                    store.pop(key, None)
                    continue
                if not self._known_setting(key):
                    raise illegal_argument(f"{scope} setting [{key}], not recognized")
                if key in _STATIC_SETTINGS:
                    raise illegal_argument(f"{scope} setting [{key}], not dynamically updateable")
                sval = _as_setting_value(value)
                self._validate_value(key, sval, scope)
                store[key] = sval
                applied[scope][key] = sval
        old = (self.persistent, self.transient)
        self.persistent, self.transient = staged["persistent"], staged["transient"]
        try:
            self._cfg = self._parse_config()
        except EsError:
            self.persistent, self.transient = old
            raise
        self._dirty = True
        return applied["persistent"], applied["transient"]

    def _validate_value(self, key: str, value: str | list[str], scope: str) -> None:
        if isinstance(value, list):
            return
        old = self._eff_str(key)
        cause: EsError | None = None
        if key in _INT_SETTINGS:
            try:
                int(value)
            except ValueError:
                cause = EsError(
                    400,
                    "number_format_exception",
                    f'For input string: "{value}"',
                )
                cause = illegal_argument(f"Failed to parse value [{value}] for setting [{key}]")
        elif key in _BOOL_SETTINGS:
            if value not in ("true", "false"):
                cause = illegal_argument(
                    f"Failed to parse value [{value}] as only [true] or [false] are allowed."
                )
        elif key in _ENUM_SETTINGS:
            if value.lower() not in _ENUM_SETTINGS[key]:
                cause = illegal_argument(
                    f"No enum constant org.elasticsearch.cluster.routing.allocation.decider."
                    f"{_ENUM_CLASS[key]}.{value.upper()}"
                )
        elif key == "indices.recovery.max_bytes_per_sec" or key.endswith(".max_headroom"):
            if value != "-1":
                try:
                    parse_size(value)
                except ValueError:
                    cause = EsError(
                        400,
                        "parse_exception",
                        f"failed to parse setting [{key}] with value [{value}] as a size in bytes: "
                        "unit is missing or unrecognized",
                    )
        elif key.startswith("cluster.routing.allocation.disk.watermark.") and key.count(".") == 5:
            try:
                _parse_watermark(value, "-1", key)
            except EsError as e:
                cause = e
        if cause is not None:
            raise illegal_argument(
                f"illegal value can't update [{key}] from [{old}] to [{value}]", caused_by=cause
            )

    def _parse_config(self) -> _Config:
        def s(key: str) -> str:
            return self._eff_str("cluster.routing.allocation." + key)

        def i(key: str) -> int:
            return int(s(key))

        def filt(kind: str) -> _Filter:
            prefix = f"cluster.routing.allocation.{kind}."
            keys = set(self.persistent) | set(self.transient)
            attrs = []
            for k in sorted(keys):
                if not k.startswith(prefix):
                    continue
                raw = self._eff_str(k)
                vals = tuple(v.strip() for v in raw.split(",") if v.strip())
                if vals:
                    attrs.append((k[len(prefix) :], vals))
            return _Filter(kind, tuple(attrs))

        def wm(level: str) -> _Watermark:
            key = f"cluster.routing.allocation.disk.watermark.{level}"
            head = self._eff_str(key + ".max_headroom") or "-1"
            return _parse_watermark(self._eff_str(key), head, key)

        def incoming_default(key: str) -> int:
            full = "cluster.routing.allocation." + key
            if full in self.persistent or full in self.transient:
                return i(key)
            return i("node_concurrent_recoveries")

        bps_raw = self._eff_str("indices.recovery.max_bytes_per_sec")
        bps = float(parse_size(bps_raw)) if bps_raw not in ("-1", "0", "0b") else _UNLIMITED_BPS
        return _Config(
            enable=s("enable").lower(),
            rebalance_enable=self._eff_str("cluster.routing.rebalance.enable").lower(),
            allow_rebalance=s("allow_rebalance").lower(),
            concurrent_rebalance=i("cluster_concurrent_rebalance"),
            incoming=incoming_default("node_concurrent_incoming_recoveries"),
            outgoing=incoming_default("node_concurrent_outgoing_recoveries"),
            initial_primaries=i("node_initial_primaries_recoveries"),
            max_bps=bps,
            threshold_enabled=s("disk.threshold_enabled") == "true",
            low=wm("low"),
            high=wm("high"),
            flood=wm("flood_stage"),
            total_shards_per_node=i("total_shards_per_node"),
            exclude=filt("exclude"),
            include=filt("include"),
            require=filt("require"),
        )

    def excluded_names(self) -> list[str]:
        for attr, vals in self._cfg.exclude.attrs:
            if attr == "_name":
                return list(vals)
        return []

    # ------------------------------------------------------------------ workload, pins

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

    def shards_on(self, node_name: str) -> int:
        self._ensure_layout()
        node = self._nodes.get(node_name)
        return len(node.copies) if node is not None else 0

    # ------------------------------------------------------------------ deciders

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
            rx = _glob(pat)
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

    def _can_remain(self, c: ShardCopy, node: Node) -> list[Decision]:
        out = [self._cluster_filter_decision(node), self._shutdown_decision(node)]
        out.append(self._disk_remain_decision(node))
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
        fd = self._cluster_filter_decision(node)
        if fd[1] == "YES":
            pin = self._pin_decision(c, node, source.name if source is not None else None)
            if pin is not None:
                fd = pin
        if add(fd):
            return out
        if add(self._shutdown_decision(node)):
            return out
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
        limit = cfg.total_shards_per_node
        if (
            limit >= 0
            and node.proj_count >= limit
            and add(
                (
                    "shards_limit",
                    "NO",
                    f"too many shards [{node.proj_count}] allocated to this node, cluster setting "
                    f"[cluster.routing.allocation.total_shards_per_node={limit}]",
                )
            )
        ):
            return out
        # throttling
        if c.primary and source is None and primary is c:
            init = sum(
                1 for r in self._recoveries if r.target == node.name and r.kind == "existing_store"
            )
            if init >= cfg.initial_primaries:
                add(
                    (
                        "throttling",
                        "THROTTLE",
                        f"reached the limit of ongoing initial primary recoveries [{init}], cluster "
                        "setting [cluster.routing.allocation.node_initial_primaries_recoveries="
                        f"{cfg.initial_primaries}]",
                    )
                )
                return out
        else:
            if node.incoming >= cfg.incoming and add(
                (
                    "throttling",
                    "THROTTLE",
                    f"reached the limit of incoming shard recoveries [{node.incoming}], cluster "
                    "setting [cluster.routing.allocation.node_concurrent_incoming_recoveries="
                    f"{cfg.incoming}] (can also be set via "
                    "[cluster.routing.allocation.node_concurrent_recoveries])",
                )
            ):
                return out
            src = source
            if src is None and primary is not None and primary.node is not None:
                src = self._nodes.get(primary.node)
            if (
                src is not None
                and src.outgoing >= cfg.outgoing
                and add(
                    (
                        "throttling",
                        "THROTTLE",
                        f"reached the limit of outgoing shard recoveries [{src.outgoing}] on the node "
                        f"[{src.id}] which holds the primary, cluster setting "
                        "[cluster.routing.allocation.node_concurrent_outgoing_recoveries="
                        f"{cfg.outgoing}] (can also be set via "
                        "[cluster.routing.allocation.node_concurrent_recoveries])",
                    )
                )
            ):
                return out
            if explain and out[-1][0] != "throttling":
                out.append(
                    (
                        "throttling",
                        "YES",
                        "below shard recovery limit of [" + str(cfg.incoming) + "]",
                    )
                )
        return out

    @staticmethod
    def _verdict(decisions: Sequence[Decision]) -> str:
        worst = "YES"
        for _, dec, _ in decisions:
            if _ORDER[dec] > _ORDER[worst]:
                worst = dec
        return worst

    def _primary_of(self, c: ShardCopy) -> ShardCopy | None:
        for o in self._shard_copies(c):
            if o.primary:
                return o
        return None

    # ------------------------------------------------------------------ layout & allocator

    def _data_nodes(self) -> list[Node]:
        return [n for n in self._nodes.values() if n.is_data]

    def _ensure_layout(self) -> None:
        if self._layout_pending and not self._started:
            self._bootstrap_layout()

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
        # 2. copies that cannot remain where they are (drains, shutdowns, high watermark)
        for node in data_nodes:
            must_all = (
                self._cluster_filter_decision(node)[1] == "NO"
                or self._shutdown_decision(node)[1] == "NO"
            )
            over_high = False
            if not must_all and cfg.threshold_enabled:
                over_high = self._disk_remain_decision(node)[1] == "NO"
            if not (must_all or over_high):
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
                if node.outgoing >= cfg.outgoing:
                    break
                if c.state != STARTED or (c.index, c.shard) in self._pinned:
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

    def _best_target(self, c: ShardCopy, source: Node, data_nodes: Sequence[Node]) -> Node | None:
        for node in sorted(data_nodes, key=lambda n: (n.proj_count, n.join_seq)):
            if node is source:
                continue
            ds = self._allocate_decisions(c, node, explain=False, source=source)
            if ds and ds[-1][1] == "YES":
                return node
        return None

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
        rec = Recovery(
            copy=c,
            kind="peer",
            source=src.name,
            target=dst.name,
            total=c.size,
            started_at=now,
            relocation=True,
            rebalance=rebalance,
        )
        c.state = RELOCATING
        c.relocating_to = dst.name
        c.recovery = rec
        src.outgoing += 1
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
        c.last_node = c.node
        c.unassigned_reason = None
        self._dirty = True
        self._shares_dirty = True

    # ------------------------------------------------------------------ time

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
        if self._recoveries:
            finished: list[Recovery] = []
            for rec in self._recoveries:
                if rec.kind != "peer":
                    rate = _UNLIMITED_BPS
                else:
                    tgt = self._nodes[rec.target]
                    rate = cfg.max_bps / max(1, tgt.incoming + tgt.outgoing)
                    if rec.source is not None:
                        src = self._nodes[rec.source]
                        rate = min(rate, cfg.max_bps / max(1, src.incoming + src.outgoing))
                rec.done = min(float(rec.total), rec.done + rate * dt)
                if rec.done >= rec.total:
                    finished.append(rec)
            for rec in finished:
                self._finish(rec, now)
        if self._dirty or now - self._last_reroute >= _REROUTE_INTERVAL_S:
            self._reroute()
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

    # ------------------------------------------------------------------ health

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

    # ------------------------------------------------------------------ node facts

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
        rs = sum(1 for r in self._recoveries if r.source == node.name)
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

    # ------------------------------------------------------------------ allocation explain

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
                if n is None:
                    raise illegal_argument(f"unable to find node with id or name [{current_node}]")
                if c.node != n.name:
                    continue
            return c
        raise illegal_argument(
            f"unable to find any {'primary' if primary else 'replica'} shards for shard "
            f"[{index}][{shard}] on node [{current_node}]"
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

    # ------------------------------------------------------------------ voting exclusions

    def add_voting_exclusions(
        self, *, node_names: Sequence[str] = (), node_ids: Sequence[str] = ()
    ) -> None:
        existing = {(e["node_id"], e["node_name"]) for e in self.voting_exclusions}
        new: list[dict[str, str]] = []
        for name in node_names:
            n = self._nodes.get(name)
            if n is not None and "master" not in n.roles:
                continue
            e = {"node_id": n.id if n else "_absent_", "node_name": name}
            if (e["node_id"], e["node_name"]) not in existing:
                new.append(e)
        for nid in node_ids:
            n = self._nodes_by_id.get(nid)
            if n is not None and "master" not in n.roles:
                continue
            e = {"node_id": nid, "node_name": n.name if n else "_absent_"}
            if (e["node_id"], e["node_name"]) not in existing:
                new.append(e)
        limit = int(self._eff_str("cluster.max_voting_config_exclusions") or "10")
        if len(self.voting_exclusions) + len(new) > limit:
            what = (
                f"nodes named [{', '.join(node_names)}]"
                if node_names
                else f"nodes with ids [{', '.join(node_ids)}]"
            )
            raise illegal_argument(
                f"add voting config exclusions request for {what} would add [{len(new)}] exclusions to "
                f"the existing [{len(self.voting_exclusions)}] which would exceed the maximum of "
                f"[{limit}] set by [cluster.max_voting_config_exclusions]"
            )
        self.voting_exclusions.extend(new)

    def excluded_still_present(self) -> list[dict[str, str]]:
        return [
            e
            for e in self.voting_exclusions
            if e["node_id"] in self._nodes_by_id or e["node_name"] in self._nodes
        ]

    def clear_voting_exclusions(self) -> None:
        self.voting_exclusions = []

    def voting_config(self) -> list[str]:
        excluded = {e["node_id"] for e in self.voting_exclusions}
        return [n.id for n in self._nodes.values() if "master" in n.roles and n.id not in excluded]

    # ------------------------------------------------------------------ node shutdown

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

    # ------------------------------------------------------------------ state for /_sim/state

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
            "shutdowns": {
                k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                for k, v in self.shutdowns.items()
            },
            "pinned": [f"{i}[{s}]" for i, s in sorted(self._pinned)],
            "workload": {"search_per_s": w.search_per_s, "index_per_s": w.index_per_s},
            "invariants": self.invariants,
        }

    def role_abbrev(self, node: Node) -> str:
        return _role_abbrev(node.roles)
