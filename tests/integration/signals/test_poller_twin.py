"""The poller against the digital twin emulating supported and unsupported server versions.

The twin answers the real ``elasticsearch[async]`` client over HTTP on 127.0.0.1. For each
supported version the test fetches the same node stats with a plain aiohttp GET (no client,
no filter) at the same virtual instant and computes the tier aggregates itself, by its own
reading of the JSON; the poller's rows must equal them.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import aiohttp
import pytest
from elasticsearch import BadRequestError
from es_kit import serve_cluster

from autoscaler.core.policy import AGGREGATES, METRICS, ElasticsearchConnection
from autoscaler.elastic.client import make_client
from autoscaler.metrics import Metrics
from autoscaler.signals.poller import Poller, PollResult, TierSubscription
from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import Cluster

KEYS = [(m, a) for m in METRICS for a in AGGREGATES]


def make_cluster(version: str) -> Cluster:
    clock = VirtualClock()
    cluster = Cluster(clock=clock, version=version, seed=7)
    for i in range(4):
        cluster.add_node(f"es-hot-{i}", roles=("data_hot", "data_content", "ingest"))
    cluster.add_node("es-warm-0", roles=("data_warm",))
    cluster.add_node("es-master-0", roles=("master",))
    cluster.set_workload(search_per_s=900, index_per_s=12000)
    cluster.run_for(30)
    return cluster


serve_twin = serve_cluster


async def raw_stats(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/_nodes/stats") as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json(content_type=None)
        return body


def hot_tier(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {nid: n for nid, n in body["nodes"].items() if "data_hot" in n["roles"]}


def nearest_rank_p90(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.9 * len(values) - 1e-9) - 1]


def expected_row(
    now: dict[str, Any], before: dict[str, Any] | None
) -> dict[tuple[str, str], float | None]:
    """The row computed by hand from two raw bodies (rates per node over its timestamps)."""
    per_metric: dict[str, list[float]] = {m: [] for m in METRICS}
    prev_nodes = hot_tier(before) if before else {}
    for nid, n in hot_tier(now).items():
        fs = n["fs"]["total"]
        per_metric["cpu"].append(n["os"]["cpu"]["percent"])
        per_metric["heap"].append(n["jvm"]["mem"]["heap_used_percent"])
        per_metric["disk"].append(100 * (1 - fs["available_in_bytes"] / fs["total_in_bytes"]))
        per_metric["load1"].append(n["os"]["cpu"]["load_average"]["1m"])
        per_metric["search_queue"].append(n["thread_pool"]["search"]["queue"])
        per_metric["write_queue"].append(n["thread_pool"]["write"]["queue"])
        p = prev_nodes.get(nid)
        if p is None:
            continue
        dt = (n["timestamp"] - p["timestamp"]) / 1000
        tp, ptp = n["thread_pool"], p["thread_pool"]
        per_metric["search_rejections"].append(
            (tp["search"]["rejected"] - ptp["search"]["rejected"]) / dt
        )
        per_metric["write_rejections"].append(
            (tp["write"]["rejected"] - ptp["write"]["rejected"]) / dt
        )
        per_metric["indexing_rate"].append(
            (n["indices"]["indexing"]["index_total"] - p["indices"]["indexing"]["index_total"]) / dt
        )
        dq = n["indices"]["search"]["query_total"] - p["indices"]["search"]["query_total"]
        if dq:
            dms = (
                n["indices"]["search"]["query_time_in_millis"]
                - p["indices"]["search"]["query_time_in_millis"]
            )
            per_metric["search_latency_ms"].append(dms / dq)
    out: dict[tuple[str, str], float | None] = {}
    for m, vals in per_metric.items():
        out[(m, "avg")] = sum(vals) / len(vals) if vals else None
        out[(m, "max")] = max(vals) if vals else None
        out[(m, "min")] = min(vals) if vals else None
        out[(m, "p90")] = nearest_rank_p90(vals) if vals else None
    return out


def poller_for(url: str, cluster: Cluster, metrics: Metrics) -> Poller:
    assert isinstance(cluster.clock, VirtualClock)
    return Poller(
        name="twin",
        client=make_client(ElasticsearchConnection.model_validate({"url": url})),
        subscribers=[
            TierSubscription.of("hot", roles=["data_hot"], keys=KEYS),
            TierSubscription.of("all-data", roles=["data"], keys=[("cpu", "max")]),
        ],
        interval=10.0,
        clock=cluster.clock.time,
        metrics=metrics,
    )


def assert_rows_equal(got: dict[Any, float | None], want: dict[Any, float | None]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        if want[key] is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-9), key


@pytest.mark.parametrize("version", ["8.15.0", "9.1.0", "7.17.27"])
async def test_poller_aggregates_equal_values_computed_from_the_twins_raw_node_stats(
    version: str,
) -> None:
    cluster = make_cluster(version)
    async with serve_twin(cluster) as url:
        poller = poller_for(url, cluster, Metrics())
        results: list[PollResult] = []
        raws: list[dict[str, Any]] = []
        for _ in range(3):
            results.append(await poller.poll_once())
            raws.append(await raw_stats(url))
            cluster.run_for(10)
        await poller._client.close()
    assert all(r.ok for r in results), [r.detail for r in results]
    assert results[0].server is not None
    assert results[0].server.version == version
    for i, r in enumerate(results):
        hot = r.tiers["hot"]
        assert hot.node_count == 4
        assert hot.node_names == tuple(f"es-hot-{j}" for j in range(4))
        assert_rows_equal(hot.row, expected_row(raws[i], raws[i - 1] if i else None))
        assert r.tiers["all-data"].node_count == 5  # hot + warm, not the dedicated master
    # From the second poll on, rates are there: the twin's workload is non-zero.
    assert results[1].tiers["hot"].row[("indexing_rate", "avg")]
    assert results[1].tiers["hot"].row[("search_latency_ms", "max")]


async def test_7_17_twin_refuses_the_8x_clients_default_header_which_is_why_we_send_7() -> None:
    cluster = make_cluster("7.17.27")
    async with serve_twin(cluster) as url:
        client = make_client(ElasticsearchConnection.model_validate({"url": url}))
        with pytest.raises(BadRequestError, match="media_type_header_exception"):
            await client.cluster.health()  # plain client: compatible-with=8
        await client.close()


@pytest.mark.parametrize("version", ["6.8.8", "7.10.2", "7.16.3"])
async def test_unsupported_twin_versions_get_one_clear_error_not_one_per_poll(
    version: str, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = make_cluster(version)
    metrics = Metrics()
    async with serve_twin(cluster) as url:
        poller = poller_for(url, cluster, metrics)
        with caplog.at_level(logging.DEBUG, logger="autoscaler.signals.poller"):
            results = [await poller.poll_once() for _ in range(4)]
        await poller._client.close()
    assert {(r.ok, r.error) for r in results} == {(False, "unsupported_server")}
    ours = [r for r in caplog.records if r.name == "autoscaler.signals.poller"]
    assert len(ours) == 1
    assert ours[0].levelno == logging.ERROR
    assert f"Elasticsearch {version} is not supported" in ours[0].fields["detail"]  # type: ignore[attr-defined]
    assert not ours[0].exc_info
    count = metrics.registry.get_sample_value(
        "esas_poll_errors_total", {"cluster": "twin", "reason": "unsupported_server"}
    )
    assert count == 4
