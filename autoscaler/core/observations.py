"""Observations: what the autoscaler knows about a tier, as immutable timestamped samples.

Signals (the poller, back-test CSVs) produce these; the engine only reads them. Samples are
kept per ``(metric, aggregate)`` key in time order. Nothing here knows where a value came
from, which is what lets the same engine run live and in a back-test.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MetricKey = tuple[str, str]
"""``(metric, aggregate)``, e.g. ``("cpu", "avg")``."""


def metric_key_name(key: MetricKey) -> str:
    """``("cpu", "avg")`` → ``"cpu.avg"`` (the CSV column and API spelling)."""
    return f"{key[0]}.{key[1]}"


@dataclass(frozen=True)
class Series:
    """Time-ordered samples of one metric key. ``times`` strictly increase."""

    times: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.times) != len(self.values):
            raise ValueError("times and values differ in length")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("sample times must strictly increase")

    def upto(self, now: float) -> int:
        """Index one past the newest sample taken at or before ``now``."""
        return bisect.bisect_right(self.times, now)

    def latest(self, now: float) -> tuple[float, float] | None:
        """``(time, value)`` of the newest sample at or before ``now``."""
        i = self.upto(now)
        return (self.times[i - 1], self.values[i - 1]) if i else None

    def appended(self, at: float, value: float, *, keep_after: float | None = None) -> Series:
        """A new series with one more sample, dropping samples older than ``keep_after``."""
        if self.times and at <= self.times[-1]:
            raise ValueError(f"sample at {at} is not newer than {self.times[-1]}")
        start = bisect.bisect_left(self.times, keep_after) if keep_after is not None else 0
        return Series((*self.times[start:], at), (*self.values[start:], value))


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

    def get(self, key: MetricKey) -> Series:
        return self.series.get(key, Series())

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
                    start = bisect.bisect_left(s.times, keep_after)
                    series[key] = Series(s.times[start:], s.values[start:])
        polls = self.polls
        if keep_after is not None:
            polls = polls[bisect.bisect_left(polls, keep_after) :]
        return Observations(series, (*polls, at))
