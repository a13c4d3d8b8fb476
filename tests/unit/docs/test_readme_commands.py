"""The README's `validate` and `backtest` examples are what the commands print.

A newcomer copies these commands first; an example whose output drifted from the code (a
renumbered error, a changed timeline) teaches them to distrust the rest of the README. Each
test runs the command exactly as the README shows it, from the repository root, and compares
the whole output with the README's block.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from autoscaler.cli import main

REPO = Path(__file__).resolve().parents[3]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _block_after(marker: str) -> str:
    """The body of the first fenced block whose text starts with ``marker``."""
    for match in re.finditer(r"^```[a-z]*\n(.*?)^```$", README, flags=re.S | re.M):
        if match.group(1).startswith(marker):
            return match.group(1)
    raise AssertionError(f"no README block starts with {marker!r}")


def _run(capsys: pytest.CaptureFixture[str], command: str) -> tuple[int, str, str]:
    argv = command.split()
    assert argv[0] == "es-autoscaler"
    code = main(argv[1:])
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_validate_example_shows_what_validate_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = _block_after("name: broken\n")
    shown = _block_after("$ es-autoscaler validate broken.yaml\n").splitlines()
    (tmp_path / "broken.yaml").write_text(policy, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, shown[0].removeprefix("$ "))
    assert code == 2
    assert out == ""
    assert err.splitlines() == shown[1:]


def test_readme_backtest_example_shows_what_backtest_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = _block_after("$ es-autoscaler backtest ").splitlines()
    monkeypatch.chdir(REPO)
    code, out, _ = _run(capsys, shown[0].removeprefix("$ "))
    assert code == 0
    assert out.splitlines() == shown[1:]


def test_readme_validate_of_the_shipped_policies_counts_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = _block_after("$ es-autoscaler validate policies/\n").splitlines()
    monkeypatch.chdir(REPO)
    code, out, _ = _run(capsys, shown[0].removeprefix("$ "))
    assert code == 0
    printed = out.splitlines()
    assert shown[1] in printed
    assert printed[-1] == shown[-1]
    assert len([f for f in os.listdir(REPO / "policies") if f.endswith(".yaml")]) == int(
        shown[-1].split()[0]
    )
