"""Index settings on the model: ``PUT/GET /{index}/_settings``, replica counts, failed allocations.

Operations change index settings to make a scale-down safe or possible (fewer replicas,
``total_shards_per_node``, index-level allocation filters) and must cope with shards that
failed to allocate too often (``index.allocation.max_retries``, ``_cluster/reroute?retry_failed``).
Sources (``elastic/elasticsearch``): ``RestUpdateSettingsAction`` (a body wrapped in
``"settings"`` is unwrapped; keys are normalised to the ``index.`` prefix),
``MetadataUpdateSettingsService`` ("Can't update non dynamic settings [[k]] for open indices
[[name/uuid]]"), ``AbstractScopedSettings.validate`` ("unknown setting [..] please check that
any required plugins are installed, or check the breaking changes documentation for removed
settings"), ``MaxRetryAllocationDecider`` (``index.allocation.max_retries``, default 5, min 0;
counters reset by ``retry_failed``). Value-parse wording follows ``Setting`` (inferred).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autoscaler.sim.es.allocator import AllocatorMixin
from autoscaler.sim.es.config import flatten_settings
from autoscaler.sim.es.errors import EsError, illegal_argument
from autoscaler.sim.es.shards import INITIALIZING, RELOCATING, UNASSIGNED, IndexState, ShardCopy
from autoscaler.sim.es.units import b64id, iso_ms, parse_time_value

_INT_MIN = {
    "index.number_of_replicas": 0,
    "index.routing.allocation.total_shards_per_node": -1,
    "index.allocation.max_retries": 0,
    "index.max_result_window": 1,
    "index.priority": 0,
}
_BOOLS = frozenset(
    {
        "index.blocks.read_only_allow_delete",
        "index.blocks.read_only",
        "index.blocks.write",
        "index.blocks.read",
        "index.blocks.metadata",
        "index.hidden",
    }
)
_TIMES = frozenset({"index.unassigned.node_left.delayed_timeout", "index.refresh_interval"})
_OTHER_DYNAMIC = frozenset(
    {
        "index.auto_expand_replicas",  # stored only: the twin does not expand replicas
        "index.routing.allocation.enable",
        "index.routing.rebalance.enable",
        "index.lifecycle.name",
        "index.translog.durability",
    }
)
_FILTER_PREFIXES = (
    "index.routing.allocation.require.",
    "index.routing.allocation.include.",
    "index.routing.allocation.exclude.",
)
_STATIC = frozenset(
    {
        "index.number_of_shards",
        "index.codec",
        "index.routing_partition_size",
        "index.number_of_routing_shards",
        "index.shard.check_on_startup",
        "index.store.type",
    }
)
INDEX_DEFAULTS: dict[str, str] = {
    "index.allocation.max_retries": "5",
    "index.routing.allocation.total_shards_per_node": "-1",
    "index.unassigned.node_left.delayed_timeout": "1m",
    "index.refresh_interval": "1s",
    "index.auto_expand_replicas": "false",
    "index.blocks.read_only_allow_delete": "false",
    "index.max_result_window": "10000",
    "index.priority": "1",
    "index.hidden": "false",
}


def _index_key(key: str) -> str:
    return key if key.startswith("index.") else "index." + key


def _setting_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _validate_index_value(key: str, value: str) -> None:
    if key in _INT_MIN:
        try:
            number = int(value)
        except ValueError:
            raise illegal_argument(
                f"Failed to parse value [{value}] for setting [{key}]",
                caused_by=EsError(400, "number_format_exception", f'For input string: "{value}"'),
            ) from None
        if number < _INT_MIN[key]:
            raise illegal_argument(
                f"Failed to parse value [{value}] for setting [{key}] must be >= {_INT_MIN[key]}"
            )
    elif key in _BOOLS:
        if value not in ("true", "false"):
            raise illegal_argument(
                f"Failed to parse value [{value}] as only [true] or [false] are allowed."
            )
    elif (
        key in _TIMES
        and not (key == "index.refresh_interval" and value == "-1")
        and parse_time_value(value, key) < 0  # positiveTimeSetting (wording inferred)
    ):
        raise illegal_argument(
            f"failed to parse value [{value}] for setting [{key}], must be >= [0ms]"
        )


def _filters(settings: Mapping[str, str], prefix: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for key in sorted(settings):
        if key.startswith(prefix):
            vals = tuple(v.strip() for v in settings[key].split(",") if v.strip())
            if vals:
                out.append((key[len(prefix) :], vals))
    return tuple(out)


class IndicesMixin(AllocatorMixin):
    """Dynamic index settings and their effects on the copies of an index."""

    def index(self, name: str) -> IndexState:
        return self._indices[name]

    # ---- settings --------------------------------------------------------------------------

    def update_index_settings(
        self, names: Sequence[str], raw: Mapping[str, Any], *, preserve_existing: bool = False
    ) -> None:
        """Validate every key first, then apply to every index of ``names`` (all or nothing)."""
        self._ensure_layout()
        flat = {_index_key(k): v for k, v in flatten_settings(raw).items()}
        if not flat:
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: no settings to update;",
            )
        static = sorted(k for k in flat if k in _STATIC)
        unknown = [
            k
            for k in flat
            if k not in _STATIC
            and k not in _INT_MIN
            and k not in _BOOLS
            and k not in _TIMES
            and k not in _OTHER_DYNAMIC
            and not k.startswith(_FILTER_PREFIXES)
        ]
        if unknown:
            raise illegal_argument(
                f"unknown setting [{unknown[0]}] please check that any required plugins are "
                "installed, or check the breaking changes documentation for removed settings"
            )
        values: dict[str, str | None] = {}
        for key, value in flat.items():
            if value is None:
                values[key] = None
                continue
            sval = _setting_value(value)
            _validate_index_value(key, sval)
            values[key] = sval
        if static:
            opened = ", ".join(f"[{n}/{self._indices[n].uuid}]" for n in names)
            raise illegal_argument(
                f"Can't update non dynamic settings [[{', '.join(static)}]] for open indices [{opened}]"
            )
        for name in names:
            idx = self._indices[name]
            for key, new in values.items():
                if preserve_existing and key in idx.settings:
                    continue
                if key == "index.number_of_replicas":
                    # always present in index metadata, so preserve_existing never changes it
                    if not preserve_existing:
                        self._set_replicas(idx, 1 if new is None else int(new))
                    continue
                if new is None:
                    idx.settings.pop(key, None)
                else:
                    idx.settings[key] = new
                if key == "index.blocks.read_only_allow_delete":
                    idx.auto_blocked = False  # the user decides now
            self._apply_index_settings(idx)
        self._dirty = True

    def _apply_index_settings(self, idx: IndexState) -> None:
        s = idx.settings
        idx.require = _filters(s, "index.routing.allocation.require.")
        idx.include = _filters(s, "index.routing.allocation.include.")
        idx.exclude = _filters(s, "index.routing.allocation.exclude.")
        idx.total_shards_per_node = int(
            s.get("index.routing.allocation.total_shards_per_node", "-1")
        )
        idx.max_retries = int(s.get("index.allocation.max_retries", "5"))
        delay = s.get("index.unassigned.node_left.delayed_timeout", "1m")
        idx.delayed_timeout_s = parse_time_value(
            delay, "index.unassigned.node_left.delayed_timeout"
        )
        idx.read_only_allow_delete = s.get("index.blocks.read_only_allow_delete") == "true"

    def index_settings(self, idx: IndexState) -> dict[str, str]:
        """The flat settings ``GET /{index}/_settings?flat_settings`` shows (explicit ones)."""
        out = {
            "index.creation_date": str(int(idx.created_at * 1000)),
            "index.number_of_replicas": str(idx.replicas),
            "index.number_of_shards": str(idx.primaries),
            "index.provided_name": idx.name,
            "index.routing.allocation.include._tier_preference": "data_content",
            "index.uuid": idx.uuid,
            "index.version.created": "8500000",
        }
        out.update(idx.settings)
        return dict(sorted(out.items()))

    def index_defaults(self, idx: IndexState) -> dict[str, str]:
        return {k: v for k, v in INDEX_DEFAULTS.items() if k not in idx.settings}

    # ---- replicas --------------------------------------------------------------------------

    def _set_replicas(self, idx: IndexState, replicas: int) -> None:
        """Add unassigned ``REPLICA_ADDED`` copies or remove replicas (unassigned ones first)."""
        now = self._now()
        for s, copies in enumerate(idx.shards):
            while len(copies) - 1 < replicas:
                self._replica_seq += 1
                c = ShardCopy(
                    index=idx.name,
                    shard=s,
                    primary=False,
                    size=idx.shard_size,
                    docs=idx.shard_size // 600,
                    alloc_id=b64id("alloc", self.seed, idx.name, s, "added", self._replica_seq),
                    unassigned_reason="REPLICA_ADDED",
                    unassigned_at=now,
                )
                copies.append(c)
                self._copies.append(c)
                self._unassigned.add(c)
            while len(copies) - 1 > replicas:
                rank = {UNASSIGNED: 0, INITIALIZING: 1, RELOCATING: 3}
                victim = min(
                    (c for c in copies if not c.primary), key=lambda c: rank.get(c.state, 2)
                )
                self._drop_copy(victim)
                copies.remove(victim)
        idx.replicas = replicas
        self._dirty = True
        self._shares_dirty = True

    def _drop_copy(self, c: ShardCopy) -> None:
        if c.state == RELOCATING:
            self._cancel_relocation(c)
        if c.recovery is not None:
            self._end_recovery(c.recovery)
        self._detach(c)
        c.state = UNASSIGNED
        self._unassigned.discard(c)
        self._copies.remove(c)

    # ---- failed allocations ----------------------------------------------------------------

    def fail_allocations(self, index: str, shard: int) -> None:
        """Fault injection: every recovery of this shard fails (``ALLOCATION_FAILED``)."""
        if index not in self._indices or not 0 <= shard < self._indices[index].primaries:
            raise KeyError(f"no shard [{index}][{shard}]")
        self._failing.add((index, shard))

    def stop_failing_allocations(self, index: str, shard: int) -> None:
        self._failing.discard((index, shard))

    def retry_failed(self) -> int:
        """``_cluster/reroute?retry_failed=true``: reset the failed-allocation counters."""
        self._ensure_layout()
        reset = 0
        for c in self._unassigned:
            if c.failed_attempts:
                c.failed_attempts = 0
                reset += 1
        self._dirty = True
        return reset

    def unassigned_info_text(self, c: ShardCopy) -> str:
        """``UnassignedInfo.toString()`` as the ``max_retry`` decider quotes it."""
        parts = [
            f"[reason={c.unassigned_reason or 'INDEX_CREATED'}]",
            f"at[{iso_ms(c.unassigned_at)}]",
        ]
        if c.failed_attempts:
            parts.append(f"failed_attempts[{c.failed_attempts}]")
        if c.failed_nodes:
            parts.append(f"failed_nodes[[{', '.join(c.failed_nodes)}]]")
        parts.append(f"delayed={'true' if c.delayed_until > self._now() else 'false'}")
        if c.unassigned_details:
            parts.append(f"details[{c.unassigned_details}]")
        parts.append("allocation_status[no_attempt]")
        return "unassigned_info[" + ", ".join(parts) + "]"
