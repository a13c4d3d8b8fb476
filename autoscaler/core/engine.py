"""The decision engine: ``decide(policy, observations, alerts, state, now) -> Decision``.

A pure function of its inputs (no IO, no clock, no asyncio), so every decision can be
explained, unit-tested at its edges and replayed offline. It implements DESIGN §5: sustained
windows, fail-safe on stale data, bounds and steps, one operation at a time, scale-up wins,
per-direction cooldowns measured from the last confirmation — and always says why.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal, NamedTuple, TypeVar

from autoscaler.core.alerts import AlertBook
from autoscaler.core.durations import format_duration
from autoscaler.core.observations import (
    EMPTY_SERIES,
    MetricKey,
    Observations,
    Series,
    metric_key_name,
)
from autoscaler.core.policy import (
    AlertCondition,
    AllOf,
    AnyOf,
    Condition,
    MetricCondition,
    Policy,
    ScaleRule,
)
from autoscaler.core.preflight import disk_reason, projected_disk_from_percent
from autoscaler.core.windows import WindowParts, quiet_from_runs, window_at

T = TypeVar("T")
Direction = Literal["up", "down"]
Action = Literal["scale_up", "scale_down", "none"]

DEFAULT_ALERT_TTL = 3 * 4 * 3600.0
"""3 × Alertmanager's default ``repeat_interval`` (4h)."""

ReasonCode = Literal[
    "sustained",
    "not_sustained",
    "cooldown",
    "at_max",
    "at_min",
    "operation_in_progress",
    "stale_data",
    "paused",
    "dry_run",
    "unsafe",
    "out_of_bounds",
    "both_directions",
]


@dataclass(frozen=True)
class Reason:
    """One reason code with the numbers behind it (DESIGN §5)."""

    code: ReasonCode
    direction: Direction | None = None
    condition: str | None = None
    elapsed: float | None = None
    needed: float | None = None
    remaining: float | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def __str__(self) -> str:
        args: list[str] = []
        if self.direction:
            args.append(self.direction)
        if self.condition:
            args.append(self.condition)
        if self.code == "not_sustained" and self.elapsed is not None:
            args.append(f"{format_duration(self.elapsed)} of {format_duration(self.needed or 0)}")
        if self.remaining is not None:
            args.append(f"{format_duration(self.remaining)} left")
        if self.detail:
            args.append(self.detail)
        return f"{self.code}({'; '.join(args)})" if args else self.code


@dataclass(frozen=True)
class LeafReport:
    """Live state of one metric or alert condition, for status pages and reasons."""

    condition: str
    kind: Literal["metric", "alert"]
    holds: bool
    stale: bool
    elapsed: float
    needed: float
    value: float | None = None
    metric: str | None = None


@dataclass(frozen=True)
class ConditionReport:
    """One direction's ``when`` tree evaluated: whether it holds, which part fired, each leaf."""

    holds: bool
    fired: str | None
    leaves: tuple[LeafReport, ...]


@dataclass(frozen=True)
class TargetState:
    """What the engine must know about the target besides observations."""

    replicas: int | None
    """Current replicas, or None when unknown (then nothing is decided)."""
    operation_in_progress: bool = False
    last_confirmed_at: float | None = None
    """When the last operation of either direction was confirmed (cooldowns and windows)."""
    observed_nodes: int | None = None
    """Tier nodes that answered the last poll; fewer than ``replicas`` blocks a scale-down
    (a node we cannot see may hold the only copy of a shard)."""


@dataclass(frozen=True)
class Decision:
    policy: str
    at: float
    action: Action
    from_replicas: int | None
    to_replicas: int | None
    reasons: tuple[Reason, ...]
    act: bool
    """True when the runner should carry the action out (not in dry-run or paused mode)."""
    up: ConditionReport | None = None
    down: ConditionReport | None = None
    reason_codes: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason_codes", tuple(r.code for r in self.reasons))

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "at": self.at,
            "action": self.action,
            "from": self.from_replicas,
            "to": self.to_replicas,
            "act": self.act,
            "reasons": [r.to_dict() for r in self.reasons],
        }


