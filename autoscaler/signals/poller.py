"""The Elasticsearch poller: one loop per cluster connection turning node stats into rows.

Several policies may size tiers of the same cluster; polling it once per connection and
handing every policy its own tier's row keeps the load on Elasticsearch independent of the
number of policies. A poll asks for exactly the metric groups and fields the subscribed
policies need (``signals.nodes`` decides which), so a 100-node cluster answers in kilobytes.

The poller never raises out of a poll: a failure becomes a ``PollResult`` with ``ok=False``
and a short reason, the service marks the data stale (DESIGN §5: stale data → no action),
and the next poll tries again. Failures are counted per reason and logged once per change
of state, not once per poll. An unsupported server (e.g. a 6.8 cluster) is logged once with
a clear message and re-checked at a slow pace, in case the cluster gets upgraded.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch

from autoscaler.clock import wall_seconds
from autoscaler.core.observations import MetricKey
from autoscaler.core.policy import Policy
from autoscaler.elastic.client import (
    RetryPolicy,
    ServerInfo,
    UnsupportedServer,
    check_supported,
    error_detail,
    error_reason,
    server_info,
)
from autoscaler.elastic.stats import fetch_health, fetch_node_stats
from autoscaler.metrics import Metrics
from autoscaler.signals.nodes import (
    NodeRow,
    StatsFormatError,
    TierKey,
    filter_path_for,
    index_metrics_for,
    needed_metric_groups,
    nodes_failed,
    parse_node_rows,
    read_tier_rows,
)

__all__ = [
    "PollReading",
    "PollResult",
    "Poller",
    "TierResult",
    "TierSubscription",
    "read_poll",
    "rows_by_policy",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TierSubscription:
    """One policy's interest in a cluster: which nodes form its tier, which keys it reads."""

    policy_name: str
    roles: tuple[str, ...]
    name_pattern: str | None
    keys: frozenset[MetricKey]

    @staticmethod
    def of(
        policy_name: str,
        *,
        roles: Iterable[str],
        name_pattern: str | None = None,
        keys: Iterable[MetricKey],
    ) -> TierSubscription:
        return TierSubscription(policy_name, tuple(roles), name_pattern, frozenset(keys))

    @staticmethod
    def for_policy(policy: Policy) -> TierSubscription:
        """The subscription of a policy: its ``nodes`` selector and every metric key its
        ``scaleUp``/``scaleDown`` conditions read (plus ``disk.avg`` for the disk rule)."""
        return TierSubscription(
            policy.name,
            tuple(policy.nodes.roles),
            policy.nodes.namePattern,
            frozenset(policy.observed_keys()),
        )


@dataclass(frozen=True)
class TierResult:
    """What one poll saw of one policy's tier."""

    row: dict[MetricKey, float | None]
    node_count: int
    node_names: tuple[str, ...]


@dataclass(frozen=True)
class PollResult:
    """The outcome of one poll of one cluster.

    ``at`` is the poller's clock when the answer arrived (the time to file the rows under);
    ``ok=False`` means no row may be trusted and ``error`` holds a short reason
    (``connection``, ``timeout``, ``http_503``, ``auth``, ``unsupported_server``,
    ``bad_response``…) with ``detail`` for humans.
    """

    cluster: str
    started: float
    at: float
    ok: bool
    tiers: Mapping[str, TierResult] = field(default_factory=dict)
    health: str | None = None
    server: ServerInfo | None = None
    nodes_total: int = 0
    nodes_failed: int = 0
    error: str | None = None
    detail: str | None = None

    @property
    def duration(self) -> float:
        return self.at - self.started


OnResult = Callable[[PollResult], Awaitable[None] | None]


