"""The poll's fast paths give what the reference readers give (DESIGN §4, issue 10).

``parse_node_stats`` reads nodes shaped like decoded JSON with a specialised reader and hands
anything unusual to the general one (``_parse_node``); the poller selects and aggregates each
distinct tier once (``read_tiers``) for all the policies sizing it. Both must be invisible:
the same samples (or the same error message) and the same rows as reading node by node and
policy by policy.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.core.policy import AGGREGATES, METRICS
from autoscaler.signals.node_readers import compiled_reader
from autoscaler.signals.nodes import (
    NodeSample,
    StatsFormatError,
    _parse_node,
    _read_node,
    aggregate,
    aggregate_values,
    parse_node_rows,
    parse_node_stats,
    read_tier_rows,
    read_tiers,
    row_of,
    select_tier,
)
from autoscaler.signals.poller import TierSubscription, read_poll

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"
CAPTURES = sorted(p.name for p in FIXTURES.glob("es-*_nodes_*stats.json"))
ALL_KEYS = [(m, a) for m in METRICS for a in AGGREGATES]


def load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def reference(body: dict[str, Any]) -> list[NodeSample]:
    return [_parse_node(str(i), n) for i, n in body["nodes"].items()]


@pytest.mark.parametrize("capture", CAPTURES)
def test_fast_parse_equals_reference_reader_on_every_capture(capture: str) -> None:
    body = load(capture)
    assert parse_node_stats(body) == reference(body)
    assert parse_node_rows(body) == [row_of(s) for s in reference(body)]


# Every field the reader looks at, replaced by what a broken or odd server might send.
PATHS = [
    ("timestamp",),
    ("name",),
    ("roles",),
    ("os",),
    ("os", "cpu"),
    ("os", "cpu", "percent"),
    ("os", "cpu_percent"),
    ("os", "cpu", "load_average", "1m"),
    ("process", "cpu", "percent"),
    ("jvm", "mem", "heap_used_percent"),
    ("jvm", "mem", "heap_max_in_bytes"),
    ("jvm", "uptime_in_millis"),
    ("fs", "total", "total_in_bytes"),
    ("fs", "total", "available_in_bytes"),
    ("thread_pool",),
    ("thread_pool", "write"),
    ("thread_pool", "bulk"),
    ("thread_pool", "search", "queue"),
    ("thread_pool", "write", "rejected"),
    ("indices", "search", "query_total"),
    ("indices", "indexing"),
    ("os", "cpu", "load_average"),
    ("fs",),
    ("fs", "total"),
    ("thread_pool", "index"),
    ("thread_pool", "search"),
    ("indices",),
    ("indices", "search"),
    ("indices", "indexing", "index_total"),
]
ODD = st.sampled_from(
    [None, True, "12", [], {}, [1], math.nan, math.inf, -1, -1.5, 0, 0.0, 7, 2**70, 10**400, 55.5]
)


def _set(node: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    cur = node
    for seg in path[:-1]:
        nxt = cur.get(seg)
        if not isinstance(nxt, dict):
            nxt = cur[seg] = {}
        cur = nxt
    if value is None and path[-1] in cur and len(path) > 1:
        del cur[path[-1]]  # absent, not null
    else:
        cur[path[-1]] = value


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except (StatsFormatError, OverflowError) as e:
        return (type(e).__name__, str(e))


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), ODD), max_size=4))
def test_fast_parse_equals_reference_reader_on_odd_nodes(
    edits: list[tuple[tuple[str, ...], Any]],
) -> None:
    body = load("es-8.4.2_nodes_stats.json")
    node_id, node = next(iter(body["nodes"].items()))
    node = copy.deepcopy(node)
    for path, value in edits:
        _set(node, path, value)
    one = {"nodes": {node_id: node}}
    assert _outcome(lambda: parse_node_stats(one)) == _outcome(lambda: reference(one))
    assert _outcome(lambda: parse_node_rows(one)) == _outcome(
        lambda: [row_of(s) for s in reference(one)]
    )


def test_one_reading_per_tier_gives_each_policy_the_rows_of_its_own_aggregation() -> None:
    body = load("es-8.4.2_nodes_stats.json")
    samples = parse_node_stats(body)
    later = copy.deepcopy(body)
    for n in later["nodes"].values():
        n["timestamp"] += 10_000
        n["indices"]["indexing"]["index_total"] += 5_000
        n["thread_pool"]["search"]["rejected"] += 3
    current = parse_node_stats(later)
    previous = {s.node_id: s for s in samples}
    policies = [
        (("data",), None, ALL_KEYS[:9]),
        (("data",), None, ALL_KEYS[5:]),
        (("data_hot", "data"), None, ALL_KEYS),
        (("master",), None, [("heap", "max")]),
        (("data",), "^no-such-node$", [("cpu", "avg")]),
    ]
    tiers: dict[Any, set[Any]] = {}
    for roles, pattern, keys in policies:
        tiers.setdefault((roles, pattern), set()).update(keys)
    readings = read_tiers(current, previous, tiers)
    row_readings = read_tier_rows(
        parse_node_rows(later), {r[0]: r for r in parse_node_rows(body)}, tiers
    )
    for roles, pattern, keys in policies:
        tier = select_tier(current, roles=roles, name_pattern=pattern)
        reading = readings[(roles, pattern)]
        assert list(reading.nodes) == tier
        assert reading.names == tuple(sorted(s.name for s in tier))
        own = aggregate(tier, previous, keys)
        assert {k: reading.row[k] for k in keys} == own
        rows = row_readings[(roles, pattern)]
        assert (rows.node_count, rows.names) == (len(tier), reading.names)
        assert {k: rows.row[k] for k in keys} == own
    assert any(v is not None for v in readings[(("data",), None)].row.values())


# Counters between two polls: grown, reset, missing, equal; clocks that advance or not; JVMs
# that restarted; nodes that are new. Each case must give the rates ``node_rates`` gives.
COUNTER = st.one_of(st.none(), st.integers(0, 3).map(float), st.integers(0, 10**6).map(float))
COUNTERS = ("query_total", "query_time_ms", "index_total", "search_rejected", "write_rejected")


@st.composite
def node_pair(draw: Any, i: int) -> tuple[NodeSample | None, NodeSample]:
    roles = draw(st.sampled_from([("data_hot",), ("data",), ("master",), ("data_hot", "ingest")]))
    at = float(draw(st.integers(0, 100)))
    gauges = {g: draw(st.one_of(st.none(), st.floats(0, 100))) for g in ("cpu", "heap")}
    cur = NodeSample(
        node_id=f"n{i}",
        name=f"es-{i % 3}-{i}",
        roles=frozenset(roles),
        at=at + draw(st.sampled_from([-1.0, 0.0, 0.5, 10.0])),
        uptime_ms=draw(st.one_of(st.none(), st.sampled_from([0.0, 500.0, 9_000.0, 1e7]))),
        **gauges,
        **{c: draw(COUNTER) for c in COUNTERS},
    )
    if draw(st.booleans()):
        return None, cur
    prev = NodeSample(
        node_id=cur.node_id,
        name=cur.name,
        roles=cur.roles,
        at=at,
        uptime_ms=draw(st.one_of(st.none(), st.sampled_from([0.0, 8_000.0, 2e7]))),
        **{c: draw(COUNTER) for c in COUNTERS},
    )
    return prev, cur


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(st.integers(0, 10**6), max_size=8).flatmap(
        lambda ids: st.tuples(*(node_pair(i) for i in range(len(ids))))
    ),
    roles=st.sampled_from([("data",), ("data_hot",), ("master", "data_hot")]),
    pattern=st.sampled_from([None, "es-1", "^none$"]),
    first_poll=st.booleans(),
)
def test_row_reader_gives_the_reference_rows_for_any_counter_history(
    pairs: tuple[tuple[NodeSample | None, NodeSample], ...],
    roles: tuple[str, ...],
    pattern: str | None,
    first_poll: bool,
) -> None:
    current = [cur for _, cur in pairs]
    previous = None if first_poll else {p.node_id: p for p, _ in pairs if p is not None}
    tier = select_tier(current, roles=roles, name_pattern=pattern)
    want = aggregate(tier, previous, ALL_KEYS)
    got = read_tier_rows(
        [row_of(s) for s in current],
        None if previous is None else {k: row_of(s) for k, s in previous.items()},
        {(roles, pattern): ALL_KEYS},
    )[(roles, pattern)]
    assert got.row == want
    assert (got.node_count, got.names) == (len(tier), tuple(sorted(s.name for s in tier)))


# --- Whole bodies: the loop compiled for the first node's shape, and the nodes that differ ----

# Every leaf the readers look at (a poll's ``filter_path`` keeps a subset of them).
LEAVES = [
    ("timestamp",),
    ("name",),
    ("roles",),
    ("os", "cpu", "percent"),
    ("os", "cpu_percent"),
    ("os", "cpu", "load_average", "1m"),
    ("process", "cpu", "percent"),
    ("jvm", "mem", "heap_used_percent"),
    ("jvm", "mem", "heap_used_in_bytes"),
    ("jvm", "mem", "heap_max_in_bytes"),
    ("jvm", "uptime_in_millis"),
    ("fs", "total", "total_in_bytes"),
    ("fs", "total", "available_in_bytes"),
    ("thread_pool", "search", "queue"),
    ("thread_pool", "search", "rejected"),
    ("thread_pool", "write", "queue"),
    ("thread_pool", "write", "rejected"),
    ("thread_pool", "bulk", "queue"),
    ("thread_pool", "index", "rejected"),
    ("indices", "search", "query_total"),
    ("indices", "search", "query_time_in_millis"),
    ("indices", "indexing", "index_total"),
]
ALL_LEAVES = frozenset(range(len(LEAVES)))


def _project(node: dict[str, Any], keep: frozenset[int]) -> dict[str, Any]:
    """``node`` as a ``filter_path`` listing the leaves ``keep`` leaves it (empty objects go)."""
    out: dict[str, Any] = {}
    for i in sorted(keep):
        path = LEAVES[i]
        src: Any = node
        for seg in path:
            src = src.get(seg) if isinstance(src, dict) else None
        if src is None:
            continue
        cur = out
        for seg in path[:-1]:
            cur = cur.setdefault(seg, {})
        cur[path[-1]] = copy.deepcopy(src)
    return out


def _rich_node() -> dict[str, Any]:
    """The 8.4.2 capture's first node with every leaf above present (the 6.x pools too)."""
    node = copy.deepcopy(next(iter(load("es-8.4.2_nodes_stats.json")["nodes"].values())))
    _set(node, ("os", "cpu_percent"), 7)
    _set(node, ("jvm", "mem", "heap_used_in_bytes"), 3 * 2**30)
    _set(node, ("jvm", "mem", "heap_max_in_bytes"), 4 * 2**30)
    _set(node, ("thread_pool", "bulk"), {"queue": 2, "rejected": 1})
    _set(node, ("thread_pool", "index"), {"queue": 3, "rejected": 4})
    return node


