"""Tier aggregates: avg/max/min/nearest-rank p90 of gauges, and rates from counter deltas."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoscaler.signals.nodes import (
    NodeSample,
    aggregate,
    node_rates,
    p90,
    parse_node_stats,
    select_tier,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"


def sample(nid: str, at: float, **kw: float | None) -> NodeSample:
    return NodeSample(node_id=nid, name=nid, roles=frozenset({"data"}), at=at, **kw)


# --- p90 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "want"),
    [
        ([5.0], 5.0),  # n=1: the value
        ([1.0, 2.0], 2.0),  # ceil(1.8)=2
        ([3.0, 1.0, 2.0], 3.0),  # n=3: rank 3, the max
        ([float(i) for i in range(1, 11)], 9.0),  # n=10: rank 9 (not 9.1 interpolated)
        ([float(i) for i in range(1, 12)], 10.0),  # n=11: ceil(9.9)=10
        ([float(i) for i in range(1, 21)], 18.0),  # n=20: rank 18
        ([float(i) for i in range(1, 101)], 90.0),
    ],
)
def test_p90_is_nearest_rank_ceil_of_0_9_n(values: list[float], want: float) -> None:
    assert p90(values) == want


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
def test_p90_is_an_observed_value_with_at_least_90_percent_at_or_below(values: list[float]) -> None:
    v = p90(values)
    assert v in values
    assert sum(x <= v for x in values) >= math.ceil(0.9 * len(values) - 1e-9)
    assert sum(x < v for x in values) < math.ceil(0.9 * len(values) - 1e-9)


# --- gauges -------------------------------------------------------------------------------


def test_gauge_aggregates_over_the_8x_data_tier_equal_hand_computed_values() -> None:
    body = json.loads((FIXTURES / "es-8.4.2_nodes_stats.json").read_text())
    tier = select_tier(parse_node_stats(body), roles=["data"])
    row = aggregate(tier, None, [("cpu", "avg"), ("cpu", "max"), ("heap", "min"), ("heap", "p90")])
    # instance-5: cpu 9 heap 23; instance-6: cpu 10 heap 64 (the tiebreaker is not data)
    assert row == {
        ("cpu", "avg"): 9.5,
        ("cpu", "max"): 10,
        ("heap", "min"): 23,
        ("heap", "p90"): 64,
    }


def test_disk_max_over_the_tier() -> None:
    body = json.loads((FIXTURES / "es-8.4.2_nodes_stats.json").read_text())
    row = aggregate(select_tier(parse_node_stats(body), roles=["data"]), None, [("disk", "max")])
    assert row[("disk", "max")] == pytest.approx(100 * (1 - 290682736640 / 483183820800))


def test_nodes_missing_a_value_are_left_out_not_counted_as_zero() -> None:
    nodes = [sample("a", 0, cpu=80.0), sample("b", 0, cpu=None), sample("c", 0, cpu=60.0)]
    assert aggregate(nodes, None, [("cpu", "avg")]) == {("cpu", "avg"): 70.0}


def test_no_contributing_node_gives_none() -> None:
    assert aggregate([sample("a", 0)], None, [("heap", "max")]) == {("heap", "max"): None}
    assert aggregate([], None, [("cpu", "avg"), ("indexing_rate", "avg")]) == {
        ("cpu", "avg"): None,
        ("indexing_rate", "avg"): None,
    }


def test_unknown_metric_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        aggregate([sample("a", 0)], None, [("iops", "avg")])


# --- rates --------------------------------------------------------------------------------


def test_rates_from_the_two_real_8x_captures_of_the_same_node() -> None:
    """The multi-node and the _local capture hold node Klg1… 879.561 s apart."""
    earlier = json.loads((FIXTURES / "es-8.4.2_nodes_stats.json").read_text())
    later = json.loads((FIXTURES / "es-8.4.2_nodes_local_stats.json").read_text())
    nid = "Klg1CjgMTouentQcJlRGuA"
    a, b = earlier["nodes"][nid], later["nodes"][nid]
    dt = (b["timestamp"] - a["timestamp"]) / 1000
    d_index = b["indices"]["indexing"]["index_total"] - a["indices"]["indexing"]["index_total"]
    d_qt = b["indices"]["search"]["query_total"] - a["indices"]["search"]["query_total"]
    d_qms = (
        b["indices"]["search"]["query_time_in_millis"]
        - a["indices"]["search"]["query_time_in_millis"]
    )
    prev = {s.node_id: s for s in parse_node_stats(earlier)}
    row = aggregate(
        parse_node_stats(later),
        prev,
        [("indexing_rate", "avg"), ("search_latency_ms", "max"), ("write_rejections", "max")],
    )
    assert dt == pytest.approx(879.561)
    assert row[("indexing_rate", "avg")] == pytest.approx(d_index / dt)  # ≈ 487 docs/s
    assert row[("search_latency_ms", "max")] == pytest.approx(d_qms / d_qt)  # ≈ 1.27 ms
    assert row[("write_rejections", "max")] == 0.0


def test_rates_use_the_nodes_timestamps_not_the_poll_times() -> None:
    prev = {"a": sample("a", 100.0, index_total=1000.0)}
    cur = [sample("a", 104.0, index_total=1200.0)]  # 4 s by the node's clock
    assert aggregate(cur, prev, [("indexing_rate", "avg")]) == {("indexing_rate", "avg"): 50.0}


def test_rate_aggregates_are_over_per_node_rates() -> None:
    prev = {
        "a": sample("a", 0, search_rejected=0.0, write_rejected=0.0),
        "b": sample("b", 0, search_rejected=10.0, write_rejected=5.0),
    }
    cur = [
        sample("a", 10, search_rejected=100.0, write_rejected=0.0),
        sample("b", 10, search_rejected=10.0, write_rejected=25.0),
    ]
    row = aggregate(
        cur,
        prev,
        [("search_rejections", "avg"), ("search_rejections", "min"), ("write_rejections", "max")],
    )
    assert row == {
        ("search_rejections", "avg"): 5.0,
        ("search_rejections", "min"): 0.0,
        ("write_rejections", "max"): 2.0,
    }


def test_first_poll_has_no_rates() -> None:
    row = aggregate([sample("a", 10, index_total=5.0)], None, [("indexing_rate", "avg")])
    assert row == {("indexing_rate", "avg"): None}


def test_a_node_absent_from_the_previous_poll_has_no_rate_yet() -> None:
    prev = {"a": sample("a", 0, index_total=0.0)}
    cur = [sample("a", 10, index_total=100.0), sample("new", 10, index_total=1e9)]
    assert aggregate(cur, prev, [("indexing_rate", "max")]) == {("indexing_rate", "max"): 10.0}


def test_counter_reset_is_not_a_negative_rate_the_node_is_skipped() -> None:
    prev = {"a": sample("a", 0, index_total=5000.0), "b": sample("b", 0, index_total=0.0)}
    cur = [sample("a", 10, index_total=20.0), sample("b", 10, index_total=300.0)]
    assert aggregate(cur, prev, [("indexing_rate", "min")]) == {("indexing_rate", "min"): 30.0}


def test_node_restart_is_detected_by_jvm_uptime_even_when_the_counter_grew_past_its_old_value() -> (
    None
):
    prev = {"a": sample("a", 0, index_total=100.0, uptime_ms=3_600_000.0)}
    # Restarted 20 s ago, 60 s after the previous poll; it has since indexed 150 docs.
    cur = [sample("a", 80, index_total=150.0, uptime_ms=20_000.0)]
    assert node_rates(cur[0], prev["a"])["indexing_rate"] is None
    # Without the restart the same numbers are a rate.
    assert node_rates(replace(cur[0], uptime_ms=3_680_000.0), prev["a"])["indexing_rate"] == 50 / 80


def test_a_node_whose_timestamp_did_not_advance_has_no_rate() -> None:
    prev = {"a": sample("a", 10, index_total=0.0)}
    assert aggregate([sample("a", 10, index_total=9.0)], prev, [("indexing_rate", "avg")]) == {
        ("indexing_rate", "avg"): None
    }


def test_search_latency_is_none_for_a_node_that_served_no_query() -> None:
    prev = {
        "idle": sample("idle", 0, query_total=50.0, query_time_ms=100.0),
        "busy": sample("busy", 0, query_total=0.0, query_time_ms=0.0),
    }
    cur = [
        sample("idle", 10, query_total=50.0, query_time_ms=100.0),
        sample("busy", 10, query_total=200.0, query_time_ms=3000.0),
    ]
    assert aggregate(cur, prev, [("search_latency_ms", "avg")]) == {
        ("search_latency_ms", "avg"): 15.0
    }


@given(
    st.lists(
        st.tuples(st.floats(0, 1e9), st.floats(0, 1e9), st.floats(0.001, 1e4)),
        min_size=1,
        max_size=20,
    )
)
def test_rates_are_never_negative(rows: list[tuple[float, float, float]]) -> None:
    prev = {
        f"n{i}": sample(f"n{i}", 0, index_total=a, write_rejected=a)
        for i, (a, _, _) in enumerate(rows)
    }
    cur = [
        sample(f"n{i}", dt, index_total=b, write_rejected=b) for i, (_, b, dt) in enumerate(rows)
    ]
    row = aggregate(cur, prev, [("indexing_rate", "min"), ("write_rejections", "min")])
    for v in row.values():
        assert v is None or v >= 0
