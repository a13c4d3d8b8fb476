"""Helpers for the end-to-end tests: free ports, processes, waits, our webhook receiver.

A plain module (imported by name; pytest puts this directory on ``sys.path``) so tests can
import it; ``conftest.py`` holds only the fixtures built from it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from autoscaler.core.alerts import AlertBook, AlertState, WebhookPayload
from autoscaler.metrics import Metrics

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
PROMETHEUS = Path("/usr/bin/prometheus")
E2E_TOKEN = "e2e-webhook-token-5f0c9a"
DEADLINE = 30.0  # seconds any single wait may take before the test fails


def require_binary(path: Path) -> None:
    """Skip without the binary, unless in CI, where a missing binary is a failure."""
    if path.is_file() and os.access(path, os.X_OK):
        return
    hint = "apt-get install --no-install-recommends prometheus-alertmanager prometheus"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{path} is missing and CI=true: e2e tests must run in CI ({hint})")
    pytest.skip(f"{path} is not installed ({hint})")


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for processes that cannot report theirs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    """A started binary; ``stop`` terminates it, then kills it if it does not exit."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


async def wait_until(
    check: Callable[[], Awaitable[bool] | bool],
    *,
    what: str,
    procs: tuple[Process, ...] = (),
    deadline: float = DEADLINE,
) -> None:
    """Poll ``check`` every 100 ms until it holds; fail with the processes' logs at the deadline."""
    end = time.monotonic() + deadline
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        for p in procs:
            if p.popen.poll() is not None:
                code = p.popen.returncode
                pytest.fail(f"{p.name} exited ({code}) waiting for {what}:\n{p.log_tail()}")
        if time.monotonic() > end:
            logs = "\n".join(f"--- {p.name} ---\n{p.log_tail()}" for p in procs)
            pytest.fail(f"timed out after {deadline:.0f}s waiting for {what}\n{logs}")
        await asyncio.sleep(0.1)


async def http_ok(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
            http.get(url) as resp,
        ):
            return resp.status == 200
    except (TimeoutError, aiohttp.ClientError):
        return False


@dataclass
class Receiver:
    """Our webhook handler on 127.0.0.1, folding what it accepts into an AlertBook."""

    url: str
    metrics: Metrics
    book: AlertBook = field(default_factory=AlertBook)
    payloads: list[WebhookPayload] = field(default_factory=list)
    requests: list[Mapping[str, str]] = field(default_factory=list)  # headers of each request

    def state(self, **labels: str) -> AlertState | None:
        """The alert whose labels include ``labels``, if we heard of it."""
        found = [
            a
            for a in self.book.alerts.values()
            if all(a.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) <= 1, f"labels {labels} match {len(found)} alerts"
        return found[0] if found else None

    def firing(self, **labels: str) -> bool:
        now = time.time()
        return any(
            all(a.labels.get(k) == v for k, v in labels.items())
            for a in self.book.firing(now=now, ttl=3600)
        )

    def resolved(self, **labels: str) -> bool:
        state = self.state(**labels)
        return state is not None and state.status == "resolved"

    def count(self, code: int, reason: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "esas_webhook_requests_total", {"code": str(code), "reason": reason}
        )
        return value or 0.0


@dataclass
class Alertmanager:
    url: str
    process: Process

    async def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.url}/api/v2/alerts", json=alerts) as resp,
        ):
            assert resp.status == 200, await resp.text()


def alertmanager_config(*, webhook_url: str, authorization: dict[str, str]) -> str:
    """The fixtures README's config, with our receiver; JSON is valid YAML (no quoting games)."""
    config = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "es-autoscaler",
            "group_by": ["alertname", "cluster"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "es-autoscaler",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "max_alerts": 0,
                        "http_config": {"authorization": {"type": "Bearer", **authorization}},
                    }
                ],
            }
        ],
    }
    return json.dumps(config, indent=2)
