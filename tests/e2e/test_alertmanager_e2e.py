"""Real Alertmanager (and Prometheus) delivering to our webhook handler over HTTP.

What only the real thing proves: the bearer token as ``http_config.authorization`` really
sends it (inline and from ``credentials_file``, trailing newline included), the payloads of
this Alertmanager version parse, and firing → resolved reaches our AlertBook.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from _e2e_kit import (
    E2E_TOKEN,
    PROMETHEUS,
    Alertmanager,
    Process,
    Receiver,
    free_port,
    http_ok,
    require_binary,
    wait_until,
)

pytestmark = pytest.mark.e2e

LABELS = {"alertname": "EsHighCpu", "cluster": "e2e-es", "severity": "warning"}


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def api_alert(*, ends_at: datetime | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": LABELS,
        "annotations": {"summary": "Elasticsearch CPU high on e2e-es"},
        "startsAt": rfc3339(now - timedelta(seconds=5)),
        "generatorURL": "http://127.0.0.1/graph?g0.expr=es_node_cpu_percent+%3E+80",
    }
    if ends_at is not None:
        alert["endsAt"] = rfc3339(ends_at)
    return alert


@pytest.mark.parametrize("token_source", ["credentials", "credentials_file"])
async def test_an_alert_posted_to_alertmanager_fires_and_resolves_in_our_alert_book(
    token_source: str,
    tmp_path: Path,
    receiver: Receiver,
    start_alertmanager: Callable[..., Awaitable[Alertmanager]],
) -> None:
    if token_source == "credentials_file":
        token_file = tmp_path / "webhook-token"
        token_file.write_text(E2E_TOKEN + "\n")  # as `echo token > file` leaves it
        authorization = {"credentials_file": str(token_file)}
    else:
        authorization = {"credentials": E2E_TOKEN}
    am = await start_alertmanager(webhook_url=receiver.url, authorization=authorization)
    procs = (am.process,)

    await am.post_alerts([api_alert()])
    await wait_until(lambda: receiver.firing(**LABELS), what="alert firing", procs=procs)

    await am.post_alerts([api_alert(ends_at=datetime.now(UTC) - timedelta(seconds=1))])
    await wait_until(lambda: receiver.resolved(**LABELS), what="alert resolved", procs=procs)
    assert not receiver.firing(**LABELS)

    # delivered by Alertmanager itself, with the configured bearer token, and accepted
    assert receiver.requests
    for headers in receiver.requests:
        assert headers["Authorization"] == f"Bearer {E2E_TOKEN}"
        assert headers["User-Agent"].startswith("Alertmanager/")
        assert headers["Content-Type"] == "application/json"
    assert receiver.count(401, "auth") == 0
    assert receiver.count(200, "ok") == len(receiver.payloads) >= 2
    assert all(p.version == "4" and p.receiver == "es-autoscaler" for p in receiver.payloads)
    assert all(p.externalURL == am.url for p in receiver.payloads)


async def test_a_wrong_token_in_alertmanager_is_refused_and_nothing_fires(
    receiver: Receiver,
    start_alertmanager: Callable[..., Awaitable[Alertmanager]],
) -> None:
    am = await start_alertmanager(
        webhook_url=receiver.url, authorization={"credentials": "not-the-token"}
    )
    await am.post_alerts([api_alert()])
    await wait_until(
        lambda: receiver.count(401, "auth") >= 1, what="a refused delivery", procs=(am.process,)
    )
    assert receiver.payloads == []
    assert not receiver.firing(**LABELS)


# ---- Prometheus → Alertmanager → us ------------------------------------------------------


@pytest.fixture
def cpu_gauge() -> Iterator[tuple[prometheus_client.Gauge, int]]:
    """A tiny /metrics endpoint on 127.0.0.1 exporting es_node_cpu_percent for Prometheus."""
    registry = prometheus_client.CollectorRegistry()
    gauge = prometheus_client.Gauge(
        "es_node_cpu_percent", "CPU of an ES node", ["cluster", "node"], registry=registry
    )
    port = free_port()
    server, thread = prometheus_client.start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield gauge, port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


async def test_a_prometheus_rule_fires_through_alertmanager_and_resolves_in_our_alert_book(
    tmp_path: Path,
    receiver: Receiver,
    start_alertmanager: Callable[..., Awaitable[Alertmanager]],
    processes: Callable[..., Process],
    cpu_gauge: tuple[prometheus_client.Gauge, int],
) -> None:
    require_binary(PROMETHEUS)
    gauge, metrics_port = cpu_gauge
    cpu = gauge.labels(cluster="prod-es", node="es-data-0")
    cpu.set(95)
    am = await start_alertmanager(
        webhook_url=receiver.url, authorization={"credentials": E2E_TOKEN}
    )

    home = tmp_path / "prometheus"
    home.mkdir()
    (home / "rules.yml").write_text(
        """
groups:
  - name: es-autoscaling
    rules:
      - alert: EsHighCpu
        expr: es_node_cpu_percent > 80
        for: 2s
        labels:
          severity: warning
        annotations:
          summary: "Elasticsearch CPU high on {{ $labels.cluster }}/{{ $labels.node }}"
          description: "es_node_cpu_percent is {{ $value }} (> 80) for 2s"
"""
    )
    am_host = am.url.removeprefix("http://")
    (home / "prometheus.yml").write_text(
        f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {home / "rules.yml"}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['{am_host}']
scrape_configs:
  - job_name: es-metrics
    static_configs:
      - targets: ['127.0.0.1:{metrics_port}']
"""
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prom = processes(
        "prometheus",
        [
            str(PROMETHEUS),
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
        ],
        log=home / "prometheus.log",
    )
    procs = (prom, am.process)
    await wait_until(lambda: http_ok(f"{url}/-/ready"), what="Prometheus ready", procs=procs)

    alert = {"alertname": "EsHighCpu", "node": "es-data-0", "job": "es-metrics"}
    await wait_until(lambda: receiver.firing(**alert), what="rule firing", procs=procs)
    firing = receiver.state(**alert)
    assert firing is not None
    assert firing.labels["instance"] == f"127.0.0.1:{metrics_port}"
    sent = [a for p in receiver.payloads for a in p.alerts]
    assert sent[0].annotations["description"] == "es_node_cpu_percent is 95 (> 80) for 2s"
    assert (sent[0].generatorURL or "").startswith(url)

    cpu.set(10)
    await wait_until(lambda: receiver.resolved(**alert), what="rule resolved", procs=procs)
    assert not receiver.firing(**alert)
    assert receiver.count(401, "auth") == 0
