"""A loop-lag probe: fails a test if anything blocks an event loop for more than 100 ms.

A service on asyncio answers nothing while one callback runs: a YAML parse, a quadratic
timestamp or a big JSON decode on the loop stalls ``/healthz`` for everyone (issue 9 item 4).
The probe is a task that wakes every ``interval`` and records how late each wake-up was; late
by more than ``limit`` means some callback held the loop that long. It measures the loop it
runs on, so a test that serves from a thread's loop starts the probe on that loop.

This is not a timing assertion about our code's speed: it asserts a property of the loop
(no single step longer than the limit), with a limit ~100× what any handler needs. A
heavily loaded CI machine can delay a wake-up by itself; ``worst`` says by how much, and
``stalls`` lists each late wake-up with when it happened, so a failure is diagnosable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

LIMIT = 0.100
"""The longest a request path may hold the loop (seconds)."""


@dataclass
class LoopLag:
    interval: float = 0.010
    limit: float = LIMIT
    samples: int = 0
    worst: float = 0.0
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (loop time, lag)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            lag = loop.time() - due
            self.samples += 1
            self.worst = max(self.worst, lag)
            if lag > self.limit:
                self.stalls.append((due, lag))

    def check(self) -> None:
        """Fail (AssertionError) if the loop was ever held longer than ``limit``."""
        assert self.samples > 0, "the loop-lag probe never ran"
        assert not self.stalls, (
            f"the event loop was blocked {len(self.stalls)} time(s) for more than "
            f"{self.limit * 1000:.0f} ms (worst {self.worst * 1000:.0f} ms)"
        )


@contextlib.asynccontextmanager
async def loop_lag_probe(*, limit: float = LIMIT) -> AsyncIterator[LoopLag]:
    """``async with loop_lag_probe() as probe: ...`` then ``probe.check()`` (done on exit)."""
    probe = LoopLag(limit=limit)
    task = asyncio.create_task(probe.run(), name="loop-lag-probe")
    try:
        await asyncio.sleep(0)  # let it take its first reading
        yield probe
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    probe.check()
