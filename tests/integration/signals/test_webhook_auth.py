"""Webhook authentication as Alertmanager's http_config sends it: bearer and basic auth."""

from __future__ import annotations

import base64
import hmac
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _webhook_kit import TOKEN, capture, serve_webhook

from autoscaler.signals.webhook import AuthConfigError, WebhookAuth

BODY, _ = capture("api-firing.json")
JSON = {"Content-Type": "application/json"}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {**JSON, "Authorization": f"Basic {raw}"}


def secret_file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


def sources(**given: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "token": None,
        "token_file": None,
        "basic_user": None,
        "basic_password_file": None,
        "insecure_no_auth": False,
    }
    return {**base, **given}


# ---- configuration -------------------------------------------------------------------------


def test_no_credentials_and_not_insecure_is_a_configuration_error() -> None:
    with pytest.raises(AuthConfigError, match="no webhook authentication configured"):
        WebhookAuth.from_sources(**sources())


def test_insecure_must_be_asked_for_explicitly() -> None:
    auth = WebhookAuth.from_sources(**sources(insecure_no_auth=True))
    assert auth.insecure
    assert auth.check(authorization=None)


def test_configured_credentials_win_over_insecure() -> None:
    auth = WebhookAuth.from_sources(**sources(token=TOKEN, insecure_no_auth=True))
    assert not auth.insecure
    assert not auth.check(authorization=None)


def test_a_missing_token_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match=r"cannot read the webhook bearer token file"):
        WebhookAuth.from_sources(**sources(token_file=tmp_path / "nope"))


def test_a_directory_as_token_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="cannot read"):
        WebhookAuth.from_sources(**sources(token_file=tmp_path))


@pytest.mark.parametrize("content", ["", "\n", "  \r\n"])
def test_an_empty_token_file_is_a_configuration_error(tmp_path: Path, content: str) -> None:
    with pytest.raises(AuthConfigError, match="is empty"):
        WebhookAuth.from_sources(**sources(token_file=secret_file(tmp_path, "t", content)))


def test_an_empty_token_is_a_configuration_error() -> None:
    with pytest.raises(AuthConfigError, match="empty"):
        WebhookAuth.from_sources(**sources(token=" "))


def test_basic_user_without_password_file_is_a_configuration_error() -> None:
    with pytest.raises(AuthConfigError, match="both a user and a password file"):
        WebhookAuth.from_sources(**sources(basic_user="am"))


def test_basic_password_file_without_user_is_a_configuration_error(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "p", "pw\n")
    with pytest.raises(AuthConfigError, match="both a user and a password file"):
        WebhookAuth.from_sources(**sources(basic_password_file=path))


def test_a_basic_user_with_a_colon_is_a_configuration_error(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "p", "pw\n")
    with pytest.raises(AuthConfigError, match="':'"):
        WebhookAuth.from_sources(**sources(basic_user="a:b", basic_password_file=path))


def test_the_repr_shows_no_secret() -> None:
    auth = WebhookAuth(tokens=[TOKEN], basic=[("am", "s3cret")])
    assert TOKEN not in repr(auth)
    assert "s3cret" not in repr(auth)


# ---- over HTTP ---------------------------------------------------------------------------


async def test_a_token_file_with_a_trailing_newline_accepts_the_token(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "token", TOKEN + "\n")
    auth = WebhookAuth.from_sources(**sources(token_file=path))
    async with (
        serve_webhook(auth=auth) as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=BODY, headers={**JSON, "Authorization": f"Bearer {TOKEN}"}) as r,
    ):
        assert r.status == 200


async def test_basic_auth_accepts_the_right_password_only(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "pw", "s3cret\n")
    auth = WebhookAuth.from_sources(**sources(basic_user="alertmanager", basic_password_file=path))
    async with serve_webhook(auth=auth) as srv, aiohttp.ClientSession() as http:
        expect = [
            (basic("alertmanager", "s3cret"), 200),
            (basic("alertmanager", "wrong"), 401),
            (basic("someone", "s3cret"), 401),
            ({**JSON, "Authorization": "Basic !!notbase64!!"}, 401),
            ({**JSON, "Authorization": "Bearer s3cret"}, 401),
        ]
        for headers, status in expect:
            async with http.post(srv.url, data=BODY, headers=headers) as r:
                assert r.status == status, headers
                if status == 401:
                    assert r.headers["WWW-Authenticate"] == 'Basic realm="es-autoscaler"'


async def test_a_non_ascii_basic_password_is_compared_as_utf8_as_go_sends_it(
    tmp_path: Path,
) -> None:
    path = secret_file(tmp_path, "pw", "pässword\n")
    auth = WebhookAuth.from_sources(**sources(basic_user="am", basic_password_file=path))
    async with (
        serve_webhook(auth=auth) as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=BODY, headers=basic("am", "pässword")) as r,
    ):
        assert r.status == 200


async def test_bearer_and_basic_can_both_be_configured_and_both_are_challenged(
    tmp_path: Path,
) -> None:
    path = secret_file(tmp_path, "pw", "s3cret")
    auth = WebhookAuth.from_sources(
        **sources(token=TOKEN, basic_user="am", basic_password_file=path)
    )
    async with serve_webhook(auth=auth) as srv, aiohttp.ClientSession() as http:
        for headers in ({**JSON, "Authorization": f"Bearer {TOKEN}"}, basic("am", "s3cret")):
            async with http.post(srv.url, data=BODY, headers=headers) as r:
                assert r.status == 200
        async with http.post(srv.url, data=BODY, headers=JSON) as r:
            assert r.status == 401
            assert r.headers.getall("WWW-Authenticate") == [
                'Bearer realm="es-autoscaler"',
                'Basic realm="es-autoscaler"',
            ]


async def test_token_and_token_file_are_both_accepted_for_rotation(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "token", "the-new-token\n")
    auth = WebhookAuth.from_sources(**sources(token=TOKEN, token_file=path))
    async with serve_webhook(auth=auth) as srv, aiohttp.ClientSession() as http:
        for token in (TOKEN, "the-new-token"):
            headers = {**JSON, "Authorization": f"Bearer {token}"}
            async with http.post(srv.url, data=BODY, headers=headers) as r:
                assert r.status == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_the_auth_scheme_is_case_insensitive(scheme: str) -> None:
    async with (
        serve_webhook() as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=BODY, headers={**JSON, "Authorization": f"{scheme} {TOKEN}"}) as r,
    ):
        assert r.status == 200


async def test_an_insecure_receiver_accepts_requests_without_credentials() -> None:
    async with (
        serve_webhook(auth=WebhookAuth(insecure=True)) as srv,
        aiohttp.ClientSession() as http,
        http.post(srv.url, data=BODY, headers=JSON) as r,
    ):
        assert r.status == 200


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}", "Bearer wrong", "Basic " + base64.b64encode(b"am:s3cret").decode(), None],
)
def test_every_configured_credential_is_compared_in_constant_time(
    monkeypatch: pytest.MonkeyPatch, header: str | None
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    auth = WebhookAuth(tokens=[TOKEN, "other"], basic=[("am", "s3cret")])
    auth.check(authorization=header)
    # all three credentials, whether the first matched or none did: no early exit
    assert len(calls) == 3
    # digests of equal length: the length of a secret does not leak either
    assert all(isinstance(a, bytes) and len(a) == len(b) == 32 for a, b in calls)
