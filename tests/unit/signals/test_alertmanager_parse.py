"""Which of Alertmanager's ``GET /api/v2/alerts`` entries the re-sync takes as firing.

Shapes from prometheus/alertmanager ``api/v2/openapi.yaml`` (``gettableAlert``); the real
binary is exercised in ``tests/e2e/test_alertmanager_resync_e2e.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from autoscaler.core.alerts import parse_timestamp
from autoscaler.signals.alertmanager import AlertmanagerError, parse_gettable_alerts

NOW = parse_timestamp("2026-11-26T12:00:00Z")


def gettable(**over: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": "EsHighCpu", "cluster": "prod-es"},
        "annotations": {},
        "receivers": [{"name": "es-autoscaler"}],
        "fingerprint": "6f4a0d633d8c7fe3",
        "startsAt": "2026-11-26T11:18:30.448Z",
        "updatedAt": "2026-11-26T11:18:30.448Z",
        "endsAt": "2026-11-26T12:04:30.448Z",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    }
    alert.update(over)
    return alert


def test_an_active_alert_is_taken_as_firing_received_when_asked() -> None:
    (state,) = parse_gettable_alerts([gettable()], received_at=NOW - 1, now=NOW)
    assert (state.fingerprint, state.name, state.status) == (
        "6f4a0d633d8c7fe3",
        "EsHighCpu",
        "firing",
    )
    assert state.starts_at == parse_timestamp("2026-11-26T11:18:30.448Z")
    assert state.received_at == NOW - 1


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(gettable(status={"state": "suppressed"}), id="silenced_or_inhibited"),
        pytest.param(gettable(status={"state": "unprocessed"}), id="unprocessed"),
        pytest.param(gettable(endsAt="2026-11-26T11:59:59Z"), id="already_ended"),
    ],
)
def test_alerts_that_would_not_reach_a_receiver_are_not_taken(entry: dict[str, Any]) -> None:
    assert parse_gettable_alerts([entry], received_at=NOW, now=NOW) == []


def test_malformed_entries_are_skipped_and_the_rest_taken() -> None:
    bad = [gettable(labels={"cluster": "x"}), gettable(startsAt="yesterday"), "nope", 3]
    states = parse_gettable_alerts([*bad, gettable()], received_at=NOW, now=NOW)
    assert [s.fingerprint for s in states] == ["6f4a0d633d8c7fe3"]


def test_an_answer_that_is_not_a_list_is_an_error() -> None:
    with pytest.raises(AlertmanagerError, match="array"):
        parse_gettable_alerts({"alerts": []}, received_at=NOW, now=NOW)
