"""The loop-lag probe used by the fuzz and reload tests can fail: CPU work on the loop trips it."""

from __future__ import annotations

import asyncio
import time

import pytest
from loop_lag import loop_lag_probe


def hold_the_loop(seconds: float) -> None:
    """What a YAML parse on the loop did, in miniature: CPU work without yielding."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def probe_while_blocking() -> None:
    async with loop_lag_probe():
        await asyncio.sleep(0.03)
        hold_the_loop(0.25)
        await asyncio.sleep(0.03)


async def test_the_probe_fails_when_a_callback_holds_the_loop_past_the_limit() -> None:
    with pytest.raises(AssertionError, match="blocked 1 time"):
        await probe_while_blocking()