class _Ctx(NamedTuple):  # a tuple: built once per evaluation, the hot path of a back-test
    observations: Observations
    alerts: AlertBook
    now: float
    staleness: float
    alert_ttl: float
    not_before: float | None


_MEMO: dict[int, tuple[object, Any]] = {}
_MEMO_LIMIT = 4096


def _memo(obj: object, build: Callable[[], T]) -> T:
    """What ``build()`` derives from the immutable ``obj`` (a condition), computed once.

    Conditions are frozen models; texts and predicates derived from them are the same every
    tick, and re-deriving them was a fifth of a back-test. Keyed by identity; the entry holds
    ``obj`` itself, so an id is never reused while it is cached. Bounded (cleared when full).
    """
    hit = _MEMO.get(id(obj))
    if hit is not None and hit[0] is obj:
        value: T = hit[1]
        return value
    if len(_MEMO) >= _MEMO_LIMIT:
        _MEMO.clear()
    value = build()
    _MEMO[id(obj)] = (obj, value)
    return value


@dataclass(frozen=True)
class _MetricLeaf:
    """A metric condition's derived, per-tick constants."""

    text: str
    key: MetricKey
    key_name: str
    predicate: Callable[[float], bool]
    """``c.satisfied_by`` as a C-level comparison (same results, including for NaN)."""
    predicate_key: tuple[str, float]
    """Names the predicate for the series' memo of run starts (``core.windows``)."""


def _metric_leaf(c: MetricCondition) -> _MetricLeaf:
    if c.above is not None:
        above = c.above
        return _MetricLeaf(
            c.describe(), c.key, metric_key_name(c.key), partial(operator.lt, above), (">", above)
        )
    assert c.below is not None
    below = c.below
    return _MetricLeaf(
        c.describe(), c.key, metric_key_name(c.key), partial(operator.gt, below), ("<", below)
    )


def _metric_window(c: MetricCondition, ctx: _Ctx) -> WindowParts:
    hit = _MEMO.get(id(c))
    plan: _MetricLeaf = (
        hit[1] if hit is not None and hit[0] is c else _memo(c, lambda: _metric_leaf(c))
    )
    return window_at(
        ctx.observations.series.get(plan.key, EMPTY_SERIES),
        plan.predicate,
        c.for_,
        ctx.now,
        ctx.staleness,
        ctx.not_before,
        plan.predicate_key,
    )


def _alert_window(
    c: AlertCondition, alerts: AlertBook, now: float, alert_ttl: float, not_before: float | None
) -> tuple[bool, float, float]:
    """(holds, longest elapsed of a matching firing alert, needed)."""
    needed = c.for_ or 0.0
    best = 0.0
    holds = False
    for a in alerts.firing(now=now, ttl=alert_ttl):
        if not c.matches(a.labels):
            continue
        start = a.starts_at if not_before is None else max(a.starts_at, not_before)
        elapsed = max(0.0, now - start)
        best = max(best, elapsed)
        holds = holds or elapsed >= needed
    return holds, best, needed


def _leaf(c: MetricCondition | AlertCondition, ctx: _Ctx) -> LeafReport:
    if isinstance(c, MetricCondition):
        holds, stale, elapsed, needed, latest, _ = _metric_window(c, ctx)
        plan = _memo(c, lambda: _metric_leaf(c))
        return LeafReport(plan.text, "metric", holds, stale, elapsed, needed, latest, plan.key_name)
    holds, best, needed = _alert_window(c, ctx.alerts, ctx.now, ctx.alert_ttl, ctx.not_before)
    return LeafReport(_memo(c, c.describe), "alert", holds, False, best, needed)


