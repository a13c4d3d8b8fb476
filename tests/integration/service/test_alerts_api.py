"""``/api/v1/alerts`` is paginated and filtered (issue 9 item 5: it once returned 23 MB).

The real HTTP app (``build_app``) over a Runtime, on 127.0.0.1:0, driven by aiohttp.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from autoscaler.core.alerts import parse_webhook
from autoscaler.core.policyload import load_policy_texts
from autoscaler.metrics import Metrics
from autoscaler.service.http import build_app
from autoscaler.service.runtime import Runtime

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alertmanager"
POLICY = """
name: cpu
nodes: {roles: [data]}
replicas: {min: 1, max: 5}
scaleUp:
  when: {alert: EsHighCpu}
  cooldown: 5m
"""


@pytest.fixture
async def api() -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    rt = Runtime(metrics=Metrics(), clock=lambda: 1_795_700_000.0, alert_ttl=3600)
    loaded = load_policy_texts([("p.yaml", POLICY)])
    rt.install(loaded.policies)
    body: dict[str, Any] = json.loads((FIXTURES / "api-firing.json").read_text())
    t = body["alerts"][0]
    body["alerts"] = [
        {**t, "labels": {**t["labels"], "node": f"n{i:03}"}, "fingerprint": f"f{i:03}"}
        for i in range(250)
    ]
    rt.apply_webhook(parse_webhook(body))
    runner = web.AppRunner(build_app(runtime=rt, ready=lambda: (True, []), webhook=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with aiohttp.ClientSession() as session:
        yield session, url
    await runner.cleanup()


async def _get(api: tuple[aiohttp.ClientSession, str], query: str) -> tuple[int, Any]:
    session, url = api
    async with session.get(f"{url}/api/v1/alerts{query}") as r:
        return r.status, await r.json()


async def test_alerts_are_served_in_pages_that_together_list_each_alert_once(
    api: tuple[aiohttp.ClientSession, str],
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "?limit=100" + (f"&after={cursor}" if cursor else "")
        status, page = await _get(api, query)
        assert status == 200
        assert page["total"] == 250
        seen += [a["fingerprint"] for a in page["alerts"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 250


async def test_alerts_filter_by_state_and_policy(api: tuple[aiohttp.ClientSession, str]) -> None:
    assert (await _get(api, "?state=resolved"))[1]["alerts"] == []
    assert (await _get(api, "?state=firing&limit=5"))[1]["total"] == 250
    assert (await _get(api, "?policy=cpu&limit=1"))[1]["total"] == 250


@pytest.mark.parametrize(
    "query",
    ["?limit=0", "?limit=10001", "?limit=x", "?state=burning", "?policy=nope"],
)
async def test_bad_alerts_queries_are_a_clear_4xx(
    api: tuple[aiohttp.ClientSession, str], query: str
) -> None:
    status, body = await _get(api, query)
    assert status in (400, 404)
    assert isinstance(body["error"], str)
