"""Sustained conditions: "X above T for D", decided by timestamps, never by counting samples.

DESIGN §5: ``X above T for D`` holds at ``now`` iff samples cover ``[now − D, now]`` with no
gap longer than the staleness limit and every sample in that span satisfies it; no ``for``
means the latest sample alone; a window never reaches back before ``not_before`` (the
confirmation of the last operation: older samples describe a cluster of another size).
Missing or stale data makes the condition false and says so.

Why incremental: a 30-day back-test evaluates every condition at every one of 259,200 samples,
and walking each window back (180 samples for a 30 min window at 10 s) made it O(n · window).
Instead, every sample carries the time at which the *run* of satisfying samples it ends began
(a run breaks at a failing sample or a gap longer than the staleness limit). That start is
derived from the previous sample's in O(1) when a sample is appended (``extend_runs``), is
cached on the series per predicate and carried over by ``Series.appended``, and a check is then
a couple of binary searches (``sustained``), for the live engine and the back-test alike. The
answers equal the walk-back's exactly, including ``elapsed`` (property-tested against a
rescanning reference in ``tests/unit/core/test_windows_incremental.py``).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoscaler.core.observations import Series

Predicate = Callable[[float], bool]

NO_RUN = float("nan")
"""Run start of a sample that does not satisfy the predicate (NaN: never equal to itself)."""


@dataclass(frozen=True)
class WindowResult:
    """Outcome of one sustained-condition check, with the numbers a human needs."""

    holds: bool
    stale: bool
    """No sample, or the newest one is older than the staleness limit."""
    elapsed: float
    """How long the condition has held without a break: ``now`` minus the newest sample of
    the run at least ``needed`` old, or minus the run's oldest sample when none is (so it
    reaches ``needed`` plus less than one sample spacing at most); 0 when the newest sample
    fails."""
    needed: float
    latest: float | None
    """Value of the newest sample at or before ``now`` (even when stale), for display."""
    latest_at: float | None


def extend_runs(
    runs: array[float],
    times: Sequence[float],
    values: Sequence[float],
    *,
    predicate: Predicate,
    staleness: float,
) -> None:
    """Append to ``runs`` the run start of every sample from ``len(runs)`` on.

    ``runs[i]`` is the time of the oldest sample of the unbroken run of satisfying samples
    that ends at sample ``i`` (``NO_RUN`` when sample ``i`` fails). A run continues from
    sample ``i − 1`` unless the gap between the two exceeds ``staleness``. O(1) per sample.
    Sample times must be finite.
    """
    start = len(runs)
    prev = runs[start - 1] if start else NO_RUN
    prev_at = times[start - 1] if start else 0.0
    append = runs.append
    for i in range(start, len(times)):
        at = times[i]
        if not predicate(values[i]):
            prev = NO_RUN
        elif prev != prev or at - prev_at > staleness:  # previous failed (NaN), or a gap
            prev = at
        append(prev)
        prev_at = at


def run_starts(
    series: Series, *, predicate: Predicate, staleness: float, key: Hashable | None = None
) -> array[float]:
    """The run starts of every sample of ``series`` (see ``extend_runs``).

    With a ``key`` (which must identify ``predicate``: equal keys, equal predicates) they are
    cached on the series and carried over to the series ``Series.appended`` derives from it,
    so each new sample costs O(1); without one they are computed afresh (O(n)).
    """
    if key is None:
        runs: array[float] = array("d")
        extend_runs(runs, series.times, series.values, predicate=predicate, staleness=staleness)
        return runs
    return series.cached_runs(key, predicate, staleness)


WindowParts = tuple[bool, bool, float, float, float | None, float | None]
"""A ``WindowResult``'s fields in order, for the engine's hot path (no object per check)."""


def sustained(
    series: Series,
    predicate: Predicate,
    *,
    duration: float | None,
    now: float,
    staleness: float,
    not_before: float | None = None,
    key: Hashable | None = None,
) -> WindowResult:
    """Evaluate ``predicate`` sustained over ``duration`` seconds ending at ``now``.

    Defined as a walk back from the newest sample at or before ``now``: the run of satisfying
    samples stops at the first sample that fails, at a gap longer than ``staleness``, or
    before ``not_before``, and the walk stops early at the first sample at least ``duration``
    old. ``elapsed`` is ``now`` minus the oldest sample the walk accepted. Computed from the
    cached run starts (``key``: see ``run_starts``) with binary searches instead of walking.
    """
    return WindowResult(*window_at(series, predicate, duration, now, staleness, not_before, key))


def window_at(
    series: Series,
    predicate: Predicate,
    duration: float | None,
    now: float,
    staleness: float,
    not_before: float | None,
    key: Hashable | None,
) -> WindowParts:
    """``sustained`` as a plain tuple ``(holds, stale, elapsed, needed, latest, latest_at)``
    with positional arguments: the engine calls it ~10⁶ times in a 30-day back-test, where
    keyword passing and a result object per check are a measurable share."""
    needed = duration or 0.0
    times = series.times
    end = bisect.bisect_right(times, now)
    if end == 0:
        return (False, True, 0.0, needed, None, None)
    last = end - 1
    latest_at, latest = times[last], series.values[last]
    if now - latest_at > staleness:
        return (False, True, 0.0, needed, latest, latest_at)
    if key is None:
        start = run_starts(series, predicate=predicate, staleness=staleness)[last]
    else:
        start = series.cached_runs(key, predicate, staleness)[last]
    if start != start:  # NO_RUN: the newest sample fails
        return (False, False, 0.0, needed, latest, latest_at)
    if start < times[0]:  # the series was trimmed inside the run: it starts at its oldest
        start = times[0]
    if not_before is not None and start < not_before:
        first = bisect.bisect_left(times, not_before)  # oldest sample not before the floor
        if first > last:
            return (False, False, 0.0, needed, latest, latest_at)
        start = times[first]
    # The walk stops at the newest sample with now − at ≥ needed, if that is inside the run.
    # ``now − at`` is rounded, so the binary search on ``now − needed`` is checked and nudged.
    k = bisect.bisect_right(times, now - needed, 0, end) - 1
    while k < last and now - times[k + 1] >= needed:
        k += 1
    while k >= 0 and not now - times[k] >= needed:
        k -= 1
    if k >= 0 and times[k] >= start:
        start = times[k]
    elapsed = now - start
    return (elapsed >= needed if needed > 0 else True, False, elapsed, needed, latest, latest_at)


def quiet_from_runs(
    times: Sequence[float],
    runs: Sequence[float],
    needed: float,
    now: float,
    staleness: float,
    not_before: float | None,
) -> float | None:
    """``None`` when ``window_at(...)`` holds; else a bound ``b`` saying for how long it
    cannot: it does not hold at any ``later ≥ now`` with ``later − b < needed`` (same series,
    ``staleness`` and ``not_before``). From a series' ``times`` and its run starts for the
    predicate (``run_starts``), for verdicts that need no explanation.

    Holds: ``window_at`` without its search for the newest sample at least ``needed`` old:
    the run (clamped to the series and to ``not_before``) starts at a sample time ``s``;
    ``now − at`` does not increase with ``at``, so that search lands at or after ``s``, giving
    ``elapsed ≥ needed``, exactly when ``now − s ≥ needed``.

    The bound is the earliest start a later check can find: ``s`` itself while that run is
    not long enough yet (a later sample continues it or breaks it, starting later); when the
    newest sample fails or is stale, or none is past ``not_before``, the next sample after
    it (the run breaks there); ``inf`` when there is none. Both are property-tested against
    the walk-back in ``tests/unit/core/test_windows_incremental.py``.
    """
    end = bisect.bisect_right(times, now)
    if end == 0:
        return times[0] if times else _NEVER
    last = end - 1
    if now - times[last] > staleness:  # stale: the next sample is further than staleness
        return times[end] if end < len(times) else _NEVER
    start = runs[last]
    if start != start:  # NO_RUN: the newest sample fails
        return times[end] if end < len(times) else _NEVER
    if start < times[0]:
        start = times[0]
    if not_before is not None and start < not_before:
        first = bisect.bisect_left(times, not_before)
        if first > last:
            return times[first] if first < len(times) else _NEVER
        start = times[first]
    if not needed > 0 or now - start >= needed:
        return None
    return start


_NEVER = float("inf")