def _evaluate(c: Condition, ctx: _Ctx, leaves: list[LeafReport]) -> tuple[bool, str | None]:
    """(holds, description of the part that fired)."""
    if isinstance(c, AllOf):
        results = [_evaluate(child, ctx, leaves) for child in c.all]
        ok = all(r[0] for r in results)
        return ok, (_memo(c, c.describe) if ok else None)
    if isinstance(c, AnyOf):
        results = [_evaluate(child, ctx, leaves) for child in c.any]
        fired = next((r[1] for r in results if r[0]), None)
        return fired is not None, fired
    report = _leaf(c, ctx)
    leaves.append(report)
    return report.holds, (report.condition if report.holds else None)


Quiet = tuple[tuple[float, float], ...]
"""Why a condition does not hold, and for how long it cannot: at no ``later ≥ now`` such
that ``later − b < d`` for every ``(b, d)`` (same observations, alerts, staleness, TTL and
``not_before``). See ``core.windows.quiet_from_runs``."""

_Check = Callable[
    [Mapping[MetricKey, Series], AlertBook, float, float, float, "float | None"], "Quiet | None"
]
"""A condition compiled to a verdict: ``(series by key, alerts, now, staleness, alert TTL,
not_before) -> None`` when it holds, else its ``Quiet``; positional (no context object, no
keywords: it runs ~10⁵–10⁶ times in a 30-day back-test)."""


def _check(c: Condition) -> _Check:
    """``c`` compiled once into nested closures over its constants: ``_evaluate``'s verdict
    without its reports, short-circuiting like ``all``/``any``. A metric leaf answers with
    ``core.windows.quiet_from_runs`` from the series' memoised run starts (remembering the
    last series it looked them up for, so a back-test's fixed series costs one lookup)."""
    if isinstance(c, MetricCondition):
        plan = _memo(c, lambda: _metric_leaf(c))
        key, predicate, predicate_key = plan.key, plan.predicate, plan.predicate_key
        needed = c.for_ or 0.0
        never: Quiet = ((float("inf"), needed),)
        last: list[Any] = [None, None, None]  # (series, staleness, its run starts)

        def metric(
            series_by_key: Mapping[MetricKey, Series],
            alerts: AlertBook,
            now: float,
            staleness: float,
            alert_ttl: float,
            not_before: float | None,
        ) -> Quiet | None:
            series = series_by_key.get(key)
            if series is None:
                return never  # never observed: what window_at says of the empty series
            if series is not last[0] or staleness != last[1]:
                last[:] = series, staleness, series.cached_runs(predicate_key, predicate, staleness)
            bound = quiet_from_runs(series.times, last[2], needed, now, staleness, not_before)
            return None if bound is None else ((bound, needed),)

        return metric
    if isinstance(c, AllOf):
        parts = tuple(_check(child) for child in c.all)

        def all_of(
            series_by_key: Mapping[MetricKey, Series],
            alerts: AlertBook,
            now: float,
            staleness: float,
            alert_ttl: float,
            not_before: float | None,
        ) -> Quiet | None:
            for part in parts:  # the first part that does not hold says for how long
                quiet = part(series_by_key, alerts, now, staleness, alert_ttl, not_before)
                if quiet is not None:
                    return quiet
            return None

        return all_of
    if isinstance(c, AnyOf):
        options = tuple(_check(child) for child in c.any)

        def any_of(
            series_by_key: Mapping[MetricKey, Series],
            alerts: AlertBook,
            now: float,
            staleness: float,
            alert_ttl: float,
            not_before: float | None,
        ) -> Quiet | None:
            quiet: Quiet = ()
            for option in options:  # quiet while every option is
                q = option(series_by_key, alerts, now, staleness, alert_ttl, not_before)
                if q is None:
                    return None
                quiet += q
            return quiet

        return any_of
    alert_condition = c

    def alert(
        series_by_key: Mapping[MetricKey, Series],
        alerts: AlertBook,
        now: float,
        staleness: float,
        alert_ttl: float,
        not_before: float | None,
    ) -> Quiet | None:
        if _alert_window(alert_condition, alerts, now, alert_ttl, not_before)[0]:
            return None
        return ((now, 0.0),)  # no bound claimed (an alert may start later): ask again

    return alert


