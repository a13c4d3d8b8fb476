"""Every command documents itself: each option of each subcommand has help text, descriptions
read as plain text in a terminal, and a malformed value is refused up front.

An SRE learns the tool from ``--help``; an option listed without a word (``--log-level``,
``--format`` used to be) or a description in reST quoting sends them to the source instead.
"""

from __future__ import annotations

import argparse

import pytest

from autoscaler.cli import build_parser, main


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
