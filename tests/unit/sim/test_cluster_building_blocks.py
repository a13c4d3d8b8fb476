"""Small pieces of the twin's ES model: formats, settings rendering, filter_path, data sets, load."""

from __future__ import annotations

import pytest

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import (
    Cluster,
    EsError,
    format_bytes,
    format_time,
    parse_time_value,
    structured,
)
from autoscaler.sim.datasets import (
    IndexSpec,
    default_indices,
    parse_indices_spec,
    parse_size,
    total_stored_bytes,
)
from autoscaler.sim.filterpath import apply_filter_path
from autoscaler.sim.loadmodel import ALL_METRICS, LoadModel, Workload, node_stats_doc

GB = 2**30


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (208, "208b"),
        (int(36.45 * 2**20), "36.4mb"),
        (GB, "1gb"),
        (1.99 * GB, "1.9gb"),
        (2**40 * 3, "3tb"),
    ],
)
def test_byte_sizes_render_like_bytesizevalue(n: float, text: str) -> None:
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    ("ms", "text"), [(13, "13ms"), (1250, "1.2s"), (138_000, "2.3m"), (0, "0s")]
)
def test_durations_render_like_timevalue(ms: float, text: str) -> None:
    assert format_time(ms) == text


def test_time_values_without_unit_are_refused_like_es() -> None:
    assert parse_time_value("30s", "timeout") == 30.0
    assert parse_time_value("0", "timeout") == 0.0
    with pytest.raises(EsError) as err:
        parse_time_value("60", "timeout")
    assert err.value.reason == (
        "failed to parse setting [timeout] with value [60] as a time value: unit is missing or unrecognized"
    )


def test_structured_settings_keep_dots_when_a_key_is_both_value_and_prefix() -> None:
    flat = {
        "w.flood_stage": "95%",
        "w.flood_stage.frozen": "95%",
        "w.flood_stage.frozen.max_headroom": "20GB",
        "w.low": "85%",
    }
    assert structured(flat) == {
        "w": {
            "flood_stage": "95%",
            "flood_stage.frozen": "95%",
            "flood_stage.frozen.max_headroom": "20GB",
            "low": "85%",
        }
    }


def test_headroom_defaults_drop_to_minus_one_once_a_watermark_is_set() -> None:
    cluster = Cluster(clock=VirtualClock(), version="8.15.0", indices=[])
    key = "cluster.routing.allocation.disk.watermark.high"
    assert cluster.defaults()[key + ".max_headroom"] == "150GB"
    cluster.update_settings(persistent={key: "92%"})
    assert cluster.defaults()[key + ".max_headroom"] == "-1"
    assert key not in cluster.defaults()


def test_bad_setting_values_are_refused_with_the_old_and_new_value() -> None:
    cluster = Cluster(clock=VirtualClock(), indices=[])
    with pytest.raises(EsError) as err:
        cluster.update_settings(persistent={"cluster.routing.allocation.enable": "sometimes"})
    assert (
        err.value.reason
        == "illegal value can't update [cluster.routing.allocation.enable] from [all] to [sometimes]"
    )
    with pytest.raises(EsError) as err:
        cluster.update_settings(transient={"cluster.name": "x"})
    assert err.value.reason == "transient setting [cluster.name], not dynamically updateable"


def test_wildcard_null_removes_every_matching_setting() -> None:
    cluster = Cluster(clock=VirtualClock(), indices=[])
    cluster.update_settings(
        persistent={
            "cluster.routing.allocation.exclude._name": "a",
            "cluster.routing.allocation.exclude._ip": "b",
        }
    )
    cluster.update_settings(persistent={"cluster.routing.allocation.exclude.*": None})
    assert cluster.persistent == {}


STATS = {
    "_nodes": {"total": 2},
    "cluster_name": "c",
    "nodes": {
        "id1": {
            "name": "a",
            "fs": {"total": {"available_in_bytes": 1, "total_in_bytes": 2}},
            "roles": ["x"],
        },
        "id2": {
            "name": "b",
            "fs": {"total": {"available_in_bytes": 3, "total_in_bytes": 4}},
            "roles": [],
        },
    },
}


def test_filter_path_star_matches_one_level() -> None:
    assert apply_filter_path(STATS, "nodes.*.name") == {
        "nodes": {"id1": {"name": "a"}, "id2": {"name": "b"}}
    }


