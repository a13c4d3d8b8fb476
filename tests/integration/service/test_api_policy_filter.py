"""``?policy=`` on the decision and operation lists: a name that is neither a loaded policy nor
in any record is a 404 that says so, not an empty list that reads as "nothing happened".

The real HTTP app (``build_app``) over a Runtime, on 127.0.0.1:0, driven by aiohttp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from autoscaler.core.policyload import load_policy_texts
from autoscaler.metrics import Metrics
from autoscaler.service.http import build_app
from autoscaler.service.runtime import Runtime

POLICY = """
name: cpu
nodes: {roles: [data]}
replicas: {min: 1, max: 5}
scaleUp:
  when: {metric: cpu, aggregate: avg, above: 80}
  cooldown: 5m
mode: dry-run
"""


@pytest.fixture
async def api() -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    rt = Runtime(metrics=Metrics(), clock=lambda: 1_795_700_000.0, alert_ttl=3600)
    rt.install(load_policy_texts([("p.yaml", POLICY)]).policies)
    rt.evaluate("cpu")  # one decision for "cpu"
    runner = web.AppRunner(build_app(runtime=rt, ready=lambda: (True, []), webhook=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    async with aiohttp.ClientSession() as session:
        yield session, f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.mark.parametrize("what", ["decisions", "operations"])
async def test_an_unknown_policy_filter_is_a_404_naming_it(
    api: tuple[aiohttp.ClientSession, str], what: str
) -> None:
    session, url = api
    async with session.get(f"{url}/api/v1/{what}?policy=cpuu") as r:
        assert r.status == 404
        assert await r.json() == {"error": f"no policy named 'cpuu' and no {what} recorded for one"}


async def test_a_known_policy_filter_lists_its_records(
    api: tuple[aiohttp.ClientSession, str],
) -> None:
    session, url = api
    async with session.get(f"{url}/api/v1/decisions?policy=cpu") as r:
        assert r.status == 200
        assert [d["policy"] for d in (await r.json())["decisions"]] == ["cpu"]
    async with session.get(f"{url}/api/v1/operations?policy=cpu") as r:
        assert r.status == 200  # no operation yet, but the policy exists
        assert (await r.json()) == {"operations": []}
