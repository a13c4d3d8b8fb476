"""Parsing every real ``_nodes/stats`` capture: values must equal the JSON, read another way.

The expected numbers are read from the raw JSON here with explicit dictionary indexing per
version (the way a human reads the capture), not through ``signals.nodes``, so a wrong
fallback order or field name in the parser shows up as a mismatch.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from autoscaler.signals.nodes import NodeSample, StatsFormatError, nodes_failed, parse_node_stats

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"
CAPTURES = [
    "es-6.8.8_nodes_stats.json",
    "es-7.6.2_nodes_stats.json",
    "es-7.13.1_nodes_stats.json",
    "es-8.4.2_nodes_stats.json",
    "es-8.4.2_nodes_local_stats.json",
]


def load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def expected(node_id: str, n: dict[str, Any]) -> NodeSample:
    """The sample a human reads off the capture (all captures have os.cpu.percent and a
    ``write`` pool; 6.8 also has an idle ``index`` pool, which must not be the one used)."""
    fs = n["fs"]["total"]
    return NodeSample(
        node_id=node_id,
        name=n["name"],
        roles=frozenset(n["roles"]),
        at=n["timestamp"] / 1000,
        cpu=n["os"]["cpu"]["percent"],
        heap=n["jvm"]["mem"]["heap_used_percent"],
        disk=100 * (fs["total_in_bytes"] - fs["available_in_bytes"]) / fs["total_in_bytes"],
        load1=n["os"]["cpu"]["load_average"]["1m"],
        search_queue=n["thread_pool"]["search"]["queue"],
        write_queue=n["thread_pool"]["write"]["queue"],
        query_total=n["indices"]["search"]["query_total"],
        query_time_ms=n["indices"]["search"]["query_time_in_millis"],
        index_total=n["indices"]["indexing"]["index_total"],
        search_rejected=n["thread_pool"]["search"]["rejected"],
        write_rejected=n["thread_pool"]["write"]["rejected"],
        uptime_ms=n["jvm"]["uptime_in_millis"],
    )


@pytest.mark.parametrize("capture", CAPTURES)
def test_every_capture_parses_to_the_values_in_its_json(capture: str) -> None:
    body = load(capture)
    samples = parse_node_stats(body)
    assert [s.node_id for s in samples] == list(body["nodes"])
    for s in samples:
        want = expected(s.node_id, body["nodes"][s.node_id])
        assert s.disk == pytest.approx(want.disk)
        assert s == NodeSample(**{**want.__dict__, "disk": s.disk})


def test_multi_node_8x_capture_reads_each_node_separately() -> None:
    samples = {s.name: s for s in parse_node_stats(load("es-8.4.2_nodes_stats.json"))}
    assert set(samples) == {"instance-0000000005", "instance-0000000006", "tiebreaker-0000000002"}
    # Numbers copied from the capture by hand.
    assert samples["instance-0000000005"].cpu == 9
    assert samples["instance-0000000006"].heap == 64
    assert samples["tiebreaker-0000000002"].roles == frozenset({"master", "voting_only"})
    assert samples["instance-0000000005"].query_total == 157912598
    assert samples["instance-0000000006"].disk == pytest.approx(
        100 * (1 - 292886683648 / 483183820800)
    )


def test_timestamp_is_the_nodes_own_clock_in_seconds() -> None:
    (s,) = parse_node_stats(load("es-6.8.8_nodes_stats.json"))
    assert s.at == 1622148180.536


def test_6x_write_queue_comes_from_the_write_pool_not_the_legacy_index_pool() -> None:
    body = load("es-6.8.8_nodes_stats.json")
    node = next(iter(body["nodes"].values()))
    node["thread_pool"]["write"]["queue"] = 7
    node["thread_pool"]["index"]["queue"] = 99
    (s,) = parse_node_stats(body)
    assert s.write_queue == 7


def test_pre_6_3_bulk_pool_is_the_write_pool_when_write_is_absent() -> None:
    body = load("es-6.8.8_nodes_stats.json")
    node = next(iter(body["nodes"].values()))
    node["thread_pool"]["bulk"] = node["thread_pool"].pop("write") | {"queue": 3, "rejected": 11}
    (s,) = parse_node_stats(body)
    assert (s.write_queue, s.write_rejected) == (3, 11)


def test_cpu_falls_back_to_old_os_cpu_percent_then_process_cpu() -> None:
    body = load("es-7.6.2_nodes_stats.json")
    node = next(iter(body["nodes"].values()))
    del node["os"]["cpu"]["percent"]
    node["os"]["cpu_percent"] = 41
    assert parse_node_stats(body)[0].cpu == 41
    del node["os"]["cpu_percent"]
    assert parse_node_stats(body)[0].cpu == node["process"]["cpu"]["percent"] == 14


def test_negative_cpu_means_unavailable_and_is_missing_not_zero() -> None:
    body = load("es-8.4.2_nodes_local_stats.json")
    node = next(iter(body["nodes"].values()))
    node["os"]["cpu"]["percent"] = -1
    del node["process"]
    assert parse_node_stats(body)[0].cpu is None


def test_heap_falls_back_to_used_over_max_bytes() -> None:
    body = load("es-8.4.2_nodes_local_stats.json")
    mem = next(iter(body["nodes"].values()))["jvm"]["mem"]
    del mem["heap_used_percent"]
    assert parse_node_stats(body)[0].heap == pytest.approx(
        100 * mem["heap_used_in_bytes"] / mem["heap_max_in_bytes"]
    )


def test_missing_groups_give_none_not_an_error() -> None:
    body = load("es-8.4.2_nodes_stats.json")
    for node in body["nodes"].values():
        for group in ("os", "process", "jvm", "fs", "thread_pool", "indices"):
            node.pop(group)
    for s in parse_node_stats(body):
        assert (s.cpu, s.heap, s.disk, s.load1, s.search_queue, s.write_queue) == (None,) * 6
        assert (s.query_total, s.index_total, s.search_rejected, s.write_rejected) == (None,) * 4
        assert s.roles  # identity still there


def test_missing_load_average_on_windows_is_none() -> None:
    body = load("es-7.13.1_nodes_stats.json")
    del next(iter(body["nodes"].values()))["os"]["cpu"]["load_average"]
    assert parse_node_stats(body)[0].load1 is None


def test_zero_sized_filesystem_gives_no_disk_percent() -> None:
    body = load("es-7.13.1_nodes_stats.json")
    next(iter(body["nodes"].values()))["fs"]["total"]["total_in_bytes"] = 0
    assert parse_node_stats(body)[0].disk is None


def test_filter_path_body_with_no_matching_node_is_an_empty_cluster() -> None:
    assert parse_node_stats({}) == []
    assert parse_node_stats({"_nodes": {"total": 0, "successful": 0, "failed": 0}}) == []


def test_failed_nodes_are_counted_from_the_header() -> None:
    assert nodes_failed({"_nodes": {"total": 3, "successful": 2, "failed": 1}, "nodes": {}}) == 1
    assert nodes_failed(load("es-8.4.2_nodes_stats.json")) == 0
    assert nodes_failed({}) == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([], "not a JSON object"),
        ("<html>502 Bad Gateway</html>", "not a JSON object"),
        ({"error": "boom"}, "no 'nodes' object"),
        ({"nodes": []}, "'nodes' is not an object"),
        ({"nodes": {"a": 1}}, "nodes.a is not an object"),
        ({"nodes": {"a": {"name": "x"}}}, "nodes.a.timestamp is missing"),
        ({"nodes": {"a": {"timestamp": "yesterday"}}}, "nodes.a.timestamp is not a number"),
        ({"nodes": {"a": {"timestamp": 1, "roles": "data"}}}, "nodes.a.roles"),
        ({"nodes": {"a": {"timestamp": 1, "os": []}}}, "nodes.a.os is not an object"),
        ({"nodes": {"a": {"timestamp": 1, "jvm": {"mem": {"heap_used_percent": True}}}}}, "heap"),
    ],
)
def test_garbage_raises_a_stats_format_error_naming_the_place(body: Any, says: str) -> None:
    with pytest.raises(StatsFormatError, match=says.replace(".", r"\.").replace("(", r"\(")):
        parse_node_stats(body)


def test_parsing_does_not_modify_the_body() -> None:
    body = load("es-8.4.2_nodes_stats.json")
    before = copy.deepcopy(body)
    parse_node_stats(body)
    assert body == before
