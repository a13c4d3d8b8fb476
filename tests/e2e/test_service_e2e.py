"""Real Alertmanager → the whole service (not just its handler) → the policy's alert condition.

The service runs in-process on 127.0.0.1:0 against the twin; Alertmanager delivers with the
bearer token from ``credentials_file``; the test reads the outcome where an SRE would, in
``/api/v1/policies`` and ``/api/v1/alerts``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _e2e_kit import Alertmanager, wait_until
from service_kit import TOKEN, start_service

from autoscaler.sim.server import RunningTwin, run_twin

pytestmark = pytest.mark.e2e

LABELS = {"alertname": "EsHighCpu", "cluster": "e2e-es", "severity": "warning"}


def _alert(*, ends_at: datetime | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": LABELS,
        "startsAt": (now - timedelta(seconds=5)).isoformat().replace("+00:00", "Z"),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat().replace("+00:00", "Z")
    return alert


async def test_alert_from_real_alertmanager_fires_and_resolves_the_policy_condition(
    tmp_path: Path, start_alertmanager: Callable[..., Awaitable[Alertmanager]]
) -> None:
    async with run_twin(nodes=3, speed=1.0) as twin:
        await _scenario(tmp_path, twin, start_alertmanager)


async def _scenario(
    tmp_path: Path,
    twin: RunningTwin,
    start_alertmanager: Callable[..., Awaitable[Alertmanager]],
) -> None:
    service, url = await start_service(
        tmp_path,
        twin,
        name="alerted",
        when_up="{alert: EsHighCpu, labels: {cluster: e2e-es}}",
    )
    token_file = tmp_path / "am-token"
    token_file.write_text(TOKEN + "\n")
    try:
        am = await start_alertmanager(
            webhook_url=f"{url}/webhook/alertmanager",
            authorization={"credentials_file": str(token_file)},
        )
        async with aiohttp.ClientSession() as http:

            async def condition() -> bool | None:
                async with http.get(f"{url}/api/v1/policies/alerted") as r:
                    view = await r.json()
                conds = view["conditions"]
                return conds[0]["holds"] if conds else None

            await am.post_alerts([_alert()])
            await wait_until(
                lambda: _is(condition, True), what="condition firing", procs=(am.process,)
            )
            async with http.get(f"{url}/api/v1/alerts") as r:
                alerts = (await r.json())["alerts"]
            assert [(a["alertname"], a["state"]) for a in alerts] == [("EsHighCpu", "firing")]

            await am.post_alerts([_alert(ends_at=datetime.now(UTC) - timedelta(seconds=1))])
            await wait_until(
                lambda: _is(condition, False), what="condition resolved", procs=(am.process,)
            )
            async with http.get(f"{url}/metrics") as r:
                metrics = await r.text()
            assert 'esas_webhook_requests_total{code="200",reason="ok"}' in metrics
            assert 'esas_webhook_requests_total{code="401"' not in metrics
    finally:
        await service.stop()


async def _is(predicate: Callable[[], Awaitable[bool | None]], expected: bool) -> bool:
    return (await predicate()) is expected
