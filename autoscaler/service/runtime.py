"""The service's state and its event handlers: polls and webhooks in, decisions out.

This is the imperative shell around ``core.engine.decide``: it keeps each policy's
observations, the alert book and the decision log, reads "now" once per event from the
injected clock, asks the engine, and records what it said (log line, metrics, decision log).
An ``active`` decision is handed to the ``Actuator`` (the operations runner), which owns
the target while its operation runs; the runtime only sees whether one is running and when
the last one was confirmed.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import Gauge

from autoscaler.core.alerts import (
    AlertBook,
    AlertState,
    AlertStore,
    WebhookPayload,
    alert_state,
)
from autoscaler.core.engine import Decision, TargetState, cooldown_remaining, decide
from autoscaler.core.observations import MetricKey, Observations
from autoscaler.core.policy import AlertCondition, MetricCondition, Policy, iter_leaves
from autoscaler.core.policyload import LoadedPolicy
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


class Actuator(Protocol):
    """What the runtime needs from the operations runner (``service.serve`` adapts it)."""

    def can_act(self, policy: Policy) -> bool:
        """Whether an ``active`` policy's target can be acted on by this service version."""
        ...

    def target_state(self, policy: Policy) -> tuple[bool, float | None]:
        """(an operation is running on the policy's target, its last confirmation)."""
        ...

    def operation_view(self, policy: Policy) -> dict[str, Any] | None:
        """The running operation of the policy's target, in the ``/api/v1/operations`` shape."""
        ...

    def last_operation_view(self, policy: Policy) -> dict[str, Any] | None:
        """The policy's most recent finished operation (its failure is the policy's error)."""
        ...

    def act(self, decision: Decision) -> None:
        """Start the operation a decision asks for (asynchronously; may decline)."""
        ...

    def operations_view(self) -> list[dict[str, Any]]:
        """Every remembered operation, newest first, in the ``/api/v1/operations`` shape."""
        ...

    async def set_paused(self, policy: str, paused: bool) -> None:
        """Persist a pause or resume (raises when the state cannot be written)."""
        ...

    def paused(self) -> frozenset[str]:
        """Policies paused as stored (survives restarts and leader changes)."""
        ...


def effective(policy: Policy, *, can_act: bool = False, paused: bool = False) -> Policy:
    """The policy as this service runs it: ``paused`` by the API wins; ``active`` runs as
    dry-run where nothing can act on its target (no runner, or a target kind not wired)."""
    if paused and policy.mode != "paused":
        return policy.model_copy(update={"mode": "paused"})
    if policy.mode == "active" and not can_act:
        return policy.model_copy(update={"mode": "dry-run"})
    return policy


