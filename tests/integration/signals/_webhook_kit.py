"""Shared test kit for the webhook receiver: the real captures and a server on 127.0.0.1:0.

It is a plain module (imported by name, pytest puts this directory on ``sys.path``) rather
than a conftest so it cannot collide with other signal tests' fixtures.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from autoscaler.core.alerts import AlertBook, WebhookPayload
from autoscaler.metrics import Metrics
from autoscaler.signals.webhook import WEBHOOK_PATH, WebhookAuth, webhook_handler

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alertmanager"
TOKEN = "test-webhook-token-123"  # what the captures were sent with
# In the order they were captured: folding them in this order is what Alertmanager did.
CAPTURES = [
    "api-firing.json",
    "api-resolved.json",
    "api-group-two-firing.json",
    "api-group-mixed-one-resolved.json",
    "api-group-last-resolved.json",
    "prometheus-e2e-firing.json",
    "prometheus-e2e-resolved.json",
]
FAR_FUTURE = 4_000_000_000.0  # "now" after every capture's startsAt
FOREVER = 1e12  # a TTL nothing expires within


def capture(name: str) -> tuple[bytes, dict[str, str]]:
    """The exact body bytes of a capture and the headers Alertmanager sent with it (no Host)."""
    body = (FIXTURES / name).read_bytes()
    meta = json.loads((FIXTURES / "webhook-headers.json").read_text())[name]
    headers = {k: v for k, v in meta["headers"].items() if k.lower() != "host"}
    assert int(headers["Content-Length"]) == len(body), "capture and its headers disagree"
    return body, headers


@dataclass
class Server:
    """A running webhook receiver and what it did."""

    host: str
    port: int
    metrics: Metrics
    received: list[WebhookPayload] = field(default_factory=list)
    book: AlertBook = field(default_factory=AlertBook)
    fail_next: int = 0  # on_payload raises this many more times

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{WEBHOOK_PATH}"

    def count(self, code: int, reason: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "esas_webhook_requests_total", {"code": str(code), "reason": reason}
        )
        return value or 0.0

    def firing(self) -> set[str]:
        return {a.fingerprint for a in self.book.firing(now=FAR_FUTURE, ttl=FOREVER)}


@asynccontextmanager
async def serve_webhook(
    *, auth: WebhookAuth | None = None, max_bytes: int = 1 << 20
) -> AsyncIterator[Server]:
    """Run the handler in an aiohttp app on 127.0.0.1, a free port, for the block's duration."""
    metrics = Metrics()
    server = Server(host="127.0.0.1", port=0, metrics=metrics)

    async def on_payload(payload: WebhookPayload) -> None:
        if server.fail_next > 0:
            server.fail_next -= 1
            raise RuntimeError("state store unavailable")
        server.received.append(payload)
        # received_at = arrival order: the book keeps the latest notification per alert
        server.book = server.book.apply(payload, received_at=float(len(server.received)))

    app = web.Application()
    handler = webhook_handler(
        auth=auth if auth is not None else WebhookAuth(tokens=[TOKEN]),
        max_bytes=max_bytes,
        on_payload=on_payload,
        metrics=metrics,
    )
    app.router.add_route("*", WEBHOOK_PATH, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    try:
        yield server
    finally:
        await runner.cleanup()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_exchange(server: Server, request: bytes) -> RawResponse:
    """Write raw bytes to the server and read one response, without waiting for EOF.

    Lets a test send what no well-behaved client would (a Content-Length with no body, an
    unfinished chunked body) and still see the answer.
    """

    async def go() -> RawResponse:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines:
                if line:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            return RawResponse(int(status_line.split()[1]), headers, body)
        finally:
            writer.close()

    async with asyncio.timeout(10):
        return await go()


def request_head(server: Server, *, extra: str) -> bytes:
    return (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()
