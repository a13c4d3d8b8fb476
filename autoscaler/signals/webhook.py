"""The HTTP edge for Alertmanager webhooks: authenticate, bound, parse, hand over, answer.

Alertmanager is the only client, and it reacts to exactly two things: a 2xx means "delivered,
never send this again", anything else (5xx or a broken connection) means "retry later". So a
webhook is answered 200 only *after* the caller has folded it into the alert state
(``on_payload`` returned): an accepted alert is never dropped. If that step fails we answer
503 and Alertmanager retries the same body. Everything the sender got wrong is a 4xx with a
JSON body saying what, and nothing a client sends can produce a 500.

Authentication mirrors what Alertmanager's ``http_config`` can send: ``authorization``
(``Authorization: Bearer <credentials>``) and ``basic_auth``. Every configured credential is
compared in constant time on BLAKE2s digests (so neither which credential nor its length
leaks through timing). The core stays pure: parsing is ``autoscaler.core.alerts.parse_webhook``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final

import orjson
from aiohttp import hdrs, web

from autoscaler.core.alerts import PayloadError, WebhookPayload, parse_webhook
from autoscaler.metrics import Metrics

__all__ = [
    "UNAUTHORIZED",
    "WEBHOOK_PATH",
    "AuthConfigError",
    "WebhookAuth",
    "WebhookHandler",
    "webhook_handler",
]

log = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/webhook/alertmanager"
"""Where the service mounts the handler (``app.router.add_route("*", WEBHOOK_PATH, ...)``)."""

WebhookHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REALM: Final = "es-autoscaler"
UNAUTHORIZED: Final = "missing or invalid credentials"
"""The error of every 401 this service answers (the webhook and the control API's pause and
resume): the same words whatever was wrong, so an answer never tells which part failed."""
_MAX_PROBLEMS: Final = 20  # a body with 10 000 broken alerts must not get a 10 000-line answer
_MAX_PROBLEM_CHARS: Final = 300
_JSON: Final = "application/json"
_LOG_EVERY: Final = 60.0  # seconds between two INFO lines about rejections of one reason
_OFFLOAD_BYTES: Final = 64 * 1024  # parse bodies above this in a thread: keep the loop responsive


class AuthConfigError(ValueError):
    """The webhook authentication settings are missing, inconsistent or unreadable."""


def _digest(secret: bytes) -> bytes:
    # BLAKE2s (CPython's own, 32 bytes): for equal-length constant-time comparison any
    # cryptographic hash does, and this one skips OpenSSL 3's per-call EVP set-up, which cost
    # ~1.5 us of every webhook under load (perf, issue 10) against ~0.3 us for the hash itself
    return hashlib.blake2s(secret).digest()


_EMPTY_DIGEST: Final = _digest(b"")


class WebhookAuth:
    """The credentials a webhook request must present (bearer tokens and/or basic auth).

    Build it with :meth:`from_sources` from the service settings. ``insecure`` (accept every
    request) is only possible when explicitly asked for and no credential is configured.
    """

    __slots__ = ("_basic", "_files", "_insecure", "_sources", "_tokens")

    def __init__(
        self,
        *,
        tokens: Sequence[str] = (),
        basic: Sequence[tuple[str, str]] = (),
        insecure: bool = False,
    ) -> None:
        if any(not t for t in tokens) or any(not u or not p for u, p in basic):
            raise AuthConfigError("webhook credentials must not be empty")
        if any(":" in u for u, _ in basic):
            raise AuthConfigError("a basic-auth user name cannot contain ':' (RFC 7617)")
        if not tokens and not basic and not insecure:
            raise AuthConfigError(
                "no webhook authentication configured: give a bearer token or basic-auth "
                "credentials, or accept unauthenticated webhooks explicitly (insecure)"
            )
        self._tokens = tuple(_digest(t.encode()) for t in tokens)
        self._basic = tuple(_digest(f"{u}:{p}".encode()) for u, p in basic)
        self._insecure = insecure and not tokens and not basic
        self._sources: dict[str, Any] | None = None  # set by from_sources: what refresh re-reads
        self._files: tuple[tuple[str, int, int] | None, ...] = ()

    @classmethod
    def from_sources(
        cls,
        *,
        token: str | None,
        token_file: Path | None,
        basic_user: str | None,
        basic_password_file: Path | None,
        insecure_no_auth: bool,
    ) -> WebhookAuth:
        """Credentials from the settings; AuthConfigError says what is missing or unreadable.

        ``token`` and ``token_file`` may both be set (both are accepted: handy while rotating).
        Files are read once, surrounding whitespace (the trailing newline) stripped, as
        Alertmanager does with ``credentials_file`` / ``password_file``. Configured
        credentials are enforced even when ``insecure_no_auth`` is set.
        """
        tokens: list[str] = []
        if token is not None:
            if not token.strip():
                raise AuthConfigError("the webhook bearer token is empty")
            tokens.append(token.strip())
        if token_file is not None:
            tokens.append(_read_secret(token_file, what="webhook bearer token file"))
        basic: list[tuple[str, str]] = []
        if (basic_user is None) != (basic_password_file is None):
            raise AuthConfigError(
                "webhook basic auth needs both a user and a password file "
                f"(got {'a user' if basic_user is not None else 'a password file'} only)"
            )
        if basic_user is not None and basic_password_file is not None:
            if not basic_user:
                raise AuthConfigError("the webhook basic-auth user is empty")
            password = _read_secret(basic_password_file, what="webhook basic-auth password file")
            basic.append((basic_user, password))
        if tokens or basic:
            if insecure_no_auth:
                log.warning(
                    "insecure_no_auth_ignored",
                    extra={"fields": {"detail": "webhook credentials are configured"}},
                )
            auth = cls(tokens=tokens, basic=basic)
            auth._sources = {
                "token": token,
                "token_file": token_file,
                "basic_user": basic_user,
                "basic_password_file": basic_password_file,
                "insecure_no_auth": insecure_no_auth,
            }
            auth._files = _file_states(token_file, basic_password_file)
            return auth
        if not insecure_no_auth:
            raise AuthConfigError(
                "no webhook authentication configured: set a bearer token "
                "(ESAS_WEBHOOK_TOKEN_FILE or ESAS_WEBHOOK_TOKEN) or basic auth "
                "(ESAS_WEBHOOK_BASIC_USER + ESAS_WEBHOOK_BASIC_PASSWORD_FILE), or accept "
                "unauthenticated webhooks explicitly with ESAS_INSECURE_NO_AUTH=true"
            )
        return cls(insecure=True)

    def refresh(self) -> bool:
        """Re-read the credential files if they changed (a rotated Kubernetes Secret swaps
        its ``..data`` symlink: the resolved path, mtime or size changes). True when new
        credentials are in force. Unreadable or empty new files are logged and the current
        credentials stay, so a half-written rotation never locks Alertmanager out."""
        if self._sources is None:
            return False
        files = _file_states(self._sources["token_file"], self._sources["basic_password_file"])
        if files == self._files:
            return False
        self._files = files
        try:
            new = WebhookAuth.from_sources(**self._sources)
        except AuthConfigError as e:
            log.error(
                "webhook_credentials_reload_failed",
                extra={"fields": {"error": str(e), "kept": "the previous credentials"}},
            )
            return False
        self._tokens, self._basic, self._insecure = new._tokens, new._basic, new._insecure
        log.info("webhook_credentials_reloaded", extra={"fields": {"auth": repr(self)}})
        return True

    @property
    def insecure(self) -> bool:
        """True when every request is accepted without credentials."""
        return self._insecure

    @property
    def schemes(self) -> tuple[str, ...]:
        """The HTTP auth schemes accepted (for ``WWW-Authenticate``)."""
        return (("Bearer",) if self._tokens else ()) + (("Basic",) if self._basic else ())

    def challenges(self) -> list[str]:
        """The ``WWW-Authenticate`` values of a 401 (RFC 9110 11.6.1): one per scheme in
        force now (a credential rotation can change them), e.g. ``Bearer realm="..."``."""
        return [f'{s} realm="{_REALM}"' for s in self.schemes]

    def check(self, *, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value carries one of the configured credentials.

        Every configured credential is compared (``hmac.compare_digest`` on BLAKE2s digests,
        no early exit), whatever the scheme presented, so timing reveals neither which
        credential matched nor how long any of them is.
        """
        if self._insecure:
            return True
        scheme, _, value = (authorization or "").strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        # aiohttp decodes header bytes as UTF-8 with surrogateescape: this gets the bytes back.
        raw = value.encode("utf-8", "surrogateescape")
        bearer = raw if scheme == "bearer" and raw else b""
        basic = _decode_basic(raw) if scheme == "basic" else b""
        # The scheme not presented compares the digest of nothing (computed once): the
        # comparisons below, the part that touches secrets, run the same either way.
        bearer_digest = _digest(bearer) if bearer else _EMPTY_DIGEST
        basic_digest = _digest(basic) if basic else _EMPTY_DIGEST
        ok = False
        for expected in self._tokens:
            ok |= hmac.compare_digest(bearer_digest, expected)
        for expected in self._basic:
            ok |= hmac.compare_digest(basic_digest, expected)
        # An empty presentation never matches: configured credentials are never empty.
        return ok and bool(bearer or basic)

    def __repr__(self) -> str:  # never show secrets, not even digests
        if self._insecure:
            return "WebhookAuth(insecure=True)"
        return f"WebhookAuth(tokens={len(self._tokens)}, basic={len(self._basic)})"


