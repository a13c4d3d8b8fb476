"""The demo's load profile: steps of (searches/s, documents indexed/s) in simulated time.

The twin turns a workload into node statistics (``sim/loadmodel.py``), so a profile is what
makes a policy's conditions hold or not. The shipped profile lives in ``data/workload.yaml``;
``--workload`` takes another file of the same shape, or a one-line spec for quick rehearsals:
``AT=SEARCH/INDEX`` steps separated by commas, e.g. ``0m=200/1500,10m=1000/1500,2h=200/1500``.
Each step holds until the next one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from autoscaler.core.durations import format_duration, parse_duration

if TYPE_CHECKING:
    from autoscaler.sim.es.cluster import Cluster

SPEC_TAIL = 2 * 3600.0
"""Simulated time a one-line spec runs after its last step (unless ``--duration``)."""

_STEP_RE = re.compile(r"^\s*([^=\s]+)\s*=\s*([0-9.]+)\s*/\s*([0-9.]+)\s*$")


@dataclass(frozen=True)
class Step:
    """From ``at`` seconds after the start: ``search`` searches/s and ``index`` docs/s."""

    at: float
    search: float
    index: float


@dataclass(frozen=True)
class Workload:
    steps: tuple[Step, ...]
    duration: float
    source: str

    def describe(self) -> str:
        parts = [f"{format_duration(s.at)}={s.search:g}/{s.index:g}" for s in self.steps]
        return ", ".join(parts)


def start_workload(cluster: Cluster, workload: Workload) -> None:
    """Hand the profile to the twin's load model from now on: the first step at once, each
    later one at its ``at`` (simulated seconds from now), holding until the next."""
    first, rest = workload.steps[0], workload.steps[1:]
    cluster.set_workload(
        search_per_s=first.search,
        index_per_s=first.index,
        profile=[(s.at, s.search, s.index) for s in rest],
    )


class WorkloadError(ValueError):
    """A workload file or spec that cannot be used (the message says why and where)."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WorkloadError(f"{what} must be a number, got {value!r}")
    if value < 0:
        raise WorkloadError(f"{what} must be >= 0, got {value!r}")
    return float(value)


def _when(value: Any, what: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError as e:
            raise WorkloadError(f"{what}: {e}") from None
    else:
        raise WorkloadError(f"{what} must be a duration like 10m, got {value!r}")
    if seconds < 0:
        raise WorkloadError(f"{what} must be >= 0")
    return seconds


def _build(steps: list[Step], duration: float | None, source: str) -> Workload:
    if not steps:
        raise WorkloadError(f"{source}: no steps")
    steps.sort(key=lambda s: s.at)
    if steps[0].at > 0:  # quiet until the first step
        steps.insert(0, Step(0.0, 0.0, 0.0))
    end = duration if duration is not None else steps[-1].at + SPEC_TAIL
    if end <= steps[-1].at:
        raise WorkloadError(
            f"{source}: duration {format_duration(end)} ends before the last step "
            f"at {format_duration(steps[-1].at)}"
        )
    return Workload(tuple(steps), end, source)


def parse_workload_text(text: str, *, source: str) -> Workload:
    """A workload YAML document: ``{duration: 5h, steps: [{at: 0m, search: N, index: N}]}``."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise WorkloadError(f"{source}: not YAML: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list):
        raise WorkloadError(f"{source}: expected a mapping with a 'steps' list")
    unknown = set(doc) - {"duration", "steps"}
    if unknown:
        raise WorkloadError(f"{source}: unknown keys {sorted(unknown)} (duration, steps)")
    steps = []
    for i, raw in enumerate(doc["steps"]):
        where = f"{source}: steps[{i}]"
        if not isinstance(raw, dict) or set(raw) - {"at", "search", "index"} or "at" not in raw:
            raise WorkloadError(f"{where}: expected {{at: DURATION, search: N, index: N}}")
        steps.append(
            Step(
                _when(raw["at"], f"{where}.at"),
                _number(raw.get("search", 0), f"{where}.search"),
                _number(raw.get("index", 0), f"{where}.index"),
            )
        )
    duration = _when(doc["duration"], f"{source}: duration") if "duration" in doc else None
    return _build(steps, duration, source)


def parse_workload_spec(spec: str) -> Workload:
    """``0m=200/1500,10m=1000/1500`` → a workload (see the module docstring)."""
    steps = []
    for raw in spec.split(","):
        if not raw.strip():
            continue
        m = _STEP_RE.match(raw)
        if not m:
            raise WorkloadError(
                f"bad workload step {raw.strip()!r}: expected AT=SEARCH/INDEX, e.g. 10m=1000/1500"
            )
        steps.append(
            Step(_when(m.group(1), f"step {raw.strip()!r}"), float(m.group(2)), float(m.group(3)))
        )
    return _build(steps, None, "--workload")


def load_workload(arg: str | None) -> Workload:
    """The shipped profile (``None``), a YAML file, or a one-line spec."""
    if arg is None:
        text = resources.files("autoscaler.demo").joinpath("data/workload.yaml").read_text()
        return parse_workload_text(text, source="built-in workload")
    path = Path(arg)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise WorkloadError(f"{arg}: cannot read: {e}") from None
        return parse_workload_text(text, source=arg)
    if "=" not in arg:
        raise WorkloadError(f"{arg}: no such file, and not a spec like 0m=200/1500,10m=1000/1500")
    return parse_workload_spec(arg)
