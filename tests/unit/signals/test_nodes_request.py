"""What a poll asks for: the metric groups and the ``filter_path`` the parser needs, no more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autoscaler.core.policy import METRICS
from autoscaler.signals.nodes import (
    aggregate,
    filter_path_for,
    index_metrics_for,
    needed_metric_groups,
    parse_node_stats,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"


def apply_filter_path(body: Any, paths: list[str]) -> Any:
    """A tiny inclusive ``filter_path`` (``*`` = one whole key), written for this test only."""

    def keep(node: Any, patterns: list[list[str]]) -> Any:
        if any(not p for p in patterns):
            return node
        if not isinstance(node, dict):
            return None
        out = {}
        for k, v in node.items():
            rest = [p[1:] for p in patterns if p and p[0] in ("*", k)]
            if rest:
                kept = keep(v, rest)
                if kept not in (None, {}):
                    out[k] = kept
        return out

    return keep(body, [p.split(".") for p in paths]) or {}


@pytest.mark.parametrize(
    ("metric", "groups"),
    [
        ("cpu", {"os", "process"}),
        ("load1", {"os"}),
        ("heap", {"jvm"}),
        ("disk", {"fs"}),
        ("search_queue", {"thread_pool"}),
        ("write_queue", {"thread_pool"}),
        ("search_rejections", {"thread_pool", "jvm"}),
        ("write_rejections", {"thread_pool", "jvm"}),
        ("search_latency_ms", {"indices", "jvm"}),
        ("indexing_rate", {"indices", "jvm"}),
    ],
)
def test_each_metric_needs_only_its_groups(metric: str, groups: set[str]) -> None:
    assert needed_metric_groups([(metric, "avg")]) == groups


def test_every_policy_metric_has_a_source() -> None:
    assert needed_metric_groups([(m, "max") for m in METRICS]) == {
        "os",
        "process",
        "jvm",
        "fs",
        "thread_pool",
        "indices",
    }


def test_index_metrics_are_narrowed_to_search_and_indexing() -> None:
    assert index_metrics_for([("cpu", "avg")]) == []
    assert index_metrics_for([("search_latency_ms", "avg"), ("indexing_rate", "max")]) == [
        "indexing",
        "search",
    ]


def test_filter_path_always_keeps_identity_timestamp_and_the_node_header() -> None:
    fp = filter_path_for([("heap", "avg")])
    assert fp == [
        "_nodes",
        "nodes.*.jvm.mem.heap_used_percent",
        "nodes.*.name",
        "nodes.*.roles",
        "nodes.*.timestamp",
    ]


@pytest.mark.parametrize(
    "capture",
    ["es-6.8.8_nodes_stats.json", "es-7.13.1_nodes_stats.json", "es-8.4.2_nodes_stats.json"],
)
def test_filtered_body_gives_the_same_aggregates_as_the_full_body(capture: str) -> None:
    full = json.loads((FIXTURES / capture).read_text())
    keys = [(m, a) for m in METRICS for a in ("avg", "max", "min", "p90")]
    filtered = apply_filter_path(full, filter_path_for(keys))
    assert len(json.dumps(filtered)) < len(json.dumps(full)) / 10
    prev_full = {s.node_id: s for s in parse_node_stats(full)}
    prev_filtered = {s.node_id: s for s in parse_node_stats(filtered)}
    assert aggregate(parse_node_stats(filtered), prev_filtered, keys) == aggregate(
        parse_node_stats(full), prev_full, keys
    )
    assert parse_node_stats(filtered) == parse_node_stats(full)
