"""Bounds on what HTTP clients can hold: head deadline, connection cap, quiet client errors.

aiohttp has no deadline for a request head — a connection that sends half a header, or
nothing, is kept forever — and no connection cap: 2,000 slow-header connections exhausted the
service's file descriptors, after which asyncio's accept loop logged ~5,400 lines a second
(issue 9 item 8). :class:`GuardedSite` wraps each connection's protocol (aiohttp's
``RequestHandler``): a request head must be complete within ``header_timeout`` of the
connection opening, or of the first byte after the previous response (the wrapper reads
three of the handler's private attributes, ``_request_count``, ``_request_in_progress`` and
``_messages``, of the aiohttp version pinned in requirements; ``tests/integration/service/
test_http_limits.py`` fails if a new aiohttp changes them); past
``max_connections`` a new connection gets a 503 and is closed. The webhook bounds its body
read itself (``read_timeout``: 408). Requests aiohttp's parser refuses as malformed (a broken
chunked body) are the client's error: one DEBUG line, not an ERROR traceback (item 9).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.log import server_logger

from autoscaler.metrics import Metrics

__all__ = [
    "AcceptErrorsRateLimited",
    "GuardedSite",
    "HttpLimits",
    "make_runner",
    "quiet_accept_errors",
]

log = logging.getLogger("autoscaler.service.http")


@dataclass(frozen=True)
class HttpLimits:
    """What one client connection may hold; README "Reliability" states each limit."""

    header_timeout: float = 10.0
    """Seconds to send a complete request head (from connect, or from the first byte after
    the previous response); then the connection is closed."""
    body_timeout: float = 10.0
    """Seconds to send a webhook body (enforced by the webhook handler: 408)."""
    keepalive_timeout: float = 75.0
    """Seconds an idle keep-alive connection is kept (aiohttp's default)."""
    lingering_time: float = 1.0
    """Seconds the rest of a refused body is read and dropped before closing, so the client
    sees the answer (aiohttp's default, 10 s, is a free 10 s hold for a slow sender)."""
    max_connections: int = 1000
    """Open connections at once; a new one past it gets a 503 and is closed."""


_REFUSED_BODY: Final = b'{"error": "too many connections; retry later"}\n'
_REFUSED: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_REFUSED_BODY)}\r\n".encode()
    + b"Connection: close\r\nRetry-After: 1\r\n\r\n"
    + _REFUSED_BODY
)
_LOG_EVERY: Final = 60.0


class _Guard(asyncio.Protocol):
    """Wraps aiohttp's per-connection RequestHandler: head deadline and connection count."""

    def __init__(self, inner: Any, site: GuardedSite) -> None:
        self._inner = inner
        self._site = site
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._heads = 0
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        site = self._site
        if site.open_connections >= site.limits.max_connections:
            site.refused()
            transport.write(_REFUSED)
            transport.close()
            return
        site.open_connections += 1
        self._counted = True
        self._inner.connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted:
            self._counted = False
            self._site.open_connections -= 1
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._counted:
            return
        inner = self._inner
        inner.data_received(data)
        # aiohttp's RequestHandler counts request heads as its parser completes them
        # (web_protocol.py data_received: ``_request_count += 1``)
        heads = inner._request_count
        if heads != self._heads:
            self._heads = heads
            self._disarm()  # a complete head: the deadline is met
        elif self._timer is None and not self._busy():
            self._arm()  # bytes of a next head on a kept-alive connection: the clock runs

    def eof_received(self) -> bool | None:
        if not self._counted:
            return None
        result: bool | None = self._inner.eof_received()
        return result

    def pause_writing(self) -> None:
        if self._counted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._counted:
            self._inner.resume_writing()

    def _busy(self) -> bool:
        """A request is queued or being handled (its body may still be arriving)."""
        inner = self._inner
        return bool(inner._request_in_progress or inner._messages)

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._site.limits.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._transport is None or self._busy():
            return
        self._site.timed_out("head")
        self._transport.close()


class _RateLimitedWarning:
    """One WARNING per ``every`` seconds for a repeated event, with how many were skipped."""

    def __init__(self, event: str, *, every: float = _LOG_EVERY) -> None:
        self.event, self.every = event, every
        self._last = float("-inf")
        self._skipped = 0

    def __call__(self, **fields: object) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            self._skipped += 1
            return
        log.warning(self.event, extra={"fields": {**fields, "skipped": self._skipped}})
        self._last, self._skipped = now, 0


class GuardedSite(web.TCPSite):
    """``web.TCPSite`` whose connections are bounded by :class:`HttpLimits`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None,
        port: int,
        *,
        limits: HttpLimits | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(runner, host, port)
        self.limits = limits or HttpLimits()
        self.metrics = metrics
        self.open_connections = 0
        self._warn_refused = _RateLimitedWarning("http_connections_refused")

    def refused(self) -> None:
        if self.metrics is not None:
            self.metrics.http_connections_refused.inc()
        self._warn_refused(open=self.open_connections, limit=self.limits.max_connections)

    def timed_out(self, phase: str) -> None:
        if self.metrics is not None:
            self.metrics.http_timeouts.labels(phase=phase).inc()

    async def start(self) -> None:
        # TCPSite.start with the protocol factory wrapped (aiohttp web_runner.py)
        await web.BaseSite.start(self)  # registers the site with its runner
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            lambda: _Guard(server(), self),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


class _ClientErrorsAtDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, except that requests its parser refused as malformed (4xx: a
    broken chunked body, a bad header) are logged as one DEBUG line without traceback.
    aiohttp does the same for a bad method (``web_protocol.handle_error``); anything else it
    reports stays an ERROR with its traceback."""

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            self.logger.debug(
                "http_request_malformed",
                extra={"fields": {"status": exc.code, "error": str(exc.message)[:200]}},
            )
            return
        self.logger.exception(msg, *args, **kwargs)


def make_runner(app: web.Application, *, limits: HttpLimits | None = None) -> web.AppRunner:
    """The service's AppRunner: no access log, no body decompression, quiet client errors."""
    lim = limits or HttpLimits()
    return web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=5.0,
        auto_decompress=False,
        keepalive_timeout=lim.keepalive_timeout,
        lingering_time=lim.lingering_time,
        logger=_ClientErrorsAtDebug(server_logger, {}),
    )


class AcceptErrorsRateLimited(logging.Filter):
    """For the ``asyncio`` logger: at the fd limit its accept loop reports "out of system
    resource" thousands of times a second; let one through a minute, with a count."""

    def __init__(self, *, every: float = _LOG_EVERY) -> None:
        super().__init__()
        self.every = every
        self._last = float("-inf")
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "out of system resource" not in str(record.msg):
            return True
        now = time.monotonic()
        if now - self._last < self.every:
            self.suppressed += 1
            return False
        self._last = now
        if self.suppressed:
            record.msg = f"{record.msg} ({self.suppressed} more since the last report)"
        self.suppressed = 0
        return True


def quiet_accept_errors() -> None:
    """Install :class:`AcceptErrorsRateLimited` on the ``asyncio`` logger (once)."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, AcceptErrorsRateLimited) for f in logger.filters):
        logger.addFilter(AcceptErrorsRateLimited())