def _file_states(*paths: Path | None) -> tuple[tuple[str, int, int] | None, ...]:
    out: list[tuple[str, int, int] | None] = []
    for p in paths:
        try:
            st = p.stat() if p is not None else None
            out.append((os.path.realpath(p), st.st_mtime_ns, st.st_size) if p and st else None)
        except OSError:
            out.append(None)
    return tuple(out)


def _decode_basic(raw: bytes) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _read_secret(path: Path, *, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
        raise AuthConfigError(f"cannot read the {what} {str(path)!r}: {reason}") from None
    secret = text.strip()
    if not secret:
        raise AuthConfigError(f"the {what} {str(path)!r} is empty")
    return secret


class _Reject(Exception):
    """A request answered with an error; carries everything the response needs."""

    def __init__(
        self,
        status: int,
        reason: str,
        error: str,
        *,
        problems: Sequence[str] = (),
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.reason = reason
        self.error = error
        self.problems = list(problems)
        self.headers = headers or {}
        self.close = close


def _bounded(problems: Sequence[str]) -> list[str]:
    out = [p if len(p) <= _MAX_PROBLEM_CHARS else p[:_MAX_PROBLEM_CHARS] + "…" for p in problems]
    if len(out) > _MAX_PROBLEMS:
        out = [*out[:_MAX_PROBLEMS], f"… and {len(out) - _MAX_PROBLEMS} more problems"]
    return out


def _decode(body: bytes) -> WebhookPayload:
    """Body bytes → payload; raises _Reject (400/422) for anything a sender got wrong."""
    try:
        # orjson (issue 10): strict RFC 8259 — no NaN/Infinity, integers within 64 bits,
        # nesting ≤ 1024, UTF-8 validated — and several times faster than the stdlib.
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as u:
            raise _Reject(
                400, "json", "body is not valid UTF-8", problems=[f"byte {u.start}: {u.reason}"]
            ) from None
        raise _Reject(400, "json", "body is not valid JSON", problems=[str(e)]) from None
    try:
        return parse_webhook(data)
    except PayloadError as e:
        if e.unsupported_version:
            raise _Reject(422, "version", str(e), problems=e.problems) from None
        raise _Reject(400, "schema", str(e), problems=e.problems) from None
    except RecursionError:
        raise _Reject(400, "schema", "payload nested too deeply") from None


def _check_content_type(request: web.Request) -> None:
    raw = request.headers.get(hdrs.CONTENT_TYPE)
    if raw is None:
        raise _Reject(415, "content_type", "Content-Type must be application/json (none given)")
    if raw == "application/json" and hdrs.CONTENT_ENCODING not in request.headers:
        return  # what Alertmanager sends: nothing to parse
    try:
        params = request.charset
        content_type = request.content_type
    except Exception:  # aiohttp's parser fails on some garbage (";0*": IndexError)
        params, content_type = None, ""
    if content_type != "application/json" or (
        params is not None and params.lower() not in ("utf-8", "utf8")
    ):
        raise _Reject(
            415,
            "content_type",
            "Content-Type must be application/json (optionally with charset=utf-8)",
            problems=[f"got {raw[:100]!r}"],
        )
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
    if encoding not in ("", "identity"):
        # Alertmanager never compresses; refusing codings means we never buffer an inflated body.
        raise _Reject(
            415,
            "content_type",
            "Content-Encoding is not supported (send identity)",
            problems=[f"got {encoding[:100]!r}"],
            close=True,  # the server may fail decoding the unread body: do not reuse
        )


def _too_large(max_bytes: int) -> _Reject:
    return _Reject(
        413,
        "too_large",
        f"body larger than {max_bytes} bytes",
        close=True,  # do not keep reading a body we refused
    )


def _body_if_complete(request: web.Request, *, max_bytes: int) -> bytes | None:
    """The body when all of it came with the head (what a small webhook does), else None:
    then :func:`_read_bounded` waits for it. Synchronous, so the common case creates no
    coroutine. Raises _Reject (413) for a body over ``max_bytes``."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise _too_large(max_bytes)
    content = request.content
    if not content.is_eof():
        return None
    try:
        body = content.read_nowait(-1)
    except Exception as e:  # aiohttp payload errors: bad chunked encoding, truncated body
        raise _Reject(400, "body", "request body could not be read", close=True) from e
    if len(body) > max_bytes:  # the size was checked above; a chunked body is checked here
        raise _too_large(max_bytes)
    return body


async def _read_bounded(
    request: web.Request, *, max_bytes: int, seconds: float | None = None
) -> bytes:
    body = _body_if_complete(request, max_bytes=max_bytes)
    if body is not None:
        return body
    content = request.content
    try:
        buf = bytearray()
        async with asyncio.timeout(seconds):
            while chunk := await content.readany():
                if len(buf) + len(chunk) > max_bytes:
                    raise _too_large(max_bytes)
                buf += chunk
    except _Reject:
        raise
    except TimeoutError:
        raise _Reject(
            408,
            "timeout",
            f"request body not received within {seconds:g}s",
            close=True,  # the rest of the body may still be on its way: do not reuse
        ) from None
    except Exception as e:  # aiohttp payload errors: bad chunked encoding, truncated body
        raise _Reject(400, "body", "request body could not be read", close=True) from e
    return bytes(buf)


def webhook_handler(
    *,
    auth: WebhookAuth,
    max_bytes: int,
    on_payload: Callable[[WebhookPayload], Awaitable[None]],
    metrics: Metrics,
    read_timeout: float | None = None,
) -> WebhookHandler:
    """The aiohttp handler for ``POST /webhook/alertmanager``; mount it for every method.

    Checks, in order: method (405), credentials (401), content type (415), size (413,
    before and while reading; 408 if the body takes longer than ``read_timeout`` seconds),
    JSON (400), schema (400) and version (422). Then awaits
    ``on_payload(payload)``: 200 ``{"status": "ok", "alerts": N}`` once it returned, 503 if
    it raised. Every answer is counted in ``metrics.webhook_requests{code, reason}``.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")

    counters: dict[tuple[int, str], Any] = {}  # labelled children, looked up once each

    def respond(status: int, reason: str, body: dict[str, Any]) -> web.Response:
        counter = counters.get((status, reason))
        if counter is None:
            counter = metrics.webhook_requests.labels(code=str(status), reason=reason)
            counters[(status, reason)] = counter
        counter.inc()
        return web.Response(body=orjson.dumps(body), status=status, content_type=_JSON)

    last_logged: dict[str, float] = {}

    def reject(r: _Reject, request: web.Request) -> web.Response:
        # Counted per request in metrics; logged at INFO once a minute per reason, else DEBUG
        # (a misconfigured sender must not flood the log).
        now = time.monotonic()
        level = logging.DEBUG
        if now - last_logged.get(r.reason, float("-inf")) >= _LOG_EVERY:
            last_logged[r.reason] = now
            level = logging.INFO
        log.log(
            level,
            "webhook_rejected",
            extra={
                "fields": {
                    "status": r.status,
                    "reason": r.reason,
                    "error": r.error,
                    "remote": request.remote,
                }
            },
        )
        if r.problems:
            log.debug("webhook_problems", extra={"fields": {"problems": _bounded(r.problems)}})
        resp = respond(r.status, r.reason, {"error": r.error, "problems": _bounded(r.problems)})
        for k, v in r.headers.items():
            resp.headers[k] = v
        if r.status == 401:
            for c in auth.challenges():
                resp.headers.add(hdrs.WWW_AUTHENTICATE, c)
        if r.close:
            resp.force_close()
        return resp

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            if request.method != hdrs.METH_POST:
                raise _Reject(
                    405,
                    "method",
                    f"method {request.method} not allowed; use POST",
                    headers={hdrs.ALLOW: hdrs.METH_POST},
                )
            if not auth.check(authorization=request.headers.get(hdrs.AUTHORIZATION)):
                raise _Reject(401, "auth", UNAUTHORIZED)
            _check_content_type(request)
            body = _body_if_complete(request, max_bytes=max_bytes)
            if body is None:
                body = await _read_bounded(request, max_bytes=max_bytes, seconds=read_timeout)
            try:
                if len(body) > _OFFLOAD_BYTES:
                    payload = await asyncio.to_thread(_decode, body)
                else:
                    payload = _decode(body)
            except _Reject:
                raise
            except Exception as e:  # never a 500 for something a client sent
                log.debug("webhook_parse_failed", extra={"fields": {"error": type(e).__name__}})
                raise _Reject(400, "schema", "payload could not be parsed") from None
        except _Reject as r:
            return reject(r, request)

        if payload.truncatedAlerts:
            log.warning(
                "webhook_alerts_truncated",
                extra={
                    "fields": {
                        "truncated": payload.truncatedAlerts,
                        "group": payload.groupKey,
                        "hint": "Alertmanager dropped alerts (max_alerts in its webhook config)",
                    }
                },
            )
        try:
            await on_payload(payload)
        except Exception:
            log.exception(
                "webhook_not_applied",
                extra={
                    "fields": {
                        "group": payload.groupKey,
                        "alerts": len(payload.alerts),
                        "answer": "503, Alertmanager retries",
                    }
                },
            )
            resp = respond(
                503,
                "unavailable",
                {"error": "the alert could not be applied; retry later", "problems": []},
            )
            resp.headers[hdrs.RETRY_AFTER] = "1"
            return resp
        if log.isEnabledFor(logging.DEBUG):  # per request: build nothing when not logged
            log.debug(
                "webhook_applied",
                extra={
                    "fields": {
                        "group": payload.groupKey,
                        "status": payload.status,
                        "alerts": len(payload.alerts),
                    }
                },
            )
        return respond(200, "ok", {"status": "ok", "alerts": len(payload.alerts)})

    return handle
