"""The service's state and its event handlers: polls and webhooks in, decisions out.

This is the imperative shell around ``core.engine.decide``: it keeps each policy's
observations, the alert book and the decision log, reads "now" once per event from the
injected clock, asks the engine, and records what it said (log line, metrics, decision log).
Acting on decisions is not wired yet: every policy runs as ``dry-run`` unless ``paused``.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge

from autoscaler.core.alerts import AlertBook, WebhookPayload
from autoscaler.core.engine import Decision, TargetState, cooldown_remaining, decide
from autoscaler.core.observations import MetricKey, Observations
from autoscaler.core.policy import (
    LoadedPolicy,
    Policy,
)
from autoscaler.metrics import Metrics
from autoscaler.service.logs import fields

log = logging.getLogger("autoscaler.service")


@dataclass
class PolicyRuntime:
    """Everything the service tracks for one policy."""

    loaded: LoadedPolicy
    observations: Observations = field(default_factory=Observations)
    replicas: int | None = None
    replicas_error: str | None = None
    last_confirmed_at: float | None = None
    operation_in_progress: bool = False
    last_poll_at: float | None = None
    last_poll_ok: bool | None = None
    last_poll_error: str | None = None
    tier_nodes: tuple[str, ...] = ()
    last_decision: Decision | None = None
    last_recorded: Decision | None = None

    @property
    def policy(self) -> Policy:
        return self.loaded.policy

    def state(self) -> TargetState:
        observed = len(self.tier_nodes) if self.last_poll_ok else None
        return TargetState(
            self.replicas, self.operation_in_progress, self.last_confirmed_at, observed
        )


def _same_tier(a: Policy, b: Policy) -> bool:
    return a.elasticsearch == b.elasticsearch and a.nodes == b.nodes and a.target == b.target


def effective(policy: Policy) -> Policy:
    """The policy as this service version runs it: acting is not wired yet, so dry-run."""
    if policy.mode == "active":
        return policy.model_copy(update={"mode": "dry-run"})
    return policy


@dataclass
class Runtime:
    """Policies, observations, alerts and decisions of one service instance."""

    metrics: Metrics
    clock: Callable[[], float]
    alert_ttl: float
    decision_log_size: int = 1000
    policies: dict[str, PolicyRuntime] = field(default_factory=dict)
    alerts: AlertBook = field(default_factory=AlertBook)
    decisions: deque[Decision] = field(init=False)
    _series: dict[str, set[tuple[Gauge, tuple[str, ...]]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.decisions = deque(maxlen=self.decision_log_size)

    # -- policies ---------------------------------------------------------------------------

    def install(self, loaded: Iterable[LoadedPolicy]) -> None:
        """Swap in a new valid policy set, keeping observations of policies that stay."""
        new: dict[str, PolicyRuntime] = {}
        for lp in loaded:
            name = lp.policy.name
            old = self.policies.get(name)
            if old is not None and old.policy != lp.policy:
                # series of conditions that no longer exist must not linger in /metrics;
                # the next evaluation re-creates those that still apply
                self._forget_metrics(name)
            if old is not None and _same_tier(old.policy, lp.policy):
                old.loaded = lp
                new[name] = old
            else:
                # a new policy, or one now watching another cluster or tier: samples kept
                # from before would describe something else
                new[name] = PolicyRuntime(lp)
        for gone in set(self.policies) - set(new):
            self._forget_metrics(gone)
        self.policies = new

    def _gauge(self, gauge: Gauge, policy: str, *labels: str) -> Gauge:
        """``gauge.labels(policy, *labels)``, remembered so a removed policy's series can go."""
        self._series.setdefault(policy, set()).add((gauge, (policy, *labels)))
        return gauge.labels(policy, *labels)

    def _forget_metrics(self, name: str) -> None:
        """Drop every per-policy series of a policy that no longer exists."""
        for gauge, labels in self._series.pop(name, set()):
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)

    # -- signals ----------------------------------------------------------------------------

    def record_poll(
        self,
        name: str,
        *,
        at: float,
        ok: bool,
        row: Mapping[MetricKey, float | None] | None,
        error: str | None = None,
        tier_nodes: Iterable[str] = (),
    ) -> None:
        """One poll's outcome for one policy; a failed poll adds no sample (data goes stale)."""
        rt = self.policies.get(name)
        if rt is None:
            return
        rt.last_poll_at, rt.last_poll_ok, rt.last_poll_error = at, ok, error
        if not ok or row is None:
            return
        rt.tier_nodes = tuple(tier_nodes)
        keep_after = at - rt.policy.longest_window() - 2 * rt.policy.elasticsearch.staleness_limit
        last = rt.observations.polls[-1] if rt.observations.polls else None
        if last is not None and at <= last:
            return  # a clock step backwards must not corrupt the series
        rt.observations = rt.observations.with_poll(at, row, keep_after=keep_after)
        for (metric, agg), value in row.items():
            if value is not None:
                self._gauge(self.metrics.signal_value, name, metric, agg).set(value)

    def set_replicas(self, name: str, replicas: int | None, *, error: str | None = None) -> None:
        rt = self.policies.get(name)
        if rt is None:
            return
        rt.replicas, rt.replicas_error = replicas, error
        if replicas is not None:
            self._gauge(self.metrics.replicas_current, name).set(replicas)

    def apply_webhook(self, payload: WebhookPayload) -> list[str]:
        """Fold a webhook into the alert book; return the policies whose alert conditions it touches."""
        now = self.clock()
        self.alerts = self.alerts.apply(payload, received_at=now).pruned(
            now=now, ttl=self.alert_ttl
        )
        self.metrics.active_alerts.set(len(self.alerts.firing(now=now, ttl=self.alert_ttl)))
        touched = []
        for name, rt in self.policies.items():
            conds = rt.policy.alert_conditions()
            if any(c.matches(a.labels) for c in conds for a in payload.alerts):
                touched.append(name)
        return touched

    # -- decisions --------------------------------------------------------------------------

    def evaluate(self, name: str, *, now: float | None = None) -> Decision | None:
        rt = self.policies.get(name)
        if rt is None:
            return None
        at = self.clock() if now is None else now
        policy = effective(rt.policy)
        decision = decide(
            policy, rt.observations, self.alerts, rt.state(), at, alert_ttl=self.alert_ttl
        )
        rt.last_decision = decision
        self._export(decision, rt)
        if self._worth_recording(decision, rt.last_recorded):
            rt.last_recorded = decision
            self.decisions.appendleft(decision)
            log.info(
                "decision",
                extra=fields(
                    policy=name,
                    action=decision.action,
                    **{"from": decision.from_replicas, "to": decision.to_replicas},
                    reasons=[str(r) for r in decision.reasons],
                    acted=decision.act,
                ),
            )
        return decision

    def evaluate_all(self, names: Iterable[str] | None = None) -> list[Decision]:
        now = self.clock()
        # alerts also stop firing by expiring, without any webhook: keep the gauge honest
        self.metrics.active_alerts.set(len(self.alerts.firing(now=now, ttl=self.alert_ttl)))
        out = []
        for name in list(names if names is not None else self.policies):
            d = self.evaluate(name, now=now)
            if d is not None:
                out.append(d)
        return out

    @staticmethod
    def _worth_recording(new: Decision, last: Decision | None) -> bool:
        """Record actions and changes of outcome, not the same hold every poll."""
        if last is None:
            return True
        same = (
            new.action == last.action
            and new.from_replicas == last.from_replicas
            and new.to_replicas == last.to_replicas
            and new.reason_codes == last.reason_codes
        )
        return not same

    def _export(self, d: Decision, rt: PolicyRuntime) -> None:
        m = self.metrics
        direction = {"scale_up": "up", "scale_down": "down"}.get(d.action, "none")
        if d.action == "none":
            held = [c for c in d.reason_codes if c not in ("sustained", "both_directions")]
            outcome = held[0] if held else "no_condition"
        else:
            outcome = "acted" if d.act else ("dry_run" if "dry_run" in d.reason_codes else "held")
        m.decisions.labels(d.policy, direction, outcome).inc()
        if d.to_replicas is not None:
            self._gauge(m.replicas_desired, d.policy).set(d.to_replicas)
        self._gauge(m.data_stale, d.policy).set(1 if "stale_data" in d.reason_codes else 0)
        for dir_name, report in (("up", d.up), ("down", d.down)):
            if report:
                for leaf in report.leaves:
                    self._gauge(m.condition_satisfied, d.policy, dir_name, leaf.condition).set(
                        1 if leaf.holds else 0
                    )

    # -- views ------------------------------------------------------------------------------

    def policy_view(self, name: str) -> dict[str, Any]:
        rt = self.policies[name]
        p = rt.policy
        now = self.clock()
        d = rt.last_decision
        conditions = []
        for direction, report in (("up", d.up if d else None), ("down", d.down if d else None)):
            if report is None:
                continue
            for leaf in report.leaves:
                conditions.append(
                    {
                        "direction": direction,
                        "condition": leaf.condition,
                        "kind": leaf.kind,
                        "metric": leaf.metric,
                        "value": leaf.value,
                        "holds": leaf.holds,
                        "stale": leaf.stale,
                        "sustainedSeconds": leaf.elapsed,
                        "requiredSeconds": leaf.needed,
                    }
                )
        cooldown = {}
        for direction in ("up", "down"):
            rule = p.scaleUp if direction == "up" else p.scaleDown
            cooldown[direction] = (
                cooldown_remaining(rule, last_confirmed_at=rt.last_confirmed_at, now=now)
                if rule is not None
                else 0.0
            )
        staleness = p.elasticsearch.staleness_limit
        last_sample = rt.observations.polls[-1] if rt.observations.polls else None
        return {
            "name": name,
            "file": rt.loaded.file,
            "mode": p.mode,
            "effectiveMode": effective(p).mode,
            "summary": p.describe(),
            "target": p.target.describe() if p.target else None,
            "replicas": {
                "current": rt.replicas,
                "min": p.replicas.min,
                "max": p.replicas.max,
                "error": rt.replicas_error,
            },
            "tierNodes": list(rt.tier_nodes),
            "lastPoll": {
                "at": rt.last_poll_at,
                "ok": rt.last_poll_ok,
                "error": rt.last_poll_error,
                "lastSampleAt": last_sample,
                "ageSeconds": None if last_sample is None else now - last_sample,
                "stale": last_sample is None or now - last_sample > staleness,
                "stalenessLimitSeconds": staleness,
            },
            "conditions": conditions,
            "cooldownRemainingSeconds": cooldown,
            "lastDecision": decision_view(d) if d else None,
        }

    def alerts_view(self) -> list[dict[str, Any]]:
        """Every alert the service remembers, with the state the engine sees it in."""
        now = self.clock()
        firing = {a.fingerprint for a in self.alerts.firing(now=now, ttl=self.alert_ttl)}
        expired = {a.fingerprint for a in self.alerts.expired(now=now, ttl=self.alert_ttl)}
        out = []
        for a in sorted(self.alerts.alerts.values(), key=lambda a: (a.name, a.fingerprint)):
            state: str = "firing" if a.fingerprint in firing else a.status
            if a.fingerprint in expired:
                state = "expired"
            out.append(
                {
                    "fingerprint": a.fingerprint,
                    "alertname": a.name,
                    "labels": dict(a.labels),
                    "state": state,
                    "startsAt": a.starts_at,
                    "receivedAt": a.received_at,
                    "expiresAt": a.received_at + self.alert_ttl if a.status == "firing" else None,
                }
            )
        return out


def decision_view(d: Decision) -> dict[str, Any]:
    out = d.to_dict()
    out["reasonText"] = [str(r) for r in d.reasons]
    return out
