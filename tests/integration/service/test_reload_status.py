"""A rejected policy reload is visible in ``/api/v1/policies``, not only in the log.

After a `helm upgrade` with a broken policy the old set keeps running, which is right — but
an operator checking the API saw the old policies and no sign that their change had been
refused. ``lastReload`` says when the directory was last read, by what, and the errors.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

POLICY = """
name: alpha
elasticsearch: {url: "http://127.0.0.1:9", pollInterval: 1s, requestTimeout: 1s}
replicas: {min: 1, max: 3}
scaleUp:
  when: {metric: cpu, aggregate: avg, above: 80, for: 1m}
  cooldown: 5m
mode: dry-run
"""


def _event(proc: subprocess.Popen[str], event: str) -> dict[str, Any]:
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        try:
            rec = json.loads(line) if line else {}
        except json.JSONDecodeError:
            continue
        if rec.get("event") == event:
            return dict(rec)
    pytest.fail(f"no {event!r} log line")


def _policies(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/api/v1/policies", timeout=5) as r:
        body: dict[str, Any] = json.loads(r.read())
        return body


def test_a_rejected_reload_shows_in_the_policy_list_with_its_errors(tmp_path: Path) -> None:
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "a.yaml").write_text(POLICY)
    (tmp_path / "token").write_text("s3cret\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESAS_")}
    env["KUBECONFIG"] = str(tmp_path / "no-such-kubeconfig")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "autoscaler", "serve", "--policies", str(pdir),
            "--host", "127.0.0.1", "--port", "0", "--webhook-token-file", str(tmp_path / "token"),
            "--state-dir", str(tmp_path / "state"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{_event(proc, 'listening')['port']}"
        assert _policies(url)["lastReload"] is None  # nothing reloaded yet

        (pdir / "a.yaml").write_text("name: alpha\nreplicas: {min: 5, max: 1}\n")
        proc.send_signal(signal.SIGHUP)
        _event(proc, "policy_reload_rejected")
        body = _policies(url)
        assert [p["name"] for p in body["policies"]] == ["alpha"]  # the old set still runs
        rejected = body["lastReload"]
        assert rejected["ok"] is False
        assert rejected["trigger"] in ("sighup", "file_change")  # the watcher may be first
        assert any(
            e.startswith(f"{pdir / 'a.yaml'}:2: replicas: min (5) is greater than max (1)")
            for e in rejected["errors"]
        )

        (pdir / "a.yaml").write_text(POLICY)
        proc.send_signal(signal.SIGHUP)
        _event(proc, "policies_reloaded")
        accepted = _policies(url)["lastReload"]
        assert (accepted["ok"], accepted["errors"]) == (True, [])
        assert accepted["at"] >= rejected["at"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
