"""``validate --strict``: a CI check that also fails on warnings (a policy that can never act,
directions that overlap), which plain ``validate`` reports but accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscaler.cli import main

NEVER_ACTS = """\
name: never
target: {statefulSet: {namespace: elastic, name: es-data}}
replicas: {min: 3, max: 6}
scaleUp: {when: {metric: cpu, aggregate: avg, above: 120, for: 5m}, step: 1, cooldown: 5m}
"""


def test_strict_validate_fails_on_a_warning_that_plain_validate_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(NEVER_ACTS)
    assert main(["validate", str(f)]) == 0
    capsys.readouterr()
    assert main(["validate", "--strict", str(f)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"warning: {f}:4: scaleUp: 'avg cpu > 120% for 5m' can never hold: cpu is a percentage "
        "from 0 to 100",
        "1 warning(s), failing under --strict",
    ]


def test_strict_validate_passes_a_clean_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(NEVER_ACTS.replace("above: 120", "above: 80"))
    assert main(["validate", "--strict", str(f)]) == 0
    assert capsys.readouterr().out.endswith("1 policy valid\n")
