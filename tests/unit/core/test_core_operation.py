"""The operation state machine, one rule per test (``core.operation``, DESIGN §6)."""

from __future__ import annotations

import pytest

from autoscaler.core.operation import (
    Operation,
    Outcome,
    Phase,
    advance,
    deadline,
    start,
    with_plan,
)
from autoscaler.core.policy import Safety

DONE = Outcome("done", "ok")


def up_op(now: float = 100.0) -> Operation:
    return start(
        op_id="u1",
        policy="p",
        target="statefulset/ns/es",
        from_replicas=3,
        to_replicas=4,
        members=("es-3",),
        now=now,
        health_before="green",
    ).op


def down_op(now: float = 100.0) -> Operation:
    return start(
        op_id="d1",
        policy="p",
        target="statefulset/ns/es",
        from_replicas=4,
        to_replicas=3,
        members=("es-3",),
        now=now,
    ).op


def walk(op: Operation, *outcomes: Outcome, at: float = 200.0) -> Operation:
    for i, o in enumerate(outcomes):
        op = advance(op, o, now=at + i).op
    return op


def test_scale_up_starts_by_writing_the_scale_and_down_by_the_preflight() -> None:
    assert up_op().phase == "scaling"
    assert up_op().joining == ("es-3",)
    assert down_op().phase == "preflight"
    assert down_op().victims == ("es-3",)


def test_start_refuses_an_operation_without_a_change() -> None:
    with pytest.raises(ValueError, match="needs a change"):
        start(op_id="x", policy="p", target="t", from_replicas=3, to_replicas=3, members=(), now=0)


@pytest.mark.parametrize(
    ("phase", "next_phase"),
    [
        ("scaling", "waiting_for_pods"),
        ("waiting_for_pods", "waiting_for_join"),
        ("waiting_for_join", "rebalancing"),
        ("rebalancing", "done"),
    ],
)
def test_scale_up_phases_follow_each_other_in_order(phase: Phase, next_phase: Phase) -> None:
    op = up_op()
    while op.phase != phase:
        op = advance(op, DONE, now=150).op
    assert advance(op, DONE, now=160).op.phase == next_phase


def test_scale_up_is_confirmed_only_after_rebalancing_and_confirmation_time_is_recorded() -> None:
    tr = advance(walk(up_op(), DONE, DONE, DONE), Outcome("done", "rebalanced"), now=500.0)
    assert (tr.op.state, tr.op.confirmed_at) == ("confirmed", 500.0)
    assert [a.reason for a in tr.announce] == ["ScaleConfirmed"]


@pytest.mark.parametrize(
    ("phase", "next_phase"),
    [
        ("preflight", "excluding"),
        ("excluding", "draining"),
        ("draining", "scaling"),
        ("scaling", "removing"),
        ("removing", "cleaning_up"),
        ("cleaning_up", "done"),
    ],
)
def test_scale_down_drains_before_scaling_and_cleans_up_after(
    phase: Phase, next_phase: Phase
) -> None:
    op = down_op()
    while op.phase != phase:
        op = advance(op, DONE, now=150).op
    assert advance(op, DONE, now=160).op.phase == next_phase


def test_scale_down_is_confirmed_after_cleanup() -> None:
    op = walk(down_op(), *[DONE] * 6)
    assert (op.state, op.failure) == ("confirmed", None)


def test_refused_preflight_fails_as_unsafe_with_no_side_effect_phase() -> None:
    tr = advance(down_op(), Outcome("refused", "cluster is yellow"), now=101)
    assert tr.op.state == "failed"
    assert tr.op.failure == "unsafe(cluster is yellow)"
    # straight from preflight to the end: no exclusion, no scale was ever a next step
    assert [s.phase for s in tr.op.history] == ["preflight", "done"]
    assert tr.announce[0].reason == "ScaleFailed"


def test_drain_timeout_removes_our_exclusion_and_fails_without_scaling() -> None:
    op = walk(down_op(), DONE, DONE)  # preflight, excluding
    assert op.phase == "draining"
    op = advance(op, Outcome("timeout", "victims not drained"), now=300).op
    assert (op.phase, op.state) == ("cleaning_up", "running")
    op = advance(op, DONE, now=301).op
    assert op.state == "failed"
    assert op.failure == "victims not drained"
    assert "scaling" not in [s.phase for s in op.history]


def test_scale_write_denied_after_exclusions_cleans_up_then_fails() -> None:
    op = walk(down_op(), DONE, DONE, DONE)
    assert op.phase == "scaling"
    op = advance(op, Outcome("failed", "forbidden (HTTP 403)"), now=300).op
    assert op.phase == "cleaning_up"
    assert walk(op, DONE).state == "failed"


def test_scale_up_write_denied_fails_at_once() -> None:
    op = advance(up_op(), Outcome("failed", "forbidden (HTTP 403)"), now=101).op
    assert (op.state, op.failure) == ("failed", "forbidden (HTTP 403)")


@pytest.mark.parametrize("phase", ["waiting_for_pods", "waiting_for_join"])
def test_pods_or_nodes_not_joining_in_time_roll_back_through_the_drain_path(phase: Phase) -> None:
    op = up_op()
    while op.phase != phase:
        op = advance(op, DONE, now=150).op
    tr = advance(op, Outcome("timeout", "es-3 not ready"), now=200)
    op = tr.op
    assert (op.phase, op.rollback, op.victims, op.writes) == ("excluding", True, ("es-3",), 3)
    assert tr.announce[0].reason == "ScaleRollingBack"
    op = walk(op, *[DONE] * 5)  # excluding, draining, scaling (back to 3), removing, cleanup
    assert op.state == "rolled_back"
    assert op.failure == "es-3 not ready"


