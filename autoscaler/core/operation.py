"""The scale operation as a pure state machine: ``advance(op, outcome, now) -> Transition``.

Acting on a cluster is a sequence of slow, failure-prone steps (write the scale, wait for
pods, wait for shards to move, ...). Keeping *which step comes next* apart from *doing* the
step lets every rule be table-tested without a cluster, and lets the runner (the imperative
shell in ``autoscaler.operations.runner``) persist the operation before each side effect and
resume it after a crash: each phase names one idempotent piece of work, so re-running the
phase a crash interrupted is always safe (DESIGN §6).

Phases (plain words shared by the API, Events, logs and metrics):

- scale-up: ``scaling`` -> ``waiting_for_pods`` -> ``waiting_for_join`` -> ``rebalancing`` →
  confirmed. Pods never Ready / nodes never joined within ``joinTimeout`` -> roll back.
- scale-down: ``preflight`` -> ``excluding`` -> ``draining`` -> ``scaling`` -> ``removing`` →
  ``cleaning_up`` -> confirmed. A refused preflight fails with no side effect; a drain that
  times out, or that Elasticsearch says can never finish (``blocked``: a copy on a victim may
  not remain and may not move anywhere), goes to ``cleaning_up`` (our exclusion is removed)
  and fails without scaling.
- rollback of a scale-up: the scale-down path (``excluding`` … ``cleaning_up``) with the new
  members as victims and the old size as the goal, so a node that did join and took shards
  is drained before it goes; it ends ``rolled_back``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from autoscaler.core.durations import format_duration
from autoscaler.core.policy import Safety

Phase = Literal[
    "preflight",
    "scaling",
    "waiting_for_pods",
    "waiting_for_join",
    "rebalancing",
    "excluding",
    "draining",
    "removing",
    "cleaning_up",
    "done",
]
PHASES: tuple[Phase, ...] = get_args(Phase)
State = Literal["running", "confirmed", "failed", "rolled_back"]
OpDirection = Literal["up", "down"]
OutcomeKind = Literal["done", "timeout", "failed", "refused", "blocked"]
"""``blocked``: the drain can never finish (allocation explain said so); any other phase
treats it as ``failed``."""
FailureReason = Literal["refused", "timeout", "failed", "drain_blocked"]
"""Why an operation failed, for metrics: the kind of the outcome that failed it."""
_FAILURE_REASONS: dict[str, FailureReason] = {
    "refused": "refused",
    "timeout": "timeout",
    "failed": "failed",
    "blocked": "drain_blocked",
}


def _failure_reason(value: Any) -> FailureReason | None:
    """A stored ``failureReason`` back to its literal (anything unknown: None)."""
    for reason in _FAILURE_REASONS.values():
        if value == reason:
            return reason
    return None


HISTORY_LIMIT = 50


@dataclass(frozen=True)
class Step:
    """One line of an operation's history."""

    phase: str
    at: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "at": self.at, "detail": self.detail}


