"""Every way a webhook request can be wrong gets its documented status, and the server lives on."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
import pytest
from _webhook_kit import TOKEN, Server, capture, raw_exchange, request_head, serve_webhook

from autoscaler.core.alerts import WebhookPayload
from autoscaler.metrics import Metrics
from autoscaler.signals.webhook import WebhookAuth, webhook_handler

GOOD_BODY, GOOD_HEADERS = capture("api-firing.json")
GOOD = json.loads(GOOD_BODY)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}


def with_(**changes: Any) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def alert_with(**changes: Any) -> bytes:
    return with_(alerts=[{**GOOD["alerts"][0], **changes}])


BEARER_BASIC = "Basic " + base64.b64encode(f"x:{TOKEN}".encode()).decode()
NO_ALERTS = json.dumps({k: v for k, v in GOOD.items() if k != "alerts"}).encode()
OK_HEADERS = {**AUTH, **JSON}


def case(
    rule: str,
    status: int,
    reason: str,
    *,
    method: str = "POST",
    headers: dict[str, str] = OK_HEADERS,
    body: bytes = GOOD_BODY,
) -> Any:
    return pytest.param(method, headers, body, status, reason, id=rule)


def bearer(token: str) -> dict[str, str]:
    return {**JSON, "Authorization": token}


def content_type(value: str) -> dict[str, str]:
    return {**AUTH, "Content-Type": value}


CASES = [
    case("get is not allowed", 405, "method", method="GET", headers=AUTH, body=b""),
    case("put is not allowed", 405, "method", method="PUT"),
    case("delete is not allowed even unauthenticated", 405, "method", method="DELETE", headers={}),
    case("no credentials", 401, "auth", headers=JSON),
    case("wrong bearer token", 401, "auth", headers=bearer("Bearer nope")),
    case("a prefix of the token", 401, "auth", headers=bearer(f"Bearer {TOKEN[:-1]}")),
    case("the token with the wrong scheme", 401, "auth", headers=bearer(f"Token {TOKEN}")),
    case("the token without a scheme", 401, "auth", headers=bearer(TOKEN)),
    case("an empty bearer", 401, "auth", headers=bearer("Bearer ")),
    case("basic auth when only a token is set", 401, "auth", headers=bearer(BEARER_BASIC)),
    case("no content type", 415, "content_type", headers=AUTH),
    case("text/plain", 415, "content_type", headers=content_type("text/plain")),
    case("form", 415, "content_type", headers=content_type("application/x-www-form-urlencoded")),
    case(
        "json in latin-1",
        415,
        "content_type",
        headers=content_type("application/json; charset=latin-1"),
    ),
    case("gzip encoded", 415, "content_type", headers={**OK_HEADERS, "Content-Encoding": "gzip"}),
    case("an empty body", 400, "json", body=b""),
    case("truncated json", 400, "json", body=GOOD_BODY[:100]),
    case("invalid utf-8", 400, "json", body=b'{"version": "4", "x": "\xff\xfe"}'),
    case("a utf-8 bom", 400, "json", body=b"\xef\xbb\xbf" + GOOD_BODY),
    case("NaN", 400, "json", body=b'{"version": "4", "truncatedAlerts": NaN}'),
    case("nested too deeply", 400, "json", body=b"[" * 100_000 + b"]" * 100_000),
    case("a huge integer", 400, "json", body=b'{"truncatedAlerts": ' + b"9" * 5000 + b"}"),
    case("a json array", 400, "schema", body=b"[]"),
    case("a json string", 400, "schema", body=b'"firing"'),
    case("no alerts field", 400, "schema", body=NO_ALERTS),
    case("an unknown alert status", 400, "schema", body=alert_with(status="pending")),
    case("an alert without alertname", 400, "schema", body=alert_with(labels={"cluster": "x"})),
    case("a bad startsAt", 400, "schema", body=alert_with(startsAt="yesterday")),
    case("a non-string label value", 400, "schema", body=alert_with(labels={"alertname": 1})),
    case("an unknown version", 422, "version", body=with_(version="5")),
    case("an old version", 422, "version", body=with_(version="3")),
]


async def assert_still_serving(srv: Server, http: aiohttp.ClientSession) -> None:
    async with http.post(srv.url, data=GOOD_BODY, headers=GOOD_HEADERS) as resp:
        assert resp.status == 200


@pytest.mark.parametrize(("method", "headers", "body", "status", "reason"), CASES)
async def test_a_bad_request_gets_its_status_and_the_server_keeps_serving(
    method: str, headers: dict[str, str], body: bytes, status: int, reason: str
) -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        async with http.request(method, srv.url, data=body, headers=headers) as resp:
            assert resp.status == status
            answer = await resp.json()
            assert isinstance(answer["error"], str)
            assert answer["error"]
            assert isinstance(answer["problems"], list)
            if status == 405:
                assert resp.headers["Allow"] == "POST"
            if status == 401:
                assert resp.headers["WWW-Authenticate"] == 'Bearer realm="es-autoscaler"'
        assert srv.received == []
        assert srv.count(status, reason) == 1
        await assert_still_serving(srv, http)
        assert srv.count(200, "ok") == 1


async def test_a_schema_error_says_which_field_is_wrong() -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        body = alert_with(status="pending", startsAt="yesterday")
        async with http.post(srv.url, data=body, headers={**AUTH, **JSON}) as resp:
            assert resp.status == 400
            answer = await resp.json()
    assert answer["error"] == "not a valid Alertmanager webhook payload"
    assert any(p.startswith("$.alerts[0].status") for p in answer["problems"])
    assert any(p.startswith("$.alerts[0].startsAt") for p in answer["problems"])


async def test_a_payload_with_thousands_of_problems_gets_a_bounded_answer() -> None:
    body = with_(alerts=[{"status": "nope"}] * 5000)
    async with (
        serve_webhook() as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=body, headers={**AUTH, **JSON}) as resp,
    ):
        assert resp.status == 400
        answer = await resp.json()
    assert len(answer["problems"]) == 21
    assert answer["problems"][-1].endswith("more problems")


async def test_an_unknown_version_says_which_version_is_spoken() -> None:
    async with (
        serve_webhook() as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=with_(version="5"), headers={**AUTH, **JSON}) as resp,
    ):
        assert resp.status == 422
        answer = await resp.json()
    assert "'4'" in answer["error"]
    assert answer["problems"] == ["version: '5' is not '4'"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
)
async def test_json_with_or_without_a_utf8_charset_is_accepted(content_type: str) -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        headers = {**AUTH, "Content-Type": content_type}
        async with http.post(srv.url, data=GOOD_BODY, headers=headers) as resp:
            assert resp.status == 200


async def test_a_body_at_the_limit_is_accepted() -> None:
    padded = GOOD_BODY + b" " * (4096 - len(GOOD_BODY))
    async with (
        serve_webhook(max_bytes=4096) as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=padded, headers={**AUTH, **JSON}) as resp,
    ):
        assert resp.status == 200


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent() -> None:
    async with serve_webhook(max_bytes=4096) as srv, aiohttp.ClientSession() as http:
        # headers only: the server must answer without waiting for 10 MB that never come
        resp = await raw_exchange(srv, request_head(srv, extra="Content-Length: 10000000\r\n"))
        assert resp.status == 413
        assert resp.headers["connection"] == "close"
        assert resp.json()["error"] == "body larger than 4096 bytes"
        assert srv.count(413, "too_large") == 1
        await assert_still_serving(srv, http)


async def test_a_chunked_body_is_cut_off_at_the_limit_while_reading() -> None:
    async with serve_webhook(max_bytes=4096) as srv, aiohttp.ClientSession() as http:
        # 5 chunks of 1000 bytes and no terminating chunk: only a bounded read answers this
        chunks = b"".join(b"3e8\r\n" + b" " * 1000 + b"\r\n" for _ in range(5))
        head = request_head(srv, extra="Transfer-Encoding: chunked\r\n")
        resp = await raw_exchange(srv, head + chunks)
        assert resp.status == 413
        assert resp.headers["connection"] == "close"
        assert srv.received == []
        await assert_still_serving(srv, http)


async def test_a_streamed_body_over_the_limit_from_a_real_client_is_refused() -> None:
    async def endless() -> Any:
        for _ in range(64):
            yield b" " * 1024

    async with serve_webhook(max_bytes=4096) as srv, aiohttp.ClientSession() as http:
        try:
            async with http.post(srv.url, data=endless(), headers={**AUTH, **JSON}) as resp:
                assert resp.status == 413
        except aiohttp.ClientError:
            pass  # the server may close while the client is still sending: also a refusal
        assert srv.received == []
        assert srv.count(413, "too_large") == 1
        await assert_still_serving(srv, http)


async def test_a_broken_chunked_encoding_is_a_client_error() -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        head = request_head(srv, extra="Transfer-Encoding: chunked\r\n")
        resp = await raw_exchange(srv, head + b"zz\r\nxx\r\n0\r\n\r\n")
        assert resp.status == 400
        await assert_still_serving(srv, http)


async def test_a_failing_on_payload_is_a_503_so_alertmanager_retries_and_nothing_is_lost() -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        srv.fail_next = 2
        for _ in range(2):
            async with http.post(srv.url, data=GOOD_BODY, headers=GOOD_HEADERS) as resp:
                assert resp.status == 503
                assert (await resp.json())["error"]
        assert srv.firing() == set()
        # Alertmanager retries the same body; this time it is applied
        async with http.post(srv.url, data=GOOD_BODY, headers=GOOD_HEADERS) as resp:
            assert resp.status == 200
        assert srv.firing() == {"6f4a0d633d8c7fe3"}
        assert srv.count(503, "unavailable") == 2
        assert srv.count(200, "ok") == 1


async def test_a_failing_on_payload_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        srv.fail_next = 1
        async with http.post(srv.url, data=GOOD_BODY, headers=GOOD_HEADERS) as resp:
            assert resp.status == 503
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors
    assert errors[0].exc_info is not None
    assert TOKEN not in caplog.text
    assert "es_node_cpu_percent" not in caplog.text  # no body in the logs


async def test_every_response_is_counted_by_code_and_reason() -> None:
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        sent = [
            ("GET", {}, b""),
            ("POST", JSON, GOOD_BODY),
            ("POST", {**AUTH, "Content-Type": "text/plain"}, GOOD_BODY),
            ("POST", {**AUTH, **JSON}, b"{"),
            ("POST", {**AUTH, **JSON}, b"{}"),
            ("POST", {**AUTH, **JSON}, with_(version="9")),
            ("POST", GOOD_HEADERS, GOOD_BODY),
            ("POST", GOOD_HEADERS, GOOD_BODY),
        ]
        for method, headers, body in sent:
            async with http.request(method, srv.url, data=body, headers=headers):
                pass
    expected = {
        ("405", "method"): 1,
        ("401", "auth"): 1,
        ("415", "content_type"): 1,
        ("400", "json"): 1,
        ("400", "schema"): 1,
        ("422", "version"): 1,
        ("200", "ok"): 2,
    }
    samples = {
        (s.labels["code"], s.labels["reason"]): s.value
        for metric in srv.metrics.registry.collect()
        if metric.name == "esas_webhook_requests"
        for s in metric.samples
        if s.name == "esas_webhook_requests_total"
    }
    assert samples == expected


def test_a_non_positive_limit_is_refused() -> None:
    async def on_payload(payload: WebhookPayload) -> None:
        return None

    with pytest.raises(ValueError, match="max_bytes"):
        webhook_handler(
            auth=WebhookAuth(tokens=["t"]), max_bytes=0, on_payload=on_payload, metrics=Metrics()
        )


@pytest.mark.parametrize("value", [";0*", ";", "a;b*=c"])
async def test_a_content_type_aiohttp_cannot_parse_is_a_415_not_a_500(value: str) -> None:
    # found by the fuzz: aiohttp raises IndexError/AssertionError parsing ";0*"
    async with serve_webhook() as srv, aiohttp.ClientSession() as http:
        headers = {**GOOD_HEADERS, "Content-Type": value}
        async with http.post(srv.url, data=GOOD_BODY, headers=headers) as resp:
            assert resp.status == 415
        await assert_still_serving(srv, http)


async def test_a_megabyte_timestamp_is_a_prompt_400_and_never_stalls_the_loop() -> None:
    # before: parse_timestamp copied fraction digits one by one (quadratic): ~40 s of CPU
    from loop_lag import loop_lag_probe

    huge = "2026-11-26T11:18:30." + "1" * 900_000 + "Z"
    async with (
        loop_lag_probe(),
        serve_webhook(max_bytes=1 << 20) as srv,
        aiohttp.ClientSession() as http,
    ):
        async with asyncio.timeout(30):
            async with http.post(
                srv.url, data=alert_with(startsAt=huge), headers=OK_HEADERS
            ) as resp:
                assert resp.status == 400
                answer = await resp.json()
        assert any(p.startswith("$.alerts[0].startsAt") for p in answer["problems"]), answer
        await assert_still_serving(srv, http)
