"""Every command documents itself: each option of each subcommand has help text, descriptions
read as plain text in a terminal, and a malformed value is refused up front.

An SRE learns the tool from ``--help``; an option listed without a word (``--log-level``,
``--format`` used to be) or a description in reST quoting sends them to the source instead.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from autoscaler.cli import LEAN_COMMANDS, build_parser, main


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


SUBCOMMANDS = _subcommands()


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_option_of_every_command_has_help_text(name: str) -> None:
    silent = [
        "/".join(action.option_strings or [action.dest])
        for action in SUBCOMMANDS[name]._actions
        if not isinstance(action, argparse._HelpAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert silent == []


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_help_reads_as_plain_text_without_rest_quoting(name: str) -> None:
    assert "``" not in SUBCOMMANDS[name].format_help()


def test_sim_refuses_an_es_version_that_is_not_major_minor_patch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sim", "--es-version", "8.x", "--virtual"])
    assert exited.value.code == 2
    assert "--es-version: must be MAJOR.MINOR.PATCH, e.g. 8.15.0, got '8.x'" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("name", LEAN_COMMANDS)
@pytest.mark.parametrize("argv", [["--help"], ["--no-such-flag"], []])
def test_a_lean_command_parses_and_helps_as_in_the_whole_parser(
    name: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``main`` builds only ``validate``'s or ``backtest``'s parser for them: the same help,
    usage and errors as the whole parser's (which lists every command)."""
    outputs = []
    for parser in (build_parser(), build_parser(only=name)):
        try:
            parser.parse_args([name, *argv])
        except SystemExit as e:
            outputs.append((e.code, capsys.readouterr()))
        else:
            outputs.append((0, capsys.readouterr()))
    assert outputs[0] == outputs[1]


_HEAVY = (
    "asyncio",
    "aiohttp",
    "elasticsearch",
    "kubernetes_asyncio",
    "prometheus_client",
    "ansible_runner",
    "autoscaler.sim",
    "autoscaler.service",
    "autoscaler.signals",
    "autoscaler.targets",
    "autoscaler.operations",
    "autoscaler.demo",
)


@pytest.mark.parametrize("command", ["backtest", "validate"])
def test_backtest_and_validate_import_no_service_twin_or_client_module(
    tmp_path: Path, command: str
) -> None:
    """What ops run on a laptop or in CI loads the policy code only: no event loop, HTTP,
    Kubernetes, Prometheus or Ansible client, no twin (each command imports its own)."""
    root = Path(__file__).resolve().parents[3]
    (tmp_path / "m.csv").write_text("timestamp,cpu.avg\n0,50\n10,50\n")
    policy = str(root / "policies/prod-data-cpu-heap.yaml")
    argv = {
        "backtest": ["backtest", "--policy", policy, "--metrics", str(tmp_path / "m.csv")],
        "validate": ["validate", str(root / "policies")],
    }[command]
    probe = (
        "import sys, contextlib, io\n"
        "from autoscaler.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    code = main({argv!r})\n"
        f"heavy = {_HEAVY!r}\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in heavy or "
        "m.rpartition('.')[0] in heavy or m in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip() == "0 []"
