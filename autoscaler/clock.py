"""The service's clock: what time it is, and how long a wait of N seconds of that time lasts.

Decisions, cooldowns, ``for:`` windows, phase deadlines and alert TTLs are all measured on one
injected clock, read in the composition root (``service.serve``) and passed down. In
production that clock is the wall clock. In ``es-autoscaler demo`` it is the twin's simulated
clock running at wall time × ``speed``, so the service's own waits between polls (a policy's
``pollInterval``) and between Alertmanager re-syncs must shrink by the same factor, or a
``for: 5m`` would need five minutes of polls no matter how fast the simulated cluster runs.

A ``Clock`` is callable (``clock()`` → epoch seconds), so every existing
``Callable[[], float]`` parameter accepts one unchanged; ``wall_seconds`` turns a wait on any
such clock into wall seconds (a plain callable is taken to run at speed 1).

What stays on the wall clock on purpose: request timeouts of real HTTP calls, log rate limits,
the HTTP server's own limits, and the leader-election Lease timings (they coordinate with other
processes that run in real time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """``now()`` in epoch seconds, running ``speed`` times as fast as the wall clock."""

    now: Callable[[], float] = time.time
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("a clock's speed must be > 0")

    def __call__(self) -> float:
        return self.now()

    def wall(self, seconds: float) -> float:
        """Wall seconds that ``seconds`` of this clock's time take."""
        return seconds / self.speed


def wall_seconds(clock: Callable[[], float], seconds: float) -> float:
    """Wall seconds a wait of ``seconds`` on ``clock`` takes (speed 1 unless a ``Clock``)."""
    return clock.wall(seconds) if isinstance(clock, Clock) else seconds
