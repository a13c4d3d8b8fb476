"""The poller with the real ``AsyncElasticsearch`` client against a fake server on 127.0.0.1.

The fake serves the real captures (see ``_es_kit``) and injects 5xx, 429, 404 and dropped
connections, so these tests pin the retry rules, stale marking and recovery end to end
through the real client and transport.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _es_kit import FakeEs, fixture, root_info, serve
from elasticsearch import AsyncElasticsearch

from autoscaler.core.policy import ElasticsearchConnection
from autoscaler.elastic.client import RetryPolicy, connection_key, make_client
from autoscaler.metrics import Metrics
from autoscaler.signals.poller import Poller, PollResult, TierSubscription

POLLER_LOG = "autoscaler.signals.poller"
FAST = RetryPolicy(attempts=3, initial_backoff=0.005, max_backoff=0.02, deadline=5.0)
KEYS = [
    ("cpu", "avg"),
    ("heap", "max"),
    ("disk", "max"),
    ("write_queue", "max"),
    ("indexing_rate", "avg"),
    ("search_latency_ms", "max"),
]


def conn(url: str | list[str], **extra: object) -> ElasticsearchConnection:
    return ElasticsearchConnection.model_validate({"url": url, "requestTimeout": "2s", **extra})


@pytest.fixture
async def fake() -> AsyncIterator[FakeEs]:
    async with serve() as f:
        yield f


@pytest.fixture
async def client(fake: FakeEs) -> AsyncIterator[AsyncElasticsearch]:
    c = make_client(conn(fake.url))
    yield c
    await c.close()


def make_poller(client: AsyncElasticsearch, metrics: Metrics | None = None, **kw: object) -> Poller:
    t = [1000.0]

    def clock() -> float:
        t[0] += 1.0
        return t[0]

    return Poller(
        name="prod",
        client=client,
        subscribers=[
            TierSubscription.of("data-policy", roles=["data"], keys=KEYS),
            TierSubscription.of("masters", roles=["master"], keys=[("heap", "max")]),
        ],
        interval=10.0,
        clock=clock,
        metrics=metrics or Metrics(),
        retry=kw.pop("retry", FAST),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def errors(metrics: Metrics, reason: str) -> float:
    v = metrics.registry.get_sample_value(
        "esas_poll_errors_total", {"cluster": "prod", "reason": reason}
    )
    return v or 0.0


async def test_a_poll_returns_each_policys_tier_row_node_names_and_health(
    fake: FakeEs, client: AsyncElasticsearch
) -> None:
    result = await make_poller(client).poll_once()
    assert result.ok, result.detail
    assert result.health == "green"
    assert str(result.server) == "Elasticsearch 8.4.2"
    data = result.tiers["data-policy"]
    assert data.node_count == 2
    assert data.node_names == ("instance-0000000005", "instance-0000000006")
    assert data.row[("cpu", "avg")] == 9.5  # (9 + 10) / 2, from the capture
    assert data.row[("heap", "max")] == 64
    assert data.row[("indexing_rate", "avg")] is None  # no rate on the first poll
    masters = result.tiers["masters"]
    assert masters.node_count == 3
    assert masters.row == {("heap", "max"): 64}


async def test_a_poll_asks_only_for_the_needed_groups_and_fields_with_compat_8(
    fake: FakeEs, client: AsyncElasticsearch
) -> None:
    await make_poller(client).poll_once()
    (stats,) = fake.seen("/_nodes/stats")
    assert stats.path == "/_nodes/stats/fs,indices,jvm,os,process,thread_pool/indexing,search"
    assert "nodes.*.os.cpu.percent" in stats.query["filter_path"].split(",")
    assert "compatible-with=8" in stats.headers["Accept"]
    assert len(fake.seen("/_cluster/health")) == 1
    # The version probe goes out as plain "*/*", which every version answers.
    assert fake.seen("/")[0].headers["Accept"] == "*/*"


async def test_an_alert_only_policy_still_gets_its_tiers_node_names_cheaply(
    fake: FakeEs, client: AsyncElasticsearch
) -> None:
    poller = Poller(
        name="prod",
        client=client,
        subscribers=[TierSubscription.of("alerts", roles=["data"], keys=[])],
        interval=10.0,
        clock=lambda: 0.0,
        metrics=Metrics(),
    )
    result = await poller.poll_once()
    assert result.tiers["alerts"].node_count == 2
    assert result.tiers["alerts"].row == {}
    (stats,) = fake.seen("/_nodes/stats")
    assert stats.path == "/_nodes/stats/jvm"


async def test_rates_appear_from_the_second_poll_from_the_nodes_own_counters(
    fake: FakeEs, client: AsyncElasticsearch
) -> None:
    poller = make_poller(client)
    await poller.poll_once()
    later = fixture("es-8.4.2_nodes_local_stats.json")  # node Klg1… 879.561 s later
    fake.stats = later
    result = await poller.poll_once()
    row = result.tiers["data-policy"].row
    nid = "Klg1CjgMTouentQcJlRGuA"
    a = fixture("es-8.4.2_nodes_stats.json")["nodes"][nid]
    b = later["nodes"][nid]
    dt = (b["timestamp"] - a["timestamp"]) / 1000
    want = (b["indices"]["indexing"]["index_total"] - a["indices"]["indexing"]["index_total"]) / dt
    assert row[("indexing_rate", "avg")] == pytest.approx(want)
    assert result.tiers["data-policy"].node_count == 1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_5xx_and_429_are_retried_and_the_poll_succeeds(
    fake: FakeEs, client: AsyncElasticsearch, status: int
) -> None:
    fake.fail("/_nodes/stats", status, status)
    metrics = Metrics()
    result = await make_poller(client, metrics).poll_once()
    assert result.ok
    assert len(fake.seen("/_nodes/stats")) == 3
    assert errors(metrics, f"http_{status}") == 0


async def test_404_is_not_retried_and_the_poll_is_marked_failed(
    fake: FakeEs, client: AsyncElasticsearch
) -> None:
    fake.fail("/_nodes/stats", 404)
    metrics = Metrics()
    result = await make_poller(client, metrics).poll_once()
    assert not result.ok
    assert result.error == "http_404"
    assert result.tiers == {}
    assert len(fake.seen("/_nodes/stats")) == 1
    assert errors(metrics, "http_404") == 1


async def test_auth_failure_is_not_retried(fake: FakeEs, client: AsyncElasticsearch) -> None:
    fake.fail("/_cluster/health", 401)
    result = await make_poller(client).poll_once()
    assert (result.ok, result.error) == (False, "auth")
    assert len(fake.seen("/_cluster/health")) == 1


async def test_a_dropped_connection_is_retried(fake: FakeEs, client: AsyncElasticsearch) -> None:
    fake.fail("/_nodes/stats", "drop")
    result = await make_poller(client).poll_once()
    assert result.ok, result.detail
    assert len(fake.seen("/_nodes/stats")) == 2


async def test_attempts_are_bounded_when_the_server_keeps_failing(
    fake: FakeEs, client: AsyncElasticsearch
) -> None:
    fake.fail("/_nodes/stats", *([503] * 10))
    metrics = Metrics()
    result = await make_poller(client, metrics).poll_once()
    assert (result.ok, result.error) == (False, "http_503")
    assert len(fake.seen("/_nodes/stats")) == 3
    assert errors(metrics, "http_503") == 1  # one failed poll, however many attempts


async def test_a_slow_answer_is_cut_off_at_the_retry_deadline_not_the_request_timeout(
    fake: FakeEs,
) -> None:
    # requestTimeout is 30 s; the deadline (0.2 s) shortens each attempt's socket timeout, so
    # a 0.6 s answer is a timeout. (A late client can't make the server answer early.)
    client = make_client(conn(fake.url, requestTimeout="30s"))
    poller = make_poller(client, retry=RetryPolicy(attempts=5, deadline=0.2))
    fake.delay = 0.6
    result = await poller.poll_once()
    fake.delay = 0.0
    assert (result.ok, result.error) == (False, "timeout")
    assert len(fake.seen("/")) == 1  # the deadline also stopped further attempts
    await client.close()


def test_a_policy_subscribes_with_its_selector_and_every_metric_key_it_reads() -> None:
    from autoscaler.core.policy import Policy

    policy = Policy.model_validate(
        {
            "name": "prod-data",
            "nodes": {"roles": ["data_hot"], "namePattern": "^es-"},
            "replicas": {"min": 3, "max": 12},
            "scaleUp": {
                "when": {
                    "any": [
                        {
                            "all": [
                                {"metric": "cpu", "aggregate": "avg", "above": 80, "for": "5m"},
                                {"metric": "heap", "aggregate": "avg", "above": 85},
                            ]
                        },
                        {"alert": "EsHighCpu"},
                    ]
                },
                "cooldown": "10m",
            },
            "scaleDown": {
                "when": {"metric": "cpu", "aggregate": "max", "below": 30, "for": "30m"},
                "cooldown": "30m",
            },
        }
    )
    sub = TierSubscription.for_policy(policy)
    assert sub == TierSubscription(
        "prod-data",
        ("data_hot",),
        "^es-",
        frozenset({("cpu", "avg"), ("heap", "avg"), ("cpu", "max")}),
    )


async def test_a_down_server_marks_the_poll_stale_and_recovery_is_automatic(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    async with serve() as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        client = make_client(conn(fake.url))
        poller = make_poller(client, metrics, retry=RetryPolicy(attempts=2, initial_backoff=0.001))
        assert (await poller.poll_once()).ok
    with caplog.at_level(logging.INFO, logger=POLLER_LOG):
        # Nothing listens on the port any more.
        down = [await poller.poll_once() for _ in range(3)]
        async with serve(FakeEs(), port=port):  # the server comes back on the same address
            back = await poller.poll_once()
    await client.close()
    assert [(r.ok, r.error, r.tiers) for r in down] == [(False, "connection", {})] * 3
    assert errors(metrics, "connection") == 3
    assert back.ok
    assert back.tiers["data-policy"].node_count == 2
    events = [r.getMessage() for r in caplog.records if r.name == POLLER_LOG]
    assert events == ["es_poll_failed", "es_poll_recovered"]  # once per state change


async def test_failure_reasons_change_is_logged_again_but_repeats_are_not(
    fake: FakeEs, client: AsyncElasticsearch, caplog: pytest.LogCaptureFixture
) -> None:
    poller = make_poller(client, retry=RetryPolicy(attempts=1))
    with caplog.at_level(logging.INFO, logger="autoscaler.signals.poller"):
        await poller.poll_once()  # ok (first success is logged once)
        for status in (503, 503, 503, 404, 404):
            fake.fail("/_nodes/stats", status)
            await poller.poll_once()
        await poller.poll_once()
    ours = [r for r in caplog.records if r.name == POLLER_LOG]
    events = [(r.getMessage(), getattr(r, "fields", {}).get("reason")) for r in ours]
    assert events == [
        ("es_poll_ok", None),
        ("es_poll_failed", "http_503"),
        ("es_poll_failed", "http_404"),
        ("es_poll_recovered", None),
    ]
    assert not any(r.exc_info for r in ours)  # no tracebacks


@pytest.mark.parametrize(
    ("info", "says"),
    [
        (root_info("6.8.8"), "Elasticsearch 6.8.8 is not supported"),
        (root_info("7.10.2"), "Elasticsearch 7.10.2 is not supported"),
        (root_info("7.16.3"), "Elasticsearch 7.16.3 is not supported"),
        (root_info("10.0.0"), "Elasticsearch 10.0.0 is not supported"),
        (root_info("2.11.0", distribution="opensearch"), "OpenSearch 2.11.0"),
    ],
)
async def test_unsupported_servers_get_one_clear_error_and_no_stats_request(
    info: dict[str, object], says: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(FakeEs(info=info)) as fake:
        client = make_client(conn(fake.url))
        metrics = Metrics()
        poller = make_poller(client, metrics)
        with caplog.at_level(logging.INFO, logger="autoscaler.signals.poller"):
            results = [await poller.poll_once() for _ in range(3)]
        await client.close()
    assert {r.error for r in results} == {"unsupported_server"}
    assert all(says in (r.detail or "") for r in results)
    assert fake.seen("/_nodes") == []
    (record,) = [r for r in caplog.records if r.name == POLLER_LOG]
    assert record.levelno == logging.ERROR
    assert says in record.fields["detail"]  # type: ignore[attr-defined]
    assert record.fields["next_try_in_s"] == poller.slow_interval  # type: ignore[attr-defined]
    assert errors(metrics, "unsupported_server") == 3


async def test_7_17_is_polled_with_compatible_with_7_which_it_accepts() -> None:
    async with serve(FakeEs(info=fixture("es-7.17.27_root_info.json"))) as fake:
        client = make_client(conn(fake.url))
        result = await make_poller(client).poll_once()
        await client.close()
    assert result.ok, result.detail
    assert str(result.server) == "Elasticsearch 7.17.27"
    (stats,) = fake.seen("/_nodes/stats")
    assert "compatible-with=7" in stats.headers["Accept"]


async def test_a_body_that_is_not_node_stats_is_a_bad_response(
    fake: FakeEs, client: AsyncElasticsearch
) -> None:
    fake.stats = {"nodes": {"x": {"name": "no timestamp"}}}
    result = await make_poller(client).poll_once()
    assert (result.ok, result.error) == (False, "bad_response")
    assert "timestamp" in (result.detail or "")


async def test_run_does_not_pile_up_slow_polls_and_stops_on_the_event(fake: FakeEs) -> None:
    fake.delay = 0.03  # each request slower than the interval below
    client = make_client(conn(fake.url))
    results: list[PollResult] = []
    stop = asyncio.Event()

    async def on_result(r: PollResult) -> None:
        results.append(r)
        if len(results) == 3:
            stop.set()

    poller = Poller(
        name="prod",
        client=client,
        subscribers=[TierSubscription.of("p", roles=["data"], keys=KEYS)],
        interval=0.01,
        clock=asyncio.get_running_loop().time,
        metrics=Metrics(),
        on_result=on_result,
        retry=FAST,
    )
    await asyncio.wait_for(poller.run(stop), timeout=10)
    await client.close()
    assert len(results) == 3
    assert all(r.ok for r in results)
    # node stats and health go out together; polls never overlap
    assert fake.max_in_flight <= 2
    starts = [r.started for r in results]
    assert starts == sorted(starts)
    assert all(b >= a.at for a, b in zip(results, starts[1:], strict=False))


async def test_a_failing_result_handler_does_not_stop_the_loop(fake: FakeEs) -> None:
    client = make_client(conn(fake.url))
    seen: list[PollResult] = []
    stop = asyncio.Event()

    def on_result(r: PollResult) -> None:
        seen.append(r)
        if len(seen) == 2:
            stop.set()
        raise RuntimeError("handler bug")

    poller = Poller(
        name="prod",
        client=client,
        subscribers=[TierSubscription.of("p", roles=["data"], keys=KEYS)],
        interval=0.001,
        clock=asyncio.get_running_loop().time,
        metrics=Metrics(),
        on_result=on_result,
    )
    await asyncio.wait_for(poller.run(stop), timeout=10)
    await client.close()
    assert len(seen) == 2


async def test_poll_duration_is_observed_per_cluster(
    fake: FakeEs, client: AsyncElasticsearch
) -> None:
    metrics = Metrics()
    poller = make_poller(client, metrics)
    await poller.poll_once()
    fake.fail("/_nodes/stats", 404)
    await poller.poll_once()
    count = metrics.registry.get_sample_value(
        "esas_poll_duration_seconds_count", {"cluster": "prod"}
    )
    assert count == 2


async def test_api_key_and_basic_auth_are_read_from_files(tmp_path: Path, fake: FakeEs) -> None:
    (tmp_path / "key").write_text("my-id:my-secret\n")
    (tmp_path / "pw").write_text("s3cret\n")
    c1 = make_client(conn(fake.url, apiKeyFile=str(tmp_path / "key")))
    c2 = make_client(conn(fake.url, username="elastic", passwordFile=str(tmp_path / "pw")))
    await c1.cluster.health()
    await c2.cluster.health()
    await c1.close()
    await c2.close()
    h1, h2 = (r.headers["Authorization"] for r in fake.seen("/_cluster/health"))
    assert h1 == "ApiKey bXktaWQ6bXktc2VjcmV0"  # base64("my-id:my-secret")
    assert h2 == "Basic ZWxhc3RpYzpzM2NyZXQ="  # base64("elastic:s3cret")


async def test_https_options_are_accepted_and_unverified_tls_is_explicit() -> None:
    client = make_client(conn("https://127.0.0.1:9", verifyCerts=False))
    (node,) = client.transport.node_pool.all()
    assert node.config.verify_certs is False
    assert client._request_timeout == 2.0  # applied per request by the client
    await client.close()


def test_policies_on_the_same_cluster_and_identity_share_a_connection_key() -> None:
    a = conn(["https://b:9200", "https://a:9200/"], apiKeyFile="/k")
    b = conn(["https://a:9200", "https://b:9200"], apiKeyFile="/k", pollInterval="30s")
    c = conn(["https://a:9200", "https://b:9200"], apiKeyFile="/other")
    assert connection_key(a) == connection_key(b) != connection_key(c)
