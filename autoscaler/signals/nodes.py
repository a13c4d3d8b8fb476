"""Node stats → per-node samples → tier aggregates: every ``_nodes/stats`` version quirk, once.

Policies speak of ``cpu``, ``heap``, ``write_queue``… (DESIGN §4); Elasticsearch 6.8 to 9.x
report them under fields that moved between releases. This module is the *only* place that
knows where each value lives, so the poller, the back-test and the bench share one reading.
It is pure (no IO, no clock): bodies in, frozen samples and numbers out. The poller reads the
same samples as plain tuples (``NodeRow``, ``parse_node_rows`` → ``read_tier_rows``): a poll of
1,000 nodes then builds no object per node (issue 10); ``NodeSample`` and ``read_tiers`` are
the same reading for everyone else, and the tests hold the two equal. ``signals.node_readers``
reads the same fields faster (per node, and a loop compiled per body shape) and hands every
node it does not recognise to ``_parse_node`` here, the reference reading.

Where each metric comes from (first field present wins):

==================  ===========================================================================
``cpu``             ``os.cpu.percent`` → ``os.cpu_percent`` (2.x–5.x) → ``process.cpu.percent``;
                    a negative value is Elasticsearch's "unavailable" and counts as missing
``heap``            ``jvm.mem.heap_used_percent`` → ``heap_used_in_bytes / heap_max_in_bytes``
``disk``            ``100 · (1 − fs.total.available_in_bytes / fs.total.total_in_bytes)``
``load1``           ``os.cpu.load_average.1m`` (absent on Windows → missing)
``search_queue``    ``thread_pool.search.queue``
``write_queue``     ``thread_pool.write`` → ``bulk`` (≤ 6.2) → ``index`` (6.x single-doc pool)
counters            ``indices.search.query_total`` / ``query_time_in_millis``,
                    ``indices.indexing.index_total``, ``thread_pool.{search,write…}.rejected``
restart detection   ``jvm.uptime_in_millis``
==================  ===========================================================================

Aggregates over a tier (``avg``, ``max``, ``min``, ``p90``) are taken over the nodes that
report a value; nodes without one are left out, and the aggregate is ``None`` when no node
contributes. ``p90`` is the *nearest-rank* percentile: sort the n values ascending and take the
one at 1-based rank ``ceil(0.9 · n)`` — always an observed value, never interpolated (n = 1 →
that value; n = 3 → the maximum; n = 10 → the 9th smallest; n = 20 → the 18th).

Rates (``search_rejections``, ``write_rejections`` per second, ``indexing_rate`` docs/s,
``search_latency_ms`` = Δquery_time/Δquery_total) are computed *per node* from the counter
deltas between two polls, over the node's own ``timestamp`` delta (not the poller's clock, so a
slow response does not distort them), and then aggregated like gauges — ``avg`` of a rate is
the mean of the per-node rates, not a cluster total. A node contributes no rate when it was not
in the previous poll, when its timestamp did not advance, when a counter went backwards
(counter reset), or when its JVM started after the previous sample (a restart, even if the
counter has since grown past its old value). ``search_latency_ms`` is also missing for a node
that served no query in the interval.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any, Final

from autoscaler.core.observations import MetricKey
from autoscaler.signals.node_readers import NodeRow, compiled_reader

__all__ = [
    "AGGREGATES",
    "GAUGES",
    "RATES",
    "NodeRow",
    "NodeSample",
    "StatsFormatError",
    "TierKey",
    "TierReading",
    "TierRows",
    "aggregate",
    "aggregate_values",
    "filter_path_for",
    "in_tier",
    "index_metrics_for",
    "needed_metric_groups",
    "node_rates",
    "nodes_failed",
    "p90",
    "parse_node_rows",
    "parse_node_stats",
    "read_tier_rows",
    "read_tiers",
    "role_matches",
    "row_of",
    "select_tier",
]

GAUGES: Final = frozenset({"cpu", "heap", "disk", "load1", "search_queue", "write_queue"})
RATES: Final = frozenset(
    {"search_rejections", "write_rejections", "search_latency_ms", "indexing_rate"}
)
AGGREGATES: Final = ("avg", "max", "min", "p90")

_WRITE_POOLS: Final = ("write", "bulk", "index")
"""Write thread pool names, newest first: ``bulk`` was renamed ``write`` in 6.3; 6.x also has a
separate ``index`` pool for single-document writes, removed in 7.0."""

_RESTART_TOLERANCE_MS: Final = 1000.0
"""Slack between ``timestamp`` and ``jvm.uptime_in_millis``, which are read at slightly
different instants on the node."""


class StatsFormatError(ValueError):
    """A ``_nodes/stats`` body that is not shaped like one (the message says where)."""


@dataclass(frozen=True)
class NodeSample:
    """One node's view at one instant (``at``: the node's own timestamp, epoch seconds).

    Every metric is ``None`` when the node did not report it (or the field was filtered out).
    Counters are the cumulative values; rates come from two samples (see ``node_rates``).
    """

    node_id: str
    name: str
    roles: frozenset[str]
    at: float
    cpu: float | None = None
    heap: float | None = None
    disk: float | None = None
    load1: float | None = None
    search_queue: float | None = None
    write_queue: float | None = None
    query_total: float | None = None
    query_time_ms: float | None = None
    index_total: float | None = None
    search_rejected: float | None = None
    write_rejected: float | None = None
    uptime_ms: float | None = None

    def gauge(self, metric: str) -> float | None:
        """The value of a gauge metric (``cpu``, ``heap``, ``disk``, ``load1``, ``*_queue``)."""
        if metric not in GAUGES:
            raise KeyError(f"{metric!r} is not a gauge metric")
        value: float | None = getattr(self, metric)
        return value


# ---------------------------------------------------------------------------------------------
# Parsing


def _get(node: Mapping[str, Any], path: Sequence[str], where: str) -> Any:
    cur: Any = node
    for i, seg in enumerate(path):
        if type(cur) is dict:  # fast path: what json.loads gives (ABC checks are slow)
            cur = cur.get(seg)
        elif cur is None:
            return None
        elif isinstance(cur, Mapping):
            cur = cur.get(seg)
        else:
            raise StatsFormatError(f"{where}.{'.'.join(path[:i])} is not an object")
    return cur


def _num(node: Mapping[str, Any], path: Sequence[str], where: str) -> float | None:
    value = _get(node, path, where)
    if value is None:
        return None
    kind = type(value)
    if (kind is not int and kind is not float) and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise StatsFormatError(f"{where}.{'.'.join(path)} is not a number: {value!r}")
    f = float(value)
    if not math.isfinite(f):
        return None
    return f


def _first(node: Mapping[str, Any], paths: Iterable[Sequence[str]], where: str) -> float | None:
    for path in paths:
        value = _num(node, path, where)
        if value is not None:
            return value
    return None


def _nonneg(value: float | None) -> float | None:
    """Elasticsearch reports -1 for "not available" (e.g. CPU on some platforms)."""
    return None if value is None or value < 0 else value


def _write_pool(node: Mapping[str, Any], where: str) -> Mapping[str, Any] | None:
    pools = _get(node, ("thread_pool",), where)
    if pools is None:
        return None
    if not isinstance(pools, Mapping):
        raise StatsFormatError(f"{where}.thread_pool is not an object")
    for name in _WRITE_POOLS:
        pool = pools.get(name)
        if isinstance(pool, Mapping):
            return pool
    return None


def _parse_node(node_id: str, node: Any) -> NodeSample:
    where = f"nodes.{node_id}"
    if not isinstance(node, Mapping):
        raise StatsFormatError(f"{where} is not an object")
    ts = _num(node, ("timestamp",), where)
    if ts is None:
        raise StatsFormatError(f"{where}.timestamp is missing")
    name = node.get("name", node_id)
    if not isinstance(name, str):
        raise StatsFormatError(f"{where}.name is not a string: {name!r}")
    raw_roles = node.get("roles", [])
    if not isinstance(raw_roles, list) or not all(isinstance(r, str) for r in raw_roles):
        raise StatsFormatError(f"{where}.roles is not a list of strings: {raw_roles!r}")

    heap = _num(node, ("jvm", "mem", "heap_used_percent"), where)
    if heap is None:
        used = _num(node, ("jvm", "mem", "heap_used_in_bytes"), where)
        hmax = _num(node, ("jvm", "mem", "heap_max_in_bytes"), where)
        if used is not None and hmax:
            heap = 100.0 * used / hmax

    disk = None
    total = _num(node, ("fs", "total", "total_in_bytes"), where)
    avail = _num(node, ("fs", "total", "available_in_bytes"), where)
    if total and avail is not None:
        disk = 100.0 * (1.0 - avail / total)

    write_pool = _write_pool(node, where)
    wq = _num(write_pool, ("queue",), f"{where}.thread_pool.write") if write_pool else None
    wr = _num(write_pool, ("rejected",), f"{where}.thread_pool.write") if write_pool else None

    return NodeSample(
        node_id=node_id,
        name=name,
        roles=frozenset(raw_roles),
        at=ts / 1000.0,
        cpu=_nonneg(
            _first(
                node,
                (("os", "cpu", "percent"), ("os", "cpu_percent"), ("process", "cpu", "percent")),
                where,
            )
        ),
        heap=heap,
        disk=disk,
        load1=_nonneg(_num(node, ("os", "cpu", "load_average", "1m"), where)),
        search_queue=_num(node, ("thread_pool", "search", "queue"), where),
        write_queue=wq,
        query_total=_num(node, ("indices", "search", "query_total"), where),
        query_time_ms=_num(node, ("indices", "search", "query_time_in_millis"), where),
        index_total=_num(node, ("indices", "indexing", "index_total"), where),
        search_rejected=_num(node, ("thread_pool", "search", "rejected"), where),
        write_rejected=wr,
        uptime_ms=_num(node, ("jvm", "uptime_in_millis"), where),
    )


_HEADER_KEYS: Final = frozenset({"_nodes", "cluster_name"})


def parse_node_stats(body: Any) -> list[NodeSample]:
    """Every node of a ``_nodes/stats`` body (any version 6.8–9.x, filtered or not).

    A body with no ``nodes`` object is an empty cluster only if nothing else is in it (that is
    what ``filter_path`` leaves when no node matched); anything else raises
    ``StatsFormatError``. Missing metric fields are ``None``; present fields of the wrong type
    are an error, because they mean the body is not what we think it is.
    """
    return [_sample_of(row) for row in parse_node_rows(body)]


def parse_node_rows(body: Any) -> list[NodeRow]:
    """``parse_node_stats`` as ``NodeRow`` tuples: what the poller reads every poll, without
    building an object per node (same values, same errors)."""
    if not isinstance(body, Mapping):
        raise StatsFormatError(f"node stats body is not a JSON object but {type(body).__name__}")
    nodes = body.get("nodes")
    if nodes is None:
        extra = set(body) - _HEADER_KEYS
        if extra:
            raise StatsFormatError(
                f"node stats body has no 'nodes' object (keys: {', '.join(sorted(extra))})"
            )
        return []
    if not isinstance(nodes, Mapping):
        raise StatsFormatError("'nodes' is not an object")
    roles_cache: dict[tuple[str, ...], frozenset[str]] = {}
    # The loop compiled for the first node's shape reads every node that has it (all of a
    # filtered poll); any other node goes to ``_read_node``, one at a time.
    reader = compiled_reader(next(iter(nodes.values()), None)) if type(nodes) is dict else None
    if reader is not None:
        return reader(nodes.items(), roles_cache, _read_node)
    return [_read_node(node_id, node, roles_cache) for node_id, node in nodes.items()]


def _read_node(
    node_id: Any, node: Any, roles_cache: dict[tuple[str, ...], frozenset[str]]
) -> NodeRow:
    """One node that the body's loop could not read: the loop compiled for this node's own
    shape reads it, else (anything unusual) the reference reader, which names the field that
    is wrong."""
    nid = node_id if type(node_id) is str else str(node_id)
    reader = compiled_reader(node)
    if reader is not None:
        return reader(((nid, node),), roles_cache, _reference_row)[0]
    return _reference_row(nid, node, roles_cache)


def _reference_row(
    nid: Any, node: Any, roles_cache: dict[tuple[str, ...], frozenset[str]]
) -> NodeRow:
    """``_parse_node`` as a row; it also learns the node's role set for the compiled loops
    (they read roles from ``roles_cache`` only, so a validated list is learnt here once)."""
    row = row_of(_parse_node(nid, node))
    roles_cache.setdefault(tuple(node["roles"]) if "roles" in node else (), row[_ROLES])
    return row


_SAMPLE_FIELDS: Final = tuple(NodeSample.__dataclass_fields__)
# Column numbers of a NodeRow (literal, so that mypy knows each column's type).
_ID: Final = 0
_NAME: Final = 1
_ROLES: Final = 2
_AT: Final = 3
_CPU: Final = 4
_HEAP: Final = 5
_DISK: Final = 6
_LOAD1: Final = 7
_SQ: Final = 8
_WQ: Final = 9
_QT: Final = 10
_QMS: Final = 11
_IT: Final = 12
_SR: Final = 13
_WR: Final = 14
_UP: Final = 15
_GAUGE_COLUMN: Final = {
    "cpu": _CPU,
    "heap": _HEAP,
    "disk": _DISK,
    "load1": _LOAD1,
    "search_queue": _SQ,
    "write_queue": _WQ,
}
_row_getter = attrgetter(*_SAMPLE_FIELDS)
_roles_of = itemgetter(_ROLES)
_name_of = itemgetter(_NAME)
_set_dict = object.__setattr__


def row_of(sample: NodeSample) -> NodeRow:
    """A sample's fields as a ``NodeRow``."""
    row: NodeRow = _row_getter(sample)
    return row


