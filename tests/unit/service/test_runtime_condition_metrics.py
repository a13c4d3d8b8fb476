"""Each condition leaf is exported with its value, threshold, sustained time and ``for``: the
dashboard (helm/es-autoscaler/files/dashboard.json) draws value against threshold and
sustained-for against ``for`` from these series alone."""

from __future__ import annotations

from autoscaler.core.policyload import LoadedPolicy, load_policy_texts
from autoscaler.metrics import Metrics
from autoscaler.service.runtime import Runtime

POLICY = """
name: p
elasticsearch: {url: "http://es:9200"}
nodes: {roles: [data]}
replicas: {min: 1, max: 5}
scaleUp:
  when:
    any:
      - {metric: cpu, aggregate: avg, above: 80, for: 2m}
      - {alert: EsHighCpu, for: 5m}
  cooldown: 5m
scaleDown:
  when: {metric: cpu, aggregate: avg, below: 20, for: 10m}
  cooldown: 5m
"""


def _policies() -> list[LoadedPolicy]:
    result = load_policy_texts([("p.yaml", POLICY)])
    assert result.ok, result.errors
    return result.policies


def _value(rt: Runtime, metric: str, direction: str, condition: str) -> float | None:
    return rt.metrics.registry.get_sample_value(
        metric, {"policy": "p", "direction": direction, "condition": condition}
    )


def test_condition_series_give_value_threshold_sustained_and_for_of_each_leaf() -> None:
    rt = Runtime(metrics=Metrics(), clock=lambda: 0.0, alert_ttl=3600)
    rt.install(_policies())
    for t in range(0, 91, 10):
        rt.record_poll("p", at=float(t), ok=True, row={("cpu", "avg"): 90.0}, tier_nodes=["a"])
    rt.evaluate("p", now=90.0)

    up = "avg cpu > 80% for 2m"
    assert _value(rt, "esas_condition_value", "up", up) == 90.0
    assert _value(rt, "esas_condition_threshold", "up", up) == 80.0
    assert _value(rt, "esas_condition_sustained_seconds", "up", up) == 90.0
    assert _value(rt, "esas_condition_for_seconds", "up", up) == 120.0
    assert _value(rt, "esas_condition_satisfied", "up", up) == 0.0  # 90 s of the 120 s

    down = "avg cpu < 20% for 10m"
    assert _value(rt, "esas_condition_threshold", "down", down) == 20.0
    assert _value(rt, "esas_condition_sustained_seconds", "down", down) == 0.0
    assert _value(rt, "esas_condition_for_seconds", "down", down) == 600.0

    # an alert leaf has a sustained time and a ``for`` but no value or threshold
    (alert,) = {
        s.labels["condition"]
        for m in rt.metrics.registry.collect()
        if m.name == "esas_condition_for_seconds"
        for s in m.samples
        if s.labels["condition"] not in (up, down)
    }
    assert _value(rt, "esas_condition_for_seconds", "up", alert) == 300.0
    assert _value(rt, "esas_condition_value", "up", alert) is None
    assert _value(rt, "esas_condition_threshold", "up", alert) is None

    rt.install([])  # a removed policy's series go with it
    for metric in ("esas_condition_value", "esas_condition_threshold"):
        assert _value(rt, metric, "up", up) is None
