"""The whole chain, end to end, with the real binaries: Prometheus → the shipped rules →
Alertmanager (the shipped route, bearer token from a ``credentials_file``) → the service's
webhook → the ACTIVE alert-driven policy → the twin's StatefulSet → confirmed after rebalancing;
then the load falls, the alert resolves, and a metric-driven scale-down drains and removes a node;
the twin's invariant log stays empty (no shard copy was lost).

Everything runs on the wall clock (speed 1), as in production: Prometheus and Alertmanager keep
real time, so the service does too. To fit in well under 90 s the shipped artefacts are used
with short times only — the rules' ``for`` 2s and ``[5m]`` windows 10s (``rules_for_test``), the
route's ``group_wait``/``group_interval`` 1s, the shipped ``search-alert-driven`` policy's ``for``
and cooldowns a few seconds — and the twin holds a small data set (~1.3 GB, one index without
replicas) so shards move in seconds at Elasticsearch's default 40 MB/s recovery rate.

How the load drives the alert (``_monitoring_kit`` docstring; loadmodel.py): 1400 searches/s puts
the data-node CPU near 100 % on 3 nodes and ~90 % on 4, so ``EsHighCpu`` (> 80 %) keeps firing
after the scale-up (the policy is capped at 4); 150 searches/s brings it to ~14 %, the alert
resolves and the scale-down condition (CPU p90 < 25 %, empty search queue) holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from _e2e_kit import ALERTMANAGER, PROMETHEUS, Process, require_binary, wait_until
from _monitoring_kit import (
    alertmanager_config_for_test,
    host_port,
    prometheus_config,
    rules_for_test,
    start_alertmanager,
    start_prometheus,
)

from autoscaler.metrics import Metrics
from autoscaler.service.serve import Service
from autoscaler.settings import Settings
from autoscaler.signals.webhook import WebhookAuth
from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin

pytestmark = pytest.mark.e2e

REPO = Path(__file__).parents[2]
SHIPPED_POLICY = REPO / "policies" / "search-alert-driven.yaml"
TOKEN = "chain-e2e-bearer-7c41"
#: 21 shard copies of 50-100 MB; ``scratch`` has no replica: removing an undrained node loses it
INDICES = "logs:6x1:600mb,orders:3x1:300mb,scratch:3x0:150mb"
HOT = {"search_per_s": 1400.0, "index_per_s": 500.0}
QUIET = {"search_per_s": 150.0, "index_per_s": 500.0}
WAIT = 45.0  # seconds any one stage may take (the whole test takes ~50 s)


def chain_policy(*, es_url: str, cluster: str, statefulset: str) -> dict[str, Any]:
    """The shipped alert-driven policy, ACTIVE, on the twin, with test-length times."""
    doc: dict[str, Any] = yaml.safe_load(SHIPPED_POLICY.read_text())
    namespace, name = statefulset.split("/")
    doc["elasticsearch"] = {"url": es_url, "pollInterval": "1s", "requestTimeout": "2s"}
    doc["target"] = {"statefulSet": {"namespace": namespace, "name": name}}
    doc["replicas"] = {"min": 3, "max": 4}
    for cond in doc["scaleUp"]["when"]["any"]:
        cond["labels"] = {"cluster": cluster}
        cond["for"] = "2s"
    doc["scaleUp"]["cooldown"] = "3s"
    for cond in doc["scaleDown"]["when"]["all"]:
        cond["for"] = "4s"
    doc["scaleDown"]["cooldown"] = "3s"
    doc["safety"] = {"joinTimeout": "1m", "rebalanceTimeout": "2m", "drainTimeout": "2m"}
    doc["mode"] = "active"
    return doc


@pytest.fixture
async def twin() -> AsyncIterator[RunningTwin]:
    async with run_twin(
        nodes=3,
        speed=1.0,
        pod_ready_delay=1.0,
        pod_termination_delay=1.0,
        termination_grace_seconds=5,
        indices=parse_indices_spec(INDICES),
    ) as t:
        t.twin.cluster.set_workload(**QUIET)
        yield t


async def get(http: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with http.get(url, params=params) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_alert_scales_up_through_the_real_chain_then_a_drained_scale_down_follows(
    tmp_path: Path, twin: RunningTwin, processes: Callable[..., Process]
) -> None:
    require_binary(PROMETHEUS)
    require_binary(ALERTMANAGER)
    sim = twin.twin
    cluster = sim.cluster.cluster_name
    assert twin.exporter_url is not None

    # the service, as `serve` builds it: policy directory, bearer token file, kubeconfig
    policies = tmp_path / "policies"
    policies.mkdir()
    policy = chain_policy(es_url=twin.es_url, cluster=cluster, statefulset=twin.statefulset)
    (policies / "search-tier.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    token_file = tmp_path / "webhook-token"
    token_file.write_text(TOKEN + "\n")
    settings = Settings(
        policies=policies,
        host="127.0.0.1",
        port=0,
        kubeconfig=twin.kubeconfig_path,
        state_dir=tmp_path / "state",
        webhook_token_file=token_file,
    )
    auth = WebhookAuth.from_sources(
        token=None,
        token_file=token_file,
        basic_user=None,
        basic_password_file=None,
        insecure_no_auth=False,
    )
    service = Service(settings=settings, metrics=Metrics(), auth=auth)
    assert service.load_initial().ok
    host, port = await service.start()
    url = f"http://{host}:{port}"
    try:
        am = await start_alertmanager(
            processes,
            tmp_path / "alertmanager",
            alertmanager_config_for_test(
                webhook_url=f"{url}/webhook/alertmanager", credentials_file=token_file
            ),
        )
        rules = tmp_path / "rules.yaml"
        rules.write_text(rules_for_test(for_="2s", window="10s"))
        prom = await start_prometheus(
            processes,
            tmp_path / "prometheus",
            prometheus_config(
                targets={
                    "elasticsearch": host_port(twin.exporter_url),
                    "es-autoscaler": host_port(url),
                },
                rule_files=[rules],
                alertmanager=host_port(am.url),
            ),
        )
        procs = (prom.process, am.process)

        async with aiohttp.ClientSession() as http:

            async def operation(direction: str) -> dict[str, Any] | None:
                ops = (await get(http, f"{url}/api/v1/operations"))["operations"]
                done = [o for o in ops if o["direction"] == direction and o["state"] != "running"]
                return done[0] if done else None

            async def finished(direction: str) -> bool:
                return await operation(direction) is not None

            # 1. the load rises: Prometheus fires EsHighCpu, Alertmanager delivers it, the
            #    policy scales the StatefulSet up, confirmed once the shards have rebalanced
            sim.cluster.set_workload(**HOT)
            await wait_until(
                lambda: finished("up"), what="a finished scale-up", procs=procs, deadline=WAIT
            )
            up = await operation("up")
            assert up is not None
            assert up["state"] == "confirmed", up
            assert (up["from"], up["to"]) == (3, 4)
            phases = [h["phase"] for h in up["history"]]
            assert phases[-2:] == ["rebalancing", "done"]
            assert "copies: es-data-3" in up["history"][-1]["detail"]
            decisions = (await get(http, f"{url}/api/v1/decisions"))["decisions"]
            acted = [d for d in decisions if d["action"] == "scale_up" and d["act"]]
            assert acted
            assert any("EsHighCpu" in text for text in acted[-1]["reasonText"]), acted[-1]
            shards = {n["name"]: n["shards"] for n in sim.cluster.state()["nodes"]}
            assert shards["es-data-3"] > 0

            # the webhook came from Alertmanager with the bearer token of the credentials_file
            registry = service.metrics.registry
            ok = registry.get_sample_value(
                "esas_webhook_requests_total", {"code": "200", "reason": "ok"}
            )
            assert ok is not None
            assert ok >= 1
            assert not registry.get_sample_value(
                "esas_webhook_requests_total", {"code": "401", "reason": "auth"}
            )

            # 2. the load falls: the alert resolves (Prometheus → Alertmanager → webhook with
            #    send_resolved), and the metric-driven scale-down drains es-data-3, then removes it
            sim.cluster.set_workload(**QUIET)

            async def resolved_at_the_service() -> bool:
                alerts = (await get(http, f"{url}/api/v1/alerts", state="resolved"))["alerts"]
                return any(a["alertname"] == "EsHighCpu" for a in alerts)

            await wait_until(
                resolved_at_the_service, what="EsHighCpu resolved", procs=procs, deadline=WAIT
            )
            await wait_until(
                lambda: finished("down"), what="a finished scale-down", procs=procs, deadline=WAIT
            )
            down = await operation("down")
            assert down is not None
            assert down["state"] == "confirmed", down
            assert (down["from"], down["to"], down["victims"]) == (4, 3, ["es-data-3"])
            phases = [h["phase"] for h in down["history"]]
            for phase in ("excluding", "draining", "scaling", "removing", "cleaning_up", "done"):
                assert phase in phases, phases
            assert phases.index("draining") < phases.index("scaling")  # drained, then removed

            # Prometheus scraped the service's /metrics too: it saw both confirmations
            async def prometheus_saw_both() -> bool:
                got = await get(
                    http,
                    f"{prom.url}/api/v1/query",
                    query='sum by (direction) (esas_operations_total{outcome="confirmed"})',
                )
                seen = {
                    r["metric"]["direction"]: float(r["value"][1]) for r in got["data"]["result"]
                }
                return seen.get("up") == 1.0 and seen.get("down") == 1.0

            await wait_until(
                prometheus_saw_both, what="confirmations in Prometheus", procs=procs, deadline=10
            )
    finally:
        await service.stop()

    state = sim.state()
    (sts,) = state["kubernetes"]["statefulsets"]
    assert sts["replicas"] == 3
    assert sorted(n["name"] for n in state["elasticsearch"]["nodes"]) == [
        "es-data-0",
        "es-data-1",
        "es-data-2",
    ]
    assert state["elasticsearch"]["health"] == "green"
    assert sim.invariants == []  # no shard copy was ever lost
