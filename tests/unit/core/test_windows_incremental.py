"""Incremental sustained windows equal the walk-back definition (hypothesis), live and offline.

``core.windows.sustained`` answers from run starts memoised per series and predicate (O(1) per
new sample) instead of walking each window back. These properties pin it to the definition:
``rescan`` below is the walk-back the engine used before (the DESIGN §5 rule written out
sample by sample), and every field of the result must be equal — on random series with gaps,
on series grown sample by sample and trimmed the way the live service grows them, and with a
floor (``not_before``). ``may_act`` (the back-test's shortcut) must never say "no action" when
``decide`` acts.
"""

from __future__ import annotations

import itertools
import operator
from functools import partial

from hypothesis import given, settings
from hypothesis import strategies as st

from autoscaler.core.alerts import AlertBook
from autoscaler.core.engine import TargetState, decide, may_act
from autoscaler.core.observations import Observations, Series
from autoscaler.core.policy import Policy
from autoscaler.core.windows import (
    Predicate,
    WindowResult,
    quiet_from_runs,
    run_starts,
    sustained,
)

PROFILE = settings(max_examples=200, deadline=None)


def rescan(
    series: Series,
    predicate: Predicate,
    *,
    duration: float | None,
    now: float,
    staleness: float,
    not_before: float | None = None,
) -> WindowResult:
    """The reference: walk back from the newest sample at or before ``now``."""
    needed = duration or 0.0
    end = series.upto(now)
    if end == 0:
        return WindowResult(False, True, 0.0, needed, None, None)
    latest_at, latest = series.times[end - 1], series.values[end - 1]
    if now - latest_at > staleness:
        return WindowResult(False, True, 0.0, needed, latest, latest_at)
    floor = not_before if not_before is not None else float("-inf")
    start_at: float | None = None
    i = end - 1
    newer = now
    while i >= 0:
        at = series.times[i]
        if at < floor or newer - at > staleness or not predicate(series.values[i]):
            break
        start_at = at
        newer = at
        if now - at >= needed:
            break
        i -= 1
    if start_at is None:
        return WindowResult(False, False, 0.0, needed, latest, latest_at)
    elapsed = now - start_at
    return WindowResult(
        elapsed >= needed if needed > 0 else True, False, elapsed, needed, latest, latest_at
    )


# Sample spacing mostly regular, sometimes jittered by fractions (rounding in now − at), and
# sometimes a gap longer than the staleness limit; values from a small set so runs happen.
steps = st.one_of(
    st.just(10.0),
    st.floats(0.1, 12.0, allow_nan=False),
    st.sampled_from([0.1, 0.3, 29.9, 30.0, 30.1, 45.0, 200.0]),
)
values = st.sampled_from([10.0, 50.0, 79.9, 80.0, 80.1, 95.0])


