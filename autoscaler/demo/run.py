"""``es-autoscaler demo``: the twin and the real service in one process, on one simulated clock.

This is a composition root, like ``service.serve.serve``: it builds the digital twin (a
simulated Elasticsearch cluster and its Kubernetes StatefulSet, served on 127.0.0.1 ports to the
real clients), writes the demo policy pointed at it, and starts the very ``Service`` that
``es-autoscaler serve`` runs — same poller, engine, runner, HTTP API and ``/metrics``. The one
difference is the clock it is handed: the twin's clock, running at wall time × ``speed``
(``autoscaler.clock.Clock``), so a policy's ``for: 5m`` and ``cooldown: 10m`` pass in seconds and
the service's waits between polls shrink by the same factor.

The workload profile drives the twin's load model; the service decides from what it polls and
acts on the twin's StatefulSet through the Kubernetes API; the twin moves shards, and records
in its invariant log any shard copy lost. The demo watches the service's own views (the same
data as ``GET /api/v1/policies/NAME``) and the twin's cluster state, and ends once it has seen
a confirmed scale-up and a confirmed drained scale-down after the profile's last step (or at
``--duration``). Exit 0 only when both happened and the invariant log is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from autoscaler.clock import Clock
from autoscaler.core.durations import format_duration
from autoscaler.core.operation import Operation
from autoscaler.demo.rehearsal import Rehearsal
from autoscaler.demo.view import (
    Display,
    Event,
    NodeRow,
    Outcome,
    Snapshot,
    clock_text,
    print_lines,
    summary,
)
from autoscaler.demo.workload import Workload, start_workload
from autoscaler.metrics import Metrics
from autoscaler.service.logs import JsonFormatter
from autoscaler.service.serve import Service
from autoscaler.settings import Settings
from autoscaler.signals.webhook import WebhookAuth
from autoscaler.sim.clock import ScaledClock
from autoscaler.sim.server import RunningTwin, run_twin
from autoscaler.sim.spec import TwinSpec

STATUS_EVERY = 15 * 60.0
"""Simulated seconds between two status lines in plain mode."""
FRAME_SECONDS = 0.25
"""Wall seconds between two looks at the service and the twin."""


@dataclass(frozen=True)
class DemoOptions:
    rehearsal: Rehearsal
    workload: Workload
    speed: float
    duration: float | None = None
    plain: bool = False
    serve: bool = False
    keep: bool = False


@dataclass(frozen=True)
class TwinClock(Clock):
    """The service's clock in the demo: the twin's clock, at the twin's *current* speed.

    ``--serve`` drops the twin to real time after the summary; the service's waits between
    polls (``Clock.wall``) follow, instead of polling a 1× cluster 240 times too often.
    """

    twin: ScaledClock | None = None

    def wall(self, seconds: float) -> float:
        return seconds / (self.twin.speed if self.twin is not None else self.speed)


class _Recorder:
    """Turns what the service did into timeline events, each reported once."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.events: list[Event] = []
        self._decisions: set[tuple[float, str, str]] = set()
        self._steps: dict[str, int] = {}
        #: each condition's longest hold and value range, from every decision the service
        #: recorded (the frames alone can miss the poll at which a condition completed)
        self.ranges: dict[tuple[str, str], _ConditionRange] = {}

    def observe(self, direction: str, condition: str, *, required: float) -> _ConditionRange:
        key = (direction, condition)
        if key not in self.ranges:
            self.ranges[key] = _ConditionRange(required)
        return self.ranges[key]

    def collect(self, service: Service) -> list[Event]:
        new: list[Event] = []
        for d in reversed(service.runtime.decisions):
            key = (d.at, d.policy, d.action)
            if key in self._decisions:
                continue
            self._decisions.add(key)
            for direction, report in (("up", d.up), ("down", d.down)):
                for leaf in report.leaves if report else ():
                    self.observe(direction, leaf.condition, required=leaf.needed).add(
                        leaf.elapsed, leaf.value
                    )
            if d.action == "none":
                continue
            verb = "scale up" if d.action == "scale_up" else "scale down"
            how = "acted" if d.act else "held"
            reasons = "; ".join(str(r) for r in d.reasons)
            new.append(
                Event(
                    d.at - self.t0,
                    "decision",
                    f"{verb} {d.from_replicas}→{d.to_replicas} ({how}): {reasons}",
                )
            )
        ops = service.operations.operations() if service.operations else []
        for op in sorted(ops, key=lambda o: o.started_at):
            seen = self._steps.get(op.id, 0)
            if seen == 0:
                new.append(Event(op.started_at - self.t0, "operation", f"{_op(op)} started"))
            for step in op.history[seen:]:
                kind = op.state if step.phase == "done" else "phase"  # confirmed, failed, ...
                text = (
                    f"{_op(op)}: {step.detail}"
                    if step.phase == "done"
                    else f"{_op(op)} → {step.phase} ({step.detail})"
                )
                new.append(Event(step.at - self.t0, kind, text))
            self._steps[op.id] = len(op.history)
        new.sort(key=lambda e: e.t)
        self.events += new
        return new


