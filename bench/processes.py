"""Product processes a bench starts: run one with its output in a file, read its JSON start line.

Why a module: the webhook and sim benches both start ``es-autoscaler`` processes, wait for the
JSON line that says where they listen and stop them in ``finally``; one copy of that keeps the
benches' "everything stops by itself" promise in one place.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from bench import product_env


@contextmanager
def running(
    args: list[str], out: Path, *, cwd: Path | None = None, stop_timeout: float = 10
) -> Iterator[subprocess.Popen[bytes]]:
    """``args`` as a product process (``product_env()``), stdout and stderr into ``out``;
    SIGTERM on exit, SIGKILL after ``stop_timeout`` seconds."""
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            args, stdout=sink, stderr=subprocess.STDOUT, env=product_env(), cwd=cwd or out.parent
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_json_line(
    path: Path, key: str, proc: subprocess.Popen[bytes], timeout: float = 60
) -> dict[str, Any]:
    """The first JSON object in ``path`` with ``key`` (for ``event``: the ``listening`` one);
    exits with the log's tail if ``proc`` ends or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            with suppress(json.JSONDecodeError):
                rec = json.loads(line)
                if (
                    isinstance(rec, dict)
                    and key in rec
                    and (key != "event" or rec["event"] == "listening")
                ):
                    return rec
        if proc.poll() is not None:
            raise SystemExit(
                f"{proc.args!r} exited with {proc.returncode}:\n{path.read_text()[-2000:]}"
            )
        time.sleep(0.1)
    raise SystemExit(f"no {key!r} line from {proc.args!r} within {timeout} s")
