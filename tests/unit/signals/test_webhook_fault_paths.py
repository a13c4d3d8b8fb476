"""Fault paths of the webhook handler that no well-formed request can reach.

These replace a piece of our own code (the payload parser) with one that fails, which is why
they live with the unit tests and not with the integration tests of the receiver.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import autoscaler.signals.webhook as webhook
from autoscaler.core.alerts import WebhookPayload
from autoscaler.metrics import Metrics

BODY = (Path(__file__).parents[2] / "fixtures/alertmanager/api-firing.json").read_bytes()
TOKEN = "t0ken"


async def test_an_unexpected_parse_failure_is_a_400_not_a_500(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(body: object) -> WebhookPayload:
        raise KeyError("a bug in the parser")

    monkeypatch.setattr(webhook, "parse_webhook", explode)
    received: list[WebhookPayload] = []

    async def on_payload(payload: WebhookPayload) -> None:
        received.append(payload)

    metrics = Metrics()
    app = web.Application()
    app.router.add_route(
        "*",
        webhook.WEBHOOK_PATH,
        webhook.webhook_handler(
            auth=webhook.WebhookAuth(tokens=[TOKEN]),
            max_bytes=1 << 20,
            on_payload=on_payload,
            metrics=metrics,
        ),
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.post(
            webhook.WEBHOOK_PATH,
            data=BODY,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        assert resp.status == 400
        assert (await resp.json())["error"] == "payload could not be parsed"
    assert received == []
    sample = metrics.registry.get_sample_value(
        "esas_webhook_requests_total", {"code": "400", "reason": "schema"}
    )
    assert sample == 1.0
