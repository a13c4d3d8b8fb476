"""A loop-lag probe: fails a test if anything blocks an event loop for more than 100 ms.

A service on asyncio answers nothing while one callback runs: a YAML parse, a quadratic
timestamp or a big JSON decode on the loop stalls ``/healthz`` for everyone (issue 9 item 4).
The probe is a task that wakes every ``interval`` and records how late each wake-up was and
how much CPU the loop's thread used meanwhile. A stall is a wake-up late by more than
``limit`` during which the loop's thread was *busy* for more than ``limit`` (thread CPU
time): some callback ran that long without yielding. A wake-up that is late while the thread
used little CPU means the thread was not scheduled (a loaded machine, another thread holding
the GIL): that is recorded in ``worst`` but is not a stall of ours, so the verdict does not
depend on how busy the test machine is. It measures the loop it runs on, so a test serving
from a thread's loop starts the probe on that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
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
    worst_busy: float = 0.0
    stalls: list[tuple[float, float, float]] = field(default_factory=list)  # (at, lag, busy)
    sampled: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            cpu = time.thread_time()
            await asyncio.sleep(self.interval)
            lag = loop.time() - due
            busy = time.thread_time() - cpu
            self.samples += 1
            self.sampled.set()
            self.worst = max(self.worst, lag)
            self.worst_busy = max(self.worst_busy, busy)
            if lag > self.limit and busy > self.limit:
                self.stalls.append((due, lag, busy))

    def check(self) -> None:
        """Fail (AssertionError) if the loop was ever held longer than ``limit``."""
        assert self.samples > 0, "the loop-lag probe never ran"
        assert not self.stalls, (
            f"the event loop was blocked {len(self.stalls)} time(s) for more than "
            f"{self.limit * 1000:.0f} ms (worst {self.worst_busy * 1000:.0f} ms of CPU "
            "without yielding)"
        )


@contextlib.asynccontextmanager
async def loop_lag_probe(*, limit: float = LIMIT) -> AsyncIterator[LoopLag]:
    """``async with loop_lag_probe() as probe: ...`` then ``probe.check()`` (done on exit)."""
    probe = LoopLag(limit=limit)
    # A pytest-xdist worker carries the heap of every test it ran before this one; a full
    # collection of that heap can take > 100 ms of this thread's CPU and would read as a stall
    # of the code under test. Collect once and freeze what exists now, so collections during
    # the probe only walk what the test itself allocates.
    gc.collect()
    gc.freeze()
    task = asyncio.create_task(probe.run(), name="loop-lag-probe")
    try:
        await asyncio.sleep(0)  # let it take its first reading
        yield probe
        await probe.sampled.wait()  # a very short block still gets one full reading
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        gc.unfreeze()
    probe.check()