class Poller:
    """Polls one Elasticsearch connection for all policies that share it."""

    def __init__(
        self,
        *,
        name: str,
        client: AsyncElasticsearch,
        subscribers: list[TierSubscription],
        interval: float,
        clock: Callable[[], float],
        metrics: Metrics,
        on_result: OnResult | None = None,
        retry: RetryPolicy | None = None,
        slow_interval: float | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("poll interval must be positive")
        self.name = name
        self.interval = interval
        self.slow_interval = slow_interval if slow_interval is not None else max(60.0, interval)
        self._client = client
        self._clock = clock
        self._metrics = metrics
        self._on_result = on_result
        # Retries must fit in one interval: no attempt starts (or runs) past 80 % of it.
        self._retry = retry or RetryPolicy(attempts=3, deadline=max(1.0, 0.8 * interval))
        self._subscribers = list(subscribers)
        keys = {k for s in self._subscribers for k in s.keys}
        self._tier_keys: dict[TierKey, set[MetricKey]] = {}
        for sub in self._subscribers:
            self._tier_keys.setdefault((sub.roles, sub.name_pattern), set()).update(sub.keys)
        # Alert-only policies need no metric, but the tier's node names still come from
        # node stats: ask for one cheap group rather than (the default) all of them.
        self._groups = needed_metric_groups(keys) or {"jvm"}
        self._filter_path = filter_path_for(keys)
        self._index_metric = index_metrics_for(keys)
        self._info: ServerInfo | None = None
        self._previous: dict[str, NodeRow] | None = None
        self._state: str | None = None  # "ok" or the last error reason
        self._failures = 0

    @property
    def subscribers(self) -> list[TierSubscription]:
        return list(self._subscribers)

    @property
    def request(self) -> tuple[list[str], list[str], list[str]]:
        """``(metric groups, filter_path, index_metric)`` a poll asks for."""
        return sorted(self._groups), list(self._filter_path), list(self._index_metric)

    # -----------------------------------------------------------------------------------------

    async def poll_once(self) -> PollResult:
        """One poll: node stats (only what subscribers need) and cluster health. Never raises
        (except on cancellation)."""
        started = self._clock()
        perf0 = time.perf_counter()
        try:
            result = await self._poll(started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes a stale result, never a crash
            reason = error_reason(exc)
            if isinstance(exc, StatsFormatError):
                reason = "bad_response"
            # The server may have been replaced (rolling upgrade, DNS change): ask again.
            self._info = None
            result = PollResult(
                cluster=self.name,
                started=started,
                at=self._clock(),
                ok=False,
                error=reason,
                detail=_short(exc),
            )
            self._metrics.poll_errors.labels(cluster=self.name, reason=reason).inc()
        self._metrics.poll_duration.labels(cluster=self.name).observe(time.perf_counter() - perf0)
        self._log_transition(result)
        return result

    async def _poll(self, started: float) -> PollResult:
        if self._info is None:
            info = await server_info(self._client, retry=self._retry)
            check_supported(info)
            self._info = info
        # Both calls at once; if one fails the other is cancelled, not left running.
        stats_task = asyncio.create_task(
            fetch_node_stats(
                self._client,
                metric_groups=self._groups,
                filter_path=self._filter_path,
                index_metric=self._index_metric,
                server=self._info,
                retry=self._retry,
            )
        )
        health_task = asyncio.create_task(
            fetch_health(self._client, server=self._info, retry=self._retry)
        )
        try:
            body = await stats_task
            health = await health_task
        finally:
            for task in (stats_task, health_task):
                task.cancel()
            # Wait for the cancelled one and take its outcome: nothing keeps running into the
            # next poll, and no exception is left for asyncio to log as "never retrieved".
            await asyncio.gather(stats_task, health_task, return_exceptions=True)
        reading = read_poll(
            body, previous=self._previous, tier_keys=self._tier_keys, subscribers=self._subscribers
        )
        self._previous = reading.rows_by_id
        status = health.get("status")
        return PollResult(
            cluster=self.name,
            started=started,
            at=self._clock(),
            ok=True,
            tiers=reading.tiers,
            health=status if isinstance(status, str) else None,
            server=self._info,
            nodes_total=reading.node_count,
            nodes_failed=nodes_failed(body),
        )

    def _log_transition(self, result: PollResult) -> None:
        state = "ok" if result.ok else (result.error or "error")
        if result.ok:
            if self._state not in (None, "ok"):
                log.info(
                    "es_poll_recovered",
                    extra={
                        "fields": {
                            "cluster": self.name,
                            "failed_polls": self._failures,
                            "server": str(result.server) if result.server else None,
                        }
                    },
                )
            elif self._state is None:
                log.info(
                    "es_poll_ok",
                    extra={
                        "fields": {
                            "cluster": self.name,
                            "server": str(result.server) if result.server else None,
                            "nodes": result.nodes_total,
                        }
                    },
                )
            self._failures = 0
        else:
            self._failures += 1
            if state != self._state:
                level = logging.ERROR if state == "unsupported_server" else logging.WARNING
                log.log(
                    level,
                    "es_poll_failed",
                    extra={
                        "fields": {
                            "cluster": self.name,
                            "reason": state,
                            "detail": result.detail,
                            "next_try_in_s": self._next_delay(result),
                        }
                    },
                )
        self._state = state

    def _next_delay(self, result: PollResult) -> float:
        return self.slow_interval if result.error == "unsupported_server" else self.interval

    # -----------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every ``interval`` until ``stop`` is set. Each poll starts ``interval`` after
        the previous one started, or at once if that moment has passed (no pile-up, no
        catch-up burst). ``on_result`` errors are logged and do not stop the loop."""
        while not stop.is_set():
            started = self._clock()
            result = await self.poll_once()
            await self._deliver(result)
            delay = started + self._next_delay(result) - self._clock()
            if delay > 0:  # ``delay`` is on the clock's time (demo: simulated, faster)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wall_seconds(self._clock, delay))

    async def _deliver(self, result: PollResult) -> None:
        if self._on_result is None:
            return
        try:
            out = self._on_result(result)
            if inspect.isawaitable(out):
                await out
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("es_poll_result_handler_failed", extra={"fields": {"cluster": self.name}})


@dataclass(frozen=True)
class PollReading:
    """What one poll's body gives: each policy's ``TierResult``, the rows by node id (the
    next poll's ``previous``, for rates) and how many nodes the body held."""

    tiers: dict[str, TierResult]
    rows_by_id: dict[str, NodeRow]
    node_count: int


def read_poll(
    body: Any,
    *,
    previous: Mapping[str, NodeRow] | None,
    tier_keys: Mapping[TierKey, Iterable[MetricKey]],
    subscribers: Iterable[TierSubscription],
) -> PollReading:
    """Everything a poll does with a decoded ``_nodes/stats`` body (pure; ``bench/poll_bench``
    times exactly this): rows, not ``NodeSample`` objects (no object per node, issue 10); one
    selection and aggregation per distinct tier (``tier_keys``: the union of its policies'
    keys), shared by the policies sizing it; each policy's row holds its own keys only.
    Raises ``StatsFormatError`` for a body that is not node stats."""
    rows = parse_node_rows(body)
    readings = read_tier_rows(rows, previous, tier_keys)
    tiers: dict[str, TierResult] = {}
    # Policies with the same tier and keys (in the same order) share one row, copied.
    shared: dict[tuple[TierKey, tuple[MetricKey, ...]], dict[MetricKey, float | None]] = {}
    for sub in subscribers:
        tier = (sub.roles, sub.name_pattern)
        reading = readings[tier]
        keys = tuple(sub.keys)
        row = shared.get((tier, keys))
        if row is None:
            row = shared[(tier, keys)] = {k: reading.row[k] for k in keys}
        tiers[sub.policy_name] = TierResult(
            row=dict(row), node_count=reading.node_count, node_names=reading.names
        )
    return PollReading(tiers, {r[0]: r for r in rows}, len(rows))


def _short(exc: BaseException, limit: int = 300) -> str:
    if isinstance(exc, UnsupportedServer):
        return str(exc)
    text = f"{type(exc).__name__}: {error_detail(exc)}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rows_by_policy(result: PollResult) -> dict[str, dict[MetricKey, float | None]]:
    """``{policy: row}`` of a successful result (empty when the poll failed)."""
    if not result.ok:
        return {}
    return {name: dict(t.row) for name, t in result.tiers.items()}