def _sample_of(row: NodeRow) -> NodeSample:
    # A frozen dataclass filled without its generated __init__ (object.__setattr__ per field
    # is most of the cost); the fields are exactly NodeSample's, checked by the parse tests.
    sample: NodeSample = _new_sample(NodeSample)
    _set_dict(sample, "__dict__", dict(zip(_SAMPLE_FIELDS, row, strict=True)))
    return sample


_new_sample = object.__new__


def nodes_failed(body: Any) -> int:
    """``_nodes.failed`` of a node stats body (nodes that did not answer), 0 when absent."""
    if isinstance(body, Mapping):
        header = body.get("_nodes")
        if isinstance(header, Mapping):
            failed = header.get("failed")
            if isinstance(failed, int) and not isinstance(failed, bool):
                return failed
    return 0


# ---------------------------------------------------------------------------------------------
# Tier membership

_MASTER_SYNONYMS: Final = frozenset({"master", "cluster_manager"})


def role_matches(policy_role: str, node_roles: frozenset[str]) -> bool:
    """Whether a node with ``node_roles`` has ``policy_role``, allowing for role renames.

    * ``data`` matches any ``data*`` role (8.x nodes often have only ``data_hot``,
      ``data_content``…), and a ``data_<tier>`` role matches a node with the generic ``data``
      role, because Elasticsearch counts such a node as a member of every data tier.
    * ``master`` and ``cluster_manager`` (OpenSearch's name) are synonyms.
    """
    if policy_role in node_roles:
        return True
    if policy_role == "data":
        return any(r.startswith("data") for r in node_roles)
    if policy_role.startswith("data_"):
        return "data" in node_roles
    if policy_role in _MASTER_SYNONYMS:
        return bool(_MASTER_SYNONYMS & node_roles)
    return False