@dataclass
class Runtime:
    """Policies, observations, alerts and decisions of one service instance."""

    metrics: Metrics
    clock: Callable[[], float]
    alert_ttl: float
    decision_log_size: int = 1000
    alert_capacity: int = 10_000
    policies: dict[str, PolicyRuntime] = field(default_factory=dict)
    alerts: AlertStore = field(init=False)
    decisions: deque[Decision] = field(init=False)
    _series: dict[str, set[tuple[Gauge, tuple[str, ...]]]] = field(init=False, default_factory=dict)
    # alertname -> (policy, condition) of every alert condition; policy -> its alertnames
    _conditions: dict[str, list[tuple[str, AlertCondition]]] = field(
        init=False, default_factory=dict
    )
    _alert_names: dict[str, frozenset[str]] = field(init=False, default_factory=dict)
    _policy_conditions: dict[str, list[AlertCondition]] = field(init=False, default_factory=dict)
    # alertname -> (policy, the condition's other labels as pairs): what apply_webhook tests
    _matchers: dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]] = field(
        init=False, default_factory=dict
    )
    _dirty: set[str] = field(init=False, default_factory=set)
    actuator: Actuator | None = None
    paused: set[str] = field(default_factory=set)
    """Policies paused through ``POST /api/v1/policies/{name}/pause``."""
    last_reload: dict[str, Any] | None = None
    """The last reload of the policy directory (``{"ok", "at", "trigger", "errors"}``), shown
    in ``/api/v1/policies``: a rejected set keeps the old policies running, which the list
    alone would not tell."""

    def __post_init__(self) -> None:
        self.decisions = deque(maxlen=self.decision_log_size)
        self.alerts = AlertStore(capacity=self.alert_capacity, keep=self._matchable)
        # computed when scraped: alerts also stop firing by expiring, without any webhook
        self.metrics.active_alerts.set_function(
            lambda: self.alerts.firing_count(now=self.clock(), ttl=self.alert_ttl)
        )
        self.metrics.alert_book_size.set_function(lambda: len(self.alerts))

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
        self._index_alert_conditions()

    def _index_alert_conditions(self) -> None:
        self._conditions = {}
        self._alert_names = {}
        self._policy_conditions = {}
        self._matchers = {}
        for name, rt in self.policies.items():
            conds = rt.policy.alert_conditions()
            self._policy_conditions[name] = conds
            self._alert_names[name] = frozenset(c.alert for c in conds)
            for c in conds:
                self._conditions.setdefault(c.alert, []).append((name, c))
                self._matchers.setdefault(c.alert, []).append((name, tuple(c.labels.items())))
        self._dirty &= set(self.policies)
        self.alerts.retain(self._matchable)

    def _alert_book(
        self,
        name: str,
        now: float,
        firsts: dict[tuple[str, tuple[tuple[str, str], ...]], AlertState | None],
    ) -> AlertBook:
        """The alerts the engine needs for this policy's alert conditions: per condition, the
        matching alert firing at ``now`` that started first. It alone decides the condition
        (elapsed time falls as ``startsAt`` rises, so the earliest gives the engine's maximum,
        whatever the confirmation cut-off), so decisions equal those over the whole book
        while a pass costs O(alerts per alertname) once per distinct condition, shared by
        every policy with that condition (``firsts``), instead of O(alerts) per policy leaf."""
        picked: dict[str, AlertState] = {}
        for cond in self._policy_conditions.get(name, ()):
            key = (cond.alert, tuple(sorted(cond.labels.items())))
            if key not in firsts:
                firsts[key] = self._first_firing(cond, now)
            first = firsts[key]
            if first is not None:
                picked[first.fingerprint] = first
        return AlertBook(picked)

    def _first_firing(self, cond: AlertCondition, now: float) -> AlertState | None:
        best: AlertState | None = None
        ttl = self.alert_ttl
        for a in self.alerts.named(cond.alert):
            if (
                a.status == "firing"
                and a.starts_at <= now
                and now - a.received_at <= ttl
                and (best is None or a.starts_at < best.starts_at)
                and cond.matches(a.labels)
            ):
                best = a
        return best

    def _matchable(self, labels: Mapping[str, str]) -> bool:
        """Whether some policy's alert condition matches these labels (worth remembering)."""
        return any(c.matches(labels) for _, c in self._conditions.get(labels["alertname"], ()))

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
        self._gauge(self.metrics.target_unavailable, name).set(1 if error else 0)
        if replicas is not None:
            self._gauge(self.metrics.replicas_current, name).set(replicas)

    def apply_webhook(self, payload: WebhookPayload) -> list[str]:
        """Fold a webhook into the alert book in O(alerts in the payload); mark the policies
        whose alert conditions it touches dirty (``flush`` evaluates them) and return them."""
        now = self.clock()
        touched: set[str] = set()
        ignored = dropped = 0
        matchers = self._matchers
        for a in payload.alerts:
            labels = a.labels
            matched = False
            # AlertCondition.matches (the test _matchable makes) over pairs prepared by
            # _index_alert_conditions: the index key already is the alertname
            for name, required in matchers.get(labels["alertname"], ()):
                for k, v in required:
                    if labels.get(k) != v:
                        break
                else:
                    matched = True
                    touched.add(name)
            if not matched:
                ignored += 1
                continue
            _, evicted = self.alerts.put(alert_state(a, now), kept=True)
            dropped += evicted
        self.alerts.prune(now=now, ttl=self.alert_ttl)
        if ignored:
            self.metrics.alerts_ignored.inc(ignored)
        if dropped:
            self.metrics.alerts_dropped.inc(dropped)
        self._dirty |= touched
        return sorted(touched)

    def restore_alerts(self, states: Iterable[AlertState]) -> list[str]:
        """Alerts learnt elsewhere (Alertmanager's API at start-up): taken like a webhook's."""
        touched: set[str] = set()
        for state in states:
            taken, evicted = self.alerts.put(state)
            if evicted:
                self.metrics.alerts_dropped.inc(evicted)
            if taken:
                touched |= {
                    n for n, c in self._conditions.get(state.name, ()) if c.matches(state.labels)
                }
        self._dirty |= touched
        return sorted(touched)

    @property
    def pending(self) -> set[str]:
        """Policies with alert changes not evaluated yet."""
        return set(self._dirty)

    def flush(self) -> list[Decision]:
        """One evaluation pass over the dirty policies (a burst of webhooks costs one)."""
        if not self._dirty:
            return []
        names = sorted(self._dirty)
        self._dirty.clear()
        return self.evaluate_all(names)

    # -- decisions --------------------------------------------------------------------------

    def evaluate(
        self,
        name: str,
        *,
        now: float | None = None,
        _firsts: dict[tuple[str, tuple[tuple[str, str], ...]], AlertState | None] | None = None,
    ) -> Decision | None:
        rt = self.policies.get(name)
        if rt is None:
            return None
        at = self.clock() if now is None else now
        self._dirty.discard(name)
        policy = self.effective(rt)
        if self.actuator is not None:
            rt.operation_in_progress, rt.last_confirmed_at = self.actuator.target_state(rt.policy)
        book = self._alert_book(name, at, {} if _firsts is None else _firsts)
        decision = decide(policy, rt.observations, book, rt.state(), at, alert_ttl=self.alert_ttl)
        rt.last_decision = decision
        if decision.act and decision.action != "none" and self.actuator is not None:
            self.actuator.act(decision)
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

    def effective(self, rt: PolicyRuntime) -> Policy:
        can_act = self.actuator is not None and self.actuator.can_act(rt.policy)
        return effective(rt.policy, can_act=can_act, paused=self.api_paused(rt.policy.name))

    def api_paused(self, name: str) -> bool:
        """Paused through ``POST /api/v1/policies/{name}/pause`` (here or as stored)."""
        return name in self.paused or (self.actuator is not None and name in self.actuator.paused())

    def evaluate_all(self, names: Iterable[str] | None = None) -> list[Decision]:
        now = self.clock()
        self.alerts.prune(now=now, ttl=self.alert_ttl)
        out = []
        firsts: dict[tuple[str, tuple[tuple[str, str], ...]], AlertState | None] = {}
        for name in list(names if names is not None else self.policies):
            d = self.evaluate(name, now=now, _firsts=firsts)
            if d is not None:
                out.append(d)
        return out

    @staticmethod
    def _worth_recording(new: Decision, last: Decision | None) -> bool:
        """Record actions and changes of outcome, not the same hold every poll. A paused
        policy's hold says what it would have done; a change of that is a change of outcome."""
        if last is None:
            return True
        same = (
            new.action == last.action
            and new.from_replicas == last.from_replicas
            and new.to_replicas == last.to_replicas
            and new.reason_codes == last.reason_codes
            and ("paused" not in new.reason_codes or new.reasons == last.reasons)
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
                thresholds = _thresholds(rt.policy, dir_name)
                for leaf in report.leaves:
                    self._gauge(m.condition_satisfied, d.policy, dir_name, leaf.condition).set(
                        1 if leaf.holds else 0
                    )
                    leaf_labels = (d.policy, dir_name, leaf.condition)
                    self._gauge(m.condition_sustained, *leaf_labels).set(leaf.elapsed)
                    self._gauge(m.condition_for, *leaf_labels).set(leaf.needed)
                    if leaf.value is not None:
                        self._gauge(m.condition_value, *leaf_labels).set(leaf.value)
                    if leaf.condition in thresholds:
                        threshold = thresholds[leaf.condition]
                        self._gauge(m.condition_threshold, *leaf_labels).set(threshold)

    # -- views ------------------------------------------------------------------------------

    def policy_view(self, name: str) -> dict[str, Any]:
        self.flush()  # a reader sees every webhook accepted so far
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
            "effectiveMode": self.effective(rt).mode,
            "paused": self.api_paused(name),
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
            "operation": self.actuator.operation_view(p) if self.actuator else None,
            "lastOperation": self.actuator.last_operation_view(p) if self.actuator else None,
        }

    def alerts_view(
        self,
        *,
        limit: int = 1000,
        after: str | None = None,
        state: str | None = None,
        policy: str | None = None,
    ) -> dict[str, Any]:
        """Remembered alerts with the state the engine sees them in, one page at a time.

        Sorted by (alertname, fingerprint); ``next`` is the cursor (``after``) of the next
        page, None on the last. ``state`` (firing, resolved, expired) and ``policy`` (alerts
        that policy's conditions match) filter; ``total`` counts every match.
        """
        now = self.clock()
        if policy is not None:
            conds = self._policy_conditions.get(policy, [])
            names = self._alert_names.get(policy, frozenset())
            pool = [
                a
                for a in self.alerts.book(names).alerts.values()
                if any(c.matches(a.labels) for c in conds)
            ]
        else:
            pool = list(self.alerts.values())
        rows = []
        for a in pool:
            shown = self._alert_state(a, now)
            if state is None or shown == state:
                rows.append((f"{a.name}/{a.fingerprint}", a, shown))
        rows.sort(key=lambda r: r[0])
        rows_after = rows if after is None else [r for r in rows if r[0] > after]
        page = rows_after[:limit]
        more = len(rows_after) > limit
        return {
            "alerts": [
                {
                    "fingerprint": a.fingerprint,
                    "alertname": a.name,
                    "labels": dict(a.labels),
                    "state": shown,
                    "startsAt": a.starts_at,
                    "receivedAt": a.received_at,
                    "expiresAt": a.received_at + self.alert_ttl if a.status == "firing" else None,
                }
                for _, a, shown in page
            ],
            "total": len(rows),
            "next": page[-1][0] if more and page else None,
        }

    def _alert_state(self, a: AlertState, now: float) -> str:
        if a.status != "firing":
            return a.status
        return "expired" if now - a.received_at > self.alert_ttl else "firing"


def decision_view(d: Decision) -> dict[str, Any]:
    out = d.to_dict()
    out["reasonText"] = [str(r) for r in d.reasons]
    return out


def _thresholds(policy: Policy, direction: str) -> dict[str, float]:
    """Each metric condition's description (a leaf's ``condition``) → its threshold, for
    ``esas_condition_threshold`` (the dashboard draws value against threshold)."""
    rule = policy.scaleUp if direction == "up" else policy.scaleDown
    if rule is None:
        return {}
    return {
        c.describe(): c.threshold for c in iter_leaves(rule.when) if isinstance(c, MetricCondition)
    }
