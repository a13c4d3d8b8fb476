"""The twin's ``/metrics`` speaks elasticsearch_exporter: names, help, types and labels as the
exporter's source declares them, values as its ``_nodes/stats``/``_cluster/health`` say.

The reference table ``tests/fixtures/elasticsearch/exporter/metrics-9bc4295.tsv`` was extracted
from the exporter's Go source (``extract_metrics.py`` beside it), independently of the
descriptor tables in ``autoscaler/sim/exporter_metrics.py``; the exposition is parsed with
``prometheus_client``'s own parser, and fetched over HTTP from the twin's exporter port while
the ES bodies are fetched with the real elasticsearch-py client at the same virtual instant.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from elasticsearch import ApiError, AsyncElasticsearch
from prometheus_client.parser import text_string_to_metric_families

from autoscaler.sim.exporter import (
    CONTENT_TYPE,
    exposition_from_bodies,
    go_float,
    node_labels,
    node_roles,
)
from autoscaler.sim.server import RunningTwin, run_twin

TABLE = Path(__file__).parents[2] / "fixtures/elasticsearch/exporter/metrics-9bc4295.tsv"
NODE_LABELS = {
    "cluster", "host", "name", "es_master_node", "es_data_node", "es_ingest_node",
    "es_client_node",
}  # fmt: skip
#: not in 9bc4295: v1.8.0 collector/nodes.go and v1.6.0 collector/cluster_health.go (unlabelled)
LEGACY = {
    "elasticsearch_node_stats_up": (
        "gauge",
        "Was the last scrape of the Elasticsearch nodes endpoint successful.",
    ),
    "elasticsearch_cluster_health_up": (
        "gauge",
        "Was the last scrape of the Elasticsearch cluster health endpoint successful.",
    ),
}


@dataclass(frozen=True)
class Row:
    kind: str
    labels: frozenset[str]
    extra_values: frozenset[str]  # the constant values of the last label ("" = from the data)
    help: str


def reference() -> dict[str, Row]:
    rows: dict[str, Row] = {}
    with TABLE.open() as f:
        for rec in csv.reader((line for line in f if not line.startswith("#")), delimiter="\t"):
            name, kind, labels, extra, help_, _ = rec
            prior = rows.get(name)
            extras = {extra} | (set(prior.extra_values) if prior else set())
            if prior is not None:  # a name declared twice keeps the same type/help/labels
                assert (prior.kind, prior.help, prior.labels) == (
                    kind,
                    help_,
                    frozenset(labels.split(",")),
                )
            rows[name] = Row(kind, frozenset(labels.split(",")), frozenset(extras), help_)
    return rows


@dataclass
class Scrape:
    #: exposed name → (type, help, [(labels, value)])
    families: dict[str, tuple[str, str, list[tuple[dict[str, str], float]]]]

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        return self.families[name][2]

    def value(self, metric: str, /, **labels: str) -> float:
        found = [
            v for lab, v in self.samples(metric) if all(lab.get(k) == x for k, x in labels.items())
        ]
        assert len(found) == 1, (metric, labels, len(found))
        return found[0]


def parse(text: str, table: dict[str, Row]) -> Scrape:
    families: dict[str, tuple[str, str, list[tuple[dict[str, str], float]]]] = {}
    for fam in text_string_to_metric_families(text):
        # the parser strips ``_total`` from a counter family's name and appends it to samples
        # of counters named otherwise; map both back to the name on the wire.
        name = fam.name
        if name not in table and name not in LEGACY and fam.type == "counter":
            name += "_total"
        assert name not in families, f"{name} exposed twice"
        samples = [(dict(s.labels), float(s.value)) for s in fam.samples]
        families[name] = (fam.type, fam.documentation, samples)
    return Scrape(families)


@pytest.fixture
async def running() -> AsyncIterator[RunningTwin]:
    async with run_twin(nodes=3, speed=None, pod_ready_delay=1.0) as t:
        t.twin.cluster.set_workload(search_per_s=400.0, index_per_s=3000.0)
        t.twin.advance(120)
        yield t


async def scrape(running: RunningTwin) -> tuple[str, str]:
    assert running.exporter_url is not None
    async with aiohttp.ClientSession() as http, http.get(running.exporter_url) as resp:
        assert resp.status == 200
        return resp.headers["Content-Type"], await resp.text()


async def test_every_series_is_named_typed_helped_and_labelled_as_the_exporter_source_declares(
    running: RunningTwin,
) -> None:
    table = reference()
    content_type, text = await scrape(running)
    assert content_type == CONTENT_TYPE
    got = parse(text, table)
    # every descriptor of the nodes and cluster-health collectors is served …
    assert set(got.families) == set(table) | set(LEGACY)
    for name, (kind, help_, samples) in got.families.items():
        if name in LEGACY:
            assert (kind, help_) == LEGACY[name]
            assert [lab for lab, _ in samples] == [{}]
            continue
        row = table[name]
        assert (kind, help_) == (row.kind, row.help), name
        assert samples, name
        for labels, _ in samples:
            # … with exactly the exporter's label names, and its constant label values
            assert set(labels) == row.labels, (name, labels)
        constant = row.extra_values - {""}
        if constant:
            (last,) = row.labels - NODE_LABELS
            assert {lab[last] for lab, _ in samples} == constant, name


async def test_node_series_carry_the_values_and_identity_of_the_twins_node_stats(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    stats = (await es.nodes.stats()).body
    health = (await es.cluster.health()).body
    _, text = await scrape(running)  # same virtual instant: the clock does not move
    got = parse(text, reference())
    cluster = stats["cluster_name"]
    assert len(stats["nodes"]) == 3
    for node in stats["nodes"].values():
        ident = {"cluster": cluster, "name": node["name"], "host": node["host"]}
        roles = {
            "es_master_node": "true",
            "es_data_node": "true",
            "es_ingest_node": "true",
            "es_client_node": "true",  # getRoles: true while the node has an ``http`` section
        }
        assert node_labels(cluster, node) == {**ident, **roles}

        def v(metric: str, /, _ident: dict[str, str] = ident, **more: str) -> float:
            return got.value(metric, **_ident, **more)

        os_, jvm, fs = node["os"], node["jvm"], node["fs"]["data"][0]
        search = node["thread_pool"]["search"]
        idx = node["indices"]
        assert v("elasticsearch_os_cpu_percent") == os_["cpu"]["percent"]
        assert v("elasticsearch_os_load1") == os_["cpu"]["load_average"]["1m"]
        assert v("elasticsearch_os_load5") == os_["cpu"]["load_average"]["5m"]
        assert v("elasticsearch_os_load15") == os_["cpu"]["load_average"]["15m"]
        mem = jvm["mem"]
        assert v("elasticsearch_jvm_memory_used_bytes", area="heap") == mem["heap_used_in_bytes"]
        assert (
            v("elasticsearch_jvm_memory_used_bytes", area="non-heap")
            == (mem["non_heap_used_in_bytes"])
        )
        assert v("elasticsearch_jvm_memory_max_bytes", area="heap") == mem["heap_max_in_bytes"]
        assert (
            v("elasticsearch_jvm_memory_committed_bytes", area="heap")
            == (mem["heap_committed_in_bytes"])
        )
        fs_labels = {"mount": fs["mount"], "path": fs["path"]}
        assert (
            v("elasticsearch_filesystem_data_available_bytes", **fs_labels)
            == (fs["available_in_bytes"])
        )
        assert v("elasticsearch_filesystem_data_size_bytes", **fs_labels) == fs["total_in_bytes"]
        assert v("elasticsearch_filesystem_data_free_bytes", **fs_labels) == fs["free_in_bytes"]
        for field, series in (
            ("queue", "queue_count"),
            ("rejected", "rejected_count"),
            ("active", "active_count"),
            ("completed", "completed_count"),
        ):
            assert v(f"elasticsearch_thread_pool_{series}", type="search") == search[field]
        assert v("elasticsearch_indices_search_query_total") == idx["search"]["query_total"] > 0
        assert v("elasticsearch_indices_search_query_time_seconds") == (
            idx["search"]["query_time_in_millis"] / 1000
        )
        index_total = idx["indexing"]["index_total"]
        assert index_total > 0
        assert v("elasticsearch_indices_indexing_index_total") == index_total
        assert v("elasticsearch_indices_docs") == idx["docs"]["count"]
        assert {lab["type"] for lab, _ in got.samples("elasticsearch_thread_pool_queue_count")} == (
            set(node["thread_pool"])
        )
    for key in (
        "relocating_shards",
        "initializing_shards",
        "unassigned_shards",
        "number_of_nodes",
        "number_of_data_nodes",
        "active_shards",
    ):
        assert got.value(f"elasticsearch_cluster_health_{key}", cluster=cluster) == health[key]
    for color in ("green", "yellow", "red"):
        expected = 1.0 if health["status"] == color else 0.0
        assert got.value("elasticsearch_cluster_health_status", color=color) == expected
    assert got.value("elasticsearch_node_stats_up") == 1
    assert got.value("elasticsearch_cluster_health_up") == 1


async def test_relocations_show_in_the_exporter_as_in_cluster_health(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    cluster = running.twin.cluster
    cluster.add_node("es-data-3", roles=("data", "master", "ingest"))
    running.twin.advance(2)
    health = (await es.cluster.health()).body
    _, text = await scrape(running)
    got = parse(text, reference())
    moving = health["relocating_shards"] + health["initializing_shards"]
    assert moving > 0  # the new node is being filled
    name = cluster.cluster_name
    assert got.value("elasticsearch_cluster_health_number_of_nodes", cluster=name) == 4
    assert (
        got.value("elasticsearch_cluster_health_relocating_shards", cluster=name)
        == (health["relocating_shards"])
    )
    assert (
        got.value("elasticsearch_cluster_health_initializing_shards", cluster=name)
        == (health["initializing_shards"])
    )


async def test_an_es_wire_fault_on_node_stats_fails_that_collection_without_consuming_it(
    running: RunningTwin, es: AsyncElasticsearch
) -> None:
    fault = running.twin.faults.add(
        {"type": "error", "app": "es", "path": "^/_nodes/stats", "status": 503, "count": 1}
    )
    _, text = await scrape(running)
    got = parse(text, reference())
    assert got.value("elasticsearch_node_stats_up") == 0
    assert "elasticsearch_os_cpu_percent" not in got.families
    assert got.value("elasticsearch_cluster_health_up") == 1  # the other collector is fine
    assert got.value("elasticsearch_cluster_health_number_of_nodes") == 3
    # the fault is still there for the request it was set up for
    (still,) = [f for f in running.twin.faults.active() if f["id"] == fault["id"]]
    assert still["fired"] == 0
    with pytest.raises(ApiError) as refused:
        await es.nodes.stats()
    assert refused.value.meta.status == 503
    assert not [f for f in running.twin.faults.active() if f["id"] == fault["id"]]
    _, text = await scrape(running)
    assert parse(text, reference()).value("elasticsearch_node_stats_up") == 1


@pytest.mark.parametrize(
    ("fault", "fails"),
    [
        ({"type": "timeout", "app": "any", "path": "health"}, True),
        ({"type": "drop", "app": "es", "path": "health", "method": "GET"}, True),
        ({"type": "latency", "app": "es", "path": "health", "seconds": 5}, True),
        ({"type": "latency", "app": "es", "path": "health", "seconds": 1}, False),
        ({"type": "error", "app": "es", "path": "health", "method": "PUT"}, False),
        ({"type": "error", "app": "k8s", "path": "health"}, False),
    ],
)
async def test_wire_faults_reach_the_health_collection_as_the_exporter_would_see_them(
    running: RunningTwin, fault: dict[str, Any], fails: bool
) -> None:
    running.twin.faults.add(fault)
    _, text = await scrape(running)
    got = parse(text, reference())
    assert got.value("elasticsearch_cluster_health_up") == (0 if fails else 1)
    assert ("elasticsearch_cluster_health_status" in got.families) is not fails
    assert got.value("elasticsearch_node_stats_up") == 1


def test_a_failed_health_request_drops_the_health_series_and_sets_its_up_gauge_to_0() -> None:
    body: dict[str, Any] = {"cluster_name": "c", "nodes": {}}
    got = parse(exposition_from_bodies(body, None), reference())
    health_families = [n for n in got.families if n.startswith("elasticsearch_cluster_health_")]
    assert health_families == ["elasticsearch_cluster_health_up"]
    assert got.value("elasticsearch_cluster_health_up") == 0
    assert got.value("elasticsearch_node_stats_up") == 1


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        # roles listed: a data tier counts as data (isDataNode); an unknown role is added false
        (
            {"roles": ["data_content", "voting_only"], "http": {"current_open": 1}},
            {"master": False, "data": False, "client": True, "voting_only": False},
        ),
        # no http section → not a client node
        ({"roles": ["master"]}, {"master": True, "client": False}),
        # 1.x/2.x: no roles, attributes decide ("false" is false, anything else true)
        (
            {"attributes": {"master": "false", "data": "true"}, "http": {"x": 1}},
            {"master": False, "data": True, "client": True},
        ),
    ],
)
def test_node_roles_follow_getRoles_of_the_exporter(
    node: dict[str, Any], expected: dict[str, bool]
) -> None:
    roles = node_roles(node)
    assert {k: roles[k] for k in expected} == expected


def test_data_tier_roles_make_a_data_node_label() -> None:
    labels = node_labels("c", {"roles": ["data_hot"], "name": "n", "host": "h", "http": {"a": 1}})
    assert labels["es_data_node"] == "true"
    assert labels["es_master_node"] == "false"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # strconv.FormatFloat(v, 'g', -1, 64): %e from exponent 6 on (shortest → eprec 6)
        (0.0, "0"),
        (1.0, "1"),
        (100000.0, "100000"),
        (999999.0, "999999"),
        (1e6, "1e+06"),
        (1073741824.0, "1.073741824e+09"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5, "1.5"),
        (-2.5e-7, "-2.5e-07"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_values_are_written_as_go_formats_them(value: float, text: str) -> None:
    assert go_float(value) == text
