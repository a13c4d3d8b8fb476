"""``backtest`` prints the replayed policy's ``validate`` warnings on stderr — a replay with no
action reads as "the policy held" unless it also says the policy can never act — and only that
policy's, when the file holds several."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscaler.cli import main

POLICIES = """\
name: fine
replicas: {min: 1, max: 5}
scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 5m}
mode: dry-run
---
name: never
replicas: {min: 1, max: 5}
scaleUp: {when: {metric: cpu, aggregate: avg, above: 100}, cooldown: 5m}
mode: dry-run
"""
CSV = "timestamp,cpu.avg\n0,99\n30,99\n60,99\n"


@pytest.mark.parametrize(("name", "warned"), [("never", True), ("fine", False)])
def test_backtest_warns_about_the_replayed_policy_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, warned: bool
) -> None:
    (tmp_path / "p.yaml").write_text(POLICIES)
    (tmp_path / "m.csv").write_text(CSV)
    argv = ["backtest", "--policy", str(tmp_path / "p.yaml"), "--name", name]
    assert main([*argv, "--metrics", str(tmp_path / "m.csv")]) == 0
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    expected = (
        f"warning: {tmp_path / 'p.yaml'}:8: scaleUp: 'avg cpu > 100%' can never hold: cpu is a "
        "percentage from 0 to 100"
    )
    assert err == ([expected] if warned else [])


def test_backtest_says_when_the_csv_cannot_feed_the_disk_limit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # busy-day.csv has disk.max but no disk.avg: the replay cannot apply the policy's limit
    monkeypatch.chdir(Path(__file__).resolve().parents[3])
    argv = ["backtest", "--policy", "policies/prod-data-cpu-heap.yaml"]
    assert main([*argv, "--metrics", "examples/metrics/busy-day.csv"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [x for x in err if x.startswith("warning:")] == [
        "warning: policies/prod-data-cpu-heap.yaml:27: safety: safety.maxDiskPercentAfterScaleDown "
        "is set but the CSV has no disk.avg column: this replay cannot apply the limit (the "
        "service polls disk.avg for it)"
    ]


@pytest.mark.parametrize(("cpu", "noted"), [(99, True), (10, False)])
def test_a_replay_that_scaled_says_it_is_open_loop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cpu: int, noted: bool
) -> None:
    (tmp_path / "p.yaml").write_text(POLICIES)
    (tmp_path / "m.csv").write_text(f"timestamp,cpu.avg\n0,{cpu}\n30,{cpu}\n60,{cpu}\n")
    argv = ["backtest", "--policy", str(tmp_path / "p.yaml"), "--name", "fine"]
    assert main([*argv, "--metrics", str(tmp_path / "m.csv"), "--replicas", "2"]) == 0
    captured = capsys.readouterr()
    notes = [x for x in captured.err.splitlines() if x.startswith("note: the replay is open loop")]
    assert len(notes) == (1 if noted else 0)
    assert "open loop" not in captured.out  # the report on stdout is unchanged
