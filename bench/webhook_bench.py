"""Webhook throughput: our full handler (auth, size limits, validation, alert book update)
against a bare aiohttp handler that reads the body and answers 200, same server, same client,
measured side by side in one run. Prints requests/s of each and the ratio."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from autoscaler.core.alerts import AlertBook, WebhookPayload
from autoscaler.metrics import Metrics
from autoscaler.signals.webhook import WebhookAuth, webhook_handler

FIXTURE = (
    Path(__file__).parents[1] / "tests/fixtures/alertmanager/api-group-mixed-one-resolved.json"
)
TOKEN = "bench-token"
REQUESTS = 3000
CONCURRENCY = 32


async def _bare(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "ok"})


async def _measure(handler: object, body: bytes) -> float:
    app = web.Application()
    app.router.add_route("*", "/hook", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/hook"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    sem = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession() as s:

        async def one() -> None:
            async with sem, s.post(url, data=body, headers=headers) as r:
                assert r.status == 200, r.status
                await r.read()

        await asyncio.gather(*(one() for _ in range(200)))  # warm-up
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(REQUESTS)))
        elapsed = time.perf_counter() - t0
    await runner.cleanup()
    return REQUESTS / elapsed


async def _main() -> None:
    body = FIXTURE.read_bytes()
    book = AlertBook()

    async def on_payload(payload: WebhookPayload) -> None:
        nonlocal book
        book = book.apply(payload, received_at=time.time())

    ours = webhook_handler(
        auth=WebhookAuth.from_sources(
            token=TOKEN,
            token_file=None,
            basic_user=None,
            basic_password_file=None,
            insecure_no_auth=False,
        ),
        max_bytes=1 << 20,
        on_payload=on_payload,
        metrics=Metrics(),
    )
    bare = await _measure(_bare, body)
    full = await _measure(ours, body)
    print(f"bare aiohttp handler : {bare:8.0f} req/s")
    print(f"es-autoscaler webhook: {full:8.0f} req/s")
    print(f"ratio (ours / bare)  : {full / bare:8.2f}")


def run() -> None:
    asyncio.run(_main())
