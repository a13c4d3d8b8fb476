"""Firing alerts survive a restart: the service re-syncs them from the real Alertmanager.

Alertmanager re-sends a firing alert only every ``repeat_interval`` (1 h here, 4 h by
default), so before issue 9 item 6 a restarted service was blind to every alert that fired
before it started. Now, given ``alertmanager_url``, it reads ``GET /api/v2/alerts`` at start.
The test: an alert fires through the real Alertmanager into service A (by webhook); A stops;
service B starts with no webhook ever reaching it (Alertmanager still delivers to A's dead
address) and the policy's alert condition holds in B anyway, from the re-sync alone.
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

from autoscaler.sim.server import run_twin

pytestmark = pytest.mark.e2e

LABELS = {"alertname": "EsHighCpu", "cluster": "e2e-es", "severity": "warning"}
WHEN = "{alert: EsHighCpu, labels: {cluster: e2e-es}}"


def _alert() -> dict[str, Any]:
    starts = datetime.now(UTC) - timedelta(seconds=5)
    return {"labels": LABELS, "startsAt": starts.isoformat().replace("+00:00", "Z")}


async def _holds(http: aiohttp.ClientSession, url: str) -> bool:
    async with http.get(f"{url}/api/v1/policies/alerted") as r:
        view = await r.json()
    conds = view["conditions"]
    return bool(conds and conds[0]["holds"] is True)


async def test_a_firing_alert_still_holds_after_a_restart_from_alertmanagers_api(
    tmp_path: Path, start_alertmanager: Callable[..., Awaitable[Alertmanager]]
) -> None:
    token_file = tmp_path / "am-token"
    token_file.write_text(TOKEN + "\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with run_twin(nodes=3, speed=1.0) as twin, aiohttp.ClientSession() as http:
        first, first_url = await start_service(tmp_path / "a", twin, name="alerted", when_up=WHEN)
        try:
            am = await start_alertmanager(
                webhook_url=f"{first_url}/webhook/alertmanager",
                authorization={"credentials_file": str(token_file)},
            )
            await am.post_alerts([_alert()])
            await wait_until(
                lambda: _holds(http, first_url), what="condition firing in A", procs=(am.process,)
            )
        finally:
            await first.stop()

        second, second_url = await start_service(
            tmp_path / "b",
            twin,
            name="alerted",
            when_up=WHEN,
            settings_extra={"alertmanager_url": am.url},
        )
        try:
            await wait_until(
                lambda: _holds(http, second_url),
                what="condition firing in B after the restart",
                procs=(am.process,),
            )
            async with http.get(f"{second_url}/api/v1/alerts") as r:
                alerts = (await r.json())["alerts"]
            assert [(a["alertname"], a["state"]) for a in alerts] == [("EsHighCpu", "firing")]
            async with http.get(f"{second_url}/metrics") as r:
                metrics = await r.text()
            assert 'esas_alertmanager_syncs_total{result="success"}' in metrics
            # nothing reached B by webhook: the alert came from the re-sync alone
            assert 'esas_webhook_requests_total{code="200"' not in metrics
        finally:
            await second.stop()
