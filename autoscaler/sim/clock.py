"""Clocks for the twin: a virtual one that tests advance explicitly, and wall time × speed.

The twin never reads ``time.time()`` directly; everything that needs "now" asks its clock,
so a one-hour scenario can run in milliseconds and still be deterministic.
"""

from __future__ import annotations

import time
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
    """Wall time multiplied by ``speed`` from the moment the clock was made (demo mode)."""

    speed: float = 1.0
    start: float = 1_767_225_600.0
    virtual: bool = field(default=False, init=False)
    _wall0: float = field(default_factory=time.monotonic, init=False)

    def time(self) -> float:
        return self.start + (time.monotonic() - self._wall0) * self.speed

    def advance(self, seconds: float) -> None:
        raise RuntimeError("a real-time clock cannot be advanced")


SimClock = VirtualClock | ScaledClock