RICH = _rich_node()
ROLE_SETS = [("data_hot", "ingest"), ("data_hot", "ingest"), ("master",), (), ("data", "ml")]
SHAPE = st.one_of(st.just(ALL_LEAVES), st.frozensets(st.sampled_from(sorted(ALL_LEAVES))))


@st.composite
def bodies(draw: Any) -> dict[str, Any]:
    """Up to 6 nodes: most in one projection (a filtered poll), some in another, some edited
    with what an odd server might send; numbers vary so that nodes differ."""
    common = draw(SHAPE)
    nodes: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 6))):
        node = _project(RICH, draw(st.one_of(st.just(common), SHAPE)))
        if "roles" in node:  # neighbours with the same roles, and with others
            node["roles"] = list(draw(st.sampled_from(ROLE_SETS)))
        for path, value in draw(st.lists(st.tuples(st.sampled_from(PATHS), ODD), max_size=2)):
            _set(node, path, value)
        if "timestamp" in node and type(node["timestamp"]) is int:
            node["timestamp"] += i
        nodes[f"node-{i}"] = node
    return {"_nodes": {"total": len(nodes)}, "nodes": nodes}


@settings(max_examples=400, deadline=None)
@given(body=bodies())
def test_compiled_body_reader_equals_reference_reader_on_random_node_sets(
    body: dict[str, Any],
) -> None:
    want = _outcome(lambda: [row_of(s) for s in reference(body)])
    assert _outcome(lambda: parse_node_rows(body)) == want
    assert _outcome(lambda: parse_node_stats(body)) == _outcome(lambda: reference(body))


