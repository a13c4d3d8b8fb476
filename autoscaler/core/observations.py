"""Observations: what the autoscaler knows about a tier, as immutable timestamped samples.

Signals (the poller, back-test CSVs) produce these; the engine only reads them. Samples are
kept per ``(metric, aggregate)`` key in time order. Nothing here knows where a value came
from, which is what lets the same engine run live and in a back-test.

A series also memoises, per condition, where each sample's run of satisfying samples began
(``core.windows``): that is what makes a sustained check O(1) amortised per sample instead of
a walk over the window. The memo is derived data, invisible to equality and carried over to
the series ``appended`` makes, so the live engine pays for each new sample once.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from array import array
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from autoscaler.core.windows import Predicate, extend_runs

MetricKey = tuple[str, str]
"""``(metric, aggregate)``, e.g. ``("cpu", "avg")``."""


def metric_key_name(key: MetricKey) -> str:
    """``("cpu", "avg")`` → ``"cpu.avg"`` (the CSV column and API spelling)."""
    return f"{key[0]}.{key[1]}"


_RunsMemo = dict[tuple[Hashable, float], tuple[Predicate, "array[float]"]]


@dataclass(frozen=True)
class Series:
    """Time-ordered samples of one metric key. ``times`` strictly increase."""

    times: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    _runs: _RunsMemo = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if len(self.times) != len(self.values):
            raise ValueError("times and values differ in length")
        # any(b <= a) over neighbours, in C (a month of 10 s samples is 259,200 of them)
        if any(map(operator.le, self.times[1:], self.times)):
            raise ValueError("sample times must strictly increase")

    def upto(self, now: float) -> int:
        """Index one past the newest sample taken at or before ``now``."""
        return bisect.bisect_right(self.times, now)

    def latest(self, now: float) -> tuple[float, float] | None:
        """``(time, value)`` of the newest sample at or before ``now``."""
        i = self.upto(now)
        return (self.times[i - 1], self.values[i - 1]) if i else None

    def cached_runs(self, key: Hashable, predicate: Predicate, staleness: float) -> array[float]:
        """Run starts of every sample for the predicate ``key`` names (``core.windows``),
        computed once per series and predicate."""
        memo = self._runs.get((key, staleness))
        if memo is None:
            runs: array[float] = array("d")
            extend_runs(runs, self.times, self.values, predicate=predicate, staleness=staleness)
            if self.times:  # the shared empty series stays empty
                self._runs[(key, staleness)] = (predicate, runs)
            return runs
        return memo[1]

    def appended(self, at: float, value: float, *, keep_after: float | None = None) -> Series:
        """A new series with one more sample, dropping samples older than ``keep_after``."""
        if self.times and at <= self.times[-1]:
            raise ValueError(f"sample at {at} is not newer than {self.times[-1]}")
        start = bisect.bisect_left(self.times, keep_after) if keep_after is not None else 0
        new = Series((*self.times[start:], at), (*self.values[start:], value))
        for (key, staleness), (predicate, runs) in self._runs.items():
            # Run starts are times, not indices, so trimming needs no renumbering (a start
            # older than the new first sample reads as that sample: see windows.sustained).
            kept = runs[start:]
            extend_runs(kept, new.times, new.values, predicate=predicate, staleness=staleness)
            new._runs[(key, staleness)] = (predicate, kept)
        return new

    def trimmed(self, keep_after: float) -> Series:
        """The samples at or after ``keep_after`` (memoised run starts carried over)."""
        start = bisect.bisect_left(self.times, keep_after)
        if start == 0:
            return self
        new = Series(self.times[start:], self.values[start:])
        for memo_key, (predicate, runs) in self._runs.items():
            new._runs[memo_key] = (predicate, runs[start:])
        return new


EMPTY_SERIES = Series()
"""What ``Observations.get`` returns for a key never observed (one shared instance)."""


@dataclass(frozen=True)
class Observations:
    """Everything observed about one tier: per-key series plus when data last arrived.

    ``polls`` holds the times of successful polls (a poll may lack some metrics, e.g. a rate
    needs two polls); it tells "the cluster answered" apart from "this metric is missing".
    """

    series: Mapping[MetricKey, Series] = field(default_factory=dict)
    polls: tuple[float, ...] = ()

    @staticmethod
    def from_rows(rows: Iterable[tuple[float, Mapping[MetricKey, float | None]]]) -> Observations:
        """Build from ``(time, {key: value or None})`` rows in time order (None = missing)."""
        times: dict[MetricKey, list[float]] = {}
        values: dict[MetricKey, list[float]] = {}
        polls: list[float] = []
        for at, row in rows:
            polls.append(at)
            for key, value in row.items():
                if value is None:
                    continue
                times.setdefault(key, []).append(at)
                values.setdefault(key, []).append(value)
        return Observations(
            {k: Series(tuple(times[k]), tuple(values[k])) for k in times}, tuple(polls)
        )

    @staticmethod
    def from_columns(
        polls: Sequence[float], columns: Mapping[MetricKey, Sequence[float | None]]
    ) -> Observations:
        """Build from poll times and one column of values per key, aligned with ``polls``
        (None = missing). Equal to ``from_rows`` of the same rows, without a dict per row."""
        series: dict[MetricKey, Series] = {}
        for key, column in columns.items():
            if len(column) != len(polls):
                raise ValueError(f"column {metric_key_name(key)} differs in length from polls")
            present = list(map(operator.is_not, column, itertools.repeat(None)))  # in C
            if any(present):
                # the None cells are exactly the ones compress() leaves out
                values = cast(tuple[float, ...], tuple(itertools.compress(column, present)))
                series[key] = Series(tuple(itertools.compress(polls, present)), values)
        return Observations(series, tuple(polls))

    def get(self, key: MetricKey) -> Series:
        return self.series.get(key, EMPTY_SERIES)

    def last_poll(self, now: float) -> float | None:
        i = bisect.bisect_right(self.polls, now)
        return self.polls[i - 1] if i else None

    def with_poll(
        self, at: float, row: Mapping[MetricKey, float | None], *, keep_after: float | None = None
    ) -> Observations:
        """A new Observations with one more poll, trimmed to samples after ``keep_after``."""
        series = dict(self.series)
        for key, value in row.items():
            if value is not None:
                series[key] = self.get(key).appended(at, value, keep_after=keep_after)
        if keep_after is not None:
            for key, s in series.items():
                if s.times and s.times[0] < keep_after and key not in row:
                    series[key] = s.trimmed(keep_after)
        polls = self.polls
        if keep_after is not None:
            polls = polls[bisect.bisect_left(polls, keep_after) :]
        return Observations(series, (*polls, at))