@dataclass(frozen=True)
class Operation:
    """One scale operation of one target, everything needed to resume it after a restart."""

    id: str
    policy: str
    target: str
    direction: OpDirection
    from_replicas: int
    to_replicas: int
    started_at: float
    updated_at: float
    phase: Phase
    phase_started_at: float
    state: State = "running"
    victims: tuple[str, ...] = ()
    """Members leaving (scale-down or rollback): the highest ordinals."""
    joining: tuple[str, ...] = ()
    """Members a scale-up adds (their ES nodes must join and hold shards)."""
    known_before: tuple[str, ...] | None = None
    """Tier node names before a scale-up of a target whose members Elasticsearch names (VMs):
    the joining nodes are learnt as tier nodes not in this set, never guessed."""
    excluded: tuple[str, ...] | None = None
    """Names *we* added to ``exclude._name`` (None until planned; the user's are never here)."""
    voting_excluded: tuple[str, ...] | None = None
    """Master-eligible victims we added voting-config exclusions for (None until planned)."""
    rollback: bool = False
    goal: int | None = None
    """Replicas the current path writes (``to_replicas``, or ``from_replicas`` in rollback)."""
    health_before: str | None = None
    """Cluster health when the operation started: a scale-up must not leave it worse."""
    aborted: bool = False
    """The current path failed after touching the cluster; cleaning up ends ``failed``."""
    confirmed_at: float | None = None
    failure: str | None = None
    failure_reason: FailureReason | None = None
    """The kind of the outcome that failed the operation (set with ``failure``)."""
    history: tuple[Step, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def writes(self) -> int:
        """The replicas the scale write of the current path sets."""
        return self.goal if self.goal is not None else self.to_replicas

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the store (a superset of ``view``)."""
        out = self.view()
        out.update(
            {
                "phaseStartedAt": self.phase_started_at,
                "joining": list(self.joining),
                "knownBefore": None if self.known_before is None else list(self.known_before),
                "excluded": None if self.excluded is None else list(self.excluded),
                "votingExcluded": (
                    None if self.voting_excluded is None else list(self.voting_excluded)
                ),
                "rollback": self.rollback,
                "goal": self.goal,
                "healthBefore": self.health_before,
                "aborted": self.aborted,
                "failureReason": self.failure_reason,
            }
        )
        return out

    def view(self) -> dict[str, Any]:
        """The ``/api/v1/operations`` shape (issue 8 §3)."""
        return {
            "id": self.id,
            "policy": self.policy,
            "target": self.target,
            "direction": self.direction,
            "from": self.from_replicas,
            "to": self.to_replicas,
            "state": self.state,
            "phase": self.phase,
            "victims": list(self.victims),
            "startedAt": self.started_at,
            "updatedAt": self.updated_at,
            "confirmedAt": self.confirmed_at,
            "failure": self.failure,
            "failureReason": self.failure_reason,
            "history": [s.to_dict() for s in self.history],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Operation:
        def names(key: str) -> tuple[str, ...] | None:
            v = d.get(key)
            return None if v is None else tuple(str(x) for x in v)

        phase = d["phase"]
        state = d["state"]
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        if state not in ("running", "confirmed", "failed", "rolled_back"):
            raise ValueError(f"unknown state {state!r}")
        direction = d["direction"]
        if direction not in ("up", "down"):
            raise ValueError(f"unknown direction {direction!r}")
        return cls(
            id=str(d["id"]),
            policy=str(d["policy"]),
            target=str(d["target"]),
            direction=direction,
            from_replicas=int(d["from"]),
            to_replicas=int(d["to"]),
            started_at=float(d["startedAt"]),
            updated_at=float(d["updatedAt"]),
            phase=phase,
            phase_started_at=float(d.get("phaseStartedAt", d["updatedAt"])),
            state=state,
            victims=names("victims") or (),
            joining=names("joining") or (),
            known_before=names("knownBefore"),
            excluded=names("excluded"),
            voting_excluded=names("votingExcluded"),
            rollback=bool(d.get("rollback", False)),
            goal=None if d.get("goal") is None else int(d["goal"]),
            health_before=d.get("healthBefore"),
            aborted=bool(d.get("aborted", False)),
            confirmed_at=None if d.get("confirmedAt") is None else float(d["confirmedAt"]),
            failure=d.get("failure"),
            failure_reason=_failure_reason(d.get("failureReason")),
            history=tuple(
                Step(str(s["phase"]), float(s["at"]), str(s["detail"]))
                for s in d.get("history", [])
            ),
        )


@dataclass(frozen=True)
class Outcome:
    """What the runner observed when it ran the current phase."""

    kind: OutcomeKind
    detail: str = ""


@dataclass(frozen=True)
class Announcement:
    """Tell the world (JSON log line, Kubernetes Event, metrics) about a transition."""

    reason: str
    """Kubernetes Event reason: ScalingUp, Draining, ScaleConfirmed, ScaleFailed, ..."""
    message: str
    warning: bool = False


@dataclass(frozen=True)
class Transition:
    op: Operation
    announce: tuple[Announcement, ...] = field(default=())

    @property
    def finished(self) -> bool:
        return not self.op.running


def start(
    *,
    op_id: str,
    policy: str,
    target: str,
    from_replicas: int,
    to_replicas: int,
    members: tuple[str, ...],
    now: float,
    health_before: str | None = None,
) -> Transition:
    """A new operation. ``members`` are the names of ordinals ``min..max-1`` of the change:
    the joining members of a scale-up, the victims of a scale-down (highest ordinals)."""
    if from_replicas == to_replicas:
        raise ValueError("an operation needs a change in replicas")
    up = to_replicas > from_replicas
    direction: OpDirection = "up" if up else "down"
    phase: Phase = "scaling" if up else "preflight"
    detail = f"scale {'up' if up else 'down'} {from_replicas} → {to_replicas}"
    op = Operation(
        id=op_id,
        policy=policy,
        target=target,
        direction=direction,
        from_replicas=from_replicas,
        to_replicas=to_replicas,
        started_at=now,
        updated_at=now,
        phase=phase,
        phase_started_at=now,
        victims=() if up else members,
        joining=members if up else (),
        goal=to_replicas,
        health_before=health_before,
        history=(Step(phase, now, detail),),
    )
    reason = "ScalingUp" if up else "ScalingDown"
    return Transition(op, (Announcement(reason, f"{detail} ({', '.join(members)})"),))


def phase_timeout(phase: Phase, safety: Safety) -> float | None:
    """How long a phase may take before it counts as timed out (None: no own deadline)."""
    return {
        "waiting_for_pods": safety.joinTimeout,
        "waiting_for_join": safety.joinTimeout,
        "rebalancing": safety.rebalanceTimeout,
        "draining": safety.drainTimeout,
        "removing": safety.joinTimeout,
        "cleaning_up": safety.rebalanceTimeout,
    }.get(phase)


def deadline(op: Operation, safety: Safety) -> float | None:
    """When the current phase times out: measured from when the phase began (persisted), so
    a restart does not restart the clock."""
    limit = phase_timeout(op.phase, safety)
    return None if limit is None else op.phase_started_at + limit


def _to(op: Operation, phase: Phase, now: float, detail: str, **changes: Any) -> Operation:
    history = (*op.history, Step(phase, now, detail))[-HISTORY_LIMIT:]
    return replace(
        op,
        phase=phase,
        phase_started_at=now if phase != op.phase else op.phase_started_at,
        updated_at=now,
        history=history,
        **changes,
    )


def _end(op: Operation, state: State, now: float, detail: str, **changes: Any) -> Operation:
    out = _to(op, "done", now, detail, state=state, **changes)
    if state == "confirmed":
        out = replace(out, confirmed_at=now)
    return out


def _roll_back(op: Operation, now: float, why: str) -> Transition:
    """A scale-up that cannot complete: leave through the safe scale-down path."""
    new = _to(
        op,
        "excluding",
        now,
        f"rolling back to {op.from_replicas}: {why}",
        rollback=True,
        victims=op.joining,
        goal=op.from_replicas,
        failure=why,
        excluded=None,
        voting_excluded=None,
    )
    return Transition(
        new,
        (Announcement("ScaleRollingBack", f"{why}; scaling back to {op.from_replicas}", True),),
    )


def _cleanup_after_failure(op: Operation, now: float, why: str) -> Transition:
    if op.rollback:
        why = f"{op.failure}; rollback failed: {why}"
    new = _to(op, "cleaning_up", now, f"undoing our exclusions: {why}", failure=why, aborted=True)
    return Transition(new, (Announcement("ScaleFailing", why, True),))


def _fail(op: Operation, now: float, why: str) -> Transition:
    new = _end(op, "failed", now, why, failure=why)
    return Transition(new, (Announcement("ScaleFailed", why, True),))


def _finish(op: Operation, now: float, detail: str) -> Transition:
    """End of ``cleaning_up``: confirmed, rolled back, or failed (an abort wins)."""
    if op.aborted:
        return _fail(op, now, op.failure or detail)
    if op.rollback:
        new = _end(op, "rolled_back", now, f"rolled back to {op.from_replicas}: {op.failure}")
        return Transition(new, (Announcement("ScaleRolledBack", new.history[-1].detail, True),))
    new = _end(op, "confirmed", now, detail)
    msg = f"scaled {op.direction} {op.from_replicas} → {op.to_replicas}: {detail}"
    return Transition(new, (Announcement("ScaleConfirmed", msg),))


PHASE_REASONS: dict[str, str] = {
    "preflight": "Preflight",
    "scaling": "Scaling",
    "waiting_for_pods": "WaitingForPods",
    "waiting_for_join": "WaitingForJoin",
    "rebalancing": "Rebalancing",
    "excluding": "Excluding",
    "draining": "Draining",
    "removing": "Removing",
    "cleaning_up": "CleaningUp",
}
"""Event reason of entering each phase (when the rule names no more specific one)."""


def advance(op: Operation, outcome: Outcome, *, now: float) -> Transition:
    """The next state of ``op`` after its current phase ended with ``outcome``. Pure.
    Every transition is announced: by the rule's own reason, else by the phase entered.
    The first failure also records its reason (the outcome's kind) for metrics."""
    tr = _advance(op, outcome, now=now)
    if tr.op.failure is not None and tr.op.failure_reason is None:
        failed_by = _FAILURE_REASONS.get(outcome.kind, "failed")
        tr = Transition(replace(tr.op, failure_reason=failed_by), tr.announce)
    if tr.announce:
        return tr
    entered = tr.op.history[-1] if tr.op.history else None
    detail = entered.detail if entered else ""
    reason = PHASE_REASONS.get(tr.op.phase, "ScaleProgress")
    return Transition(tr.op, (Announcement(reason, f"{tr.op.phase}: {detail}"),))


def _advance(op: Operation, outcome: Outcome, *, now: float) -> Transition:
    if not op.running:
        raise ValueError(f"operation {op.id} is {op.state}; nothing to advance")
    kind, detail, phase = outcome.kind, outcome.detail, op.phase
    leaving = op.direction == "down" or op.rollback

    if phase == "preflight":
        if kind == "done":
            return Transition(_to(op, "excluding", now, detail or "preflight passed"))
        # refused, failed or timeout: nothing was touched yet, so just fail
        why = f"unsafe({detail})" if kind == "refused" else detail
        return _fail(op, now, why)

    if phase == "scaling":
        if kind == "done":
            nxt: Phase = "removing" if leaving else "waiting_for_pods"
            return Transition(_to(op, nxt, now, detail or f"replicas set to {op.writes}"))
        if leaving:
            # our exclusions are in place: undo them, replicas unchanged
            return _cleanup_after_failure(op, now, detail)
        if op.known_before is not None and op.joining:
            # VMs: a playbook that failed part-way, after some new nodes appeared in the
            # cluster: take those out through the safe path (drain, then scale-down playbook)
            return _roll_back(op, now, detail)
        return _fail(op, now, detail)

    if phase in ("waiting_for_pods", "waiting_for_join"):
        if kind == "done":
            nxt = "waiting_for_join" if phase == "waiting_for_pods" else "rebalancing"
            return Transition(_to(op, nxt, now, detail))
        return _roll_back(op, now, detail)

    if phase == "rebalancing":
        if kind == "done":
            return _finish(op, now, detail or "shards rebalanced")
        # the new nodes are in and hold or will hold data: scaling back would only move
        # shards again; the operation fails and replicas stay where they are
        return _fail(op, now, detail)

    if phase == "excluding":
        if kind == "done":
            return Transition(_to(op, "draining", now, detail))
        return _cleanup_after_failure(op, now, detail)

    if phase == "draining":
        if kind == "done":
            return Transition(_to(op, "scaling", now, detail))
        tr = _cleanup_after_failure(op, now, detail)
        if kind == "blocked":
            # Elasticsearch said a copy can never leave: its own Event reason, so an operator
            # filtering Events sees "DrainBlocked" and the deciders' words, not a generic fail
            return Transition(tr.op, (Announcement("DrainBlocked", tr.op.failure or detail, True),))
        return tr

    if phase == "removing":
        if kind == "done":
            return Transition(_to(op, "cleaning_up", now, detail))
        # pods scaled away but still running: lifting our exclusion would let shards move
        # back onto members that are about to vanish; keep it and fail loudly
        return _fail(op, now, f"{detail}; exclusion of {', '.join(op.victims)} kept")

    if phase == "cleaning_up":
        if kind == "done":
            return _finish(op, now, detail or "cluster green")
        why = detail if op.failure is None else f"{op.failure}; then {detail}"
        return _fail(op, now, why)

    raise ValueError(f"operation {op.id} in unexpected phase {phase!r}")


def with_plan(
    op: Operation,
    *,
    excluded: tuple[str, ...],
    voting_excluded: tuple[str, ...],
    now: float,
) -> Operation:
    """Record which exclusions are ours *before* writing them (so a resume removes exactly
    those, never a name the user had excluded already)."""
    detail = f"excluding {', '.join(excluded) or 'nothing new'}" + (
        f"; voting exclusions {', '.join(voting_excluded)}" if voting_excluded else ""
    )
    return _to(op, op.phase, now, detail, excluded=excluded, voting_excluded=voting_excluded)


def timed_out(phase: Phase, seconds: float, what: str) -> Outcome:
    return Outcome("timeout", f"{what} within {format_duration(seconds)} ({phase} timed out)")
