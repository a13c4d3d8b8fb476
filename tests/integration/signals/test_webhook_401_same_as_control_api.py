"""The webhook and the control API (pause, resume) refuse bad credentials with the same 401.

Both are authenticated with the same credentials (README: "authenticated like the webhook"),
so a client must see one behaviour: the same status, the same error words (which never say
what was wrong) and the same ``WWW-Authenticate`` challenges, one per scheme in force.
The real app (``build_app`` with the real webhook handler) on 127.0.0.1:0, driven by aiohttp.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from autoscaler.core.policyload import load_policy_texts
from autoscaler.metrics import Metrics
from autoscaler.service.http import build_app
from autoscaler.service.runtime import Runtime
from autoscaler.signals.webhook import WEBHOOK_PATH, WebhookAuth, webhook_handler

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "alertmanager" / "api-firing.json"
TOKEN = "control-and-webhook-token"
POLICY = """
name: cpu
nodes: {roles: [data]}
replicas: {min: 1, max: 5}
scaleUp:
  when: {alert: EsHighCpu}
  cooldown: 5m
"""
CHALLENGES = ['Bearer realm="es-autoscaler"', 'Basic realm="es-autoscaler"']
WRONG = {
    "no credentials": None,
    "a wrong bearer token": "Bearer not-the-token",
    "a wrong basic password": "Basic " + base64.b64encode(b"am:wrong").decode(),
    "an unknown scheme": f"Token {TOKEN}",
}


@pytest.fixture
async def app_url() -> AsyncIterator[str]:
    metrics = Metrics()
    rt = Runtime(metrics=metrics, clock=lambda: 1_795_700_000.0, alert_ttl=3600)
    rt.install(load_policy_texts([("p.yaml", POLICY)]).policies)
    auth = WebhookAuth(tokens=[TOKEN], basic=[("am", "secret")])

    async def on_payload(payload: object) -> None:
        return None

    hook = webhook_handler(auth=auth, max_bytes=1 << 20, on_payload=on_payload, metrics=metrics)
    runner = web.AppRunner(
        build_app(runtime=rt, ready=lambda: (True, []), webhook=hook, control_auth=auth)
    )
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _post(
    session: aiohttp.ClientSession, url: str, authorization: str | None
) -> tuple[int, str, list[str]]:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with session.post(url, data=FIXTURE.read_bytes(), headers=headers) as r:
        body = await r.json()
        return (
            r.status,
            body["error"] if r.status >= 400 else "",
            r.headers.getall("WWW-Authenticate", []),
        )


@pytest.mark.parametrize("case", list(WRONG))
async def test_webhook_and_pause_refuse_bad_credentials_with_the_same_401(
    app_url: str, case: str
) -> None:
    async with aiohttp.ClientSession() as session:
        hook = await _post(session, app_url + WEBHOOK_PATH, WRONG[case])
        pause = await _post(session, app_url + "/api/v1/policies/cpu/pause", WRONG[case])
        resume = await _post(session, app_url + "/api/v1/policies/cpu/resume", WRONG[case])
    assert hook[0] == 401
    assert hook[2] == CHALLENGES
    assert pause == hook
    assert resume == hook


async def test_webhook_and_pause_accept_the_same_credentials(app_url: str) -> None:
    good = [f"Bearer {TOKEN}", "Basic " + base64.b64encode(b"am:secret").decode()]
    async with aiohttp.ClientSession() as session:
        for authorization in good:
            hook = await _post(session, app_url + WEBHOOK_PATH, authorization)
            pause = await _post(session, app_url + "/api/v1/policies/cpu/pause", authorization)
            assert (hook[0], pause[0]) == (200, 200), authorization
            assert hook[2] == pause[2] == []
