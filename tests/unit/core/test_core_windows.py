"""Sustained windows (DESIGN §5), table-driven at their edges.

Samples every 10 s unless a case says otherwise; staleness limit 30 s; predicate ``> 80``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from autoscaler.core.observations import Series
from autoscaler.core.windows import sustained

STALE = 30.0


def above_80(v: float) -> bool:
    return v > 80


def series(points: Iterable[tuple[float, float]]) -> Series:
    pts = list(points)
    return Series(tuple(t for t, _ in pts), tuple(v for _, v in pts))


def every_10s(start: float, end: float, value: float = 85.0) -> list[tuple[float, float]]:
    return [(float(t), value) for t in range(int(start), int(end) + 1, 10)]


def check(
    s: Series, now: float, *, duration: float | None = 300.0, not_before: float | None = None
):
    return sustained(
        s, above_80, duration=duration, now=now, staleness=STALE, not_before=not_before
    )


def test_condition_not_sustained_at_4m59s() -> None:
    r = check(series(every_10s(0, 290)), now=299)
    assert (r.holds, r.stale, r.elapsed, r.needed) == (False, False, 299, 300)


def test_condition_just_sustained_at_5m() -> None:
    r = check(series(every_10s(0, 300)), now=300)
    assert (r.holds, r.stale, r.elapsed, r.needed) == (True, False, 300, 300)


def test_sustained_is_decided_by_timestamps_not_sample_count() -> None:
    sparse = series(every_10s(0, 300)[::3])  # every 30 s, 11 samples
    dense = series([(t / 2, 85.0) for t in range(20, 601)])  # every 0.5 s from 10 s, 581 samples
    assert check(sparse, now=300).holds
    r = check(dense, now=300)
    assert not r.holds
    assert r.elapsed == 290


@pytest.mark.parametrize(
    ("gap_start", "gap_end", "holds_at_300"),
    [
        pytest.param(100, 140, False, id="gap_40s_longer_than_limit_breaks_window"),
        pytest.param(100, 130, True, id="gap_exactly_at_limit_does_not_break_window"),
        pytest.param(100, 131, False, id="gap_just_over_limit_breaks_window"),
    ],
)
def test_gap_in_samples_breaks_window(gap_start: int, gap_end: int, holds_at_300: bool) -> None:
    pts = [p for p in every_10s(0, 300) if not gap_start < p[0] < gap_end]
    if gap_end % 10:
        pts = sorted([*pts, (float(gap_end), 85.0)])
    r = check(series(pts), now=300)
    assert r.holds is holds_at_300
    assert r.elapsed == (300 if holds_at_300 else 300 - gap_end)


def test_window_after_gap_counts_from_first_sample_after_it() -> None:
    pts = [p for p in every_10s(0, 600) if not 100 < p[0] < 140]
    assert not check(series(pts), now=439).holds
    assert check(series(pts), now=440).holds


@pytest.mark.parametrize(
    ("now", "stale"),
    [
        pytest.param(130, False, id="latest_sample_exactly_at_limit_is_fresh"),
        pytest.param(130.5, True, id="latest_sample_older_than_limit_is_stale"),
    ],
)
def test_stale_latest_sample_makes_condition_false(now: float, stale: bool) -> None:
    r = check(series(every_10s(0, 100)), now=now, duration=None)
    assert r.stale is stale
    assert r.holds is not stale
    assert (r.latest, r.latest_at) == (85, 100)  # still shown for humans


def test_stale_tail_cannot_complete_a_window() -> None:
    # Held from 0 to 280, then silence: at 300 the newest sample (280) is fresh, the window
    # is covered up to now → holds; at 311 it is stale even though the run was long.
    s = series(every_10s(0, 280))
    assert check(s, now=300).holds
    r = check(s, now=311)
    assert (r.holds, r.stale, r.elapsed) == (False, True, 0)


def test_missing_metric_is_stale_and_false() -> None:
    r = check(Series(), now=300)
    assert (r.holds, r.stale, r.elapsed, r.latest, r.latest_at) == (False, True, 0, None, None)


def test_samples_after_now_are_ignored() -> None:
    s = series([*every_10s(0, 290, value=50), *every_10s(300, 600)])
    r = check(s, now=295, duration=None)
    assert (r.holds, r.latest) == (False, 50)


def test_no_for_means_latest_sample_alone() -> None:
    s = series([*every_10s(0, 290, value=50), (300.0, 85.0)])
    r = check(s, now=300, duration=None)
    assert (r.holds, r.elapsed, r.needed) == (True, 0, 0)
    r = check(series([*every_10s(0, 290), (300.0, 50.0)]), now=300, duration=None)
    assert (r.holds, r.elapsed, r.latest) == (False, 0, 50)


def test_one_failing_sample_restarts_the_window() -> None:
    pts = [(t, 70.0 if t == 200 else v) for t, v in every_10s(0, 600)]
    r = check(series(pts), now=500)
    assert (r.holds, r.elapsed) == (False, 290)
    assert check(series(pts), now=510).holds


@pytest.mark.parametrize(
    ("not_before", "now", "holds", "elapsed"),
    [
        pytest.param(100, 399, False, 299, id="window_since_confirmation_4m59s"),
        pytest.param(100, 400, True, 300, id="window_since_confirmation_5m"),
        pytest.param(105, 405, False, 295, id="confirmed_between_samples_counts_from_next"),
        pytest.param(None, 399, True, 309, id="no_confirmation_reaches_back_freely"),
    ],
)
def test_window_never_reaches_back_before_last_confirmation(
    not_before: float | None, now: float, holds: bool, elapsed: float
) -> None:
    r = check(series(every_10s(0, 600)), now=now, not_before=not_before)
    assert (r.holds, r.elapsed) == (holds, elapsed)


def test_elapsed_is_counted_up_to_needed_at_most() -> None:
    r = check(series(every_10s(0, 3000)), now=3000)
    assert (r.holds, r.elapsed) == (True, 300)
