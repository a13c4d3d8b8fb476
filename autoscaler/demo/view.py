"""What the demo shows: a live frame redrawn in place on a terminal, plain lines elsewhere, and
the closing summary.

Rendering only: ``demo.run`` gathers a ``Snapshot`` (from the service's own policy view, its
operations, and the twin's cluster state) and hands it here. On a TTY the frame is redrawn in
place with ANSI cursor movement (no dependency: a pip-installed service has no ``rich``); with
``--plain`` or when stdout is not a TTY, a timestamped line is printed for every decision and
operation phase, plus a status line every few simulated minutes — readable in CI logs.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from autoscaler.core.durations import format_duration


@dataclass(frozen=True)
class NodeRow:
    name: str
    shards: int
    disk_percent: float
    excluded: bool


@dataclass(frozen=True)
class Snapshot:
    """One moment of the demo, in simulated seconds since its start (``t``) and wall seconds."""

    t: float
    wall: float
    speed: float
    search: float
    index: float
    policy: dict[str, Any]
    health: str
    relocating: int
    initializing: int
    unassigned: int
    nodes: tuple[NodeRow, ...]


@dataclass(frozen=True)
class Event:
    """A line of the timeline: a decision, an operation phase, a confirmation."""

    t: float
    kind: str
    text: str


@dataclass
class Outcome:
    """What the summary reports and the exit code is decided from."""

    duration: float
    wall: float
    speed: float
    events: list[Event]
    confirmed_up: int
    confirmed_down_drained: int
    failed: list[str]
    node_hours: float
    node_hours_peak: float
    peak_nodes: int
    invariants: list[dict[str, Any]]
    log_file: str | None = None
    notes: list[str] = field(default_factory=list)
    #: each condition's longest hold against its ``for`` and the values it read
    conditions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.invariants and self.confirmed_up >= 1 and self.confirmed_down_drained >= 1


def clock_text(t: float) -> str:
    """``T+1h02m03s`` — simulated time since the demo started."""
    whole = int(t)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"T+{h}h{m:02d}m{s:02d}s"


def _num(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _bar(done: float, need: float, width: int = 10) -> str:
    if need <= 0:
        return "█" * width
    filled = max(0, min(width, round(width * done / need)))
    return "█" * filled + "░" * (width - filled)


def condition_lines(policy: dict[str, Any]) -> list[str]:
    out = []
    for c in policy.get("conditions", []):
        mark = "✔" if c["holds"] else ("?" if c["stale"] else "·")
        need = float(c["requiredSeconds"] or 0)
        held = float(c["sustainedSeconds"] or 0)
        out.append(
            f"  {c['direction']:<4} {c['condition']:<34} now {_num(c['value']):>7} {mark} "
            f"{_bar(held, need)} {format_duration(round(held))} of {format_duration(need)}"
        )
    return out


def operation_text(policy: dict[str, Any], t0: float) -> str:
    op = policy.get("operation")
    if not op:
        last = policy.get("lastOperation")
        if last:
            return (
                f"none running (last: {last['direction']} {last['from']}→{last['to']} "
                f"{last['state']})"
            )
        return "none"
    since = op["history"][-1]["at"] if op["history"] else op["startedAt"]
    return (
        f"{op['direction']} {op['from']}→{op['to']}  phase {op['phase']} "
        f"(since {clock_text(since - t0)})"
        + (f"  victims {', '.join(op['victims'])}" if op["victims"] else "")
    )


def frame(s: Snapshot, *, t0: float, title: str) -> list[str]:
    """The live view's lines."""
    p = s.policy
    rep = p["replicas"]
    cd = p["cooldownRemainingSeconds"]
    lines = [
        f"{title}  {clock_text(s.t)} simulated  ×{s.speed:g}  wall {s.wall:.1f}s",
        f"workload   {s.search:g} searches/s, {s.index:g} docs indexed/s",
        f"policy     {p['name']} ({p['effectiveMode']})  replicas {_num(rep['current'])} "
        f"(min {rep['min']}, max {rep['max']})",
        f"cooldown   up {format_duration(round(cd.get('up', 0)))}, "
        f"down {format_duration(round(cd.get('down', 0)))} remaining",
        "conditions (value, sustained of `for`)",
        *condition_lines(p),
        f"operation  {operation_text(p, t0)}",
        f"cluster    {s.health}  relocating {s.relocating}  initializing {s.initializing}"
        f"  unassigned {s.unassigned}",
        "shards     "
        + "  ".join(
            f"{n.name} {n.shards} ({n.disk_percent:.0f}% disk{', excluded' if n.excluded else ''})"
            for n in s.nodes
        ),
    ]
    d = p.get("lastDecision")
    if d:
        lines.append(f"decision   {d['action']}: {'; '.join(d['reasonText'])}")
    return lines


