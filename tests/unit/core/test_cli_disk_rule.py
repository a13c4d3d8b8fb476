"""The disk rule through the CLI: ``backtest`` refuses the scale-down the remaining nodes could
not hold (issue 8 §2: "a 2-node tier at 80 % disk, limit 75 → scaled 2→1" must not happen),
the poller fetches ``disk.avg`` for a policy that sets the limit even when no condition reads a
disk metric — so ``validate`` has nothing to warn about — and a ``backtest`` whose CSV has no
``disk.avg`` column, which cannot apply the limit, says so (lint code
``disk-limit-without-disk-avg``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from autoscaler.cli import main
from autoscaler.core.policy import DISK_LIMIT_WITHOUT_DISK_AVG, Policy, lint_replay
from autoscaler.signals.nodes import needed_metric_groups
from autoscaler.signals.poller import TierSubscription

T0 = 1767225600  # 2026-01-01T00:00:00Z

TWO_NODE_TIER = """\
name: two-node
target: {statefulSet: {namespace: elastic, name: es-data}}
replicas: {min: 1, max: 4}
scaleDown:
  when: {metric: cpu, aggregate: max, below: 30, for: 10m}
  step: 1
  cooldown: 10m
safety: {maxDiskPercentAfterScaleDown: 75}
"""


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_case(tmp_path: Path, disk_avg: float) -> tuple[Path, Path]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(TWO_NODE_TIER)
    csv = tmp_path / "metrics.csv"
    rows = [f"{T0 + t},10,{disk_avg}" for t in range(0, 1801, 10)]
    csv.write_text("timestamp,cpu.max,disk.avg\n" + "\n".join(rows) + "\n")
    return policy, csv


@pytest.mark.parametrize(("disk_avg", "final"), [(80.0, 2), (30.0, 1)])
def test_backtest_holds_a_scale_down_the_remaining_nodes_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], disk_avg: float, final: int
) -> None:
    policy, csv = write_case(tmp_path, disk_avg)
    argv = ["backtest", "--policy", str(policy), "--metrics", str(csv), "--replicas", "2"]
    code, out, err = run_cli(capsys, *argv, "--format", "json")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    downs = [(d["action"], d["from"], d["to"]) for d in lines[:-1]]
    assert downs == ([] if final == 2 else [("scale_down", 2, 1)])
    assert lines[-1]["summary"]["final_replicas"] == final


def test_backtest_says_why_it_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy, csv = write_case(tmp_path, 80.0)
    code, out, _ = run_cli(
        capsys, "backtest", "--policy", str(policy), "--metrics", str(csv), "--replicas", "2"
    )
    assert code == 0
    assert "unsafe(down; disk projection 160% > 75%)" in out.splitlines()[-2]


def test_validate_accepts_a_disk_limit_without_a_disk_condition_even_under_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The service polls ``disk.avg`` for the limit (the test below): the policy is fine."""
    f = tmp_path / "p.yaml"
    f.write_text(TWO_NODE_TIER)
    code, out, err = run_cli(capsys, "validate", "--strict", str(f))
    assert (code, err) == (0, "")
    assert out.endswith("1 policy valid\n")


DISK_WARNING = (
    "safety: safety.maxDiskPercentAfterScaleDown is set but the CSV has no disk.avg column: "
    "this replay cannot apply the limit (the service polls disk.avg for it)"
)
READS_DISK_MAX = TWO_NODE_TIER.replace(
    "when: {metric: cpu, aggregate: max, below: 30, for: 10m}",
    "when: {all: [{metric: cpu, aggregate: max, below: 30}, "
    "{metric: disk, aggregate: max, below: 60}]}",
)


@pytest.mark.parametrize(
    ("policy_text", "columns", "warned"),
    [
        (TWO_NODE_TIER, "cpu.max", True),
        (TWO_NODE_TIER, "cpu.max,disk.avg", False),
        # a disk condition on disk.max does not feed the limit's rule, which reads disk.avg
        (READS_DISK_MAX, "cpu.max,disk.max", True),
        (READS_DISK_MAX, "cpu.max,disk.max,disk.avg", False),
        # the limit left at its default, or no scale-down to limit
        (
            TWO_NODE_TIER.replace("safety: {maxDiskPercentAfterScaleDown: 75}\n", ""),
            "cpu.max",
            False,
        ),
        (
            TWO_NODE_TIER.replace("scaleDown:", "scaleUp:").replace("below: 30", "above: 90"),
            "cpu.max",
            False,
        ),
    ],
)
def test_backtest_warns_about_the_disk_limit_only_when_the_csv_has_no_disk_avg_column(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    policy_text: str,
    columns: str,
    warned: bool,
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    csv = tmp_path / "metrics.csv"
    cells = ",".join(["10"] * len(columns.split(",")))
    csv.write_text(f"timestamp,{columns}\n{T0},{cells}\n{T0 + 10},{cells}\n")
    code, _, err = run_cli(
        capsys, "backtest", "--policy", str(policy), "--metrics", str(csv), "--replicas", "2"
    )
    assert code == 0
    warnings = [x for x in err.splitlines() if x.startswith("warning:")]
    assert warnings == ([f"warning: {policy}:8: {DISK_WARNING}"] if warned else [])


def test_the_replay_lint_names_its_warning_by_a_stable_code() -> None:
    policy = Policy.model_validate(yaml.safe_load(TWO_NODE_TIER))
    assert [w.code for w in lint_replay(policy, columns=[("cpu", "max")])] == [
        DISK_LIMIT_WITHOUT_DISK_AVG
    ]
    assert DISK_LIMIT_WITHOUT_DISK_AVG == "disk-limit-without-disk-avg"
    assert lint_replay(policy, columns=[("cpu", "max"), ("disk", "avg")]) == []


@pytest.mark.parametrize(
    ("text", "polls_disk"),
    [
        (TWO_NODE_TIER, True),
        (TWO_NODE_TIER.replace("safety: {maxDiskPercentAfterScaleDown: 75}\n", ""), False),
    ],
)
def test_the_poller_fetches_disk_avg_when_the_policy_sets_the_disk_limit(
    text: str, polls_disk: bool
) -> None:
    policy = Policy.model_validate(yaml.safe_load(text))
    sub = TierSubscription.for_policy(policy)
    assert (("disk", "avg") in sub.keys) is polls_disk
    assert ("fs" in needed_metric_groups(sub.keys)) is polls_disk
