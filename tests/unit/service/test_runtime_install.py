"""Reloading policies keeps what still applies and forgets what would now mislead."""

from __future__ import annotations

from autoscaler.core.policyload import LoadedPolicy, load_policy_texts
from autoscaler.metrics import Metrics
from autoscaler.service.runtime import Runtime

BASE = """
name: p
elasticsearch: {{url: "{url}"}}
nodes: {{roles: [{role}]}}
replicas: {{min: 1, max: 5}}
scaleUp:
  when: {{metric: cpu, aggregate: avg, above: {threshold}, for: 1m}}
  cooldown: 5m
"""


def _load(**kw: object) -> list[LoadedPolicy]:
    args = {"url": "http://es:9200", "role": "data", "threshold": 80} | kw
    result = load_policy_texts([("p.yaml", BASE.format(**args))])
    assert result.ok, result.errors
    return result.policies


def _runtime_with_a_sample() -> Runtime:
    rt = Runtime(metrics=Metrics(), clock=lambda: 100.0, alert_ttl=3600)
    rt.install(_load())
    rt.record_poll("p", at=100.0, ok=True, row={("cpu", "avg"): 90.0}, tier_nodes=["a"])
    return rt


def test_reload_with_a_new_threshold_keeps_the_samples() -> None:
    rt = _runtime_with_a_sample()
    rt.install(_load(threshold=70))
    assert rt.policies["p"].observations.get(("cpu", "avg")).values == (90.0,)
    assert rt.policies["p"].policy.scaleUp is not None


def test_reload_pointing_at_another_cluster_forgets_the_samples() -> None:
    rt = _runtime_with_a_sample()
    rt.install(_load(url="http://other:9200"))
    assert rt.policies["p"].observations.get(("cpu", "avg")).values == ()


def test_reload_selecting_another_tier_forgets_the_samples() -> None:
    rt = _runtime_with_a_sample()
    rt.install(_load(role="data_warm"))
    assert rt.policies["p"].observations.get(("cpu", "avg")).values == ()
    assert rt.policies["p"].tier_nodes == ()


def _series(rt: Runtime, metric: str) -> set[tuple[str, ...]]:
    return {
        tuple(sorted(s.labels.items()))
        for m in rt.metrics.registry.collect()
        if m.name == metric
        for s in m.samples
    }


def test_metrics_of_a_removed_or_changed_policy_do_not_linger() -> None:
    rt = _runtime_with_a_sample()
    rt.evaluate("p", now=100.0)
    assert _series(rt, "esas_signal_value")
    (old_condition,) = {dict(s)["condition"] for s in _series(rt, "esas_condition_satisfied")}
    assert old_condition == "avg cpu > 80% for 1m"

    rt.install(_load(threshold=70))
    rt.evaluate("p", now=100.0)
    conditions = {dict(s)["condition"] for s in _series(rt, "esas_condition_satisfied")}
    assert conditions == {"avg cpu > 70% for 1m"}

    rt.install([])
    for metric in ("esas_signal_value", "esas_condition_satisfied", "esas_data_stale"):
        assert _series(rt, metric) == set(), metric
