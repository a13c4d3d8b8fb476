"""Webhook throughput of the real ``es-autoscaler serve`` process, against a bare aiohttp one.

Why this shape (issue 10): a bench that calls the handler in-process measures a shortcut; users
run the service. So the load comes from an external generator (``wrk``, the Debian package,
installed with apt-get if missing) against two separate processes on 127.0.0.1:

* ``es-autoscaler serve`` with the shipped policies (``policies/*.yaml``; only their
  connection blocks are pointed at a digital twin started by ``es-autoscaler sim``, so the
  pollers and replica reads run as they do in production) at its default log level;
* ``bench/bare_server.py``: aiohttp reading and decoding the same JSON, answering 200.

Rounds are interleaved (ours, bare, bare, ours, …), each one a fixed-length ``wrk`` run with
32 connections; the figure is the median and min–max of ours/bare over the rounds. Beside it,
the CPU time each server process spent per request (``utime + stime`` from ``/proc/PID/stat``
over the run ÷ requests answered): on a shared machine throughput swings with what else runs,
CPU per request much less, so it shows whether a low round is our cost or the neighbours'.
A third case measures the cost of one webhook with 50 policies and 1,000 remembered alerts.

Everything stops by itself: bounded durations, processes terminated in ``finally``.
Run: ``python -m bench webhook_bench``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from bench.processes import running, wait_json_line

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "alertmanager"
PAYLOADS = ["api-group-mixed-one-resolved.json", "api-firing.json"]
TOKEN = "bench-token"
PATH = "/webhook/alertmanager"
ROUNDS = 7
SECONDS = 3
CONNECTIONS = 32
MANY_POLICIES = 50
MANY_ALERTS = 1000
MANY_SECONDS = 5


def ensure_wrk() -> str:
    """``wrk`` from PATH, or installed from Debian with apt-get (as root, or through sudo)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("  wrk not found: installing the Debian package 'wrk' with apt-get", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "--no-install-recommends", "wrk"], check=True, env=env
    )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install wrk")
    return found


def _point_at(policy_text: str, es_url: str) -> str:
    """The policy with its ``elasticsearch`` block replaced by the twin's plain-HTTP URL."""
    out, skipping = [], False
    for line in policy_text.splitlines():
        if line.startswith("elasticsearch:"):
            out.append("elasticsearch:")
            out.append(f"  url: {es_url}")
            interval = None
            skipping = True
            continue
        if skipping:
            if line.startswith("  "):
                m = re.match(r"\s+pollInterval:\s*(\S+)", line)
                if m:
                    interval = m.group(1)
                    out.append(f"  pollInterval: {interval}")
                continue
            skipping = False
        out.append(line)
    return "\n".join(out) + "\n"


def _policies(dest: Path, es_url: str, *, many: bool) -> None:
    dest.mkdir()
    if not many:
        for src in sorted((ROOT / "policies").glob("*.yaml")):
            (dest / src.name).write_text(_point_at(src.read_text(), es_url))
        return
    text = _point_at((ROOT / "policies" / "search-alert-driven.yaml").read_text(), es_url)
    for i in range(MANY_POLICIES):
        (dest / f"p{i:02d}.yaml").write_text(
            text.replace("name: search-tier", f"name: search-{i:02d}")
        )


class Servers(NamedTuple):
    """The two webhook receivers under test: URLs and process ids."""

    ours: str
    bare: str
    ours_pid: int
    bare_pid: int


@contextmanager
def services(work: Path, *, many: bool = False) -> Iterator[Servers]:
    """Our webhook and the bare server, each a separate process on 127.0.0.1."""
    py = sys.executable
    with running(
        [py, "-m", "autoscaler", "sim", "--virtual", "--kubeconfig-dir", str(work / "kube")],
        work / "sim.log",
    ) as sim:
        twin = wait_json_line(work / "sim.log", "elasticsearch", sim)
        pdir = work / ("many" if many else "policies")
        _policies(pdir, twin["elasticsearch"], many=many)
        (work / "token").write_text(TOKEN + "\n")
        args = [
            py,
            "-m",
            "autoscaler",
            "serve",
            "--policies",
            str(pdir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--webhook-token-file",
            str(work / "token"),
            "--state-dir",
            str(work / f"state-{pdir.name}"),
            "--kubeconfig",
            twin["kubeconfig"],
        ]
        log = work / f"serve-{pdir.name}.log"
        with (
            running(args, log) as serve,
            running([py, str(ROOT / "bench" / "bare_server.py")], work / "bare.log") as bare,
        ):
            ours = wait_json_line(log, "event", serve)["port"]
            theirs = wait_json_line(work / "bare.log", "port", bare)["port"]
            yield Servers(
                f"http://127.0.0.1:{ours}{PATH}",
                f"http://127.0.0.1:{theirs}{PATH}",
                serve.pid,
                bare.pid,
            )


def _lua(work: Path, body: Path) -> Path:
    script = work / f"{body.stem}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f'local f = io.open("{body}", "rb")\nwrk.body = f:read("*all")\nf:close()\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
    )
    return script


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (``/proc/PID/stat``, fields 14-15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    binary: str, url: str, script: Path, seconds: int = SECONDS, connections: int = CONNECTIONS
) -> float:
    """Requests/s of one bounded wrk run; refuses a run with error answers."""
    return wrk_run(binary, url, script, seconds, connections)[0]


