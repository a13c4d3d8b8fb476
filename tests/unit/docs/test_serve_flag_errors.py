"""A bad ``serve`` setting is reported by the name the user typed — the flag and its
``ESAS_*`` variable — and in words, not as a settings field and a regular expression
(``leader_election: String should match pattern '^[a-z0-9]…'``)."""

from __future__ import annotations

import pytest

from autoscaler.cli import main


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--leader-election", "elastic"],
            "serve: --leader-election (ESAS_LEADER_ELECTION): must be NAMESPACE/NAME "
            "(lowercase DNS names), got 'elastic'",
        ),
        (
            ["--state-configmap", "Elastic/state"],
            "serve: --state-configmap (ESAS_STATE_CONFIGMAP): must be NAMESPACE/NAME "
            "(lowercase DNS names), got 'Elastic/state'",
        ),
        (
            ["--alertmanager-url", "https://admin:pw@am:9093"],
            "serve: --alertmanager-url (ESAS_ALERTMANAGER_URL): must be an http:// or https:// "
            "URL without user:password@, got 'https://admin:pw@am:9093'",
        ),
    ],
)
def test_a_bad_serve_setting_names_the_flag_and_its_variable(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("ESAS_LEADER_ELECTION", "ESAS_STATE_CONFIGMAP", "ESAS_ALERTMANAGER_URL"):
        monkeypatch.delenv(var, raising=False)
    assert main(["serve", *argv]) == 2
    assert capsys.readouterr().err.splitlines() == [line]


def test_a_setting_from_the_environment_names_the_flag_and_the_variable_with_seconds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESAS_RETRY_PERIOD_SECONDS", "0")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "serve: --retry-period (ESAS_RETRY_PERIOD_SECONDS): Input should be greater than 0"
    ]
