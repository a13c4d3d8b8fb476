"""``_cluster/settings`` on the model: effective values, defaults, validated updates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoscaler.sim.datasets import parse_size
from autoscaler.sim.es.config import (
    BOOL_SETTINGS,
    DYNAMIC_PREFIXES,
    ENUM_CLASS,
    ENUM_SETTINGS,
    HEADROOM_DEFAULTS,
    INT_SETTINGS,
    STATIC_SETTINGS,
    UNLIMITED_BPS,
    AllocationConfig,
    AllocationFilter,
    Watermark,
    as_setting_value,
    defaults_table,
    flatten_settings,
    parse_watermark,
)
from autoscaler.sim.es.core import ClusterCore
from autoscaler.sim.es.errors import EsError, illegal_argument


class SettingsMixin(ClusterCore):
    """Persistent/transient settings and the allocator configuration parsed from them."""

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
        d = defaults_table((self.version_tuple[0], self.version_tuple[1]), self.cluster_name)
        if self.version_tuple[:2] >= (8, 5):
            for level, default in HEADROOM_DEFAULTS.items():
                wm = f"cluster.routing.allocation.disk.watermark.{level}"
                explicit = wm in self.persistent or wm in self.transient
                d[wm + ".max_headroom"] = "-1" if explicit else default
        for k in list(d):
            if k in self.persistent or k in self.transient:
                del d[k]
        return d

    def _known_setting(self, key: str) -> bool:
        table = defaults_table((self.version_tuple[0], self.version_tuple[1]), self.cluster_name)
        if key in table or key.endswith(".max_headroom"):
            return True
        return key.startswith(DYNAMIC_PREFIXES)

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
                if key in STATIC_SETTINGS:
                    raise illegal_argument(f"{scope} setting [{key}], not dynamically updateable")
                sval = as_setting_value(value)
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
        self._info_interval = None
        return applied["persistent"], applied["transient"]

    def _validate_value(self, key: str, value: str | list[str], scope: str) -> None:
        if isinstance(value, list):
            return
        old = self._eff_str(key)
        cause: EsError | None = None
        if key in INT_SETTINGS:
            try:
                int(value)
            except ValueError:
                cause = EsError(
                    400,
                    "number_format_exception",
                    f'For input string: "{value}"',
                )
                cause = illegal_argument(f"Failed to parse value [{value}] for setting [{key}]")
        elif key in BOOL_SETTINGS:
            if value not in ("true", "false"):
                cause = illegal_argument(
                    f"Failed to parse value [{value}] as only [true] or [false] are allowed."
                )
        elif key in ENUM_SETTINGS:
            if value.lower() not in ENUM_SETTINGS[key]:
                cause = illegal_argument(
                    f"No enum constant org.elasticsearch.cluster.routing.allocation.decider."
                    f"{ENUM_CLASS[key]}.{value.upper()}"
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
                parse_watermark(value, "-1", key)
            except EsError as e:
                cause = e
        if cause is not None:
            raise illegal_argument(
                f"illegal value can't update [{key}] from [{old}] to [{value}]", caused_by=cause
            )

    def _parse_config(self) -> AllocationConfig:
        def s(key: str) -> str:
            return self._eff_str("cluster.routing.allocation." + key)

        def i(key: str) -> int:
            return int(s(key))

        def filt(kind: str) -> AllocationFilter:
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
            return AllocationFilter(kind, tuple(attrs))

        def wm(level: str) -> Watermark:
            key = f"cluster.routing.allocation.disk.watermark.{level}"
            head = self._eff_str(key + ".max_headroom") or "-1"
            return parse_watermark(self._eff_str(key), head, key)

        def incoming_default(key: str) -> int:
            full = "cluster.routing.allocation." + key
            if full in self.persistent or full in self.transient:
                return i(key)
            return i("node_concurrent_recoveries")

        bps_raw = self._eff_str("indices.recovery.max_bytes_per_sec")
        bps = float(parse_size(bps_raw)) if bps_raw not in ("-1", "0", "0b") else UNLIMITED_BPS
        return AllocationConfig(
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