def status_line(s: Snapshot) -> str:
    """One plain line of the state (every few simulated minutes in plain mode)."""
    p = s.policy
    conds = " ".join(
        f"{c['direction']}:{c['condition']}={_num(c['value'])}"
        f"({format_duration(round(c['sustainedSeconds'] or 0))}/"
        f"{format_duration(c['requiredSeconds'] or 0)})"
        for c in p.get("conditions", [])
    )
    op = p.get("operation")
    phase = f"{op['direction']}:{op['phase']}" if op else "-"
    shards = "/".join(str(n.shards) for n in s.nodes)
    return (
        f"replicas {_num(p['replicas']['current'])} load {s.search:g}/{s.index:g} {conds} "
        f"op {phase} {s.health} reloc {s.relocating} init {s.initializing} shards {shards}"
    )


class Display:
    """Writes frames (TTY) or lines (plain) to ``out``."""

    def __init__(self, out: TextIO, *, plain: bool, t0: float, title: str) -> None:
        self.out = out
        self.plain = plain
        self.t0 = t0
        self.title = title
        self._drawn = 0
        self._next_status = 0.0

    def stamp(self, t: float, wall: float) -> str:
        return f"[{clock_text(t)} | wall {wall:5.1f}s]"

    def line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def event(self, e: Event, wall: float) -> None:
        if self.plain:
            self.line(f"{self.stamp(e.t, wall)} {e.kind:<9} {e.text}")

    def update(self, s: Snapshot, *, status_every: float) -> None:
        if self.plain:
            if s.t >= self._next_status:
                self._next_status = s.t + status_every
                self.line(f"{self.stamp(s.t, s.wall)} status    {status_line(s)}")
            return
        width = shutil.get_terminal_size((120, 40)).columns
        lines = [ln[: width - 1] for ln in frame(s, t0=self.t0, title=self.title)]
        buf = []
        if self._drawn:
            buf.append(f"\x1b[{self._drawn}F")  # back to the first line of the last frame
        buf.append("\x1b[J")  # clear from there down
        buf.append("\n".join(lines) + "\n")
        self.out.write("".join(buf))
        self.out.flush()
        self._drawn = len(lines)

    def finish(self) -> None:
        self._drawn = 0


def summary(o: Outcome) -> list[str]:
    """The closing report: timeline, operations, node-hours, invariants, verdict."""
    out = [
        "",
        f"Summary: {format_duration(round(o.duration))} simulated in {o.wall:.1f}s wall (×{o.speed:g})",
        "Timeline (simulated time | wall time):",
    ]
    for e in o.events:
        out.append(f"  {clock_text(e.t)} | {e.t / o.speed:6.1f}s  {e.kind:<9} {e.text}")
    out.append(
        f"Operations: {o.confirmed_up} scale-up confirmed after rebalancing, "
        f"{o.confirmed_down_drained} drained scale-down confirmed, {len(o.failed)} failed"
    )
    for f in o.failed:
        out.append(f"  failed: {f}")
    if o.conditions:
        out.append("Conditions over the run:")
        out += [f"  {c}" for c in o.conditions]
    out.append(
        f"Node-hours: {o.node_hours:.1f} (the peak of {o.peak_nodes} nodes all along: "
        f"{o.node_hours_peak:.1f})"
    )
    if not o.invariants:
        out.append("Invariants: 0 shard copies lost (the twin's invariant log is empty)")
    else:
        out.append(f"Invariants: {len(o.invariants)} VIOLATION(S) in the twin's invariant log:")
        out += [f"  {v}" for v in o.invariants]
    out += o.notes
    if o.log_file:
        out.append(f"Service log: {o.log_file}")
    out.append(
        "Result: OK"
        if o.ok
        else "Result: FAILED (expected ≥ 1 confirmed scale-up, ≥ 1 drained "
        "scale-down and no invariant violation)"
    )
    return out


def print_lines(lines: Sequence[str], out: TextIO = sys.stdout) -> None:
    out.write("\n".join(lines) + "\n")
    out.flush()
