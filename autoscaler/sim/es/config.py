"""Cluster settings as data: the defaults table, flat/nested forms, watermarks, filters.

Pure functions and frozen values (no model state): what ``_cluster/settings`` accepts, how
it nests and how the allocator reads its effective configuration (``AllocationConfig``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autoscaler.sim.datasets import parse_size
from autoscaler.sim.es.errors import illegal_argument

#: ``indices.recovery.max_bytes_per_sec`` of ``-1``/``0``: recoveries are not throttled
UNLIMITED_BPS = float(2**50)


def defaults_table(version: tuple[int, int], cluster_name: str) -> dict[str, str | list[str]]:
    """The ``include_defaults`` table of the emulated ES ``version`` (flat keys)."""
    major, minor = version
    a = "cluster.routing.allocation."
    d: dict[str, str | list[str]] = {
        "cluster.name": cluster_name,
        "cluster.max_shards_per_node": "1000",
        "cluster.max_voting_config_exclusions": "10",
        "cluster.auto_shrink_voting_configuration": "true",
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


#: settings ``_cluster/settings`` refuses to update ("not dynamically updateable")
STATIC_SETTINGS = frozenset({"cluster.name"})


#: families of dynamic settings accepted under any suffix (filters, loggers, ...)
DYNAMIC_PREFIXES = (
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


#: 8.5+ ``disk.watermark.<level>.max_headroom`` defaults, while that level is left at its default
HEADROOM_DEFAULTS = {"low": "200GB", "high": "150GB", "flood_stage": "100GB"}


#: settings validated as integers
INT_SETTINGS = frozenset(
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


#: settings validated as ``true``/``false``
BOOL_SETTINGS = frozenset(
    {
        "cluster.routing.allocation.disk.threshold_enabled",
        "cluster.routing.allocation.same_shard.host",
        "action.destructive_requires_name",
        "cluster.auto_shrink_voting_configuration",
    }
)


#: settings validated against a fixed set of values
ENUM_SETTINGS: dict[str, tuple[str, ...]] = {
    "cluster.routing.allocation.enable": ("all", "primaries", "new_primaries", "none"),
    "cluster.routing.rebalance.enable": ("all", "primaries", "replicas", "none"),
    "cluster.routing.allocation.allow_rebalance": (
        "always",
        "indices_primaries_active",
        "indices_all_active",
    ),
}


#: the Java enum named in the error for a bad ``ENUM_SETTINGS`` value
ENUM_CLASS = {
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


def as_setting_value(v: Any) -> str | list[str]:
    """A JSON setting value as ES stores it: a string (``true``, ``40mb``) or a list of them."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return [as_setting_value(x) if not isinstance(x, list) else str(x) for x in v]  # type: ignore[misc]
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
class Watermark:
    """One parsed ``disk.watermark.<level>`` (with its 8.5+ max headroom)."""

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


def parse_watermark(raw: str, headroom_raw: str, key: str) -> Watermark:
    """A watermark as a percentage, a ratio or a byte size; ``illegal_argument`` otherwise."""
    r = raw.strip()
    headroom = -1 if headroom_raw.strip() == "-1" else parse_size(headroom_raw)
    try:
        if r.endswith("%"):
            return Watermark(float(r[:-1]) / 100.0, None, headroom, raw)
        f = float(r)
        if 0.0 <= f <= 1.0:
            return Watermark(f, None, headroom, raw)
    except ValueError:
        pass
    try:
        return Watermark(None, parse_size(r), -1, raw)
    except ValueError:
        raise illegal_argument(
            f"failed to parse value [{raw}] for setting [{key}] as a percentage or a byte size"
        ) from None


@dataclass(frozen=True)
class AllocationFilter:
    """One ``cluster.routing.allocation.<kind>`` filter group: attr → alternatives."""

    kind: str
    attrs: tuple[tuple[str, tuple[str, ...]], ...]

    def describe(self) -> str:
        return ",".join(f'{attr}:"{" OR ".join(vals)}"' for attr, vals in self.attrs)


@dataclass(frozen=True)
class AllocationConfig:
    """The allocator's effective configuration, parsed once per settings change."""

    enable: str
    rebalance_enable: str
    allow_rebalance: str
    concurrent_rebalance: int
    incoming: int
    outgoing: int
    initial_primaries: int
    max_bps: float
    threshold_enabled: bool
    low: Watermark
    high: Watermark
    flood: Watermark
    total_shards_per_node: int
    exclude: AllocationFilter
    include: AllocationFilter
    require: AllocationFilter
