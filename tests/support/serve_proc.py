"""``es-autoscaler serve`` as a child process for integration tests: its JSON log in a file,
its URL read from the ``listening`` line, JSON GET/POST helpers, SIGTERM/SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp


class ServeProc:
    def __init__(
        self, log_path: Path, args: list[str], *, env: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        base = {k: v for k, v in os.environ.items() if not k.startswith("ESAS_")}
        for k in ("KUBERNETES_SERVICE_HOST", "POD_NAME", "POD_IP", "POD_NAMESPACE"):
            base.pop(k, None)
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autoscaler", "serve", *args],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=base | (env or {}),
        )
        self.url = ""

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    async def first_event(self, *events: str, deadline_s: float = 30.0) -> dict[str, Any]:
        """The first log record whose ``event`` is one of ``events``; fails when the process
        exits without logging one, or after ``deadline_s``."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            exited = self.proc.poll() is not None  # before reading: a last line is not missed
            for rec in self.lines():
                if rec.get("event") in events:
                    return rec
            if exited:
                raise AssertionError(
                    f"serve exited {self.proc.returncode}: {self.log_path.read_text()[-3000:]}"
                )
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"none of {sorted(events)} logged: {self.log_path.read_text()[-3000:]}"
        )

    async def started(self, deadline_s: float = 30.0) -> str:
        rec = await self.first_event("listening", deadline_s=deadline_s)
        self.url = f"http://{rec['host']}:{rec['port']}"
        return self.url

    async def get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as s, s.get(self.url + path) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def post(
        self, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        async with (
            aiohttp.ClientSession() as s,
            s.post(self.url + path, json=body, headers=headers or {}) as r,
        ):
            return r.status, await r.json(content_type=None), dict(r.headers)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
