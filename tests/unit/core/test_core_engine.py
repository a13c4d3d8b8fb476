"""``decide`` table-driven at the edges of every rule of DESIGN §5.

Base policy (see conftest): up when avg cpu > 80 for 5m (step 1, cooldown 10m); down when
max cpu < 30 for 10m (step 1, cooldown 30m); replicas 2–6; poll 10 s → stale after 30 s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from autoscaler.core.alerts import AlertBook
from autoscaler.core.engine import Decision, Reason, TargetState, decide
from autoscaler.core.observations import Observations
from autoscaler.core.policy import Policy

UP = "avg cpu > 80% for 5m"
DOWN = "max cpu < 30% for 10m"
NO_ALERTS = AlertBook()

ObsFactory = Callable[..., Observations]


@pytest.fixture
def hot(make_obs: ObsFactory) -> Observations:
    """cpu.avg 85, cpu.max 90 every 10 s for an hour."""
    return make_obs({"cpu.avg": lambda t: 85, "cpu.max": lambda t: 90}, end=3600)


@pytest.fixture
def idle(make_obs: ObsFactory) -> Observations:
    """cpu.avg 10, cpu.max 20 every 10 s for an hour."""
    return make_obs({"cpu.avg": lambda t: 10, "cpu.max": lambda t: 20}, end=3600)


@pytest.fixture
def calm(make_obs: ObsFactory) -> Observations:
    """cpu.avg 50, cpu.max 60: neither direction holds."""
    return make_obs({"cpu.avg": lambda t: 50, "cpu.max": lambda t: 60}, end=3600)


def run(
    policy: Policy,
    obs: Observations,
    now: float,
    replicas: int | None = 3,
    *,
    confirmed: float | None = None,
    busy: bool = False,
    alerts: AlertBook = NO_ALERTS,
    **kw: Any,
) -> Decision:
    return decide(policy, obs, alerts, TargetState(replicas, busy, confirmed), now, **kw)


def codes(d: Decision) -> list[str]:
    return [r.code for r in d.reasons]


# --- sustained / not sustained -------------------------------------------------------------


def test_scale_up_when_sustained(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=300)
    assert (d.action, d.from_replicas, d.to_replicas, d.act) == ("scale_up", 3, 4, True)
    assert d.reasons == (Reason("sustained", "up", UP),)


def test_condition_not_sustained_at_4m59s_reports_elapsed_and_needed(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=299)
    assert (d.action, d.to_replicas, d.act) == ("none", 3, False)
    assert d.reasons == (
        Reason("not_sustained", "up", UP, elapsed=299, needed=300, detail="now 85"),
        Reason("not_sustained", "down", DOWN, elapsed=0, needed=600, detail="now 90"),
    )
    assert str(d.reasons[0]) == "not_sustained(up; avg cpu > 80% for 5m; 4m59s of 5m; now 85)"


def test_scale_down_when_sustained(make_policy, idle) -> None:
    d = run(make_policy(), idle, now=600, replicas=4)
    assert (d.action, d.from_replicas, d.to_replicas) == ("scale_down", 4, 3)
    assert d.reasons == (Reason("sustained", "down", DOWN),)
    assert not run(make_policy(), idle, now=599, replicas=4).act


@pytest.mark.parametrize(("observed", "acts"), [(3, False), (4, True), (None, True)])
def test_scale_down_is_unsafe_when_not_all_nodes_are_observed(
    make_policy, idle, observed: int | None, acts: bool
) -> None:
    state = TargetState(4, False, None, observed)
    d = decide(make_policy(), idle, NO_ALERTS, state, 600)
    assert (d.action != "none") is acts
    if not acts:
        assert d.reasons[-1] == Reason("unsafe", "down", detail="only 3 of 4 nodes observed")
        assert str(d.reasons[-1]) == "unsafe(down; only 3 of 4 nodes observed)"


def test_scale_up_does_not_need_every_node_observed(make_policy, hot) -> None:
    d = decide(make_policy(), hot, NO_ALERTS, TargetState(3, False, None, 2), 300)
    assert (d.action, d.to_replicas) == ("scale_up", 4)


@pytest.mark.parametrize(
    ("replicas", "disk_avg", "limit", "unsafe"),
    [
        # the case: 2 nodes at 80 %, limit 75 → 1 node would hold 160 %
        (2, 80.0, 75, "disk projection 160% > 75%"),
        (4, 61.5, 75, "disk projection 82% > 75%"),
        (3, 50.0, 75, None),  # exactly at the limit (50 × 3 ÷ 2 = 75) is allowed
        (4, 50.0, 75, None),  # 66.7 % ≤ 75
        (4, 50.0, 60, "disk projection 66.7% > 60%"),
    ],
)
def test_scale_down_is_unsafe_when_the_disk_projection_exceeds_the_limit(
    make_policy, make_obs, replicas: int, disk_avg: float, limit: float, unsafe: str | None
) -> None:
    policy = make_policy(replicas={"min": 1}, safety={"maxDiskPercentAfterScaleDown": limit})
    obs = make_obs({"cpu.max": lambda t: 20, "disk.avg": lambda t: disk_avg}, end=3600)
    d = run(policy, obs, now=600, replicas=replicas)
    if unsafe is None:
        assert (d.action, d.to_replicas) == ("scale_down", replicas - 1)
    else:
        assert d.action == "none"
        assert d.reasons == (
            Reason("sustained", "down", DOWN),
            Reason("unsafe", "down", detail=unsafe),
        )
        assert str(d.reasons[-1]) == f"unsafe(down; {unsafe})"


def test_disk_rule_uses_the_default_limit_when_disk_is_observed(make_policy, make_obs) -> None:
    obs = make_obs({"cpu.max": lambda t: 20, "disk.avg": lambda t: 60}, end=3600)
    d = run(make_policy(), obs, now=600, replicas=4)  # 60 × 4 ÷ 3 = 80 > default 75
    assert d.reasons[-1] == Reason("unsafe", "down", detail="disk projection 80% > 75%")


def test_disk_rule_needs_a_disk_observation(make_policy, idle) -> None:
    d = run(make_policy(safety={"maxDiskPercentAfterScaleDown": 10}), idle, now=600, replicas=4)
    assert (d.action, d.to_replicas) == ("scale_down", 3)


def test_disk_rule_holds_on_a_stale_disk_sample(make_policy, make_obs) -> None:
    obs = make_obs(
        {"cpu.max": lambda t: 20, "disk.avg": lambda t: 10 if t < 300 else None}, end=3600
    )
    d = run(make_policy(), obs, now=600, replicas=4)
    assert d.action == "none"
    assert d.reasons[-1] == Reason("stale_data", "down", "disk.avg", detail="no fresh sample")


def test_disk_rule_does_not_hold_a_scale_up(make_policy, make_obs) -> None:
    obs = make_obs({"cpu.avg": lambda t: 90, "disk.avg": lambda t: 99}, end=3600)
    d = run(make_policy(), obs, now=300, replicas=3)
    assert (d.action, d.to_replicas) == ("scale_up", 4)


def test_all_of_needs_every_child_and_reports_the_conjunction(make_policy, make_obs) -> None:
    when = {
        "all": [
            {"metric": "cpu", "aggregate": "avg", "above": 80, "for": "5m"},
            {"metric": "heap", "aggregate": "avg", "above": 85, "for": "5m"},
        ]
    }
    policy = make_policy(scaleUp={"when": when})
    heap_late = make_obs(
        {"cpu.avg": lambda t: 85, "heap.avg": lambda t: 90 if t >= 60 else 50}, end=600
    )
    d = run(policy, heap_late, now=300)
    assert d.action == "none"
    assert (
        Reason(
            "not_sustained", "up", "avg heap > 85% for 5m", elapsed=240, needed=300, detail="now 90"
        )
        in d.reasons
    )
    d = run(policy, heap_late, now=360)
    assert d.reasons == (
        Reason("sustained", "up", "avg cpu > 80% for 5m and avg heap > 85% for 5m"),
    )


def test_any_of_reports_the_first_child_that_fired(make_policy, make_obs) -> None:
    when = {
        "any": [
            {"metric": "heap", "aggregate": "avg", "above": 85, "for": "5m"},
            {"metric": "disk", "aggregate": "max", "above": 85},
        ]
    }
    obs = make_obs(
        {"heap.avg": lambda t: 50, "disk.max": lambda t: 90, "cpu.max": lambda t: 60}, end=60
    )
    d = run(make_policy(scaleUp={"when": when}), obs, now=60)
    assert d.reasons == (Reason("sustained", "up", "max disk > 85%"),)


# --- stale and missing data ---------------------------------------------------------------


def test_stale_latest_poll_means_no_action(make_policy, make_obs) -> None:
    obs = make_obs({"cpu.avg": lambda t: 85, "cpu.max": lambda t: 90}, end=600)
    assert run(make_policy(), obs, now=630).action == "scale_up"
    d = run(make_policy(), obs, now=631)
    assert (d.action, d.to_replicas) == ("none", 3)
    assert d.reasons == (Reason("stale_data", detail="last poll 31s ago"),)


def test_no_poll_yet_is_stale_data(make_policy) -> None:
    d = run(make_policy(), Observations(), now=100)
    assert d.reasons == (Reason("stale_data", detail="no poll yet"),)


def test_missing_metric_makes_condition_false_with_stale_data(make_policy, make_obs) -> None:
    obs = make_obs({"cpu.max": lambda t: 90}, end=600)  # polls are fresh, cpu.avg never came
    d = run(make_policy(), obs, now=600)
    assert d.action == "none"
    assert Reason("stale_data", "up", UP, detail="no fresh sample") in d.reasons


def test_explicit_staleness_overrides_the_policy(make_policy, make_obs) -> None:
    obs = make_obs({"cpu.avg": lambda t: 85, "cpu.max": lambda t: 90}, end=600, every=60)
    d = run(make_policy(), obs, now=600)  # fresh latest sample, but 60 s gaps > 30 s
    assert d.reasons[0] == Reason("not_sustained", "up", UP, 0, 300, detail="now 85")
    assert run(make_policy(), obs, now=600, staleness=60).action == "scale_up"


def test_stale_after_in_policy_sets_the_limit(make_policy, make_obs) -> None:
    obs = make_obs({"cpu.avg": lambda t: 85, "cpu.max": lambda t: 90}, end=600, every=60)
    assert run(make_policy(elasticsearch={"staleAfter": "1m"}), obs, now=600).action == "scale_up"
    assert (
        run(make_policy(elasticsearch={"pollInterval": "20s"}), obs, now=600).action == "scale_up"
    )


def test_broken_es_never_causes_a_scale_down(make_policy, idle) -> None:
    d = run(make_policy(), idle, now=3700, replicas=4)  # last poll at 3600
    assert d.action == "none"
    assert codes(d) == ["stale_data"]


def test_scale_down_blocked_when_any_scale_down_leaf_is_stale(make_policy, make_obs) -> None:
    when = {
        "any": [
            {"metric": "cpu", "aggregate": "max", "below": 30, "for": "10m"},
            {"metric": "heap", "aggregate": "max", "below": 60, "for": "10m"},
        ]
    }
    policy = make_policy(scaleDown={"when": when})
    obs = make_obs(
        {"cpu.avg": lambda t: 10, "cpu.max": lambda t: 20, "heap.max": lambda t: None}, end=900
    )
    d = run(policy, obs, now=900, replicas=4)
    assert d.action == "none"
    assert Reason("stale_data", "down", "max heap < 60% for 10m", detail="no fresh sample") in (
        d.reasons
    )
    with_heap = make_obs(
        {"cpu.avg": lambda t: 10, "cpu.max": lambda t: 20, "heap.max": lambda t: 90}, end=900
    )
    assert run(policy, with_heap, now=900, replicas=4).action == "scale_down"


# --- cooldowns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "action", "remaining"),
    [
        pytest.param(1000, "none", 200, id="up_cooldown_active_200s_left"),
        pytest.param(1199, "none", 1, id="up_cooldown_active_1s_left"),
        pytest.param(
            1200, "scale_up", None, id="up_cooldown_expired_exactly_10m_after_confirmation"
        ),
    ],
)
def test_scale_up_cooldown_measured_from_confirmation(
    make_policy, hot, now: float, action: str, remaining: float | None
) -> None:
    d = run(make_policy(), hot, now=now, confirmed=600)
    assert d.action == action
    if remaining is not None:
        assert d.reasons == (
            Reason("sustained", "up", UP),
            Reason("cooldown", "up", remaining=remaining),
        )


@pytest.mark.parametrize(
    ("now", "action"),
    [
        pytest.param(2399, "none", id="scale_down_within_30m_of_a_scale_up_confirmation"),
        pytest.param(2400, "scale_down", id="scale_down_cooldown_expired"),
    ],
)
def test_scale_down_never_within_scale_down_cooldown_after_scale_up(
    make_policy, idle, now: float, action: str
) -> None:
    # The last operation (a scale-up, say) was confirmed at 600; scale-down cooldown is 30m.
    d = run(make_policy(), idle, now=now, replicas=4, confirmed=600)
    assert d.action == action
    if action == "none":
        assert d.reasons[-1] == Reason("cooldown", "down", remaining=1)


def test_scale_up_after_scale_down_waits_only_the_scale_up_cooldown(make_policy, hot) -> None:
    # Confirmation of either direction starts both clocks; up uses its own 10m.
    d = run(make_policy(), hot, now=600 + 600, confirmed=600)
    assert d.action == "scale_up"


def test_cooldown_reason_formats_remaining(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=1100, confirmed=600)
    assert str(d.reasons[-1]) == "cooldown(up; 1m40s left)"
    assert d.reasons[-1].to_dict() == {"code": "cooldown", "direction": "up", "remaining": 100}


def test_window_never_reaches_back_before_last_confirmation(make_policy, hot) -> None:
    policy = make_policy(scaleUp={"cooldown": "1m"})
    d = run(policy, hot, now=899, confirmed=600)
    assert d.action == "none"
    assert Reason("not_sustained", "up", UP, elapsed=299, needed=300, detail="now 85") in d.reasons
    assert run(policy, hot, now=900, confirmed=600).action == "scale_up"


# --- bounds and steps ---------------------------------------------------------------------


def test_at_max_holds(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=300, replicas=6)
    assert (d.action, d.to_replicas) == ("none", 6)
    assert d.reasons == (Reason("sustained", "up", UP), Reason("at_max", "up", detail="max 6"))


def test_at_min_holds(make_policy, idle) -> None:
    d = run(make_policy(), idle, now=600, replicas=2)
    assert d.reasons == (
        Reason("sustained", "down", DOWN),
        Reason("at_min", "down", detail="min 2"),
    )


@pytest.mark.parametrize(
    ("direction", "replicas", "step", "to"),
    [
        pytest.param("up", 4, 3, 6, id="step_up_clamped_to_max"),
        pytest.param("up", 5, 1, 6, id="step_up_reaches_max"),
        pytest.param("down", 4, 5, 2, id="step_down_clamped_to_min"),
        pytest.param("down", 3, 1, 2, id="step_down_reaches_min"),
    ],
)
def test_bounds_clamping(make_policy, hot, idle, direction, replicas, step, to) -> None:
    rule = "scaleUp" if direction == "up" else "scaleDown"
    d = run(
        make_policy(**{rule: {"step": step}}),
        hot if direction == "up" else idle,
        now=600,
        replicas=replicas,
    )
    assert (d.from_replicas, d.to_replicas) == (replicas, to)


@pytest.mark.parametrize(
    ("replicas", "percent", "to"),
    [
        pytest.param(2, "25%", 3, id="25pct_of_2_rounds_up_to_1"),
        pytest.param(4, "25%", 5, id="25pct_of_4_is_exactly_1"),
        pytest.param(5, "25%", 7, id="25pct_of_5_rounds_up_to_2"),
        pytest.param(3, "1%", 4, id="1pct_is_at_least_1"),
        pytest.param(10, "30%", 13, id="30pct_of_10_is_3_despite_float_error"),
        pytest.param(3, "100%", 6, id="100pct_doubles"),
        pytest.param(15, "50%", 20, id="50pct_of_15_rounds_up_then_clamps"),
    ],
)
def test_percent_steps_round_up_at_least_one(make_policy, hot, replicas, percent, to) -> None:
    policy = make_policy(scaleUp={"step": percent}, replicas={"min": 1, "max": 20})
    assert run(policy, hot, now=300, replicas=replicas).to_replicas == to


def test_percent_step_down_rounds_up_at_least_one(make_policy, idle) -> None:
    policy = make_policy(scaleDown={"step": "10%"}, replicas={"min": 1, "max": 20})
    assert run(policy, idle, now=600, replicas=4).to_replicas == 3  # 0.4 → 1
    assert run(policy, idle, now=600, replicas=11).to_replicas == 9  # 1.1 → 2


@pytest.mark.parametrize(
    ("replicas", "action", "to", "detail"),
    [
        pytest.param(1, "scale_up", 2, "1 outside 2–6", id="below_min_moves_up_to_min"),
        pytest.param(0, "scale_up", 2, "0 outside 2–6", id="zero_moves_up_to_min"),
        pytest.param(9, "scale_down", 6, "9 outside 2–6", id="above_max_moves_down_to_max"),
    ],
)
def test_current_outside_bounds_moves_toward_them(
    make_policy, calm, replicas, action, to, detail
) -> None:
    d = run(make_policy(), calm, now=300, replicas=replicas)
    assert (d.action, d.to_replicas, d.act) == (action, to, True)
    direction = "up" if action == "scale_up" else "down"
    assert d.reasons == (Reason("out_of_bounds", direction, detail=detail),)


def test_current_above_max_moves_down_even_when_scale_up_holds(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=300, replicas=8)
    assert (d.action, d.to_replicas) == ("scale_down", 6)


def test_out_of_bounds_respects_that_direction_cooldown(make_policy, calm) -> None:
    d = run(make_policy(), calm, now=700, replicas=9, confirmed=600)
    assert d.action == "none"
    assert d.reasons[-1] == Reason("cooldown", "down", remaining=1700)


def test_out_of_bounds_waits_for_fresh_data(make_policy, calm) -> None:
    d = run(make_policy(), calm, now=4000, replicas=9)
    assert (d.action, codes(d)) == ("none", ["stale_data"])


# --- both directions, modes, operations, unknown replicas ---------------------------------


def test_both_directions_true_scale_up_wins(make_policy, make_obs) -> None:
    policy = make_policy(
        scaleDown={"when": {"metric": "cpu", "aggregate": "max", "below": 95, "for": "10m"}}
    )
    obs = make_obs({"cpu.avg": lambda t: 85, "cpu.max": lambda t: 90}, end=600)
    d = run(policy, obs, now=600)
    assert (d.action, d.to_replicas) == ("scale_up", 4)
    assert d.reasons == (
        Reason("sustained", "up", UP),
        Reason("both_directions", detail="scale-up wins"),
    )
    at_max = run(policy, obs, now=600, replicas=6)
    assert at_max.action == "none"
    assert codes(at_max) == ["sustained", "both_directions", "at_max"]


def test_paused_never_acts_and_says_so(make_policy, hot) -> None:
    d = run(make_policy(mode="paused"), hot, now=300)
    assert (d.action, d.to_replicas, d.act, codes(d)) == ("none", 3, False, ["paused"])
    assert d.up is not None
    assert d.up.holds


def test_a_paused_hold_says_what_the_policy_would_have_done(make_policy, hot) -> None:
    """An SRE sees what resuming would do; the decision stays a hold (no operation, so no
    cooldown either) and its only reason code stays ``paused``."""
    d = run(make_policy(mode="paused"), hot, now=300)
    assert [str(r) for r in d.reasons] == [f"paused(would scale up 3 → 4: {UP})"]
    assert d.to_dict()["reasons"] == [{"code": "paused", "detail": f"would scale up 3 → 4: {UP}"}]
    active = run(make_policy(), hot, now=300)
    assert (active.action, active.from_replicas, active.to_replicas) == ("scale_up", 3, 4)


def test_a_paused_hold_says_only_paused_when_the_policy_would_hold_anyway(
    make_policy, hot, calm
) -> None:
    assert [str(r) for r in run(make_policy(mode="paused"), calm, now=300).reasons] == ["paused"]
    # in its cooldown, the active policy would hold too: nothing "would" happen
    cooling = run(make_policy(mode="paused"), hot, now=300, confirmed=200)
    assert [str(r) for r in cooling.reasons] == ["paused"]


def test_paused_wins_over_out_of_bounds(make_policy, calm) -> None:
    d = run(make_policy(mode="paused"), calm, now=300, replicas=1)
    assert (d.action, d.act, codes(d)) == ("none", False, ["paused"])
    assert str(d.reasons[0]).startswith("paused(would scale up 1 → ")


def test_dry_run_decides_but_does_not_act(make_policy, hot) -> None:
    d = run(make_policy(mode="dry-run"), hot, now=300)
    assert (d.action, d.to_replicas, d.act) == ("scale_up", 4, False)
    assert d.reasons == (Reason("sustained", "up", UP), Reason("dry_run"))


def test_dry_run_still_respects_cooldown(make_policy, hot) -> None:
    d = run(make_policy(mode="dry-run"), hot, now=1000, confirmed=600)
    assert (d.action, codes(d)) == ("none", ["sustained", "cooldown"])


def test_operation_in_progress_takes_no_decision(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=300, busy=True)
    assert (d.action, d.to_replicas, codes(d)) == ("none", 3, ["operation_in_progress"])


def test_unknown_replicas_decides_nothing(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=300, replicas=None)
    assert (d.action, d.from_replicas, d.to_replicas) == ("none", None, None)
    assert d.reasons == (Reason("stale_data", detail="current replicas unknown"),)


def test_policy_with_only_scale_up_never_scales_down(make_policy, idle) -> None:
    d = run(make_policy(scaleDown=None), idle, now=3000, replicas=5)
    assert d.action == "none"
    assert d.down is None


# --- reasons and reports ------------------------------------------------------------------


def test_decision_to_dict_is_the_api_shape(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=300)
    assert d.to_dict() == {
        "policy": "unit",
        "at": 300,
        "action": "scale_up",
        "from": 3,
        "to": 4,
        "act": True,
        "reasons": [{"code": "sustained", "direction": "up", "condition": UP}],
    }
    assert d.reason_codes == ("sustained",)


def test_decision_reports_every_leaf_of_both_directions(make_policy, hot) -> None:
    d = run(make_policy(), hot, now=299)
    assert d.up is not None
    assert d.down is not None
    leaves = {leaf.condition: leaf for leaf in (*d.up.leaves, *d.down.leaves)}
    assert set(leaves) == {UP, DOWN}
    assert (leaves[UP].elapsed, leaves[UP].needed, leaves[UP].value) == (299, 300, 85)
    assert leaves[DOWN].metric == "cpu.max"


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (Reason("sustained", "up", UP), f"sustained(up; {UP})"),
        (
            Reason("not_sustained", "down", DOWN, 90, 600),
            f"not_sustained(down; {DOWN}; 1m30s of 10m)",
        ),
        (Reason("cooldown", "down", remaining=5400), "cooldown(down; 1h30m left)"),
        (Reason("at_max", "up", detail="max 6"), "at_max(up; max 6)"),
        (Reason("paused"), "paused"),
        (Reason("unsafe", "down", detail="disk 80% > 75%"), "unsafe(down; disk 80% > 75%)"),
    ],
)
def test_reason_text(reason: Reason, text: str) -> None:
    assert str(reason) == text