class _PolicyChecks:
    """A (frozen) policy's compiled ``when`` per direction with the constants ``may_act``
    reads, and its last "no" with the inputs it was given (valid while they are the same
    objects and its ``Quiet`` lasts)."""

    __slots__ = (
        "down",
        "down_cooldown",
        "hi",
        "lo",
        "paused",
        "quiet",
        "staleness",
        "up",
        "up_cooldown",
    )

    def __init__(self, policy: Policy) -> None:
        up, down = policy.scaleUp, policy.scaleDown
        self.up = _check(up.when) if up is not None else None
        self.down = _check(down.when) if down is not None else None
        self.up_cooldown = up.cooldown if up is not None else 0.0
        self.down_cooldown = down.cooldown if down is not None else 0.0
        self.lo, self.hi = policy.replicas.min, policy.replicas.max
        self.paused = policy.mode == "paused"
        self.staleness = policy.elasticsearch.staleness_limit
        self.quiet: tuple[Any, ...] | None = None


def may_act(
    policy: Policy,
    observations: Observations,
    alerts: AlertBook,
    state: TargetState,
    now: float,
    *,
    staleness: float | None = None,
    alert_ttl: float = DEFAULT_ALERT_TTL,
) -> bool:
    """``False`` only when ``decide`` with the same arguments certainly holds (action
    ``none``); ``True`` means "ask ``decide``". The back-test uses it to skip explaining the
    ~99 % of samples where nothing happens (property-tested against ``decide``:
    ``tests/unit/core/test_windows_incremental.py``).

    It follows ``decide``'s order: paused or an operation running → hold; replicas unknown
    or out of bounds → ask. Otherwise a direction can only act when its ``when`` holds (the
    same window rule, ``core.windows``, without reports), it is not at its bound (scale-up
    at max, scale-down at min) and its cooldown is over — so a direction failing either of
    the last two is not evaluated at all. Up winning over down is not modelled: "ask" then.

    A "no" also says for how long it lasts (``Quiet``); asked again with the very same
    observations, alerts and state objects, a later ``now`` within it is answered "no"
    without evaluating (equal to evaluating: property-tested).
    """
    hit = _MEMO.get(id(policy))
    checks: _PolicyChecks = (
        hit[1]
        if hit is not None and hit[0] is policy
        else _memo(policy, lambda: _PolicyChecks(policy))
    )
    if checks.paused or state.operation_in_progress:
        return False
    current = state.replicas
    if current is None or current < checks.lo or current > checks.hi:
        return True
    last = state.last_confirmed_at
    up = checks.up
    if up is not None and (
        current >= checks.hi or (last is not None and last + checks.up_cooldown - now > 0)
    ):
        up = None  # decide: "at_max", or "cooldown" (cooldown_remaining > 0)
    down = checks.down
    if down is not None and (
        current <= checks.lo or (last is not None and last + checks.down_cooldown - now > 0)
    ):
        down = None  # decide: "at_min", or "cooldown"
    if up is None and down is None:
        return False
    if staleness is None:
        staleness = checks.staleness
    memo = checks.quiet
    if (
        memo is not None
        and memo[0] is observations
        and memo[1] is alerts
        and memo[2] is state
        and memo[3] == staleness
        and memo[4] == alert_ttl
        and memo[5] is up
        and memo[6] is down
        and memo[7] <= now
    ):
        for b, d in memo[8]:
            if not now - b < d:
                break
        else:
            return False
    series = observations.series
    quiet: Quiet = ()
    for check in (up, down):
        if check is not None:
            q = check(series, alerts, now, staleness, alert_ttl, last)
            if q is None:
                return True
            quiet += q
    checks.quiet = (observations, alerts, state, staleness, alert_ttl, up, down, now, quiet)
    return False