def test_compiled_reader_is_used_for_a_filtered_poll_body() -> None:
    # The property above would hold just as well if the compiled loop never ran: this holds
    # that it does, for the body a poll of every metric gets, and reads what the reference does.
    body = {"nodes": {f"n{i}": _project(RICH, ALL_LEAVES - {4, 8, 9, 17, 18}) for i in range(3)}}
    reader = compiled_reader(body["nodes"]["n0"])
    assert reader is not None
    handed_over: list[str] = []

    def general(nid: Any, node: Any, roles_cache: dict[Any, Any]) -> Any:
        handed_over.append(nid)
        return _read_node(nid, node, roles_cache)

    rows = reader(body["nodes"].items(), {}, general)
    assert rows == [row_of(s) for s in reference(body)]
    assert handed_over == ["n0"]  # only to learn the role set; the other nodes ran compiled


@pytest.mark.parametrize(
    ("first_lacks", "later_has"),
    [
        (("os", "cpu", "load_average"), "load1 on a Windows node first, Linux nodes after"),
        (("jvm", "mem", "heap_used_percent"), "heap from bytes first, then heap_used_percent"),
        (("thread_pool", "write"), "a 6.2 node (bulk pool) first, then 7.x nodes (write)"),
        (("os", "cpu"), "cpu from process first, then os.cpu.percent"),
    ],
)
def test_a_node_with_a_field_the_first_node_lacks_is_read_in_full(
    first_lacks: tuple[str, ...], later_has: str
) -> None:
    first = copy.deepcopy(RICH)
    parent = first
    for seg in first_lacks[:-1]:
        parent = parent[seg]
    del parent[first_lacks[-1]]
    body = {"nodes": {"first": first, "later": copy.deepcopy(RICH)}}
    assert parse_node_rows(body) == [row_of(s) for s in reference(body)], later_has


