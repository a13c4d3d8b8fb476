"""Re-sync firing alerts from Alertmanager's API, so a restart does not blind the service.

Alertmanager sends a webhook when an alert group changes and then only every
``repeat_interval`` (4 h by default), so a freshly started service would not know an alert
that fired before it started until then (issue 9 item 6). Two fixes were possible: persist
the alert book with the operation store, or ask Alertmanager. We ask Alertmanager — it is the
source of truth for what is firing *now* (a persisted book would restore alerts that
resolved while we were down), and it needs no coupling to the operation store. So with
``--alertmanager-url`` the service reads ``GET /api/v2/alerts`` at start (readiness waits for
the first attempt) and then every ``interval``, with exponential backoff while it fails.

What is taken: alerts Alertmanager reports active (``active=true``, ``silenced=false``,
``inhibited=false``, ``unprocessed=false``: what would reach a receiver), optionally only
those routed to ``receiver`` (a regex, Alertmanager's own filter), whose ``endsAt`` is still
ahead. Each becomes a firing :class:`AlertState` "received" when the request was *sent*,
so a webhook that arrives while the request is in flight (say, a resolve) is newer and wins.
A sync only adds or refreshes firing alerts; resolving stays the webhook's job.

Sources: prometheus/alertmanager ``api/v2/openapi.yaml`` (``getAlerts`` parameters,
``gettableAlert`` with ``fingerprint``, ``startsAt``, ``endsAt``, ``labels``,
``status.state`` in unprocessed/active/suppressed). Proven against the real binary in
``tests/e2e/test_alertmanager_resync_e2e.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any, Final

import aiohttp
import orjson

from autoscaler.clock import wall_seconds
from autoscaler.core.alerts import AlertState, parse_timestamp
from autoscaler.metrics import Metrics

__all__ = ["AlertmanagerError", "AlertmanagerSync", "fetch_firing", "parse_gettable_alerts"]

log = logging.getLogger(__name__)

ALERTS_PATH: Final = "/api/v2/alerts"
MAX_BODY: Final = 64 << 20  # a very large Alertmanager; refuse more rather than exhaust memory


class AlertmanagerError(Exception):
    """Alertmanager could not be asked, or answered something that is not an alert list."""


def parse_gettable_alerts(body: Any, *, received_at: float, now: float) -> list[AlertState]:
    """``gettableAlerts`` → firing alert states; malformed entries are skipped (counted in
    the log), a body that is not a list is an AlertmanagerError."""
    if not isinstance(body, list):
        raise AlertmanagerError("GET /api/v2/alerts did not answer a JSON array")
    out: list[AlertState] = []
    skipped = 0
    for item in body:
        try:
            state = _firing_state(item, received_at=received_at, now=now)
        except (KeyError, TypeError, ValueError):
            skipped += 1
            continue
        if state is not None:
            out.append(state)
    if skipped:
        log.warning("alertmanager_alerts_skipped", extra={"fields": {"malformed": skipped}})
    return out


def _firing_state(item: Any, *, received_at: float, now: float) -> AlertState | None:
    if not isinstance(item, Mapping):
        raise TypeError("not an object")
    labels = item["labels"]
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise TypeError("labels must map strings to strings")
    name = labels["alertname"]
    status = item.get("status")
    if isinstance(status, Mapping) and status.get("state") not in (None, "active"):
        return None  # suppressed (silenced or inhibited) or not processed yet
    ends = item.get("endsAt")
    if isinstance(ends, str) and ends and parse_timestamp(ends) <= now:
        return None  # resolved, not yet garbage-collected by Alertmanager
    fingerprint = item["fingerprint"]
    if not isinstance(fingerprint, str) or not fingerprint:
        raise TypeError("fingerprint must be a non-empty string")
    return AlertState(
        fingerprint=fingerprint,
        name=name,
        labels=dict(labels),
        status="firing",
        starts_at=parse_timestamp(item["startsAt"]),
        received_at=received_at,
    )


async def fetch_firing(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    received_at: float,
    now: float,
    receiver: str | None = None,
    seconds: float = 10.0,
) -> list[AlertState]:
    """Ask Alertmanager which alerts fire now; AlertmanagerError says why it could not."""
    params = {"active": "true", "silenced": "false", "inhibited": "false", "unprocessed": "false"}
    if receiver:
        params["receiver"] = receiver
    url = base_url.rstrip("/") + ALERTS_PATH
    try:
        async with session.get(
            url, params=params, timeout=aiohttp.ClientTimeout(total=seconds)
        ) as resp:
            if resp.status != 200:
                raise AlertmanagerError(f"GET {ALERTS_PATH} answered HTTP {resp.status}")
            raw = await resp.content.read(MAX_BODY + 1)
    except TimeoutError:
        raise AlertmanagerError(f"no answer within {seconds:g}s") from None
    except aiohttp.ClientError as e:
        raise AlertmanagerError(f"{type(e).__name__}: {e}") from None
    if len(raw) > MAX_BODY:
        raise AlertmanagerError(f"answer larger than {MAX_BODY} bytes")
    try:
        body = orjson.loads(raw)
    except ValueError as e:
        raise AlertmanagerError(f"answer is not JSON: {e}") from None
    return parse_gettable_alerts(body, received_at=received_at, now=now)


class AlertmanagerSync:
    """Re-syncs at start, then every ``interval``; backs off (full jitter) while failing."""

    def __init__(
        self,
        *,
        url: str,
        on_alerts: Callable[[list[AlertState]], None],
        clock: Callable[[], float],
        metrics: Metrics,
        interval: float = 300.0,
        timeout: float = 10.0,
        receiver: str | None = None,
        max_backoff: float = 60.0,
    ) -> None:
        self.url = url
        self._on_alerts = on_alerts
        self._clock = clock
        self._metrics = metrics
        self.interval = interval
        self.timeout = timeout
        self.receiver = receiver
        self.max_backoff = max_backoff
        self.attempted = asyncio.Event()  # set after the first attempt, success or not
        self._failures = 0
        self._synced = False

    async def sync_once(self, session: aiohttp.ClientSession) -> bool:
        """One sync; True on success. Never raises (except on cancellation)."""
        sent = self._clock()
        try:
            alerts = await fetch_firing(
                session,
                self.url,
                received_at=sent,
                now=sent,
                receiver=self.receiver,
                seconds=self.timeout,
            )
        except AlertmanagerError as e:
            self._metrics.alertmanager_syncs.labels(result="failure").inc()
            self._failures += 1
            if self._failures == 1:
                log.warning(
                    "alertmanager_sync_failed", extra={"fields": {"url": self.url, "error": str(e)}}
                )
            return False
        self._metrics.alertmanager_syncs.labels(result="success").inc()
        self._on_alerts(alerts)
        if self._failures:
            log.info("alertmanager_sync_recovered", extra={"fields": {"failed": self._failures}})
        self._failures = 0
        # the first sync is worth an INFO line (what the restart recovered); later ones DEBUG
        level = logging.DEBUG if self._synced else logging.INFO
        self._synced = True
        log.log(level, "alertmanager_synced", extra={"fields": {"firing": len(alerts)}})
        return True

    def _delay(self, ok: bool) -> float:
        if ok:
            return self.interval
        cap = min(self.max_backoff, 2.0 ** min(self._failures, 10))
        return random.uniform(cap / 2, cap)  # jitter, not cryptography

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                ok = await self.sync_once(session)
                self.attempted.set()
                with contextlib.suppress(TimeoutError):
                    wait = wall_seconds(self._clock, self._delay(ok))
                    await asyncio.wait_for(stop.wait(), timeout=wait)
