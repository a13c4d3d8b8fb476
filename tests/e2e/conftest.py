"""Fixtures for the end-to-end tests: processes, Alertmanager, and our webhook receiver.

Each process runs on 127.0.0.1 with a free port, a temp dir for storage and its output in a
log file (shown when a wait times out), and is stopped in the fixture's teardown. A missing
binary skips the test on a developer machine but fails it in CI (``CI=true``), where the
e2e tests are the point.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from _e2e_kit import (
    ALERTMANAGER,
    E2E_TOKEN,
    Alertmanager,
    Process,
    Receiver,
    alertmanager_config,
    free_port,
    http_ok,
    require_binary,
    wait_until,
)
from aiohttp import web

from autoscaler.core.alerts import WebhookPayload
from autoscaler.metrics import Metrics
from autoscaler.signals.webhook import WEBHOOK_PATH, WebhookAuth, webhook_handler


@pytest.fixture
def processes() -> Iterator[Callable[..., Process]]:
    """Start processes with ``start(name, argv, log=path)``; all are stopped on teardown."""
    started: list[Process] = []

    def start(name: str, argv: list[str], *, log: Path) -> Process:
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        proc = Process(name, popen, log)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    metrics = Metrics()
    rec = Receiver(url="", metrics=metrics)

    async def on_payload(payload: WebhookPayload) -> None:
        rec.payloads.append(payload)
        rec.book = rec.book.apply(payload, received_at=time.time())

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        rec.requests.append(dict(request.headers))
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.router.add_route(
        "*",
        WEBHOOK_PATH,
        webhook_handler(
            auth=WebhookAuth(tokens=[E2E_TOKEN]),
            max_bytes=1 << 20,
            on_payload=on_payload,
            metrics=metrics,
        ),
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    try:
        yield rec
    finally:
        await runner.cleanup()


@pytest.fixture
def start_alertmanager(
    tmp_path: Path, processes: Callable[..., Process]
) -> Callable[..., Awaitable[Alertmanager]]:
    """``await start_alertmanager(webhook_url=..., authorization={...})`` → a ready Alertmanager."""
    require_binary(ALERTMANAGER)

    async def start(*, webhook_url: str, authorization: dict[str, str]) -> Alertmanager:
        home = tmp_path / "alertmanager"
        home.mkdir()
        config = home / "alertmanager.yml"
        config.write_text(alertmanager_config(webhook_url=webhook_url, authorization=authorization))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = processes(
            "alertmanager",
            [
                str(ALERTMANAGER),
                f"--config.file={config}",
                f"--storage.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={url}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            log=home / "alertmanager.log",
        )
        await wait_until(
            lambda: http_ok(f"{url}/-/ready"), what="Alertmanager ready", procs=(proc,)
        )
        return Alertmanager(url=url, process=proc)

    return start