# --- Aggregates read off one sort --------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 5.5]), st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=12,
    )
)
def test_min_max_p90_off_one_sort_are_the_values_min_max_and_p90_give(values: list[float]) -> None:
    rows = [
        (f"n{i}", f"n{i}", frozenset({"data"}), 0.0, v, *([None] * 11))
        for i, v in enumerate(values)
    ]
    got = read_tier_rows(rows, None, {(("data",), None): ALL_KEYS[:4]})[(("data",), None)].row
    want = {("cpu", how): aggregate_values(values, how) for how in AGGREGATES}
    # repr tells 0.0 from -0.0: min()/max() return the first of equal values
    assert {k: repr(v) for k, v in got.items()} == {k: repr(v) for k, v in want.items()}


def test_policies_with_the_same_keys_get_rows_of_their_own() -> None:
    body = load("es-8.4.2_nodes_stats.json")
    subs = [TierSubscription.of(f"p{i}", roles=("data",), keys=ALL_KEYS) for i in range(3)]
    tier_keys = {(("data",), None): set(ALL_KEYS)}
    reading = read_poll(body, previous=None, tier_keys=tier_keys, subscribers=subs)
    rows = [reading.tiers[s.policy_name].row for s in subs]
    assert rows[0] == rows[1] == rows[2]
    rows[0][("cpu", "avg")] = -1.0  # a consumer that writes into its row touches no other's
    assert rows[1][("cpu", "avg")] != -1.0
    assert reading.node_count == len(reading.rows_by_id) == len(body["nodes"])