class _ConditionRange:
    """How far a condition got during the run: its longest hold and the values it read."""

    def __init__(self, required: float) -> None:
        self.required = required
        self.longest = 0.0
        self.low: float | None = None
        self.high: float | None = None

    def add(self, sustained: float, value: Any) -> None:
        self.longest = max(self.longest, float(sustained))
        if isinstance(value, int | float):
            self.low = value if self.low is None else min(self.low, value)
            self.high = value if self.high is None else max(self.high, value)

    def text(self) -> str:
        held = f"{format_duration(round(self.longest))} of {format_duration(self.required)}"
        if self.low is None or self.high is None:
            return held
        return f"{held} (values {self.low:.1f}–{self.high:.1f})"


def _op(op: Operation) -> str:
    return f"{op.direction} {op.from_replicas}→{op.to_replicas}"


def _drained(op: Operation) -> bool:
    return op.direction == "down" and any(s.phase == "draining" for s in op.history)


def _snapshot(
    service: Service, twin: RunningTwin, *, name: str, t0: float, w0: float, speed: float
) -> Snapshot:
    cluster = twin.twin.cluster
    state = cluster.state()
    w = cluster.workload()
    now = twin.twin.now()
    return Snapshot(
        t=now - t0,
        wall=time.monotonic() - w0,
        speed=speed,
        search=w.search_per_s,
        index=w.index_per_s,
        policy=service.runtime.policy_view(name),
        health=state["health"],
        relocating=state["relocating"],
        initializing=state["initializing"],
        unassigned=state["unassigned"],
        nodes=tuple(
            NodeRow(n["name"], n["shards"], n["disk_used_percent"], n["excluded"])
            for n in state["nodes"]
        ),
    )


def _urls(service_url: str, twin: RunningTwin, token: str) -> list[str]:
    return [
        "Service and twin are running (Ctrl-C stops them):",
        f"  curl {service_url}/api/v1/policies",
        f"  curl {service_url}/api/v1/operations",
        f"  curl {service_url}/metrics",
        f"  curl {twin.es_url}/_cat/shards?v        (the simulated Elasticsearch)",
        f"  curl {twin.exporter_url}             (its elasticsearch_exporter metrics)",
        f"  kubectl --kubeconfig {twin.kubeconfig_path} get statefulsets,pods -A",
        f"  webhook: {service_url}/webhook/alertmanager with 'Authorization: Bearer {token}'",
    ]