def test_filter_path_double_star_matches_any_depth() -> None:
    assert apply_filter_path(STATS, "**.available_in_bytes") == {
        "nodes": {
            "id1": {"fs": {"total": {"available_in_bytes": 1}}},
            "id2": {"fs": {"total": {"available_in_bytes": 3}}},
        }
    }


def test_filter_path_exclusions_apply_before_inclusions() -> None:
    assert apply_filter_path(STATS, "-nodes.*.fs,-nodes.*.roles") == {
        "_nodes": {"total": 2},
        "cluster_name": "c",
        "nodes": {"id1": {"name": "a"}, "id2": {"name": "b"}},
    }
    assert apply_filter_path(STATS, "nodes.*.fs,-**.total_in_bytes") == {
        "nodes": {
            "id1": {"fs": {"total": {"available_in_bytes": 1}}},
            "id2": {"fs": {"total": {"available_in_bytes": 3}}},
        }
    }


def test_filter_path_matching_nothing_gives_empty_object() -> None:
    assert apply_filter_path(STATS, "nope") == {}
    assert apply_filter_path([{"a": 1}, {"b": 2}], "a") == [{"a": 1}]


def test_indices_spec_parses_name_primaries_replicas_size() -> None:
    assert parse_indices_spec("logs:5x1:40gb, scratch:2x0:512mb") == [
        IndexSpec("logs", 5, 1, 40 * GB),
        IndexSpec("scratch", 2, 0, 512 * 2**20),
    ]
    assert parse_size("1.5tb") == int(1.5 * 2**40)
    for bad in ("logs:5:40gb", "logs:5x1:40", "a:1x1:1gb,a:1x1:1gb", ""):
        with pytest.raises(ValueError, match=r"spec|given twice|size"):
            parse_indices_spec(bad)


def test_default_data_set_is_realistic() -> None:
    indices = default_indices()
    assert len(indices) >= 12
    assert sum(1 for i in indices if i.replicas == 1) >= 12
    assert sum(1 for i in indices if i.replicas == 0) == 1
    assert 200 * GB < sum(i.size_bytes for i in indices) < 1000 * GB
    assert total_stored_bytes(indices) > 600 * GB


def _cpu_after(model: LoadModel, nodes: int, seconds: int, workload: Workload) -> list[int]:
    ids = [f"n{i}" for i in range(nodes)]
    for i, nid in enumerate(ids):
        model.add(nid, key=i + 1, now=0.0)
    shares = dict.fromkeys(ids, 1.0 / nodes)
    for _ in range(seconds):
        model.advance(1.0, workload, shares)
    cluster = Cluster(clock=VirtualClock(), indices=[])
    cluster.add_node("probe")
    facts = cluster.node_facts(cluster.node("probe"))
    return [
        node_stats_doc(
            facts, model.nodes[nid], model=model, now=100.0, major=8, metrics=frozenset(ALL_METRICS)
        )["os"]["cpu"]["percent"]
        for nid in ids
    ]


def test_more_data_nodes_means_lower_cpu_per_node() -> None:
    w = Workload(600.0, 6000.0)
    three = _cpu_after(LoadModel(seed=1), 3, 60, w)
    six = _cpu_after(LoadModel(seed=1), 6, 60, w)
    assert min(three) > max(six)


def test_load_model_is_deterministic_and_counters_only_grow() -> None:
    w = Workload(300.0, 3000.0)
    a, b = LoadModel(seed=9), LoadModel(seed=9)
    for m in (a, b):
        m.add("n", key=1, now=0.0)
    last = 0.0
    for _ in range(100):
        a.advance(1.0, w, {"n": 1.0})
        b.advance(1.0, w, {"n": 1.0})
        assert a.nodes["n"].query_total >= last
        last = a.nodes["n"].query_total
    assert a.nodes["n"] == b.nodes["n"]
    assert last == pytest.approx(300.0 * 100)


def test_overload_fills_the_queue_then_rejects() -> None:
    m = LoadModel(seed=0)
    m.add("n", key=1, now=0.0)
    demand = m.capacity.search_per_s * 2
    for _ in range(30):
        m.advance(1.0, Workload(demand, 0.0), {"n": 1.0})
    st = m.nodes["n"]
    assert st.search_queue == 1000
    assert st.search_rejected > 0
    assert st.query_total == pytest.approx(m.capacity.search_per_s * 30)
