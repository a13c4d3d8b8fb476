"""Leader election over a ``coordination.k8s.io/v1`` Lease, so that of N replicas only one acts.

Two replicas of the service may run for availability, but two actors draining and scaling the
same StatefulSet would fight. The algorithm is client-go's ``leaderelection`` package
(``tools/leaderelection/leaderelection.go``, ``resourcelock/leaselock.go``), kept in this one
file:

* A replica *acquires* the Lease when it does not exist, or when the record it last observed
  has not changed for ``lease_duration`` seconds **of its own clock** (``observed_at`` is a local
  monotonic reading, never the other replica's ``renewTime``: clocks of two pods may disagree,
  which is why client-go does the same). Taking over bumps ``leaseTransitions`` and sets
  ``acquireTime``.
* The holder *renews* every ``retry_period``; every write is a ``replace`` carrying the
  ``resourceVersion`` it read, so two replicas racing for an expired Lease cannot both win (the
  loser gets 409 Conflict).
* The holder *loses* leadership as soon as it has not renewed successfully for
  ``renew_deadline`` seconds (< ``lease_duration``). ``is_leader()`` is computed from the time of
  the last successful renewal, so a caller that checks it right before a side effect never acts
  after the moment the other replicas may consider the Lease expired — even when the renew
  loop itself is stuck in a hung API call.
* The leader writes the URL it can be reached at into the annotation
  ``es-autoscaler.io/leader-url``; followers forward Alertmanager webhooks there (see
  ``service/forward.py``), so a webhook that lands on a follower is not lost.

The clock is injected (``monotonic`` for local durations, ``wall`` for the MicroTime fields);
tests run the real algorithm against the twin's Lease API with short durations.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from autoscaler.service.logs import fields

log = logging.getLogger("autoscaler.leader")

LEADER_URL_ANNOTATION: Final = "es-autoscaler.io/leader-url"


@dataclass(frozen=True, kw_only=True)
class LeaseTiming:
    """client-go's defaults scaled down a little: 15 s lease, 10 s renew deadline, 2 s retry."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    #: bound on one Lease API call; a hung API server must not stall the loop past the deadline
    request_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration "
                f"(got {self.retry_period}, {self.renew_deadline}, {self.lease_duration})"
            )


