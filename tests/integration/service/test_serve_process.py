"""``es-autoscaler serve`` as a real process: start-up checks, SIGHUP reload, SIGTERM exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

POLICY = """
name: {name}
elasticsearch: {{url: "http://127.0.0.1:9", pollInterval: 1s, requestTimeout: 1s}}
replicas: {{min: 1, max: 3}}
scaleUp:
  when: {{metric: cpu, aggregate: avg, above: 80, for: 1m}}
  cooldown: 5m
mode: dry-run
"""


def _spawn(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESAS_")}
    env["KUBECONFIG"] = str(tmp_path / "no-such-kubeconfig")
    return subprocess.Popen(
        [sys.executable, "-m", "autoscaler", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def _wait_event(proc: subprocess.Popen[str], event: str, timeout: float = 20) -> dict[str, Any]:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("event") == event:
            return dict(rec)
    pytest.fail(f"no {event!r} log line; got: {''.join(seen)[-2000:]}")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "a.yaml").write_text(POLICY.format(name="alpha"))
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    proc = _spawn(
        [
            "--policies",
            str(pdir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--webhook-token-file",
            str(token),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        tmp_path,
    )
    try:
        rec = _wait_event(proc, "listening")
        yield proc, f"http://127.0.0.1:{rec['port']}", pdir
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_metric(url: str, needle: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        _, text = _get(url + "/metrics")
        if needle in text:
            return text
        time.sleep(0.2)
    pytest.fail(f"{needle!r} not in /metrics:\n{text[-1500:]}")


def test_port_zero_logs_the_bound_address_and_serves(served: Any) -> None:
    _, url, _ = served
    status, body = _get(url + "/healthz")
    assert status == 200
    status, body = _get(url + "/api/v1/policies")
    assert [p["name"] for p in json.loads(body)["policies"]] == ["alpha"]


def test_sighup_with_a_broken_policy_keeps_the_old_one_and_counts_the_failure(served: Any) -> None:
    proc, url, pdir = served
    (pdir / "a.yaml").write_text("name: alpha\nreplicas: {min: 5, max: 1}\n")
    proc.send_signal(signal.SIGHUP)
    rec = _wait_event(proc, "policy_reload_rejected")
    assert any("min (5) is greater than max (1)" in e for e in rec["errors"])
    assert rec["kept"] == ["alpha"]
    _wait_metric(url, 'esas_policy_reloads_total{result="failure"}')
    _, body = _get(url + "/api/v1/policies")
    assert [p["name"] for p in json.loads(body)["policies"]] == ["alpha"]

    (pdir / "a.yaml").write_text(POLICY.format(name="beta"))
    proc.send_signal(signal.SIGHUP)
    _wait_event(proc, "policies_reloaded")
    _, body = _get(url + "/api/v1/policies")
    assert [p["name"] for p in json.loads(body)["policies"]] == ["beta"]


def test_sigterm_stops_the_service_with_exit_code_zero(served: Any) -> None:
    proc, _, _ = served
    proc.send_signal(signal.SIGTERM)
    # a hang guard, not a benchmark: the requirement is "exit 0 within the pod's grace
    # period" (the chart's terminationGracePeriodSeconds, 30 s; then the kubelet kills)
    assert proc.wait(timeout=30) == 0


def test_serve_refuses_to_start_without_webhook_auth(tmp_path: Path) -> None:
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "a.yaml").write_text(POLICY.format(name="alpha"))
    proc = _spawn(["--policies", str(pdir), "--port", "0", "--host", "127.0.0.1"], tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "--insecure-no-auth" in err


def test_serve_refuses_to_start_with_an_invalid_policy(tmp_path: Path) -> None:
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "a.yaml").write_text("name: x\nreplicas: {min: 1, max: 2}\nbogus: 1\n")
    proc = _spawn(
        ["--policies", str(pdir), "--port", "0", "--host", "127.0.0.1", "--insecure-no-auth"],
        tmp_path,
    )
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "a.yaml:3: bogus: unknown field 'bogus'" in err


def test_insecure_no_auth_warns_at_start(tmp_path: Path) -> None:
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "a.yaml").write_text(POLICY.format(name="alpha"))
    proc = _spawn(
        ["--policies", str(pdir), "--port", "0", "--host", "127.0.0.1", "--insecure-no-auth"],
        tmp_path,
    )
    try:
        rec = _wait_event(proc, "insecure_no_auth")
        assert rec["level"] == "warning"
        _wait_event(proc, "listening")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_a_changed_policy_file_is_reloaded_without_a_signal(served: Any) -> None:
    proc, url, pdir = served
    (pdir / "b.yaml").write_text(POLICY.format(name="gamma"))
    rec = _wait_event(proc, "policies_reloaded")
    assert rec["trigger"] == "file_change"
    assert rec["policies"] == ["alpha", "gamma"]
    _wait_metric(url, 'esas_policy_reloads_total{result="success"} 2.0')