def wrk_run(
    binary: str,
    url: str,
    script: Path,
    seconds: int = SECONDS,
    connections: int = CONNECTIONS,
    *,
    pid: int | None = None,
) -> tuple[float, float | None]:
    """(requests/s, CPU µs the server process ``pid`` spent per request) of one bounded wrk
    run; refuses a run with error answers."""
    before = cpu_seconds(pid) if pid is not None else 0.0
    out = subprocess.run(
        [
            binary,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit(f"{url}: {bad.group(1)} error answers under load:\n{out}")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    if not m or not n:
        raise SystemExit(f"unreadable wrk output:\n{out}")
    cpu_us = None
    if pid is not None and int(n.group(1)):
        cpu_us = (cpu_seconds(pid) - before) / int(n.group(1)) * 1e6
    return float(m.group(1)), cpu_us


def _post(url: str, body: bytes) -> None:
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def _remember_alerts(url: str) -> None:
    """Fill the alert book with MANY_ALERTS distinct firing alerts the policies watch."""
    template = json.loads((FIXTURES / "api-firing.json").read_text())
    base = template["alerts"][0]
    for batch in range(MANY_ALERTS // 100):
        alerts = []
        for j in range(100):
            n = batch * 100 + j
            a = json.loads(json.dumps(base))
            a["labels"]["instance"] = f"es-{n:04d}"
            a["fingerprint"] = f"{n:016x}"
            alerts.append(a)
        _post(url, json.dumps({**template, "alerts": alerts}).encode())


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}× (min {min(values):.2f}, max {max(values):.2f})"


def run() -> dict[str, Any]:
    binary = ensure_wrk()
    results: dict[str, Any] = {}
    print(
        f"webhook throughput — wrk -t1 -c{CONNECTIONS} -d{SECONDS}s, {ROUNDS} interleaved rounds, "
        "real `es-autoscaler serve` (shipped policies) vs bare aiohttp, both separate processes"
    )
    with tempfile.TemporaryDirectory(prefix="esas-bench-") as tmp:
        work = Path(tmp)
        with services(work) as srv:
            for name in PAYLOADS:
                script = _lua(work, FIXTURES / name)
                wrk(binary, srv.ours, script, 1)  # warm-up
                wrk(binary, srv.bare, script, 1)
                ratios: list[float] = []
                o_rps: list[float] = []
                b_rps: list[float] = []
                o_cpu: list[float] = []
                b_cpu: list[float] = []
                for r in range(ROUNDS):
                    order = [
                        (srv.ours, srv.ours_pid, o_rps, o_cpu),
                        (srv.bare, srv.bare_pid, b_rps, b_cpu),
                    ]
                    for url, pid, sink, cpu in order if r % 2 == 0 else order[::-1]:
                        got, us = wrk_run(binary, url, script, pid=pid)
                        sink.append(got)
                        if us is not None:
                            cpu.append(us)
                    ratios.append(o_rps[-1] / b_rps[-1])
                results[name] = {
                    "ours_rps": o_rps,
                    "bare_rps": b_rps,
                    "ratio": ratios,
                    "ours_cpu_us_per_request": o_cpu,
                    "bare_cpu_us_per_request": b_cpu,
                }
                print(
                    f"  {name:<36} ours {statistics.median(o_rps):7.0f} req/s, bare "
                    f"{statistics.median(b_rps):7.0f} req/s, ratio ours/bare {_fmt(ratios)}"
                )
                if o_cpu and b_cpu:
                    o_us, b_us = statistics.median(o_cpu), statistics.median(b_cpu)
                    print(
                        f"  {'':<36} CPU per request (median): ours {o_us:.0f} µs, bare "
                        f"{b_us:.0f} µs, bare/ours {b_us / o_us:.2f}×"
                    )
        with services(work, many=True) as srv:
            ours = srv.ours
            _remember_alerts(ours)
            script = _lua(work, FIXTURES / "api-firing.json")
            wrk(binary, ours, script, 1)
            # One connection: the figure is what one webhook costs, not how they queue.
            rps = [wrk(binary, ours, script, MANY_SECONDS, 1) for _ in range(3)]
            ms = [1000.0 / x if x else MANY_SECONDS * 1000.0 for x in rps]
            results["many"] = {"rps": rps, "ms_per_webhook": ms}
            print(
                f"  {MANY_POLICIES} policies + {MANY_ALERTS} remembered alerts, api-firing.json, "
                f"one connection: {statistics.median(ms):.2f} ms per webhook (median of 3 runs of "
                f"{MANY_SECONDS} s; {statistics.median(rps):.0f} req/s)"
                + (" — no answer within a run: at least the run's length" if not all(rps) else "")
            )
    return {"webhook": results}


if __name__ == "__main__":
    run()