async def run_demo(opts: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo; 0 when the expected operations happened and no shard copy was lost."""
    reh, wl = opts.rehearsal, opts.workload
    duration = opts.duration if opts.duration is not None else wl.duration
    policy = reh.policy
    namespace, sts = reh.statefulset
    nodes = min(max(policy.replicas.min, 3), policy.replicas.max)
    run_dir = Path(tempfile.mkdtemp(prefix="es-autoscaler-demo-"))
    log_file = run_dir / "service.log"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("aiohttp.access", "elastic_transport.transport", "elastic_transport.node_pool"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ok = False
    try:
        spec = TwinSpec(nodes=nodes, speed=opts.speed, statefulset=f"{namespace}/{sts}")
        async with run_twin(spec, kubeconfig_dir=run_dir / "twin") as twin:
            ok = await _run(opts, twin, run_dir=run_dir, duration=duration, out=out)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        handler.close()
        if ok and not opts.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            out.write(f"(demo files kept in {run_dir})\n")
    return 0 if ok else 1


async def _run(
    opts: DemoOptions, twin: RunningTwin, *, run_dir: Path, duration: float, out: TextIO
) -> bool:
    reh, wl, speed = opts.rehearsal, opts.workload, opts.speed
    name = reh.policy.name
    sim = twin.twin
    start_workload(sim.cluster, wl)
    t0, w0 = sim.now(), time.monotonic()
    policies = run_dir / "policies"
    policies.mkdir()
    (policies / f"{name}.yaml").write_text(reh.text(es_url=twin.es_url))
    token = secrets.token_urlsafe(18)
    settings = Settings(
        policies=policies,
        host="127.0.0.1",
        port=0,
        kubeconfig=twin.kubeconfig_path,
        state_dir=run_dir / "state",
        state_configmap=None,
        leader_election=None,
        alertmanager_url=None,
    )
    auth = WebhookAuth.from_sources(
        token=token,
        token_file=None,
        basic_user=None,
        basic_password_file=None,
        insecure_no_auth=False,
    )
    # the composition root's one decision: the service runs on the twin's clock
    twin_clock = sim.clock if isinstance(sim.clock, ScaledClock) else None
    clock = TwinClock(now=sim.clock.time, speed=speed, twin=twin_clock)
    service = Service(settings=settings, metrics=Metrics(), clock=clock, auth=auth)
    loaded = service.load_initial()
    if not loaded.ok:  # validated before; a failure here is a bug in the rewrite
        print_lines([str(e) for e in loaded.errors], out)
        return False
    host, port = await service.start()
    service_url = f"http://{host}:{port}"
    plain = opts.plain or not out.isatty()
    title = f"es-autoscaler demo — {name} on {twin.statefulset}"
    print_lines(
        [
            f"{title}",
            f"  policy: {reh.source} ({reh.policy.describe()})"
            + (
                f" [rehearsal: {', '.join(reh.changes)}]"
                if reh.source.endswith((".yaml", ".yml"))
                else ""
            ),
            f"  workload: {wl.describe()}  ({wl.source})",
            f"  simulated {format_duration(duration)} at ×{speed:g}: at most "
            f"{duration / speed:.0f}s of wall time",
        ],
        out,
    )
    if opts.serve:
        print_lines(_urls(service_url, twin, token), out)
    display = Display(out, plain=plain, t0=t0, title="es-autoscaler demo")
    recorder = _Recorder(t0)
    node_seconds = 0.0
    peak = 0
    last_t = 0.0
    last_step = wl.steps[-1].at
    try:
        while True:
            await asyncio.sleep(FRAME_SECONDS)
            snap = _snapshot(service, twin, name=name, t0=t0, w0=w0, speed=speed)
            node_seconds += len(snap.nodes) * max(0.0, snap.t - last_t)
            peak = max(peak, len(snap.nodes))
            last_t = snap.t
            for c in snap.policy.get("conditions", []):
                held = recorder.observe(
                    c["direction"], c["condition"], required=c["requiredSeconds"] or 0.0
                )
                held.add(c["sustainedSeconds"] or 0.0, c["value"])
            for e in recorder.collect(service):
                display.event(e, e.t / speed)
            display.update(snap, status_every=STATUS_EVERY)
            ops = service.operations.operations() if service.operations else []
            up = sum(1 for o in ops if o.direction == "up" and o.state == "confirmed")
            down = sum(1 for o in ops if _drained(o) and o.state == "confirmed")
            running = any(o.running for o in ops)
            if snap.t >= duration or (up and down and not running and snap.t >= last_step):
                break
        display.finish()
        for e in recorder.collect(service):
            display.event(e, e.t / speed)
        ops = service.operations.operations() if service.operations else []
        outcome = Outcome(
            duration=last_t,
            wall=time.monotonic() - w0,
            speed=speed,
            events=recorder.events,
            confirmed_up=sum(1 for o in ops if o.direction == "up" and o.state == "confirmed"),
            confirmed_down_drained=sum(1 for o in ops if _drained(o) and o.state == "confirmed"),
            failed=[
                f"{_op(o)}: {o.failure}" for o in ops if o.state not in ("confirmed", "running")
            ],
            node_hours=node_seconds / 3600.0,
            node_hours_peak=peak * last_t / 3600.0,
            peak_nodes=peak,
            invariants=sim.invariants,
            log_file=str(run_dir / "service.log") if opts.keep or opts.serve else None,
        )
        outcome.conditions = [
            f"{d:<4} {name}: held at most {r.text()}" for (d, name), r in recorder.ranges.items()
        ]
        if any(o.running for o in ops):
            outcome.notes.append(
                "Note: an operation was still running when the demo ended (--duration too short?)"
            )
        print_lines(summary(outcome), out)
        if opts.serve:
            # a user poking at the APIs now sees a normal cluster: one second per second
            sim.set_speed(1.0)
            line = f"The twin now runs at real time (×1) from {clock_text(sim.now() - t0)}."
            print_lines([line, *_urls(service_url, twin, token)], out)
            await _wait_for_signal()
    finally:
        await service.stop()
    return outcome.ok


async def _wait_for_signal() -> None:
    """``--serve``: keep the service and the twin running until Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
