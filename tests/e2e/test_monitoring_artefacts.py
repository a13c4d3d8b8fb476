"""The shipped monitoring artefacts, checked with the real binaries.

``helm/es-autoscaler/files/`` holds the one copy the chart and these tests share:
``prometheus-rules.yaml`` (``promtool check rules`` and ``promtool test rules`` with
``tests/e2e/promtool/prometheus-rules.test.yaml``), ``alertmanager.yaml`` (``amtool
check-config``, and ``amtool config routes test`` for every shipped load alert) and
``dashboard.json``, whose every PromQL expression is executed by a real Prometheus that scrapes
the twin's elasticsearch_exporter endpoint and a real service's ``/metrics`` (with the shipped
rules loaded): each must evaluate without error, and the core panels must return data.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from _e2e_kit import ALERTMANAGER, PROMETHEUS, Process, require_binary, wait_until
from _monitoring_kit import (
    ALERTMANAGER_CONFIG,
    DASHBOARD,
    RULES,
    alertmanager_config_for_test,
    host_port,
    prometheus_config,
    rules_for_test,
    start_alertmanager,
    start_prometheus,
)
from service_kit import TOKEN, start_service

from autoscaler.sim.server import RunningTwin, run_twin

pytestmark = pytest.mark.e2e

REPO = Path(__file__).parents[2]
RULE_TESTS = Path(__file__).parent / "promtool" / "prometheus-rules.test.yaml"
SHIPPED_POLICY = REPO / "policies" / "search-alert-driven.yaml"
PROMTOOL = Path("/usr/bin/promtool")
AMTOOL = Path("/usr/bin/amtool")

#: panels that must return data against a running twin + service (the rest may be empty:
#: no operation, poll error or refused reload happens here).
CORE_PANELS = {
    "Replicas: current and desired",
    "Decisions by outcome",
    "Conditions: value against threshold",
    "Conditions: sustained for, of their `for`",
    "Conditions: sustained seconds",
    "Signals the policies read",
    "Webhook requests by code",
    "Alerts",
    "Poll duration (p50 / p95)",
    "Stale data",
    "Elasticsearch: data-node CPU (EsHighCpu > 80%)",
    "Elasticsearch: mean shard query time (EsSearchLatencyHigh > 250 ms)",
    "Elasticsearch: heap and disk",
    "Elasticsearch: search queue and rejections",
    "Elasticsearch: nodes and moving shards",
    "Elasticsearch: health and load alerts",
}
#: Grafana's variables, as a query inspector would expand them for "All" over a short range.
GRAFANA_VARIABLES = {
    "${datasource}": "",
    "$policy": ".*",
    "$cluster": ".*",
    "$__rate_interval": "10s",
    "$__interval": "2s",
}


def run(argv: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd, timeout=60)


def load_alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


# --- static checks with promtool / amtool ---------------------------------------------------


def test_shipped_rules_pass_promtool_check_rules() -> None:
    require_binary(PROMTOOL)
    result = run([str(PROMTOOL), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_alert_rules())} rules found" in result.stdout


def test_shipped_rules_pass_their_promtool_unit_tests_for_every_alert() -> None:
    require_binary(PROMTOOL)
    tests = yaml.safe_load(RULE_TESTS.read_text())
    tested = {case["alertname"] for t in tests["tests"] for case in t.get("alert_rule_test", [])}
    firing = {
        case["alertname"]
        for t in tests["tests"]
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    names = {r["alert"] for r in load_alert_rules()}
    assert tested == names  # every alert has cases …
    assert firing == names  # … and every alert is shown firing (and, by the cases, not firing)
    result = run([str(PROMTOOL), "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_shipped_alert_driven_policy_names_alerts_the_shipped_rules_raise_by_cluster() -> None:
    policy = yaml.safe_load(SHIPPED_POLICY.read_text())
    wanted = [c for c in policy["scaleUp"]["when"]["any"] if "alert" in c]
    assert wanted
    rules = {r["alert"]: r for r in load_alert_rules()}
    for cond in wanted:
        rule = rules[cond["alert"]]
        # the rule aggregates ``by (cluster)`` (or keeps it), so the policy's label can match
        assert set(cond.get("labels", {})) <= {"cluster"}
        assert re.search(r"by \(cluster\)", rule["expr"]), rule["expr"]
        assert rule["labels"]["autoscaler"] == "es-autoscaler"


def test_shipped_alertmanager_config_passes_amtool_check_config() -> None:
    require_binary(AMTOOL)
    result = run([str(AMTOOL), "check-config", str(ALERTMANAGER_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    receiver = next(
        r
        for r in yaml.safe_load(ALERTMANAGER_CONFIG.read_text())["receivers"]
        if r["name"] == "es-autoscaler"
    )
    (hook,) = receiver["webhook_configs"]
    assert hook["url"].endswith("/webhook/alertmanager")
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    assert "credentials_file" in hook["http_config"]["authorization"]


def test_every_shipped_load_alert_routes_to_the_autoscaler_and_others_do_not() -> None:
    require_binary(AMTOOL)

    def route(labels: dict[str, str]) -> str:
        argv = [str(AMTOOL), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}"]
        result = run(argv + [f"{k}={v}" for k, v in labels.items()])
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()

    for rule in load_alert_rules():
        labels = {"alertname": rule["alert"], "cluster": "prod-es", **rule["labels"]}
        expected = "es-autoscaler" if rule["labels"].get("autoscaler") else "default"
        assert route(labels) == expected, rule["alert"]
    assert route({"alertname": "EsHighCpu", "cluster": "prod-es"}) == "default"


# --- the dashboard against a real Prometheus ------------------------------------------------


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target, annotation and variable query, expanded."""
    dash = json.loads(DASHBOARD.read_text())
    raw: list[tuple[str, str]] = []
    for panel in dash["panels"]:
        raw += [(panel["title"], t["expr"]) for t in panel.get("targets", [])]
    raw += [(f"annotation {a['name']}", a["expr"]) for a in dash["annotations"]["list"]]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var["query"]["query"])
            assert m, var["query"]
            raw.append((f"variable {var['name']}", m.group(1)))
    out = []
    for title, expr in raw:
        for name, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(name, value)
        assert "$" not in expr, (title, expr)
        out.append((title, expr))
    return out


