"""The HTTP edge under hostile or broken clients (issue 9 items 8, 9).

Before: a connection that never finished its request head was held forever, there was no
connection cap (2,000 slow-header connections exhausted the fds), a stuck body read had no
deadline, and a broken chunked body logged an ERROR traceback. The service's real app,
runner and site on 127.0.0.1:0, driven with raw sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from autoscaler.metrics import Metrics
from autoscaler.service.http import build_app
from autoscaler.service.limits import GuardedSite, HttpLimits, make_runner
from autoscaler.service.runtime import Runtime
from autoscaler.signals.webhook import WEBHOOK_PATH, WebhookAuth, webhook_handler

TOKEN = "limits-token"
LIMITS = HttpLimits(header_timeout=0.5, body_timeout=0.5, max_connections=4)
WAIT = 10.0  # generous deadline for what must happen after a 0.5 s timeout


@asynccontextmanager
async def service_http(limits: HttpLimits = LIMITS) -> AsyncIterator[tuple[int, Metrics]]:
    metrics = Metrics()
    rt = Runtime(metrics=metrics, clock=lambda: 0.0, alert_ttl=3600)

    async def on_payload(payload: object) -> None:
        return None

    hook = webhook_handler(
        auth=WebhookAuth(tokens=[TOKEN]),
        max_bytes=1 << 20,
        on_payload=on_payload,
        metrics=metrics,
        read_timeout=limits.body_timeout,
    )
    runner = make_runner(build_app(runtime=rt, ready=lambda: (True, []), webhook=hook))
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, limits=limits, metrics=metrics)
    await site.start()
    try:
        yield site.port, metrics
    finally:
        await runner.cleanup()


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    async with asyncio.timeout(WAIT):
        return await reader.read()


async def test_a_connection_that_never_finishes_its_request_head_is_closed() -> None:
    async with service_http() as (port, metrics):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await writer.drain()
        await _closed_by_server(reader)
        writer.close()
        assert metrics.registry.get_sample_value("esas_http_timeouts_total", {"phase": "head"})


async def test_a_silent_connection_is_closed() -> None:
    async with service_http() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _closed_by_server(reader) == b""
        writer.close()


async def test_a_body_that_stops_arriving_gets_a_408() -> None:
    async with service_http() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"vers'.encode()
        )
        await writer.drain()
        answer = await _closed_by_server(reader)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408")


async def test_connections_over_the_cap_get_a_503_and_the_service_keeps_answering() -> None:
    async with service_http(HttpLimits(header_timeout=30, max_connections=4)) as (port, metrics):
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = await _closed_by_server(reader)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503")
        assert metrics.registry.get_sample_value("esas_http_connections_refused_total") == 1
        for _, w in idle:
            w.close()
        # the slots free up: a normal request is answered again
        async with asyncio.timeout(WAIT):
            while True:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = await r.read()
                w.close()
                if data.startswith(b"HTTP/1.1 200"):
                    break
                await asyncio.sleep(0.05)


async def test_a_broken_chunked_body_is_a_400_without_an_error_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with service_http() as (port, _):
        with caplog.at_level(logging.DEBUG):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\nxx\r\n0\r\n\r\n".encode()
            )
            await writer.drain()
            answer = await _closed_by_server(reader)
            writer.close()
    assert answer.split(b" ", 2)[1] == b"400"  # aiohttp's parser answers in HTTP/1.0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("malformed" in r.getMessage() for r in caplog.records)


async def test_a_body_sent_slower_than_the_head_deadline_but_within_its_own_is_accepted() -> None:
    # the head deadline must not cut a request whose head is complete (body still coming)
    limits = HttpLimits(header_timeout=0.3, body_timeout=10, max_connections=4)
    body = b'{"version": "4", "status": "firing", "alerts": []}'
    async with service_http(limits) as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body[:10]
        )
        await writer.drain()
        await asyncio.sleep(1.0)  # a slow sender: past the head deadline, within the body's
        writer.write(body[10:])
        await writer.drain()
        answer = await _closed_by_server(reader)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


async def test_a_kept_alive_connection_that_starts_a_head_and_stalls_is_closed() -> None:
    async with service_http() as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(WAIT):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")  # the next head, never finished
        await writer.drain()
        await _closed_by_server(reader)
        writer.close()