def evaluate_rule(rule: ScaleRule, ctx: _Ctx) -> ConditionReport:
    leaves: list[LeafReport] = []
    holds, fired = _evaluate(rule.when, ctx, leaves)
    return ConditionReport(holds, fired, tuple(leaves))


def _failing(report: ConditionReport | None, direction: Direction) -> list[Reason]:
    if report is None:
        return []
    out = []
    for leaf in report.leaves:
        if leaf.holds:
            continue
        if leaf.stale:
            out.append(Reason("stale_data", direction, leaf.condition, detail="no fresh sample"))
        else:
            value = f"now {leaf.value:.4g}" if leaf.value is not None else None
            out.append(
                Reason(
                    "not_sustained",
                    direction,
                    leaf.condition,
                    leaf.elapsed,
                    leaf.needed,
                    detail=value,
                )
            )
    return out


def cooldown_remaining(rule: ScaleRule, *, last_confirmed_at: float | None, now: float) -> float:
    """Seconds until ``rule`` may act again, measured from the last confirmation (DESIGN §5)."""
    if last_confirmed_at is None:
        return 0.0
    return max(0.0, last_confirmed_at + rule.cooldown - now)


DISK_KEY = ("disk", "avg")
"""The observation the disk rule reads (issue 8 §2: ``disk.avg × N ÷ (N − step)``)."""


def _disk_rule(
    policy: Policy, observations: Observations, *, current: int, target: int, ctx: _Ctx
) -> Reason | None:
    """``safety.maxDiskPercentAfterScaleDown`` as an engine rule, whenever ``disk.avg`` is
    observed: hold a scale-down whose remaining nodes would exceed the limit (the arithmetic
    lives in ``core/preflight.py``, shared with the operation's preflight). No disk series at
    all → no rule here (the operation's preflight still checks bytes); a stale one → hold."""
    latest = observations.get(DISK_KEY).latest(ctx.now)
    if latest is None:
        return None
    at, avg = latest
    if ctx.now - at > ctx.staleness:
        return Reason("stale_data", "down", metric_key_name(DISK_KEY), detail="no fresh sample")
    projected = projected_disk_from_percent(disk_avg_percent=avg, current=current, remaining=target)
    why = disk_reason(projected, policy.safety.maxDiskPercentAfterScaleDown)
    return Reason("unsafe", "down", detail=why) if why else None


def decide(
    policy: Policy,
    observations: Observations,
    alerts: AlertBook,
    state: TargetState,
    now: float,
    *,
    staleness: float | None = None,
    alert_ttl: float = DEFAULT_ALERT_TTL,
) -> Decision:
    """Decide what to do with ``policy``'s target at ``now``. Pure and deterministic.

    ``staleness`` defaults to the policy's (3 × its poll interval unless ``staleAfter``).
    """
    ctx = _Ctx(
        observations,
        alerts,
        now,
        staleness if staleness is not None else policy.elasticsearch.staleness_limit,
        alert_ttl,
        state.last_confirmed_at,
    )
    up = evaluate_rule(policy.scaleUp, ctx) if policy.scaleUp else None
    down = evaluate_rule(policy.scaleDown, ctx) if policy.scaleDown else None
    would = _decide(policy, observations, state, now, ctx, up, down)
    return _paused(would) if policy.mode == "paused" else would


