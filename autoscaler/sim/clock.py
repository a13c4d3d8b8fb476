"""Clocks for the twin: a virtual one that tests advance explicitly, and wall time × speed.

The twin never reads ``time.time()`` directly; everything that needs "now" asks its clock,
so a one-hour scenario can run in milliseconds and still be deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class VirtualClock:
    """Time that only moves when told to (``advance``)."""

    now: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a fixed epoch for reproducibility
    virtual: bool = field(default=True, init=False)

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self.now += seconds


@dataclass
class ScaledClock:
    """Wall time multiplied by ``speed`` from the moment the clock was made (demo mode).

    ``set_speed`` changes the factor from now on without a jump: ``demo --serve`` runs the
    scenario fast, then leaves the twin at real time for a user to look at.
    """

    speed: float = 1.0
    start: float = 1_767_225_600.0
    #: the wall clock it scales (seconds, only differences matter); tests pass their own
    monotonic: Callable[[], float] = field(default=time.monotonic, repr=False)
    virtual: bool = field(default=False, init=False)
    _wall0: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("a clock's speed must be > 0")
        self._wall0 = self.monotonic()

    def time(self) -> float:
        return self.start + (self.monotonic() - self._wall0) * self.speed

    def set_speed(self, speed: float) -> None:
        """Run ``speed`` times as fast as the wall clock from now on (time stays continuous)."""
        if not speed > 0:
            raise ValueError("a clock's speed must be > 0")
        wall = self.monotonic()
        self.start += (wall - self._wall0) * self.speed
        self._wall0 = wall
        self.speed = speed

    def advance(self, seconds: float) -> None:
        raise RuntimeError("a real-time clock cannot be advanced")


SimClock = VirtualClock | ScaledClock
