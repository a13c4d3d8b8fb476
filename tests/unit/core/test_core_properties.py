"""Invariants of ``decide`` over generated policies, observations and states (hypothesis).

Generated: bounds 1–10, up/down rules over cpu/heap leaves combined with all/any, durations
0–150 s, cooldowns 0–300 s, count or percent steps, observations every 10 s over 0–900 s with
dropped polls (gaps) and missing cells (preferably of a scale-down leaf), replicas mostly
within bounds, a last confirmation (0–600 s) or none, ``now`` anywhere in 0–960 s or near the
end of a cooldown. Staleness limit 30 s (default poll interval 10 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.core.alerts import AlertBook
from autoscaler.core.engine import Decision, TargetState, decide
from autoscaler.core.observations import MetricKey, Observations
from autoscaler.core.policy import Policy, iter_leaves

STALENESS = 30.0
KEYS: list[MetricKey] = [("cpu", "avg"), ("cpu", "max"), ("heap", "avg"), ("heap", "max")]
PROFILE = settings(max_examples=150, deadline=None)

durations = st.sampled_from([None, "0s", "10s", "30s", "1m", "90s", "150s"])


@st.composite
def leaves(draw: st.DrawFn, direction: str) -> dict[str, Any]:
    metric, agg = draw(st.sampled_from(KEYS))
    leaf: dict[str, Any] = {"metric": metric, "aggregate": agg}
    leaf["above" if direction == "up" else "below"] = draw(st.integers(10, 90))
    duration = draw(durations)
    if duration is not None:
        leaf["for"] = duration
    return leaf


@st.composite
def conditions(draw: st.DrawFn, direction: str) -> dict[str, Any]:
    children = draw(st.lists(leaves(direction), min_size=1, max_size=3))
    if len(children) == 1:
        return children[0]
    return {draw(st.sampled_from(["all", "any"])): children}


@st.composite
def rules(draw: st.DrawFn, direction: str) -> dict[str, Any] | None:
    if draw(st.integers(0, 5)) == 0:
        return None
    return {
        "when": draw(conditions(direction)),
        "step": draw(st.sampled_from([1, 2, 3, "25%", "50%", "100%"])),
        "cooldown": f"{draw(st.integers(0, 10)) * 30}s",
    }


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    lo = draw(st.integers(1, 5))
    hi = draw(st.integers(lo, 10))
    up, down = draw(rules("up")), draw(rules("down"))
    if up is None and down is None:
        up = {"when": draw(conditions("up")), "cooldown": "1m"}
    doc: dict[str, Any] = {"name": "prop", "replicas": {"min": lo, "max": hi}}
    doc["mode"] = draw(st.sampled_from(["active", "active", "active", "dry-run"]))
    if up:
        doc["scaleUp"] = up
    if down:
        doc["scaleDown"] = down
    return Policy.model_validate(doc)


Rows = list[tuple[float, dict[MetricKey, float | None]]]


@st.composite
def recordings(draw: st.DrawFn, missing: list[MetricKey]) -> Rows:
    """Polls every 10 s over 0–600 s; some polls dropped, some cells missing (preferably of a
    key in ``missing``). Values come in runs so that windows actually get sustained."""
    rows: Rows = []
    level = {k: float(draw(st.integers(0, 100))) for k in KEYS}
    drop_from = draw(st.integers(0, 100))
    drop_len = draw(st.sampled_from([0, 0, 1, 3, 4, 10]))
    missing_key = draw(st.sampled_from([None, *KEYS, *missing, *missing]))
    missing_after = draw(st.integers(0, 90)) * 10
    for i in range(91):
        if drop_from <= i < drop_from + drop_len:
            continue
        if draw(st.integers(0, 15)) == 7:  # not 0: hypothesis favours boundaries
            key = draw(st.sampled_from(KEYS))
            level[key] = float(draw(st.integers(0, 100)))
        t = i * 10.0
        row: dict[MetricKey, float | None] = dict(level)
        if missing_key is not None and t >= missing_after:
            row[missing_key] = None
        rows.append((t, row))
    return rows


@dataclass(frozen=True)
class Case:
    policy: Policy
    rows: Rows
    state: TargetState
    now: float

    def decide(self, observations: Observations | None = None) -> Decision:
        obs = observations if observations is not None else Observations.from_rows(self.rows)
        return decide(self.policy, obs, AlertBook(), self.state, self.now)


@st.composite
def cases(draw: st.DrawFn, *, in_bounds: bool = False) -> Case:
    policy = draw(policies())
    down_keys = (
        [leaf.key for leaf in iter_leaves(policy.scaleDown.when) if hasattr(leaf, "key")]
        if policy.scaleDown
        else []
    )
    rows = draw(recordings(down_keys))
    b = policy.replicas
    if in_bounds or draw(st.integers(0, 4)) > 0:
        replicas = draw(st.integers(b.min, b.max))
    else:
        replicas = draw(st.integers(0, 12))
    confirmed = draw(st.one_of(st.none(), st.integers(0, 60).map(lambda i: i * 10.0)))
    busy = draw(st.integers(0, 19)) == 7
    rule = draw(st.sampled_from([r for r in (policy.scaleUp, policy.scaleDown) if r]))
    if confirmed is not None and draw(st.booleans()):
        # Near the end of a cooldown, where an off-by-some error would show.
        now = confirmed + rule.cooldown + draw(st.integers(-60, 30))
    else:
        now = float(draw(st.integers(0, 960)))
    return Case(policy, rows, TargetState(replicas, busy, confirmed), max(0.0, now))


def latest_at(rows: Rows, key: MetricKey, now: float) -> float | None:
    times = [t for t, row in rows if t <= now and row.get(key) is not None]
    return times[-1] if times else None


def last_poll(rows: Rows, now: float) -> float | None:
    times = [t for t, _ in rows if t <= now]
    return times[-1] if times else None


@PROFILE
@given(cases(in_bounds=True))
def test_target_never_outside_bounds_when_current_within(case: Case) -> None:
    d = case.decide()
    b = case.policy.replicas
    assert d.to_replicas is not None
    assert b.min <= d.to_replicas <= b.max


@PROFILE
@given(cases())
def test_any_action_lands_within_bounds_and_moves_the_right_way(case: Case) -> None:
    d = case.decide()
    if d.action == "none":
        assert d.to_replicas == d.from_replicas == case.state.replicas
        return
    assert d.from_replicas is not None
    assert d.to_replicas is not None
    b = case.policy.replicas
    assert b.min <= d.to_replicas <= b.max
    if d.action == "scale_up":
        assert d.to_replicas > d.from_replicas
    else:
        assert d.to_replicas < d.from_replicas


@PROFILE
@given(cases())
def test_never_acts_inside_cooldown(case: Case) -> None:
    d = case.decide()
    confirmed = case.state.last_confirmed_at
    if d.action == "none" or confirmed is None:
        return
    rule = case.policy.rule("up" if d.action == "scale_up" else "down")
    if rule is not None:
        assert case.now - confirmed >= rule.cooldown


@st.composite
def stale_cases(draw: st.DrawFn) -> Case:
    """A case whose polls stopped 31 s – 5 min before ``now`` (ES stopped answering), often
    with replicas out of bounds (the one move that needs no condition)."""
    case = draw(cases())
    now = max(case.now, 400.0)
    silent = float(draw(st.integers(31, 300)))
    rows = [r for r in case.rows if r[0] <= now - silent]
    b = case.policy.replicas
    replicas = draw(st.sampled_from([case.state.replicas, b.min - 1, b.max + 1, 0]))
    state = TargetState(max(0, replicas or 0), False, draw(st.sampled_from([None, 0.0])))
    return Case(case.policy, rows, state, now)


@PROFILE
@given(st.one_of(cases(), stale_cases()))
def test_never_acts_on_stale_data(case: Case) -> None:
    d = case.decide()
    polled = last_poll(case.rows, case.now)
    if polled is None or case.now - polled > STALENESS:
        assert d.action == "none"
        assert "stale_data" in d.reason_codes or d.reason_codes[0] in {
            "paused",
            "operation_in_progress",
        }


@st.composite
def scale_down_any_cases(draw: st.DrawFn) -> Case:
    """Scale-down on ``any`` of leaves over different keys, one of which may go missing:
    where a partial-data scale-down would show."""
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=2, max_size=3, unique=True))
    when = {"any": [{"metric": k[0], "aggregate": k[1], "below": draw(st.integers(20, 90)),
                     "for": draw(st.sampled_from(["0s", "30s", "1m"]))} for k in keys]}  # fmt: skip
    policy = Policy.model_validate(
        {
            "name": "down",
            "replicas": {"min": 1, "max": 10},
            "scaleDown": {"when": when, "cooldown": "1m"},
        }
    )
    rows = draw(recordings(keys))
    now = float(draw(st.integers(0, 90))) * 10
    return Case(policy, rows, TargetState(draw(st.integers(2, 10)), False, None), now)


@PROFILE
@given(st.one_of(cases(in_bounds=True), scale_down_any_cases()))
def test_no_scale_down_when_any_scale_down_leaf_is_stale(case: Case) -> None:
    d = case.decide()
    down = case.policy.scaleDown
    if down is None or d.action != "scale_down":
        return
    for leaf in iter_leaves(down.when):
        assert hasattr(leaf, "key")
        seen = latest_at(case.rows, leaf.key, case.now)
        assert seen is not None, leaf.describe()
        assert case.now - seen <= STALENESS, leaf.describe()


@PROFILE
@given(cases())
def test_no_action_while_operation_in_progress(case: Case) -> None:
    d = case.decide()
    if case.state.operation_in_progress:
        assert d.action == "none"
    if d.act:
        assert case.policy.mode == "active"


@PROFILE
@given(cases())
def test_deterministic_for_equal_inputs(case: Case) -> None:
    first = case.decide()
    assert case.decide() == first
    rebuilt = Observations.from_rows([(t, dict(row)) for t, row in case.rows])
    assert case.decide(rebuilt) == first
