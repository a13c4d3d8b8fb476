"""Sustained conditions: "X above T for D", decided by timestamps, never by counting samples.

DESIGN §5: ``X above T for D`` holds at ``now`` iff samples cover ``[now − D, now]`` with no
gap longer than the staleness limit and every sample in that span satisfies it; no ``for``
means the latest sample alone; a window never reaches back before ``not_before`` (the
confirmation of the last operation: older samples describe a cluster of another size).
Missing or stale data makes the condition false and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from autoscaler.core.observations import Series


@dataclass(frozen=True)
class WindowResult:
    """Outcome of one sustained-condition check, with the numbers a human needs."""

    holds: bool
    stale: bool
    """No sample, or the newest one is older than the staleness limit."""
    elapsed: float
    """How long the condition has held without a break, counted up to ``needed`` at most
    (the walk back stops once the window is covered); 0 when the newest sample fails."""
    needed: float
    latest: float | None
    """Value of the newest sample at or before ``now`` (even when stale), for display."""
    latest_at: float | None


def sustained(
    series: Series,
    predicate: Callable[[float], bool],
    *,
    duration: float | None,
    now: float,
    staleness: float,
    not_before: float | None = None,
) -> WindowResult:
    """Evaluate ``predicate`` sustained over ``duration`` seconds ending at ``now``.

    The run of satisfying samples is walked back from the newest sample at or before ``now``;
    it stops at the first sample that fails, at a gap longer than ``staleness``, or before
    ``not_before``. ``elapsed`` is ``now`` minus the oldest sample of that run.
    """
    needed = duration or 0.0
    end = series.upto(now)
    if end == 0:
        return WindowResult(False, True, 0.0, needed, None, None)
    latest_at, latest = series.times[end - 1], series.values[end - 1]
    if now - latest_at > staleness:
        return WindowResult(False, True, 0.0, needed, latest, latest_at)
    floor = not_before if not_before is not None else float("-inf")
    times, values = series.times, series.values
    start_at: float | None = None
    i = end - 1
    newer = now
    while i >= 0:
        at = times[i]
        if at < floor or newer - at > staleness or not predicate(values[i]):
            break
        start_at = at
        newer = at
        if now - at >= needed:
            break  # the window is covered: older samples cannot change the answer
        i -= 1
    if start_at is None:
        return WindowResult(False, False, 0.0, needed, latest, latest_at)
    elapsed = now - start_at
    holds = elapsed >= needed if needed > 0 else True
    return WindowResult(holds, False, elapsed, needed, latest, latest_at)
