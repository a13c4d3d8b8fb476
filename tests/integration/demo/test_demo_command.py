"""``es-autoscaler demo`` as a user runs it: a subprocess, stdout not a TTY (so plain lines), at a
high speed. The summary it prints must show what the demo promises — a scale-up confirmed after
rebalancing, a drained scale-down confirmed, no shard copy lost — in the order a real run has
them, and the exit code must say whether that happened.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from autoscaler.core.durations import parse_duration

REPO = Path(__file__).parents[3]
SPEED = "1000"  # ~3 h 40 m of simulated time in ~14 s of wall time


def demo_env(tmp: Path) -> dict[str, str]:
    """No ESAS_* settings leak in; the run directory (kept when the verdict is not OK) goes
    under the test's temporary directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESAS_")}
    env["TMPDIR"] = str(tmp)
    return env


def run_demo(*args: str, tmp: Path, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    env = demo_env(tmp)
    return subprocess.run(
        [sys.executable, "-m", "autoscaler", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
        check=False,
    )


def timeline(stdout: str) -> list[tuple[int, str, str]]:
    """``(simulated seconds, kind, text)`` of each summary timeline line."""
    body = stdout.split("Timeline (simulated time | wall time):", 1)[1]
    out = []
    for line in body.splitlines()[1:]:
        m = re.match(r"\s+T\+(\d+)h(\d\d)m(\d\d)s \|\s+[\d.]+s\s+(\S+)\s+(.*)$", line)
        if not m:
            break
        h, mi, s, kind, text = m.groups()
        out.append((int(h) * 3600 + int(mi) * 60 + int(s), kind, text))
    return out


def test_the_demo_scales_up_after_rebalancing_then_down_after_draining_and_loses_no_copy(
    tmp_path: Path,
) -> None:
    result = run_demo("--plain", "--speed", SPEED, tmp=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "\x1b[" not in out  # not a TTY: plain lines, no cursor movement
    m = re.search(
        r"Operations: (\d+) scale-up confirmed after rebalancing, (\d+) drained scale-down "
        r"confirmed, (\d+) failed",
        out,
    )
    assert m, out[-2000:]
    ups, downs, failed = map(int, m.groups())
    assert ups >= 1
    assert downs >= 1
    assert failed == 0
    assert "Invariants: 0 shard copies lost" in out
    assert "Result: OK" in out
    events = timeline(out)
    kinds = [(k, text.split(":")[0]) for _, k, text in events]
    # decision → operation phases → confirmation, up before down, each in simulated-time order
    up_decision = kinds.index(("decision", "scale up 3→4 (acted)"))
    up_rebalancing = next(i for i, (_, t) in enumerate(kinds) if "→ rebalancing" in t)
    up_confirmed = kinds.index(("confirmed", "up 3→4"))
    down_decision = kinds.index(("decision", "scale down 4→3 (acted)"))
    down_draining = next(i for i, (_, t) in enumerate(kinds) if "down 4→3 → draining" in t)
    down_confirmed = kinds.index(("confirmed", "down 4→3"))
    order = [up_decision, up_rebalancing, up_confirmed, down_decision, down_draining]
    assert [*order, down_confirmed] == sorted([*order, down_confirmed])
    times = [t for t, _, _ in events]
    assert times == sorted(times)
    # the scale-up waited for the shards: confirmed long after the new node joined
    assert events[up_confirmed][0] - events[up_rebalancing][0] > 10 * 60
    assert "copies: es-data-3" in events[up_confirmed][2]
    # each condition's longest hold, from the service's decisions: both directions' held `for`
    for direction in ("up", "down"):
        longest = re.search(rf"^  {direction}\s+.+ for (\d+m): held at most (\S+) of", out, re.M)
        assert longest, out[-2000:]
        assert parse_duration(longest.group(2)) >= parse_duration(longest.group(1))
    # node-hours: fewer than the peak tier all along (it shrank again)
    nh = re.search(r"Node-hours: ([\d.]+) \(the peak of 4 nodes all along: ([\d.]+)\)", out)
    assert nh, out[-2000:]
    assert 0 < float(nh.group(1)) < float(nh.group(2))


def test_the_demo_exits_non_zero_when_the_expected_operations_do_not_happen(
    tmp_path: Path,
) -> None:
    # a quiet cluster for 30 simulated minutes: the policy never scales
    result = run_demo(
        "--plain", "--speed", SPEED, "--workload", "0m=200/1500", "--duration", "30m", tmp=tmp_path
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Operations: 0 scale-up confirmed after rebalancing, 0 drained scale-down" in (
        result.stdout
    )
    assert "Invariants: 0 shard copies lost" in result.stdout
    assert "Result: FAILED" in result.stdout


def test_bad_demo_inputs_are_refused_with_exit_2_and_a_clear_message(tmp_path: Path) -> None:
    result = run_demo("--workload", "10m=lots", tmp=tmp_path)
    assert result.returncode == 2
    assert "expected AT=SEARCH/INDEX" in result.stderr
    vm = REPO / "policies" / "vm-cluster-ansible.yaml"
    result = run_demo("--policy", str(vm), tmp=tmp_path)
    assert result.returncode == 2
    assert "no StatefulSet target" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nreplicas: {min: 5, max: 2}\n")
    result = run_demo("--policy", str(bad), tmp=tmp_path)
    assert result.returncode == 2
    assert str(bad) in result.stderr


def test_on_a_terminal_the_view_is_redrawn_in_place_and_ends_with_the_summary(
    tmp_path: Path,
) -> None:
    main, child = pty.openpty()
    env = demo_env(tmp_path)
    argv = [sys.executable, "-m", "autoscaler", "demo", "--speed", "3000", "--duration", "2h"]
    argv += ["--workload", "0m=200/1500"]  # quiet: 2 simulated hours in ~2.4 s, no operation
    proc = subprocess.Popen(argv, stdout=child, stderr=child, cwd=REPO, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=60) == 1  # no operation happened, and the verdict says so
    out = b"".join(chunks).decode("utf-8", "replace")
    frames = re.findall(r"\x1b\[\d+F\x1b\[J", out)  # cursor up N lines, clear: a redraw
    assert len(frames) >= 2, out[-2000:]
    assert "conditions (value, sustained of `for`)" in out
    assert "shards     es-data-0 " in out
    assert "Invariants: 0 shard copies lost" in out


def test_serve_keeps_the_service_and_the_twin_running_at_real_time_until_sigterm(
    tmp_path: Path,
) -> None:
    env = demo_env(tmp_path)
    argv = [sys.executable, "-m", "autoscaler", "demo", "--plain", "--serve", "--speed", "3000"]
    argv += ["--workload", "0m=200/1500", "--duration", "30m"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, env=env, text=True
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:  # the summary, then the URLs again, then it waits
            lines.append(line)
            if line.startswith("  webhook:") and any(x.startswith("Result:") for x in lines):
                break
        out = "".join(lines)
        api = re.findall(r"curl (http://127\.0\.0\.1:\d+)/api/v1/policies", out)[-1]
        kubeconfig = re.findall(r"kubectl --kubeconfig (\S+) get", out)[-1]
        assert proc.poll() is None  # still serving after the summary
        with urllib.request.urlopen(f"{api}/api/v1/policies", timeout=10) as resp:
            names = [p["name"] for p in json.load(resp)["policies"]]
        assert names == ["demo-data"]
        with urllib.request.urlopen(f"{api}/metrics", timeout=10) as resp:
            assert b"esas_replicas_current" in resp.read()
        assert Path(kubeconfig).is_file()
        # after the summary the twin runs at 1×, not at the demo's ×3000
        assert re.search(
            r"^The twin now runs at real time \(×1\) from T\+\d+h\d\dm\d\ds\.$", out, re.M
        )
        es = re.findall(r"curl (http://127\.0\.0\.1:\d+)/_cat/shards", out)[-1]
        with urllib.request.urlopen(f"{es}/_sim/state", timeout=10) as resp:
            assert json.load(resp)["clock"]["speed"] == 1.0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 1  # no operation in 30 quiet minutes: not OK
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
