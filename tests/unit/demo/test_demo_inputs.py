"""The demo's inputs, its clock and its verdict: workload profiles, policy rehearsal, simulated
waits, the summary's exit decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from autoscaler.clock import Clock, wall_seconds
from autoscaler.core.policyload import load_policy_texts
from autoscaler.demo.rehearsal import RehearsalError, load_rehearsal
from autoscaler.demo.run import TwinClock
from autoscaler.demo.view import Event, Outcome, summary
from autoscaler.demo.workload import (
    WorkloadError,
    load_workload,
    parse_workload_spec,
    parse_workload_text,
    start_workload,
)
from autoscaler.metrics import Metrics
from autoscaler.operations.runner import MIN_CADENCE, Runner
from autoscaler.operations.store import FileStore
from autoscaler.sim.clock import ScaledClock, VirtualClock
from autoscaler.sim.es.cluster import Cluster

REPO = Path(__file__).parents[3]


def test_a_wait_on_a_faster_clock_lasts_its_simulated_length_divided_by_the_speed() -> None:
    assert wall_seconds(Clock(speed=240.0), 15.0) == pytest.approx(0.0625)
    assert wall_seconds(Clock(), 15.0) == 15.0
    assert wall_seconds(lambda: 0.0, 15.0) == 15.0  # a plain callable runs at speed 1
    with pytest.raises(ValueError, match="speed"):
        Clock(speed=0)


def test_the_runner_checks_every_poll_interval_of_its_clocks_time_with_a_wall_floor(
    tmp_path: Path,
) -> None:
    async def bind(_: str) -> None:
        return None

    def runner(clock: Clock, poll: float) -> Runner:
        return Runner(
            store=FileStore(tmp_path), clock=clock, metrics=Metrics(), bind=bind, poll_interval=poll
        )

    assert runner(Clock(), 0.5).cadence == 0.5  # production: unchanged
    assert runner(Clock(), 0.01).cadence == 0.01  # a test's short interval is kept
    assert runner(Clock(speed=4.0), 0.5).cadence == 0.125
    assert runner(Clock(speed=1000.0), 0.5).cadence == MIN_CADENCE


def test_the_shipped_workload_is_quiet_then_above_the_threshold_then_quiet_again() -> None:
    wl = load_workload(None)
    assert wl.steps[0].at == 0
    peak = max(s.search for s in wl.steps)
    assert wl.steps[0].search < peak
    assert wl.steps[-1].search < peak
    assert wl.duration > wl.steps[-1].at


def test_a_workload_spec_is_steps_of_at_equals_search_slash_index() -> None:
    wl = parse_workload_spec("10m=1000/1500, 0m=200/100")
    assert [(s.at, s.search, s.index) for s in wl.steps] == [(0, 200, 100), (600, 1000, 1500)]
    assert wl.duration == 600 + 2 * 3600
    late = parse_workload_spec("5m=1/2")
    assert (late.steps[0].at, late.steps[0].search) == (0, 0)  # quiet until the first step


def test_the_twin_runs_each_workload_step_from_its_at_until_the_next() -> None:
    clock = VirtualClock()
    cluster = Cluster(clock=clock, indices=[])
    clock.advance(1000)  # the demo starts the workload whenever it starts, not at the epoch
    start_workload(cluster, parse_workload_spec("0m=200/100,10m=1000/1500,20m=50/10"))
    seen = {}
    start = clock.time()
    for t in (0, 599, 600, 1199, 1200, 5000):
        clock.advance(start + t - clock.time())
        w = cluster.workload()
        seen[t] = (w.search_per_s, w.index_per_s)
    assert seen == {
        0: (200, 100),
        599: (200, 100),
        600: (1000, 1500),
        1199: (1000, 1500),
        1200: (50, 10),
        5000: (50, 10),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps: []", "no steps"),
        ("steps: [{at: 1x, search: 1}]", "invalid duration"),
        ("steps: [{at: 1m, search: -1}]", "must be >= 0"),
        ("steps: [{at: 1m, search: fast}]", "must be a number"),
        ("steps: [{at: 1m, cpu: 3}]", "expected {at: DURATION"),
        ("duration: 5m\nsteps: [{at: 10m, search: 1}]", "ends before the last step"),
        ("speed: 3\nsteps: []", "unknown keys"),
        ("[1, 2]", "expected a mapping"),
    ],
)
def test_a_bad_workload_file_is_refused_with_where_and_why(text: str, message: str) -> None:
    with pytest.raises(WorkloadError, match=message):
        parse_workload_text(text, source="w.yaml")


def test_a_workload_argument_that_is_neither_a_file_nor_a_spec_is_refused() -> None:
    with pytest.raises(WorkloadError, match="no such file"):
        load_workload("/nonexistent/workload.yaml")


def test_a_rehearsal_keeps_the_policy_and_replaces_only_the_connection() -> None:
    path = REPO / "policies" / "prod-data-cpu-heap.yaml"
    reh = load_rehearsal(str(path))
    original = yaml.safe_load(path.read_text())
    text = reh.text(es_url="http://127.0.0.1:9999")
    served = yaml.safe_load(text)
    assert served["elasticsearch"] == {"url": "http://127.0.0.1:9999", "pollInterval": "10s"}
    for key in ("nodes", "target", "replicas", "scaleUp", "scaleDown", "safety", "mode"):
        assert served[key] == original[key]
    assert reh.statefulset == ("elastic", "es-data")
    result = load_policy_texts([("rehearsal.yaml", text)])  # what serve will load
    assert result.ok, result.errors


def test_a_dry_run_policy_is_rehearsed_as_active_and_says_so() -> None:
    reh = load_rehearsal(str(REPO / "policies" / "search-alert-driven.yaml"))
    assert yaml.safe_load(reh.text(es_url="http://127.0.0.1:1"))["mode"] == "active"
    assert "mode dry-run → active" in reh.changes


def test_policies_the_demo_cannot_rehearse_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(RehearsalError, match="no StatefulSet target"):
        load_rehearsal(str(REPO / "policies" / "vm-cluster-ansible.yaml"))
    with pytest.raises(RehearsalError, match="cannot read"):
        load_rehearsal(str(tmp_path / "missing.yaml"))
    two = tmp_path / "two.yaml"
    shipped = (REPO / "policies" / "prod-data-cpu-heap.yaml").read_text()
    two.write_text(shipped + "\n---\n" + shipped.replace("name: prod-data", "name: other"))
    with pytest.raises(RehearsalError, match="pick one with --name"):
        load_rehearsal(str(two))
    assert load_rehearsal(str(two), name="other").policy.name == "other"
    with pytest.raises(RehearsalError, match="no policy named 'nope'"):
        load_rehearsal(str(two), name="nope")


def outcome(**changes: Any) -> Outcome:
    base: dict[str, Any] = {
        "duration": 3600.0,
        "wall": 15.0,
        "speed": 240.0,
        "events": [Event(60.0, "decision", "scale up 3→4 (acted): sustained(up; ...)")],
        "confirmed_up": 1,
        "confirmed_down_drained": 1,
        "failed": [],
        "node_hours": 3.2,
        "node_hours_peak": 4.0,
        "peak_nodes": 4,
        "invariants": [],
    }
    return Outcome(**{**base, **changes})


def test_the_summary_says_no_copy_was_lost_only_when_the_invariant_log_is_empty() -> None:
    good = outcome()
    assert good.ok
    text = "\n".join(summary(good))
    assert "Invariants: 0 shard copies lost" in text
    assert "T+0h01m00s |    0.2s  decision  scale up 3→4" in text  # simulated | wall time
    assert text.endswith("Result: OK")
    lost = {"type": "primary_unassigned", "index": "scratch-reindex", "shard": 2}
    bad = outcome(invariants=[lost])
    assert not bad.ok
    text = "\n".join(summary(bad))
    assert "0 shard copies lost" not in text
    assert "1 VIOLATION(S)" in text
    assert "scratch-reindex" in text
    assert "Result: FAILED" in text


@pytest.mark.parametrize("missing", ["confirmed_up", "confirmed_down_drained"])
def test_the_demo_fails_without_a_confirmed_scale_up_and_a_drained_scale_down(
    missing: str,
) -> None:
    assert not outcome(**{missing: 0}).ok


def test_a_policy_directory_is_refused_with_what_to_pass_instead(tmp_path: Path) -> None:
    with pytest.raises(RehearsalError, match="is a directory; --policy takes one policy file"):
        load_rehearsal(str(tmp_path))


def test_the_services_waits_follow_the_twins_current_speed() -> None:
    wall = [0.0]
    twin = ScaledClock(speed=240.0, start=0.0, monotonic=lambda: wall[0])
    clock = TwinClock(now=twin.time, speed=240.0, twin=twin)
    assert clock.wall(60.0) == 0.25  # a 1-minute poll interval at ×240
    wall[0] = 3.0
    twin.set_speed(1.0)  # demo --serve, after the summary
    assert clock.wall(60.0) == 60.0
    assert clock() == 720.0  # the same time as the twin's