def _paused(would: Decision) -> Decision:
    """A paused policy's decision: a hold that never acts (so no operation and no cooldown
    starts), saying what the policy would have done — ``paused(would scale up 3 → 4: avg cpu >
    80% for 5m)`` — so that an SRE sees what resuming it would do. Only ``paused`` when it
    would hold anyway (that hold's own reasons are not repeated)."""
    reason = Reason("paused")
    if would.action != "none" and would.reasons:
        first = would.reasons[0]
        verb = "scale up" if would.action == "scale_up" else "scale down"
        why = first.condition or first.detail
        detail = f"would {verb} {would.from_replicas} → {would.to_replicas}"
        reason = Reason("paused", detail=f"{detail}: {why}" if why else detail)
    return replace(
        would,
        action="none",
        to_replicas=would.from_replicas,
        reasons=(reason,),
        act=False,
    )


def _decide(
    policy: Policy,
    observations: Observations,
    state: TargetState,
    now: float,
    ctx: _Ctx,
    up: ConditionReport | None,
    down: ConditionReport | None,
) -> Decision:
    """``decide`` once the conditions are evaluated, as if the policy were not paused."""
    current = state.replicas

    def hold(*reasons: Reason) -> Decision:
        return Decision(policy.name, now, "none", current, current, tuple(reasons), False, up, down)

    if state.operation_in_progress:
        return hold(Reason("operation_in_progress"))
    if current is None:
        return hold(Reason("stale_data", detail="current replicas unknown"))
    last_poll = observations.last_poll(now)
    if last_poll is None or now - last_poll > ctx.staleness:
        age = (
            "no poll yet"
            if last_poll is None
            else f"last poll {format_duration(now - last_poll)} ago"
        )
        return hold(Reason("stale_data", detail=age))

    bounds = policy.replicas
    direction: Direction | None = None
    reasons: list[Reason] = []
    if current < bounds.min or current > bounds.max:
        direction = "up" if current < bounds.min else "down"
        reasons.append(
            Reason(
                "out_of_bounds", direction, detail=f"{current} outside {bounds.min}–{bounds.max}"
            )
        )
        target = bounds.clamp(current)
        rule = policy.rule(direction)
    else:
        up_holds = bool(up and up.holds)
        # Fail safe: never shrink on partial data, even when another branch of an ``any``
        # holds (the stale leaf is reported as stale_data below).
        down_holds = bool(down and down.holds and not any(leaf.stale for leaf in down.leaves))
        if up_holds:
            assert up is not None
            assert policy.scaleUp is not None
            direction, rule = "up", policy.scaleUp
            reasons.append(Reason("sustained", "up", up.fired))
            if down_holds:
                reasons.append(Reason("both_directions", detail="scale-up wins"))
            if current >= bounds.max:
                return hold(*reasons, Reason("at_max", "up", detail=f"max {bounds.max}"))
            target = bounds.clamp(current + rule.step.size(current))
        elif down_holds:
            assert down is not None
            assert policy.scaleDown is not None
            direction, rule = "down", policy.scaleDown
            reasons.append(Reason("sustained", "down", down.fired))
            if current <= bounds.min:
                return hold(*reasons, Reason("at_min", "down", detail=f"min {bounds.min}"))
            target = bounds.clamp(current - rule.step.size(current))
        else:
            return hold(*_failing(up, "up"), *_failing(down, "down"))

    if direction == "down" and state.observed_nodes is not None and state.observed_nodes < current:
        return hold(
            *reasons,
            Reason(
                "unsafe",
                "down",
                detail=f"only {state.observed_nodes} of {current} nodes observed",
            ),
        )

    if direction == "down":
        disk = _disk_rule(policy, observations, current=current, target=target, ctx=ctx)
        if disk is not None:
            return hold(*reasons, disk)

    if rule is not None:
        remaining = cooldown_remaining(rule, last_confirmed_at=state.last_confirmed_at, now=now)
        if remaining > 0:
            return hold(*reasons, Reason("cooldown", direction, remaining=remaining))
    action: Action = "scale_up" if direction == "up" else "scale_down"
    act = policy.mode == "active"
    if policy.mode == "dry-run":
        reasons.append(Reason("dry_run"))
    return Decision(policy.name, now, action, current, target, tuple(reasons), act, up, down)
