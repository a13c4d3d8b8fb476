"""Webhooks that reach a follower are forwarded to the leader, so no alert is lost.

With two or more replicas behind one Service, Alertmanager's POST lands on any of them, but
only the leader acts. The mechanism (README "High availability", docs/ARCHITECTURE.md):

1. Every replica applies the alert to its own alert state first (a follower that becomes
   leader later already knows what is firing).
2. A follower then forwards the payload to the leader, at the URL the leader advertises in
   the Lease annotation ``es-autoscaler.io/leader-url`` (``LeaderElector.leader_url``), with
   the sender's ``Authorization`` header and the marker header ``X-Esas-Forwarded-By: ID``.
   The leader's answer decides the follower's answer: 200 only when the leader applied it.
3. A forwarded request that reaches a replica which is not the leader (leadership moved while
   it was in flight) is applied locally but **not forwarded again** (no loops): it answers 503.
   So does a follower that knows no leader, or whose forward failed. 503 carries
   ``Retry-After`` and Alertmanager retries the notification (its webhook receiver retries
   on 5xx), by which time a leader is known.

Applying an alert twice is harmless (alerts are keyed by fingerprint), so retries are safe.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping

import aiohttp
from aiohttp import hdrs, web

from autoscaler.core.alerts import WebhookPayload

FORWARDED_HEADER = "X-Esas-Forwarded-By"
WEBHOOK_PATH = "/webhook/alertmanager"


class NotForwarded(Exception):
    """The payload could not be handed to the leader; the webhook answers 503 (retry)."""


# The incoming webhook request's headers (its Authorization and FORWARDED_HEADER are what
# the forwarder needs): the request's own read-only view, read only when forwarding.
_incoming: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "esas_incoming_webhook", default=None
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def capture_headers(handler: Handler) -> Handler:
    """Wrap the webhook handler so ``on_payload`` can see who sent the request.

    Only needed where forwarding can happen (``serve`` wraps the handler only with leader
    election); per request it keeps a reference to the headers, nothing is copied."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        token = _incoming.set(request.headers)
        try:
            return await handler(request)
        finally:
            _incoming.reset(token)

    return wrapped


class Forwarder:
    """Hands a payload a follower received to the current leader."""

    def __init__(
        self,
        *,
        identity: str,
        leader_url: Callable[[], str | None],
        timeout: float = 5.0,
    ) -> None:
        self.identity = identity
        self.leader_url = leader_url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, payload: WebhookPayload) -> str:
        """POST ``payload`` to the leader; returns its URL. Raises ``NotForwarded``."""
        incoming = _incoming.get()
        forwarded_by = incoming.get(FORWARDED_HEADER) if incoming is not None else None
        if forwarded_by:
            raise NotForwarded(
                f"forwarded by {forwarded_by[:100]} to a replica that is not the "
                "leader (leadership moved); not forwarded again"
            )
        url = self.leader_url()
        if not url:
            raise NotForwarded("no leader known yet")
        headers = {FORWARDED_HEADER: self.identity}
        authorization = incoming.get(hdrs.AUTHORIZATION) if incoming is not None else None
        if authorization:
            headers[hdrs.AUTHORIZATION] = authorization
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        target = url.rstrip("/") + WEBHOOK_PATH
        try:
            async with self._session.post(
                target, json=payload.model_dump(mode="json"), headers=headers
            ) as resp:
                await resp.read()
                if resp.status != 200:
                    raise NotForwarded(f"the leader at {url} answered HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise NotForwarded(f"the leader at {url} could not be reached: {e!r}") from None
        return url

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