def test_a_rollback_whose_drain_fails_ends_failed_not_rolled_back() -> None:
    op = walk(up_op(), DONE, Outcome("timeout", "es-3 did not join"))
    op = walk(op, DONE, Outcome("timeout", "not drained"), DONE)
    assert op.state == "failed"
    assert op.failure == "es-3 did not join; rollback failed: not drained"


def test_rebalance_timeout_fails_and_keeps_the_new_size() -> None:
    op = walk(up_op(), DONE, DONE, DONE, Outcome("timeout", "still relocating"))
    assert op.state == "failed"
    assert "scaling" not in [s.phase for s in op.history[2:]]


def test_pods_not_terminating_fail_and_keep_the_exclusion() -> None:
    op = walk(down_op(), DONE, DONE, DONE, DONE, Outcome("timeout", "es-3 still there"))
    assert op.state == "failed"
    assert "cleaning_up" not in [s.phase for s in op.history]
    assert "exclusion of es-3 kept" in (op.failure or "")


def test_a_finished_operation_cannot_advance() -> None:
    op = advance(down_op(), Outcome("refused", "x"), now=1).op
    with pytest.raises(ValueError, match="nothing to advance"):
        advance(op, DONE, now=2)


def test_phase_deadlines_come_from_policy_safety_and_the_persisted_phase_start() -> None:
    safety = Safety(drainTimeout="60s", joinTimeout="30s", rebalanceTimeout="90s")
    op = walk(down_op(), DONE, DONE, at=1000.0)
    assert op.phase == "draining"
    assert deadline(op, safety) == op.phase_started_at + 60
    up = walk(up_op(), DONE, at=2000.0)
    assert deadline(up, safety) == 2000.0 + 30
    assert deadline(down_op(), safety) is None  # preflight: no own deadline


def test_recording_the_exclusion_plan_keeps_phase_and_its_start() -> None:
    op = walk(down_op(), DONE, at=500.0)
    planned = with_plan(op, excluded=("es-3",), voting_excluded=(), now=600.0)
    assert (planned.phase, planned.phase_started_at) == ("excluding", 500.0)
    assert planned.excluded == ("es-3",)


def test_operations_round_trip_through_their_stored_form() -> None:
    op = walk(up_op(), DONE, Outcome("timeout", "never ready"))
    op = with_plan(op, excluded=("es-3",), voting_excluded=("es-3",), now=300)
    assert Operation.from_dict(op.to_dict()) == op


def test_the_api_view_has_exactly_the_documented_fields() -> None:
    assert set(up_op().view()) == {
        "id", "policy", "target", "direction", "from", "to", "state", "phase", "victims",
        "startedAt", "updatedAt", "confirmedAt", "failure", "failureReason", "history",
    }  # fmt: skip


def test_stored_operations_with_unknown_phase_are_rejected() -> None:
    d = up_op().to_dict()
    d["phase"] = "teleporting"
    with pytest.raises(ValueError, match="unknown phase"):
        Operation.from_dict(d)


def test_every_transition_is_announced_with_a_reason_named_after_what_happened() -> None:
    op = down_op()
    reasons = []
    for _ in range(6):
        tr = advance(op, DONE, now=150)
        reasons.append(tr.announce[0].reason)
        op = tr.op
    assert reasons == [
        "Excluding", "Draining", "Scaling", "Removing", "CleaningUp", "ScaleConfirmed",
    ]  # fmt: skip


def test_a_blocked_drain_removes_our_exclusion_and_fails_announcing_drain_blocked() -> None:
    op = walk(down_op(), DONE, DONE)  # preflight, excluding
    why = "drain blocked: [logs][1] replica on es-3 cannot move"
    tr = advance(op, Outcome("blocked", why), now=300)
    assert (tr.op.phase, tr.op.aborted) == ("cleaning_up", True)
    assert [(a.reason, a.message, a.warning) for a in tr.announce] == [("DrainBlocked", why, True)]
    op = advance(tr.op, DONE, now=301).op
    assert (op.state, op.failure, op.failure_reason) == ("failed", why, "drain_blocked")
    assert "scaling" not in [s.phase for s in op.history]


@pytest.mark.parametrize(
    ("outcomes", "reason"),
    [
        ((Outcome("refused", "cluster is yellow"),), "refused"),
        ((DONE, DONE, Outcome("timeout", "stalled"), DONE), "timeout"),
        ((DONE, DONE, Outcome("blocked", "pinned"), DONE), "drain_blocked"),
        # the cleanup failing afterwards does not replace the first failure's reason
        ((DONE, DONE, Outcome("blocked", "pinned"), Outcome("failed", "403")), "drain_blocked"),
        ((DONE, DONE, DONE, Outcome("failed", "forbidden"), DONE), "failed"),
        ((DONE,) * 6, None),
    ],
)
def test_the_first_failure_of_an_operation_records_its_reason_for_metrics(
    outcomes: tuple[Outcome, ...], reason: str | None
) -> None:
    op = walk(down_op(), *outcomes)
    assert not op.running
    assert op.failure_reason == reason
    assert Operation.from_dict(op.to_dict()).failure_reason == reason


def test_blocked_outside_the_drain_is_an_ordinary_failure() -> None:
    tr = advance(down_op(), Outcome("blocked", "odd"), now=101)
    assert (tr.op.state, tr.op.failure) == ("failed", "odd")
    assert tr.announce[0].reason == "ScaleFailed"
