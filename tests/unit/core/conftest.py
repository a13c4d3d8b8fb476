"""Shared builders for the core's unit tests: policies from dicts, observations on a grid,
and the real Alertmanager payloads in ``tests/fixtures/alertmanager``."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from autoscaler.core.alerts import WebhookPayload, parse_webhook
from autoscaler.core.observations import MetricKey, Observations
from autoscaler.core.policy import Policy

ALERTMANAGER_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alertmanager"

BASE_POLICY: dict[str, Any] = {
    "name": "unit",
    "replicas": {"min": 2, "max": 6},
    "scaleUp": {
        "when": {"metric": "cpu", "aggregate": "avg", "above": 80, "for": "5m"},
        "step": 1,
        "cooldown": "10m",
    },
    "scaleDown": {
        "when": {"metric": "cpu", "aggregate": "max", "below": 30, "for": "10m"},
        "step": 1,
        "cooldown": "30m",
    },
}
"""Poll interval 10 s (default) → staleness limit 30 s."""


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict) and key != "when":
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


PolicyFactory = Callable[..., Policy]


@pytest.fixture
def make_policy() -> PolicyFactory:
    """``make_policy(replicas={"max": 4}, scaleDown=None)``: BASE_POLICY deep-merged with
    overrides (None deletes a key; a ``when`` is replaced, not merged)."""

    def build(**over: Any) -> Policy:
        return Policy.model_validate(_merge(BASE_POLICY, over))

    return build


def grid(
    values: Mapping[str, Callable[[float], float | None]],
    *,
    start: float = 0.0,
    end: float,
    every: float = 10.0,
    skip: Callable[[float], bool] = lambda t: False,
) -> Observations:
    """Observations polled every ``every`` s from ``start`` to ``end`` inclusive.

    ``values`` maps ``"cpu.avg"`` to ``t → value`` (None: that metric missing in the poll);
    ``skip(t)`` drops the whole poll (a gap in recording).
    """
    rows: list[tuple[float, dict[MetricKey, float | None]]] = []
    t = start
    while t <= end:
        if not skip(t):
            row: dict[MetricKey, float | None] = {}
            for name, fn in values.items():
                metric, _, agg = name.partition(".")
                row[(metric, agg)] = fn(t)
            rows.append((t, row))
        t += every
    return Observations.from_rows(rows)


@pytest.fixture
def payload() -> Callable[[str], WebhookPayload]:
    """A real captured Alertmanager webhook body, parsed: ``payload("api-firing.json")``."""

    def load(name: str) -> WebhookPayload:
        return parse_webhook(json.loads((ALERTMANAGER_FIXTURES / name).read_text("utf-8")))

    return load


@pytest.fixture
def make_obs() -> Callable[..., Observations]:
    """The :func:`grid` builder, as a fixture."""
    return grid
