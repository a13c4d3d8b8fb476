"""The service's alert state: bounded, indexed, and evaluated once per burst (issues 9, 10).

A webhook folds its alerts in at O(alerts in the payload), marks the policies whose alert
conditions they match dirty, and one evaluation pass (``flush``) serves a whole burst.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autoscaler.core.alerts import WebhookPayload, parse_webhook
from autoscaler.core.policyload import LoadedPolicy, load_policy_texts
from autoscaler.metrics import Metrics
from autoscaler.service.runtime import Runtime

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alertmanager"
NOW = 1_795_700_000.0  # after every capture's startsAt

POLICY = """
name: {name}
nodes: {{roles: [data]}}
replicas: {{min: 1, max: 5}}
scaleUp:
  when: {{alert: {alert}, labels: {{cluster: prod-es}}}}
  cooldown: 5m
"""


def _policies(*pairs: tuple[str, str]) -> list[LoadedPolicy]:
    result = load_policy_texts([(f"{n}.yaml", POLICY.format(name=n, alert=a)) for n, a in pairs])
    assert result.ok, result.errors
    return result.policies


def _payload(
    n: int, *, alert: str = "EsHighCpu", cluster: str = "prod-es", start: int = 0
) -> WebhookPayload:
    body: dict[str, Any] = json.loads((FIXTURES / "api-firing.json").read_text())
    t = body["alerts"][0]
    body["alerts"] = [
        {
            **t,
            "labels": {**t["labels"], "alertname": alert, "cluster": cluster, "node": f"n{i}"},
            "fingerprint": f"{alert}-{cluster}-{i}",
        }
        for i in range(start, start + n)
    ]
    return parse_webhook(body)


def _runtime(*pairs: tuple[str, str], capacity: int = 10_000) -> Runtime:
    rt = Runtime(metrics=Metrics(), clock=lambda: NOW, alert_ttl=3600, alert_capacity=capacity)
    rt.install(_policies(*pairs))
    return rt


def _evaluations(rt: Runtime, policy: str) -> float:
    total = 0.0
    for metric in rt.metrics.registry.collect():
        for s in metric.samples:
            if s.name == "esas_decisions_total" and s.labels["policy"] == policy:
                total += s.value
    return total


def _sample(rt: Runtime, name: str, **labels: str) -> float:
    return rt.metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_webhook_marks_only_the_policies_it_matches_dirty() -> None:
    rt = _runtime(("cpu", "EsHighCpu"), ("lat", "EsSearchLatencyHigh"))
    touched = rt.apply_webhook(_payload(2))
    assert touched == ["cpu"]
    assert rt.pending == {"cpu"}


def test_a_burst_of_webhooks_costs_one_evaluation() -> None:
    rt = _runtime(("cpu", "EsHighCpu"))
    for i in range(100):
        rt.apply_webhook(_payload(1, start=i))
    assert _evaluations(rt, "cpu") == 0
    decisions = rt.flush()
    assert [d.policy for d in decisions] == ["cpu"]
    assert _evaluations(rt, "cpu") == 1
    assert rt.flush() == []  # nothing dirty any more


def test_reading_a_policy_view_sees_every_webhook_applied_so_far() -> None:
    rt = _runtime(("cpu", "EsHighCpu"))
    rt.apply_webhook(_payload(1))
    view = rt.policy_view("cpu")
    assert view["conditions"][0]["holds"] is True


def test_alerts_no_policy_can_match_are_not_remembered() -> None:
    rt = _runtime(("cpu", "EsHighCpu"))
    rt.apply_webhook(_payload(3, cluster="staging-es"))
    rt.apply_webhook(_payload(2, alert="SomethingElse"))
    rt.apply_webhook(_payload(1))
    assert len(rt.alerts) == 1
    assert _sample(rt, "esas_alerts_ignored_total") == 5


def test_the_alert_book_is_capped_and_what_it_drops_is_counted() -> None:
    rt = _runtime(("cpu", "EsHighCpu"), capacity=50)
    rt.apply_webhook(_payload(80))
    assert len(rt.alerts) == 50
    assert _sample(rt, "esas_alerts_dropped_total") == 30
    assert _sample(rt, "esas_alert_book_size") == 50


def test_a_reload_forgets_alerts_that_no_policy_matches_any_more() -> None:
    rt = _runtime(("cpu", "EsHighCpu"), ("lat", "EsSearchLatencyHigh"))
    rt.apply_webhook(_payload(2))
    rt.apply_webhook(_payload(3, alert="EsSearchLatencyHigh"))
    rt.install(_policies(("lat", "EsSearchLatencyHigh")))
    assert len(rt.alerts) == 3


def test_active_alerts_gauge_counts_firing_alerts_at_scrape_time() -> None:
    rt = _runtime(("cpu", "EsHighCpu"))
    rt.apply_webhook(_payload(4))
    assert _sample(rt, "esas_active_alerts") == 4


def test_alerts_view_pages_and_filters() -> None:
    rt = _runtime(("cpu", "EsHighCpu"), ("lat", "EsSearchLatencyHigh"))
    rt.apply_webhook(_payload(5))
    rt.apply_webhook(_payload(3, alert="EsSearchLatencyHigh"))
    page = rt.alerts_view(limit=4)
    assert len(page["alerts"]) == 4
    assert page["total"] == 8
    rest = rt.alerts_view(limit=4, after=page["next"])
    seen = [a["fingerprint"] for a in page["alerts"] + rest["alerts"]]
    assert len(set(seen)) == 8
    assert rest["next"] is None
    only = rt.alerts_view(policy="lat")
    assert {a["alertname"] for a in only["alerts"]} == {"EsSearchLatencyHigh"}
    assert rt.alerts_view(state="resolved")["alerts"] == []
    assert len(rt.alerts_view(state="firing")["alerts"]) == 8


def test_the_engine_sees_the_same_alert_conditions_through_the_reduced_book() -> None:
    """The runtime hands the engine, per condition, only the matching firing alert that
    started first (the one that decides ``holds`` and ``sustainedSeconds``): the decisions
    equal those over the full book, on random alert sets, times and confirmations."""
    import random

    from autoscaler.core.alerts import AlertBook, AlertState
    from autoscaler.core.engine import decide

    rng = random.Random(9)
    texts = [
        ("a", "{alert: EsHighCpu, labels: {cluster: prod-es}, for: 5m}"),
        ("b", "{any: [{alert: EsHighCpu, for: 1m}, {alert: Lat, labels: {tier: hot}, for: 10m}]}"),
        ("c", "{all: [{alert: Lat}, {alert: EsHighCpu, labels: {node: n1}, for: 30s}]}"),
    ]
    template = POLICY.format(name="NAME", alert="ALERT")
    sources = [
        (
            f"{n}.yaml",
            template.replace("NAME", n).replace("{alert: ALERT, labels: {cluster: prod-es}}", w),
        )
        for n, w in texts
    ]
    loaded = load_policy_texts(sources)
    assert loaded.ok, loaded.errors
    for _ in range(300):
        now = 10_000.0 + rng.uniform(0, 100)
        rt = Runtime(metrics=Metrics(), clock=lambda now=now: now, alert_ttl=600)
        rt.install(loaded.policies)
        states = [
            AlertState(
                fingerprint=f"f{i}",
                name=rng.choice(["EsHighCpu", "Lat"]),
                labels={},
                status=rng.choice(["firing", "firing", "resolved"]),
                starts_at=now - rng.uniform(-60, 1200),
                received_at=now - rng.uniform(0, 900),
            )
            for i in range(rng.randint(0, 12))
        ]
        states = [
            AlertState(
                s.fingerprint,
                s.name,
                {
                    "alertname": s.name,
                    "cluster": rng.choice(["prod-es", "other"]),
                    "node": rng.choice(["n1", "n2"]),
                    "tier": rng.choice(["hot", "warm"]),
                },
                s.status,
                s.starts_at,
                s.received_at,
            )
            for s in states
        ]
        rt.restore_alerts(states)
        full = AlertBook({s.fingerprint: s for s in rt.alerts.values()})
        for name, prt in rt.policies.items():
            confirmed = rng.choice([None, now - rng.uniform(0, 900)])
            prt.last_confirmed_at = confirmed
            got = rt.evaluate(name, now=now)
            assert got is not None
            want = decide(
                rt.effective(prt), prt.observations, full, prt.state(), now, alert_ttl=600
            )
            assert (got.up, got.down, got.action, got.reasons) == (
                want.up,
                want.down,
                want.action,
                want.reasons,
            ), name