def in_tier(
    *, roles: Iterable[str], name_pattern: str | None = None
) -> Callable[[str, frozenset[str]], bool]:
    """The tier rule as a test of one node's ``(name, roles)``: any of ``roles`` and, if
    given, a name where the regular expression ``name_pattern`` matches (``re.search``: anchor
    it with ``^…$`` to match the whole name). The poller's and the operations runner's one
    definition of "a node of this tier" (``_read_tier`` inlines it on the hot path)."""
    wanted = tuple(roles)
    rx = re.compile(name_pattern) if name_pattern is not None else None

    def member(name: str, node_roles: frozenset[str]) -> bool:
        return any(role_matches(r, node_roles) for r in wanted) and (
            rx is None or rx.search(name) is not None
        )

    return member


def select_tier(
    samples: Iterable[NodeSample], *, roles: Iterable[str], name_pattern: str | None = None
) -> list[NodeSample]:
    """The nodes a policy sizes (``in_tier``). Order is kept."""
    member = in_tier(roles=roles, name_pattern=name_pattern)
    return [s for s in samples if member(s.name, s.roles)]


# ---------------------------------------------------------------------------------------------
# Aggregation


def p90(values: Sequence[float]) -> float:
    """Nearest-rank 90th percentile: the value at 1-based rank ``ceil(0.9·n)`` of the sorted
    values. ``values`` must not be empty."""
    if not values:
        raise ValueError("p90 of no values")
    ordered = sorted(values)
    # 0.9 * n in floating point can land a hair above an integer (0.9 * 10 = 9.000000000000002);
    # rank by integer arithmetic instead: ceil(9n / 10).
    rank = -(-9 * len(ordered) // 10)
    return ordered[rank - 1]


def aggregate_values(values: Sequence[float], how: str) -> float | None:
    """``avg``/``max``/``min``/``p90`` of ``values``; ``None`` for no values."""
    if not values:
        return None
    if how == "avg":
        return math.fsum(values) / len(values)
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    if how == "p90":
        return p90(values)
    raise ValueError(f"unknown aggregate {how!r} (expected one of {', '.join(AGGREGATES)})")


def _delta(cur: float | None, prev: float | None) -> float | None:
    if cur is None or prev is None:
        return None
    d = cur - prev
    return d if d >= 0 else None  # a counter that went backwards was reset: not a rate


def _restarted(cur: NodeSample, prev: NodeSample, dt_ms: float) -> bool:
    if cur.uptime_ms is None:
        return False
    if prev.uptime_ms is not None and cur.uptime_ms < prev.uptime_ms:
        return True
    # The JVM started after the previous sample was taken.
    return cur.uptime_ms + _RESTART_TOLERANCE_MS < dt_ms


def node_rates(cur: NodeSample, prev: NodeSample | None) -> dict[str, float | None]:
    """Per-node rate metrics between two samples of the same node (all ``None`` if none)."""
    if prev is None or prev.node_id != cur.node_id:
        return dict.fromkeys(RATES)
    dt_ms = (cur.at - prev.at) * 1000.0
    if dt_ms <= 0 or _restarted(cur, prev, dt_ms):
        return dict.fromkeys(RATES)
    dt = dt_ms / 1000.0
    # ``_delta`` inlined (this runs per node per poll): a counter that went backwards → None.
    c, p = cur.search_rejected, prev.search_rejected
    search_rejections = (c - p) / dt if c is not None and p is not None and c >= p else None
    c, p = cur.write_rejected, prev.write_rejected
    write_rejections = (c - p) / dt if c is not None and p is not None and c >= p else None
    c, p = cur.index_total, prev.index_total
    indexing_rate = (c - p) / dt if c is not None and p is not None and c >= p else None
    d_qt = _delta(cur.query_total, prev.query_total)
    d_qms = _delta(cur.query_time_ms, prev.query_time_ms)
    return {
        "search_rejections": search_rejections,
        "write_rejections": write_rejections,
        "indexing_rate": indexing_rate,
        "search_latency_ms": d_qms / d_qt if d_qt and d_qms is not None else None,
    }


def aggregate(
    current: Sequence[NodeSample],
    previous: Mapping[str, NodeSample] | None,
    keys: Iterable[MetricKey],
) -> dict[MetricKey, float | None]:
    """One row of tier aggregates for ``keys`` (``(metric, aggregate)`` pairs).

    Gauges come from ``current``; rates from each current node and its sample in
    ``previous`` (keyed by node id; ``None`` on the first poll). A key is ``None`` when no
    node contributes a value.
    """
    wanted = list(dict.fromkeys(keys))
    per_metric: dict[str, list[float]] = {}
    metrics = {m for m, _ in wanted}
    rates: list[dict[str, float | None]] = []
    if metrics & RATES:
        rates = [node_rates(s, previous.get(s.node_id) if previous else None) for s in current]
    for metric in metrics:
        if metric in GAUGES:
            vals = map(attrgetter(metric), current)  # NodeSample.gauge without a call per node
        elif metric in RATES:
            vals = map(itemgetter(metric), rates)
        else:
            raise ValueError(f"unknown metric {metric!r}")
        per_metric[metric] = [v for v in vals if v is not None]
    return {(m, how): aggregate_values(per_metric[m], how) for m, how in wanted}


TierKey = tuple[tuple[str, ...], str | None]
"""A tier as policies select it: ``(roles, name_pattern)``."""


@dataclass(frozen=True)
class TierReading:
    """One tier in one poll: its nodes (in body order) and the aggregates of every key asked."""

    nodes: tuple[NodeSample, ...]
    row: Mapping[MetricKey, float | None]
    names: tuple[str, ...]
    """The nodes' names, sorted."""


@dataclass(frozen=True)
class TierRows:
    """``TierReading`` for ``NodeRow``s: the tier's node count, its row and its sorted names."""

    node_count: int
    row: Mapping[MetricKey, float | None]
    names: tuple[str, ...]


def read_tiers(
    samples: Sequence[NodeSample],
    previous: Mapping[str, NodeSample] | None,
    tiers: Mapping[TierKey, Iterable[MetricKey]],
) -> dict[TierKey, TierReading]:
    """Select and aggregate each distinct tier once, for the union of the keys asked of it.

    Fifty policies sizing the same tier cost one selection and one aggregation, not fifty
    (aggregates of a key do not depend on the other keys, so each policy's row is a slice of
    its tier's). ``read_tier_rows`` does the work, on ``NodeRow``s.
    """
    rows = [row_of(s) for s in samples]
    prev = {k: row_of(s) for k, s in previous.items()} if previous is not None else None
    out: dict[TierKey, TierReading] = {}
    for tier, keys in tiers.items():
        members: list[int] = []
        reading = _read_tier(rows, prev, tier, keys, members)
        out[tier] = TierReading(tuple(samples[i] for i in members), reading.row, reading.names)
    return out


def read_tier_rows(
    rows: Sequence[NodeRow],
    previous: Mapping[str, NodeRow] | None,
    tiers: Mapping[TierKey, Iterable[MetricKey]],
) -> dict[TierKey, TierRows]:
    """``read_tiers`` on ``parse_node_rows``'s rows (``previous``: the last poll's rows by node
    id): what the poller does every poll, with no object per node."""
    return {tier: _read_tier(rows, previous, tier, keys, None) for tier, keys in tiers.items()}


def _read_tier(
    rows: Sequence[NodeRow],
    previous: Mapping[str, NodeRow] | None,
    tier: TierKey,
    keys: Iterable[MetricKey],
    members: list[int] | None,
) -> TierRows:
    """Select one tier (role matching decided once per distinct role set, not once per node)
    and aggregate ``keys`` over it: ``aggregate(select_tier(…))``, column by column."""
    roles, name_pattern = tier
    rx = re.compile(name_pattern) if name_pattern is not None else None
    member = {
        node_roles: any(role_matches(x, node_roles) for x in roles)
        for node_roles in set(map(_roles_of, rows))  # a handful of distinct role sets
    }
    nodes: Sequence[NodeRow]
    if rx is None and all(member.values()):  # the common case: every node is of the tier
        nodes = rows
        if members is not None:
            members.extend(range(len(rows)))
    else:
        nodes = []
        for i, r in enumerate(rows):
            if member[r[_ROLES]] and (rx is None or rx.search(r[_NAME])):
                nodes.append(r)
                if members is not None:
                    members.append(i)
    wanted = list(dict.fromkeys(keys))
    metrics = {m for m, _ in wanted}
    per_metric: dict[str, list[float]] = {}
    for metric in metrics:
        col = _GAUGE_COLUMN.get(metric)
        if col is not None:
            # A gauge column holds ``float | None`` (mypy cannot tell from a variable index).
            values: list[float] = [
                v  # type: ignore[misc]
                for r in nodes
                if (v := r[col]) is not None
            ]
            per_metric[metric] = values
        elif metric not in RATES:
            raise ValueError(f"unknown metric {metric!r}")
    if metrics & RATES:
        per_metric.update(_rate_columns(nodes, previous, metrics & RATES))
    return TierRows(
        len(nodes),
        _tier_row(per_metric, wanted),
        tuple(sorted(map(_name_of, nodes))),
    )


def _tier_row(
    per_metric: Mapping[str, list[float]], wanted: Sequence[MetricKey]
) -> dict[MetricKey, float | None]:
    """``{(m, how): aggregate_values(per_metric[m], how)}``, sorting each metric's values at
    most once: with ``p90`` asked, ``min`` and ``max`` are read off the same sorted list."""
    sorted_of: dict[str, list[float]] = {}
    for m, how in wanted:
        if how == "p90" and m not in sorted_of and per_metric[m]:
            sorted_of[m] = sorted(per_metric[m])
    row: dict[MetricKey, float | None] = {}
    for m, how in wanted:
        ordered = sorted_of.get(m)
        if ordered is None:
            row[(m, how)] = aggregate_values(per_metric[m], how)
        elif how == "min":
            row[(m, how)] = ordered[0]  # stable sort: the first of the smallest, as min() gives
        elif how == "max":
            # min()/max() return the first of equal values, which tells 0.0 from -0.0: the
            # first of the largest is where bisect_left puts the largest (stable sort).
            row[(m, how)] = ordered[bisect.bisect_left(ordered, ordered[-1])]
        elif how == "p90":
            row[(m, how)] = ordered[-(-9 * len(ordered) // 10) - 1]  # rank as ``p90`` does
        else:  # avg in body order: fsum's "intermediate overflow" depends on the order
            row[(m, how)] = aggregate_values(per_metric[m], how)
    return row


def _rate_columns(
    nodes: Sequence[NodeRow], previous: Mapping[str, NodeRow] | None, metrics: Iterable[str]
) -> dict[str, list[float]]:
    """Each rate metric's per-node values over ``nodes`` (in node order): ``node_rates``
    without a dict per node, and only for the rates asked."""
    wanted = set(metrics)
    out: dict[str, list[float]] = {m: [] for m in wanted}
    if not previous:
        return out
    search_rej = out.get("search_rejections")
    write_rej = out.get("write_rejections")
    indexing = out.get("indexing_rate")
    latency = out.get("search_latency_ms")
    get = previous.get
    tolerance = _RESTART_TOLERANCE_MS
    # ``node_rates`` unrolled, one column at a time: a counter that went backwards (a reset)
    # or is missing on either side gives no value (``_delta``). Rows are unpacked whole (one
    # bytecode each) rather than indexed column by column: this loop runs per node per poll.
    for nid, _, _, at, _, _, _, _, _, _, qt, qms, it, sr, wr, up in nodes:
        prev = get(nid)
        if prev is None:
            continue
        _, _, _, p_at, _, _, _, _, _, _, p_qt, p_qms, p_it, p_sr, p_wr, p_up = prev
        dt_ms = (at - p_at) * 1000.0
        if dt_ms <= 0:
            continue
        if up is not None and ((p_up is not None and up < p_up) or up + tolerance < dt_ms):
            continue  # ``_restarted``
        dt = dt_ms / 1000.0
        if search_rej is not None and sr is not None and p_sr is not None and sr >= p_sr:
            search_rej.append((sr - p_sr) / dt)
        if write_rej is not None and wr is not None and p_wr is not None and wr >= p_wr:
            write_rej.append((wr - p_wr) / dt)
        if indexing is not None and it is not None and p_it is not None and it >= p_it:
            indexing.append((it - p_it) / dt)
        if (
            latency is not None
            and qt is not None
            and p_qt is not None
            and (d_qt := qt - p_qt) >= 0
            and d_qt
            and qms is not None
            and p_qms is not None
            and (d_qms := qms - p_qms) >= 0
        ):
            latency.append(d_qms / d_qt)
    return out


# ---------------------------------------------------------------------------------------------
# What to ask for

_ALWAYS: Final = ("_nodes", "nodes.*.name", "nodes.*.roles", "nodes.*.timestamp")
_UPTIME: Final = "nodes.*.jvm.uptime_in_millis"

_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "cpu": ("os.cpu.percent", "os.cpu_percent", "process.cpu.percent"),
    "heap": ("jvm.mem.heap_used_percent",),
    "disk": ("fs.total.total_in_bytes", "fs.total.available_in_bytes"),
    "load1": ("os.cpu.load_average.1m",),
    "search_queue": ("thread_pool.search.queue",),
    "write_queue": tuple(f"thread_pool.{p}.queue" for p in _WRITE_POOLS),
    "search_rejections": ("thread_pool.search.rejected",),
    "write_rejections": tuple(f"thread_pool.{p}.rejected" for p in _WRITE_POOLS),
    "search_latency_ms": ("indices.search.query_total", "indices.search.query_time_in_millis"),
    "indexing_rate": ("indices.indexing.index_total",),
}


def _metrics(keys: Iterable[MetricKey]) -> list[str]:
    metrics = list(dict.fromkeys(m for m, _ in keys))
    unknown = [m for m in metrics if m not in _FIELDS]
    if unknown:
        raise ValueError(f"unknown metric(s): {', '.join(unknown)}")
    return metrics


def needed_metric_groups(keys: Iterable[MetricKey]) -> set[str]:
    """The ``_nodes/stats/<metric>`` groups the keys need (``os``, ``process``, ``jvm``, ``fs``,
    ``thread_pool``, ``indices``). ``process`` comes with ``cpu`` for the fallback reading;
    ``jvm`` comes with every rate, for restart detection."""
    groups: set[str] = set()
    for metric in _metrics(keys):
        groups.update(f.split(".", 1)[0] for f in _FIELDS[metric])
        if metric in RATES:
            groups.add("jvm")
    return groups


def filter_path_for(keys: Iterable[MetricKey]) -> list[str]:
    """The minimal ``filter_path`` entries the parser needs for ``keys`` (sorted, stable)."""
    paths = set(_ALWAYS)
    for metric in _metrics(keys):
        paths.update(f"nodes.*.{f}" for f in _FIELDS[metric])
        if metric in RATES:
            paths.add(_UPTIME)
    return sorted(paths)


def index_metrics_for(keys: Iterable[MetricKey]) -> list[str]:
    """The ``indices`` sub-metrics (``search``, ``indexing``) the keys need, for
    ``_nodes/stats/indices/<index_metric>``, which spares the server the other index stats."""
    out: set[str] = set()
    for metric in _metrics(keys):
        for f in _FIELDS[metric]:
            if f.startswith("indices."):
                out.add(f.split(".")[1])
    return sorted(out)
