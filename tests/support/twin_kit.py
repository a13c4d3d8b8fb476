"""Talking to a running twin from tests: its ``/_sim`` control API (and any other path on the
ES port) over raw HTTP, and waiting for a condition the twin or a service reaches by itself.
Many integration modules need exactly these; they live here once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Container
from typing import Any

import aiohttp
import pytest

from autoscaler.sim.server import RunningTwin


async def call(twin: RunningTwin, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """``method path`` on the twin's ES port: the status and the JSON body, unchecked."""
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, twin.es_url + path, json=body) as resp,
    ):
        return resp.status, await resp.json()


async def sim(
    twin: RunningTwin,
    method: str,
    path: str,
    body: Any = None,
    *,
    ok: Container[int] = (200,),
) -> Any:
    """Like ``call``, asserting the status is one of ``ok``; the JSON body."""
    status, data = await call(twin, method, path, body)
    assert status in ok, data
    return data


async def eventually(
    check: Callable[[], Awaitable[Any]],
    *,
    what: str,
    deadline_s: float = 30.0,
    interval_s: float = 0.05,
) -> Any:
    """Poll ``check`` until truthy; fail after ``deadline_s`` of wall time (not a timing
    assert: a generous bound on waiting for a condition the twin reaches by itself)."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    pytest.fail(f"gave up waiting for {what}; last value: {last!r}")
