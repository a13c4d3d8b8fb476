"""Replaying Alertmanager's real webhook captures, with its real headers, through the receiver."""

from __future__ import annotations

import json

import aiohttp
import pytest
from _webhook_kit import CAPTURES, capture, serve_webhook

from autoscaler.core.alerts import parse_webhook

# Fingerprints firing after each capture, folded in capture order (see the fixtures README).
PROD_API = "6f4a0d633d8c7fe3"
STAGING_0 = "6691175c604de917"
STAGING_1 = "7da622a36d62f3f4"
PROD_PROM = "d7a8a1e7339f9e0a"
FIRING_AFTER = [
    ("api-firing.json", {PROD_API}),
    ("api-resolved.json", set()),
    ("api-group-two-firing.json", {STAGING_0, STAGING_1}),
    # the group is still "firing" but es-data-1 inside it is resolved
    ("api-group-mixed-one-resolved.json", {STAGING_0}),
    ("api-group-last-resolved.json", set()),
    ("prometheus-e2e-firing.json", {PROD_PROM}),
    ("prometheus-e2e-resolved.json", set()),
]


def test_the_expected_table_covers_every_capture() -> None:
    assert [name for name, _ in FIRING_AFTER] == CAPTURES


@pytest.mark.parametrize("name", CAPTURES)
async def test_a_real_capture_with_its_real_headers_is_accepted_and_handed_over(
    name: str,
) -> None:
    body, headers = capture(name)
    async with (
        serve_webhook() as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=body, headers=headers) as resp,
    ):
        assert resp.status == 200
        answer = await resp.json()
    expected = parse_webhook(json.loads(body))
    assert answer == {"status": "ok", "alerts": len(expected.alerts)}
    assert srv.received == [expected]
    assert srv.count(200, "ok") == 1


async def test_folding_the_captures_in_order_gives_the_firing_set_alertmanager_meant() -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        for name, firing in FIRING_AFTER:
            body, headers = capture(name)
            async with http.post(srv.url, data=body, headers=headers) as resp:
                assert resp.status == 200, name
            assert srv.firing() == firing, name
        assert srv.count(200, "ok") == len(CAPTURES)


async def test_an_alert_resolved_inside_a_firing_group_is_not_firing() -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        for name in ("api-group-two-firing.json", "api-group-mixed-one-resolved.json"):
            body, headers = capture(name)
            async with http.post(srv.url, data=body, headers=headers) as resp:
                assert resp.status == 200
        mixed = srv.received[-1]
        assert mixed.status == "firing"
        assert {a.status for a in mixed.alerts} == {"firing", "resolved"}
        assert srv.firing() == {STAGING_0}
        assert srv.book.alerts[STAGING_1].status == "resolved"


async def test_the_200_is_sent_only_after_on_payload_returned() -> None:
    body, headers = capture("api-firing.json")
    async with (
        serve_webhook() as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=body, headers=headers) as resp,
    ):
        # by the time the client has the answer, the alert is in the book
        assert resp.status == 200
        assert srv.firing() == {PROD_API}
