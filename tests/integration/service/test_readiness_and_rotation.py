"""Readiness follows the data, and a rotated webhook token takes effect (issue 9 item 10).

``/readyz`` answers 503 while every cluster's data is stale, so a rolling update never routes
webhooks to an instance that is blind; and the bearer token file is re-read on SIGHUP (the
``reload`` it triggers) and when it changes, as a rotated Kubernetes Secret does.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from service_kit import serving

from autoscaler.metrics import Metrics
from autoscaler.service.serve import Service
from autoscaler.settings import Settings
from autoscaler.signals.webhook import WebhookAuth
from autoscaler.sim.server import RunningTwin

FIXTURES = Path(__file__).parents[2] / "fixtures" / "alertmanager"
BODY = (FIXTURES / "api-firing.json").read_bytes()


async def _until(check: Callable[[], Awaitable[Any]], what: str, deadline: float = 20) -> Any:
    end = time.monotonic() + deadline
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


async def test_readyz_is_503_while_every_cluster_is_stale_and_200_again_after(
    tmp_path: Path, twin: RunningTwin
) -> None:
    async with serving(
        tmp_path, twin, name="data", when_up="{metric: cpu, aggregate: max, above: 101, for: 2s}"
    ) as r:

        async def readyz() -> tuple[int, Any]:
            async with r.session.get(r.url + "/readyz") as resp:
                return resp.status, await resp.json()

        await _until(lambda: _status_is(readyz, 200), "ready")
        async with r.session.post(
            f"{twin.es_url}/_sim/faults", json={"type": "error", "app": "es", "status": 503}
        ) as resp:
            assert resp.status == 200
        _, body = await _until(lambda: _status_is(readyz, 503), "not ready when stale")
        assert any("stale" in w for w in body["waitingFor"]), body
        async with r.session.delete(f"{twin.es_url}/_sim/faults") as resp:
            assert resp.status == 200
        await _until(lambda: _status_is(readyz, 200), "ready again")


async def _status_is(
    probe: Callable[[], Awaitable[tuple[int, Any]]], status: int
) -> tuple[int, Any] | None:
    got = await probe()
    return got if got[0] == status else None


POLICY = """
name: p
elasticsearch: {url: "http://127.0.0.1:9", pollInterval: 30s}
nodes: {roles: [data]}
replicas: {min: 1, max: 5}
scaleUp:
  when: {alert: EsHighCpu}
  cooldown: 5m
"""


@pytest.fixture
async def token_service(tmp_path: Path) -> AsyncIterator[tuple[Service, Path]]:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(POLICY)
    secret = tmp_path / "secret"
    secret.mkdir()
    swap_secret(secret, "old-token", stamp="1")
    token_file = secret / "token"
    settings = Settings(
        policies=tmp_path / "policies",
        host="127.0.0.1",
        port=0,
        state_dir=tmp_path / "state",
        webhook_token_file=token_file,
    )
    auth = WebhookAuth.from_sources(
        token=None,
        token_file=token_file,
        basic_user=None,
        basic_password_file=None,
        insecure_no_auth=False,
    )
    svc = Service(settings=settings, metrics=Metrics(), auth=auth)
    assert svc.load_initial().ok
    await svc.start()
    try:
        yield svc, secret
    finally:
        await svc.stop()


def swap_secret(root: Path, token: str, *, stamp: str) -> None:
    """A Secret volume update as kubelet does it (see test_policy_mounts.swap_data)."""
    version = root / f"..{stamp}"
    version.mkdir()
    (version / "token").write_text(token + "\n")
    tmp = root / "..data_tmp"
    tmp.symlink_to(version.name)
    os.replace(tmp, root / "..data")
    if not (root / "token").is_symlink():
        (root / "token").symlink_to("..data/token")


async def _post(svc: Service, token: str) -> int:
    assert svc.address is not None
    url = f"http://{svc.address[0]}:{svc.address[1]}/webhook/alertmanager"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s, s.post(url, data=BODY, headers=headers) as resp:
        return resp.status


async def test_a_rotated_token_file_takes_effect_on_sighup(
    token_service: tuple[Service, Path],
) -> None:
    svc, secret = token_service
    assert await _post(svc, "old-token") == 200
    swap_secret(secret, "new-token", stamp="2")
    await svc.reload(why="sighup")  # what the SIGHUP handler calls
    assert await _post(svc, "new-token") == 200
    assert await _post(svc, "old-token") == 401


async def test_a_rotated_token_file_takes_effect_without_a_signal(
    token_service: tuple[Service, Path],
) -> None:
    svc, secret = token_service
    swap_secret(secret, "new-token", stamp="2")

    async def accepted() -> bool:
        return await _post(svc, "new-token") == 200

    await _until(accepted, "the new token to be accepted")
    assert await _post(svc, "old-token") == 401