@st.composite
def series_of(draw: st.DrawFn, max_size: int = 60) -> Series:
    start = draw(st.sampled_from([0.0, 94.42706955539224, 1e9 + 0.1, 1_785_456_000.0]))
    gaps = draw(st.lists(steps, min_size=max_size // 4, max_size=max_size))
    times = [start]
    for gap in gaps:
        nxt = times[-1] + gap
        if nxt > times[-1]:
            times.append(nxt)
    vals: list[float] = []
    while len(vals) < len(times):  # values come in runs, so that windows get sustained
        vals.extend([draw(values)] * draw(st.integers(1, 20)))
    return Series(tuple(times), tuple(vals[: len(times)]))


predicates = st.sampled_from(
    [
        ("above 80", partial(operator.lt, 80.0)),
        ("below 80", partial(operator.gt, 80.0)),
        ("above 50", partial(operator.lt, 50.0)),
    ]
)
# 0.1 and 0.3 are not binary fractions: ``now − at ≥ needed`` and ``at ≤ now − needed`` then
# round differently when ``now`` is a sample time plus the duration (see ``moments``).
durations = st.one_of(st.none(), st.sampled_from([0.0, 0.1, 0.3, 10.0, 30.0, 60.0, 95.5, 300.0]))


@st.composite
def moments(draw: st.DrawFn, s: Series, duration: float | None = None) -> float:
    """``now``: at a sample, just after one, a window's length after one, between two,
    before the first or after the last."""
    if not s.times:
        return draw(st.floats(-100, 100))
    i = draw(st.integers(0, len(s.times) - 1))
    offsets = [0.0, 0.0, 1e-7, 0.05, 5.0, 29.99, 31.0, -0.5]
    return s.times[i] + draw(st.sampled_from([*offsets, duration or 0.0]))


@PROFILE
@given(data=st.data())
def test_incremental_window_equals_rescanning_on_random_series(data: st.DataObject) -> None:
    s = data.draw(series_of())
    name, predicate = data.draw(predicates)
    duration = data.draw(durations)
    staleness = data.draw(st.sampled_from([30.0, 0.5, 1e9]))
    for _ in range(5):
        now = data.draw(moments(s, duration))
        not_before = data.draw(st.one_of(st.none(), moments(s)))
        expected = rescan(
            s, predicate, duration=duration, now=now, staleness=staleness, not_before=not_before
        )
        for key in (None, name):
            got = sustained(
                s,
                predicate,
                duration=duration,
                now=now,
                staleness=staleness,
                not_before=not_before,
                key=key,
            )
            assert got == expected


@PROFILE
@given(data=st.data())
def test_quiet_from_runs_holds_exactly_when_the_rescan_holds(data: st.DataObject) -> None:
    """The verdict-only check (``may_act``'s) without ``window_at``'s search for the newest
    sample at least ``needed`` old: the same ``holds`` as the walk-back, gaps, floors and
    rounding of ``now − at`` included."""
    s = data.draw(series_of())
    _, predicate = data.draw(predicates)
    duration = data.draw(durations)
    staleness = data.draw(st.sampled_from([30.0, 0.5, 1e9]))
    runs = run_starts(s, predicate=predicate, staleness=staleness)
    # the boundary on purpose: a window's length after the start of a run (or just before)
    edges = [r + (duration or 0.0) + d for r in runs if r == r for d in (0.0, -1e-6)]
    for _ in range(6):
        now = data.draw(st.one_of(moments(s, duration), st.sampled_from(edges or [0.0])))
        not_before = data.draw(st.one_of(st.none(), moments(s)))
        expected = rescan(
            s, predicate, duration=duration, now=now, staleness=staleness, not_before=not_before
        )
        got = quiet_from_runs(s.times, runs, duration or 0.0, now, staleness, not_before)
        assert (got is None) == expected.holds


@PROFILE
@given(data=st.data())
def test_a_quiet_bound_is_never_broken_by_a_later_check(data: st.DataObject) -> None:
    """``quiet_from_runs``'s bound ``b`` (``may_act`` answers "no" from it without asking
    again): the walk-back does not hold at any later ``now`` with ``now − b < needed`` —
    checked at every sample time after, at a window's length after each, and just before."""
    s = data.draw(series_of())
    _, predicate = data.draw(predicates)
    duration = data.draw(durations)
    needed = duration or 0.0
    staleness = data.draw(st.sampled_from([30.0, 0.5, 1e9]))
    not_before = data.draw(st.one_of(st.none(), moments(s)))
    runs = run_starts(s, predicate=predicate, staleness=staleness)
    now = data.draw(moments(s, duration))
    bound = quiet_from_runs(s.times, runs, needed, now, staleness, not_before)
    assert (bound is None) == rescan(
        s, predicate, duration=duration, now=now, staleness=staleness, not_before=not_before
    ).holds
    if bound is None:
        return
    later = {now, bound, bound + needed, bound + needed - 1e-6}
    later |= {t + d for t in s.times for d in (0.0, needed, needed - 1e-6, 0.05)}
    for t in sorted(x for x in later if x >= now and x - bound < needed):
        assert not rescan(
            s, predicate, duration=duration, now=t, staleness=staleness, not_before=not_before
        ).holds, (t, bound)


@PROFILE
@given(data=st.data())
def test_incremental_window_equals_rescanning_as_the_live_service_appends_and_trims(
    data: st.DataObject,
) -> None:
    """Grown one sample at a time with ``Observations.with_poll`` (which trims old samples
    and carries the memoised run starts over), checked after every poll."""
    full = data.draw(series_of(max_size=40))
    name, predicate = data.draw(predicates)
    duration = data.draw(durations)
    keep = data.draw(st.sampled_from([None, 0.5, 25.0, 60.0, 1e9]))
    key = ("cpu", "avg")
    obs = Observations()
    for at, value in zip(full.times, full.values, strict=True):
        keep_after = at - keep if keep is not None else None
        obs = obs.with_poll(at, {key: value}, keep_after=keep_after)
        s = obs.get(key)
        now = at + data.draw(st.sampled_from([0.0, 0.0, 3.0, 31.0]))
        not_before = data.draw(st.one_of(st.none(), st.just(at - 20.0)))
        expected = rescan(
            s, predicate, duration=duration, now=now, staleness=30.0, not_before=not_before
        )
        got = sustained(
            s,
            predicate,
            duration=duration,
            now=now,
            staleness=30.0,
            not_before=not_before,
            key=name,
        )
        assert got == expected


def _policy(
    up_above: int,
    down_below: int,
    up_for: str,
    down_for: str,
    lo: int,
    hi: int,
    mode: str = "active",
) -> Policy:
    return Policy.model_validate(
        {
            "name": "prop",
            "mode": mode,
            "replicas": {"min": lo, "max": hi},
            "scaleUp": {
                "when": {
                    "all": [
                        {"metric": "cpu", "aggregate": "avg", "above": up_above, "for": up_for},
                        {"metric": "heap", "aggregate": "avg", "above": up_above},
                    ]
                },
                "cooldown": "1m",
            },
            "scaleDown": {
                "when": {
                    "any": [
                        {"metric": "cpu", "aggregate": "avg", "below": down_below, "for": down_for},
                        {"metric": "heap", "aggregate": "avg", "below": down_below},
                    ]
                },
                "cooldown": "2m",
            },
        }
    )


@PROFILE
@given(data=st.data())
def test_may_act_is_false_only_when_decide_holds(data: st.DataObject) -> None:
    cpu = data.draw(series_of(max_size=40))
    heap = Series(cpu.times, tuple(data.draw(values) for _ in cpu.times))
    obs = Observations({("cpu", "avg"): cpu, ("heap", "avg"): heap}, cpu.times)
    policy = _policy(
        data.draw(st.sampled_from([50, 80])),
        data.draw(st.sampled_from([50, 80])),
        data.draw(st.sampled_from(["10s", "1m"])),
        data.draw(st.sampled_from(["0s", "30s"])),
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(3, 5)),
        data.draw(st.sampled_from(["active", "dry-run", "paused"])),
    )
    state = TargetState(
        data.draw(st.one_of(st.none(), st.integers(0, 6))),
        data.draw(st.booleans()),
        data.draw(st.one_of(st.none(), moments(cpu))),
    )
    now = data.draw(moments(cpu))
    decision = decide(policy, obs, AlertBook(), state, now)
    if not may_act(policy, obs, AlertBook(), state, now):
        assert decision.action == "none"


@PROFILE
@given(data=st.data())
def test_may_act_says_no_action_only_where_decide_holds_at_bounds_cooldowns_and_modes(
    data: st.DataObject,
) -> None:
    """``may_act`` skips a direction at its bound or in its cooldown, and everything when
    paused or while an operation runs: drawn where conditions hold often (one series of
    runs of 10 and 95 feeds both leaves, thresholds at 50), replicas at or next to a bound,
    ``now`` a fresh sample time and the last confirmation just before, at or just after a
    cooldown's end."""
    runs = data.draw(
        st.lists(
            st.tuples(st.sampled_from([10.0, 95.0]), st.integers(1, 15)), min_size=1, max_size=6
        )
    )
    vals = tuple(v for v, n in runs for _ in range(n))
    cpu = Series(tuple(1000.0 + 10.0 * i for i in range(len(vals))), vals)
    obs = Observations({("cpu", "avg"): cpu, ("heap", "avg"): cpu}, cpu.times)
    lo, hi = data.draw(st.integers(1, 3)), data.draw(st.integers(3, 5))
    policy = _policy(
        50,
        50,
        data.draw(st.sampled_from(["10s", "1m"])),
        data.draw(st.sampled_from(["0s", "30s"])),
        lo,
        hi,
        data.draw(st.sampled_from(["active", "active", "dry-run", "paused"])),
    )
    now = data.draw(st.sampled_from(cpu.times))
    since = data.draw(st.sampled_from([None, 0.0, 30.0, 59.99, 60.0, 60.01, 119.99, 120.0, 500.0]))
    state = TargetState(
        data.draw(st.sampled_from(sorted({lo, hi, max(lo, hi - 1), min(hi, lo + 1)}))),
        data.draw(st.sampled_from([False, False, False, True])),
        None if since is None else now - since,
    )
    decision = decide(policy, obs, AlertBook(), state, now)
    if not may_act(policy, obs, AlertBook(), state, now):
        assert decision.action == "none", decision.reasons


@settings(max_examples=50, deadline=None)  # each example asks ~100 times
@given(data=st.data())
def test_may_act_answers_a_replay_sample_after_sample_as_it_answers_each_afresh(
    data: st.DataObject,
) -> None:
    """A back-test asks ``may_act`` at every sample with the same observations and state
    objects; its remembered "no" (``Quiet``) must give the answer a fresh evaluation gives."""
    runs = data.draw(
        st.lists(
            st.tuples(st.sampled_from([10.0, 95.0]), st.integers(1, 15)),
            min_size=1,
            max_size=8,
        )
    )
    vals = tuple(v for v, n in runs for _ in range(n))
    steps = data.draw(st.lists(st.sampled_from([10.0, 10.0, 10.0, 45.0]), min_size=len(vals)))
    times = tuple(itertools.accumulate(steps[: len(vals)], initial=1000.0))[: len(vals)]
    cpu = Series(times, vals)
    heap = Series(times, (95.0,) * len(times))  # up reads cpu alone, down cpu's for-window
    obs = Observations({("cpu", "avg"): cpu, ("heap", "avg"): heap}, times)
    lo, hi = 1, 5
    policy = _policy(
        50,
        50,
        data.draw(st.sampled_from(["10s", "1m"])),
        data.draw(st.sampled_from(["0s", "30s"])),
        lo,
        hi,
    )
    states = [
        TargetState(
            data.draw(st.sampled_from([lo, lo + 1, hi - 1, hi])),
            False,
            # confirmed at a sample or between two: cooldowns then end inside a quiet spell
            data.draw(st.one_of(st.none(), st.sampled_from(times).map(lambda t: t + 3.0))),
        )
        for _ in range(2)
    ]
    books = [AlertBook(), AlertBook()]
    nows = sorted({t + d for t in times for d in (0.0, 5.0)})
    if data.draw(st.booleans()):  # mostly forward, as a replay asks; sometimes not
        nows = data.draw(st.permutations(nows))
    for now in nows:
        # a replay's state changes at confirmations; here any call may change it
        for state in data.draw(st.permutations(states)):
            book = data.draw(st.sampled_from(books))
            fresh = may_act(policy.model_copy(), obs, book, state, now)
            assert may_act(policy, obs, book, state, now) == fresh, now


def test_may_act_does_not_reuse_a_no_given_for_another_state_or_before_a_cooldown_ends() -> None:
    """cpu 95 from 1000 s on; scale-up needs 1m of it. Confirmed at 1003 (state A), windows
    start at the 1010 sample: at 1065 "no" (55 s of 60; scale-down in its cooldown). The same
    moment with nothing confirmed (state B, at min: scale-down is out) holds; A holds at 1070.
    With a 3m scale-up cooldown, a "no" at 1180 (scale-up cooling down, scale-down not
    holding until the next sample at 1190) is not reused at 1185, when scale-up may act."""
    times = tuple(1000.0 + 10 * i for i in range(31))
    cpu = Series(times, (95.0,) * len(times))
    obs = Observations({("cpu", "avg"): cpu, ("heap", "avg"): cpu}, times)
    policy = _policy(50, 50, "1m", "30s", 1, 5)
    a, b = TargetState(2, False, 1003.0), TargetState(1, False, None)
    book = AlertBook()
    assert may_act(policy, obs, book, a, 1065.0) is False
    assert may_act(policy, obs, book, b, 1065.0) is True
    assert may_act(policy, obs, book, a, 1066.0) is False
    assert may_act(policy, obs, book, a, 1070.0) is True
    assert policy.scaleUp is not None
    slow_up = policy.model_copy(
        update={"scaleUp": policy.scaleUp.model_copy(update={"cooldown": 180.0})}
    )
    assert may_act(slow_up, obs, book, a, 1180.0) is False
    assert may_act(slow_up, obs, book, a, 1185.0) is True