def micro_time(t: float) -> str:
    """A Kubernetes MicroTime: RFC 3339 with exactly six fractional digits, UTC."""
    return dt.datetime.fromtimestamp(t, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_failure(exc: BaseException) -> str:
    """A failed Lease call in one line: an API error is its status and the API server's own
    ``Status.message`` — a 403's names the user, verb, resource and namespace, i.e. the RBAC
    rule missing — instead of the client's multi-line dump of response headers and body.

    Every API error answers a ``Status`` object whose ``message`` is for humans (kubernetes/
    community ``contributors/devel/sig-architecture/api-conventions.md``, "Response Status
    Kind"); kubernetes-asyncio keeps the raw answer in ``ApiException.body``
    (``client/exceptions.py``: ``self.body = http_resp.data``)."""
    if not isinstance(exc, ApiException):
        return str(exc) or type(exc).__name__
    head = f"HTTP {exc.status} {exc.reason}"
    try:
        status = json.loads(exc.body or b"null")
    except (TypeError, ValueError):
        status = None
    message = status.get("message") if isinstance(status, dict) else None
    return f"{head}: {message}" if message else head


class LeaderElector:
    """Campaigns for one Lease and keeps it while it can; see the module docstring."""

    def __init__(
        self,
        *,
        api: client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        timing: LeaseTiming | None = None,
        advertise_url: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        # Any: we send raw dict bodies (kubernetes-asyncio would re-serialise a whole-second
        # MicroTime without its six digits, which the API server refuses) and read raw JSON.
        self._coord: Any = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.timing = timing or LeaseTiming()
        self.advertise_url = advertise_url
        self._monotonic, self._wall = monotonic, wall
        #: the last record seen (holder, renewTime, resourceVersion) and when we first saw it
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._renewed_at: float | None = None  # monotonic time of our last successful write
        self._leader_since: float | None = None  # wall time we became leader
        self.holder: str | None = None
        self.holder_url: str | None = None
        #: the last failed Lease call (wall time, one-line error) until a call succeeds again
        self.last_error: tuple[float, str] | None = None
        self.changed = asyncio.Event()  # set on every change of is_leader(); the caller clears

    # ---- what callers ask ------------------------------------------------------------------

    def is_leader(self) -> bool:
        """True while our last successful renewal is younger than the renew deadline."""
        if self._renewed_at is None:
            return False
        return self._monotonic() - self._renewed_at < self.timing.renew_deadline

    def status(self) -> dict[str, Any]:
        """``GET /api/v1/leader``: ``{identity, leader, holder, since, lastError}``;
        ``lastError`` (``{at, error}``) says why the last Lease call failed — a missing RBAC
        verb, an unreachable API server — until a call succeeds again."""
        leader = self.is_leader()
        failed = self.last_error
        return {
            "identity": self.identity,
            "leader": leader,
            "holder": self.holder,
            "since": rfc3339(self._leader_since) if leader else None,
            "lastError": None if failed is None else {"at": rfc3339(failed[0]), "error": failed[1]},
        }

    def leader_url(self) -> str | None:
        """Where the current holder says it can be reached (None if unknown or it is us)."""
        if self.is_leader() or self.holder is None:
            return None
        return self.holder_url

    # ---- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Campaign and renew until cancelled; on cancel, release the Lease if we hold it."""
        was_leader = False
        try:
            while True:
                try:
                    await asyncio.wait_for(self.try_acquire_or_renew(), self.timing.request_timeout)
                    self.last_error = None
                except (TimeoutError, OSError, ApiException) as exc:
                    self.last_error = (self._wall(), describe_failure(exc))
                    log.warning(
                        "lease call failed",
                        extra=fields(
                            lease=self._ref(), identity=self.identity, error=self.last_error[1]
                        ),
                    )
                now_leader = self.is_leader()
                if now_leader != was_leader:
                    self._transition(now_leader)
                    was_leader = now_leader
                await asyncio.sleep(self._next_wait(now_leader))
        finally:
            if self.is_leader():
                with contextlib.suppress(Exception):
                    await asyncio.shield(asyncio.wait_for(self.release(), 2.0))
            self._renewed_at = None

    def _next_wait(self, leader: bool) -> float:
        if not leader:
            return self.timing.retry_period
        # wake up in time to lose leadership exactly at the deadline if renewals keep failing
        assert self._renewed_at is not None
        left = self.timing.renew_deadline - (self._monotonic() - self._renewed_at)
        return max(0.01, min(self.timing.retry_period, left))

    def _transition(self, leader: bool) -> None:
        if leader:
            self._leader_since = self._wall()
            log.info("became leader", extra=fields(lease=self._ref(), identity=self.identity))
        else:
            self._leader_since = None
            log.warning("lost leadership", extra=fields(lease=self._ref(), identity=self.identity))
        self.changed.set()

    def _ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def try_acquire_or_renew(self) -> bool:
        """One round of client-go's ``tryAcquireOrRenew``; True when we hold the Lease now."""
        now_wall, now_mono = self._wall(), self._monotonic()
        body = await self._read()
        if body is None:
            return await self._create(now_wall, now_mono)
        spec = body.get("spec") or {}
        meta = body.get("metadata") or {}
        holder = spec.get("holderIdentity") or None
        self.holder = holder
        self.holder_url = (meta.get("annotations") or {}).get(LEADER_URL_ANNOTATION)
        record = (holder, spec.get("renewTime"), meta.get("resourceVersion"))
        if record != self._observed:
            self._observed, self._observed_at = record, now_mono
        duration = float(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
        if holder and holder != self.identity and now_mono < self._observed_at + duration:
            return False  # someone else holds an unexpired lease
        transitions = int(spec.get("leaseTransitions") or 0)
        acquire = spec.get("acquireTime")
        if holder != self.identity:
            transitions += 1 if holder else 0
            acquire = micro_time(now_wall)
        new_body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": meta.get("resourceVersion"),
                "annotations": self._annotations(meta),
                "labels": meta.get("labels") or {},
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": round(self.timing.lease_duration),
                "acquireTime": acquire or micro_time(now_wall),
                "renewTime": micro_time(now_wall),
                "leaseTransitions": transitions,
            },
        }
        try:
            await self._coord.replace_namespaced_lease(self.name, self.namespace, new_body)
        except ApiException as exc:
            if exc.status == 409:  # someone wrote in between: we did not get it this round
                return False
            raise
        self._won(now_mono)
        return True

    async def _read(self) -> dict[str, Any] | None:
        """The Lease as raw JSON (MicroTime strings untouched), or None when it does not exist.

        With ``_preload_content=False`` kubernetes-asyncio hands back the HTTP response without
        checking its status (``client/rest.py`` raises only when preloading), so the status is
        checked here: a 403 or 5xx must never read as "no Lease" and lead to a blind write.
        """
        resp = await self._coord.read_namespaced_lease(
            self.name, self.namespace, _preload_content=False
        )
        try:
            if resp.status == 404:
                return None
            if not 200 <= resp.status <= 299:
                exc = ApiException(status=resp.status, reason=resp.reason)
                exc.body = await resp.read()  # the Status, as an error of a preloaded call has
                raise exc
            body: dict[str, Any] = await resp.json()
            return body
        finally:
            resp.release()

    def _annotations(self, meta: dict[str, Any]) -> dict[str, str]:
        annotations = dict(meta.get("annotations") or {})
        if self.advertise_url:
            annotations[LEADER_URL_ANNOTATION] = self.advertise_url
        else:
            annotations.pop(LEADER_URL_ANNOTATION, None)
        return annotations

    async def _create(self, now_wall: float, now_mono: float) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "annotations": self._annotations({}),
            },
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": round(self.timing.lease_duration),
                "acquireTime": micro_time(now_wall),
                "renewTime": micro_time(now_wall),
                "leaseTransitions": 0,
            },
        }
        try:
            await self._coord.create_namespaced_lease(self.namespace, body)
        except ApiException as exc:
            if exc.status == 409:  # AlreadyExists: another replica created it first
                return False
            raise
        self._won(now_mono)
        return True

    def _won(self, now_mono: float) -> None:
        self._renewed_at = now_mono
        self.holder, self.holder_url = self.identity, self.advertise_url

    async def release(self) -> None:
        """Give the Lease up (client-go ``ReleaseOnCancel``): empty holder, 1 s duration."""
        body = await self._read()
        if body is None:
            return
        spec = body.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return
        meta = body.get("metadata") or {}
        now = micro_time(self._wall())
        body["spec"] = {
            **spec,
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "renewTime": now,
            "acquireTime": now,
        }
        annotations = dict(meta.get("annotations") or {})
        annotations.pop(LEADER_URL_ANNOTATION, None)
        body["metadata"] = {**meta, "annotations": annotations}
        await self._coord.replace_namespaced_lease(self.name, self.namespace, body)
        self._renewed_at = None
        log.info("released the lease", extra=fields(lease=self._ref(), identity=self.identity))