async def query(http: aiohttp.ClientSession, url: str, expr: str) -> dict[str, Any]:
    async with http.get(f"{url}/api/v1/query", params={"query": expr}) as resp:
        body: dict[str, Any] = await resp.json()
        return {"http": resp.status, **body}


@pytest.fixture
async def loaded_twin() -> AsyncIterator[RunningTwin]:
    async with run_twin(nodes=3, speed=1.0, pod_ready_delay=1.0) as t:
        t.twin.cluster.set_workload(search_per_s=300.0, index_per_s=1000.0)
        yield t


async def test_every_dashboard_query_evaluates_in_prometheus_scraping_the_twin_and_the_service(
    tmp_path: Path,
    loaded_twin: RunningTwin,
    processes: Callable[..., Process],
) -> None:
    require_binary(PROMETHEUS)
    twin = loaded_twin
    service, service_url = await start_service(
        tmp_path,
        twin,
        name="search-tier",
        when_up=(
            "{any: [{metric: cpu, aggregate: avg, above: 80, for: 1m},"
            " {alert: EsHighCpu, labels: {cluster: prod-es}, for: 1m}]}"  # the fixture's alert
        ),
        when_down="{metric: cpu, aggregate: avg, below: 5, for: 10m}",
        mode="dry-run",
    )
    try:
        async with aiohttp.ClientSession() as http:
            firing = (REPO / "tests/fixtures/alertmanager/api-firing.json").read_text()
            async with http.post(
                f"{service_url}/webhook/alertmanager",
                data=firing,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            ) as resp:
                assert resp.status == 200, await resp.text()

            assert twin.exporter_url is not None
            config = prometheus_config(
                targets={
                    "elasticsearch": host_port(twin.exporter_url),
                    "es-autoscaler": host_port(service_url),
                },
                rule_files=[RULES],
            )
            prom = await start_prometheus(processes, tmp_path / "prometheus", config)
            url = prom.url

            queries = dashboard_queries()

            async def core_panels_have_data() -> bool:
                with_data = set()
                for title, expr in queries:
                    got = await query(http, url, expr)
                    if got.get("status") == "success" and got["data"]["result"]:
                        with_data.add(title)
                return with_data >= CORE_PANELS

            await wait_until(
                core_panels_have_data, what="data in the core panels", procs=(prom.process,)
            )

            results = {expr: (title, await query(http, url, expr)) for title, expr in queries}
    finally:
        await service.stop()

    failed = {e: r for e, (_, r) in results.items() if r["http"] != 200 or r["status"] != "success"}
    assert not failed, failed
    empty_core = {
        e for e, (t, r) in results.items() if t in CORE_PANELS and not r["data"]["result"]
    }
    titles = {t for _, (t, _) in results.items()}
    # the core panels: every one has data (a panel with several targets needs one with data)
    for title in CORE_PANELS:
        assert title in titles
        assert any(r["data"]["result"] for e, (t, r) in results.items() if t == title), (
            title,
            empty_core,
        )
    # the shipped rules loaded into the same Prometheus and evaluate without error
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/v1/rules") as resp:
        groups = (await resp.json())["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} == {r["alert"] for r in load_alert_rules()}
    assert all(r["health"] == "ok" for r in rules), [r for r in rules if r["health"] != "ok"]


# --- the shipped rules on the twin's exporter -------------------------------------------------


def test_the_test_copy_of_the_rules_and_route_still_pass_promtool_and_amtool(
    tmp_path: Path,
) -> None:
    require_binary(PROMTOOL)
    require_binary(AMTOOL)
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_for_test(for_="2s", window="30s"))
    shipped = {r["alert"]: r for r in load_alert_rules()}
    short = {r["alert"]: r for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]}
    assert short.keys() == shipped.keys()
    assert {r.get("for") for r in short.values()} <= {"2s", None}
    assert "[5m]" not in rules.read_text()
    result = run([str(PROMTOOL), "check", "rules", str(rules)])
    assert result.returncode == 0, result.stdout + result.stderr
    am = tmp_path / "alertmanager.yml"
    token = tmp_path / "token"
    token.write_text("t\n")
    am.write_text(
        alertmanager_config_for_test(webhook_url="http://127.0.0.1:1/hook", credentials_file=token)
    )
    result = run([str(AMTOOL), "check-config", str(am)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
async def saturated_twin() -> AsyncIterator[RunningTwin]:
    async with run_twin(nodes=3, speed=5.0, pod_ready_delay=1.0) as t:
        t.twin.cluster.set_workload(search_per_s=2000.0, index_per_s=1000.0)
        yield t


async def test_the_shipped_rules_fire_on_the_twins_exporter_and_the_shipped_route_delivers_them(
    tmp_path: Path,
    saturated_twin: RunningTwin,
    processes: Callable[..., Process],
) -> None:
    """Rules written for the real exporter work on the twin's: a saturated search tier raises
    the CPU, latency and rejection alerts for its cluster, with the routing label, and the disk
    alert (54 % used) stays quiet; the shipped Alertmanager route delivers them to a real
    service's webhook with the bearer token from a ``credentials_file``."""
    require_binary(PROMETHEUS)
    require_binary(ALERTMANAGER)
    twin = saturated_twin
    assert twin.exporter_url is not None
    cluster = twin.twin.cluster.cluster_name
    service, service_url = await start_service(
        tmp_path,
        twin,
        name="search-tier",
        when_up=f"{{alert: EsHighCpu, labels: {{cluster: {cluster}}}, for: 1m}}",
        mode="dry-run",
    )
    try:
        token_file = tmp_path / "webhook-token"
        token_file.write_text(TOKEN + "\n")
        am = await start_alertmanager(
            processes,
            tmp_path / "alertmanager",
            alertmanager_config_for_test(
                webhook_url=f"{service_url}/webhook/alertmanager", credentials_file=token_file
            ),
        )
        rules = tmp_path / "rules.yaml"
        rules.write_text(rules_for_test(for_="2s", window="30s"))
        config = prometheus_config(
            targets={"elasticsearch": host_port(twin.exporter_url)},
            rule_files=[rules],
            alertmanager=host_port(am.url),
        )
        prom = await start_prometheus(processes, tmp_path / "prometheus", config)
        procs = (prom.process, am.process)
        expected = {"EsHighCpu", "EsSearchLatencyHigh", "EsSearchRejections"}
        firing: dict[str, dict[str, str]] = {}

        async def all_expected_fire() -> bool:
            async with aiohttp.ClientSession() as http:
                got = await query(http, prom.url, 'ALERTS{alertstate="firing"}')
            firing.clear()
            for sample in got["data"]["result"]:
                firing[sample["metric"]["alertname"]] = sample["metric"]
            return expected <= set(firing)

        await wait_until(all_expected_fire, what=f"{expected} firing", procs=procs)
        for name in expected:
            assert firing[name]["cluster"] == cluster
            assert firing[name]["autoscaler"] == "es-autoscaler"
        assert "EsDiskFilling" not in firing

        delivered: list[dict[str, Any]] = []

        async def the_service_holds_the_alert_firing() -> bool:
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{service_url}/api/v1/alerts", params={"state": "firing"}) as resp,
            ):
                delivered[:] = (await resp.json())["alerts"]
            return any(a["alertname"] == "EsHighCpu" for a in delivered)

        await wait_until(
            the_service_holds_the_alert_firing, what="EsHighCpu at the service", procs=procs
        )
        (alert,) = [a for a in delivered if a["alertname"] == "EsHighCpu"]
        assert alert["labels"]["cluster"] == cluster
        registry = service.metrics.registry
        assert registry.get_sample_value(
            "esas_webhook_requests_total", {"code": "200", "reason": "ok"}
        )
        assert not registry.get_sample_value(
            "esas_webhook_requests_total", {"code": "401", "reason": "auth"}
        )
    finally:
        await service.stop()
