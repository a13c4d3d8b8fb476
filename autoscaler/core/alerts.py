"""Alert state from Alertmanager webhooks, as pure functions.

Alertmanager (payload ``version: "4"``) sends groups of alerts; what counts is each alert's
*own* ``status`` (a ``firing`` group can carry ``resolved`` alerts), deduplicated by
``fingerprint``. A firing alert that is not re-sent within a TTL expires, so a lost
"resolved" notification cannot pin a scale-up condition forever. Parsing, applying and
querying are pure so the service and the back-test share them exactly.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SUPPORTED_VERSION = "4"


class PayloadError(ValueError):
    """A webhook body that is not a valid Alertmanager v4 payload.

    ``unsupported_version`` distinguishes a well-formed payload of another version (HTTP 422)
    from a malformed one (HTTP 400).
    """

    def __init__(self, message: str, *, problems: list[str], unsupported_version: bool = False):
        super().__init__(message)
        self.problems = problems
        self.unsupported_version = unsupported_version


_MAX_TIMESTAMP_CHARS = 40
"""Longer than any RFC 3339 date-time (``2026-11-26T11:18:49.123456789+00:00`` is 35)."""
_FRACTION = re.compile(r"\.([0-9]+)")


@functools.lru_cache(maxsize=4096)
def parse_timestamp(text: str) -> float:
    """RFC 3339 (Alertmanager's ``2026-11-26T11:18:49.125Z`` or with offset) → epoch seconds.

    Bounded: at most 40 characters and 9 fractional digits (Go emits up to nanoseconds), so
    a hostile megabyte-long timestamp costs nothing (issue 9: it used to be quadratic).
    Cached: Alertmanager re-sends the same ``startsAt`` with every notification of an alert.
    """
    if len(text) > _MAX_TIMESTAMP_CHARS:
        raise ValueError(
            f"timestamp of {len(text)} characters is not an RFC 3339 date-time "
            f"(at most {_MAX_TIMESTAMP_CHARS})"
        )
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python 3.11 parses up to 6 fractional digits; Go emits up to 9.
    m = _FRACTION.search(s)
    if m is not None:
        digits = m.group(1)
        if len(digits) > 9:
            raise ValueError(
                f"timestamp {text!r} has {len(digits)} fractional digits; RFC 3339 "
                "timestamps from Alertmanager have at most 9"
            )
        s = f"{s[: m.start()]}.{digits[:6].ljust(6, '0')}{s[m.end() :]}"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    return dt.timestamp()


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WebhookAlert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None

    @field_validator("startsAt")
    @classmethod
    def _ts(cls, v: str) -> str:
        parse_timestamp(v)
        return v

    @field_validator("labels")
    @classmethod
    def _has_name(cls, v: dict[str, str]) -> dict[str, str]:
        if "alertname" not in v:
            raise ValueError("an alert needs an 'alertname' label")
        return v

    def key(self) -> str:
        """The fingerprint, or one derived from the labels when a sender left it out."""
        if self.fingerprint:
            return self.fingerprint
        text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(self.labels.items()))
        return "labels:" + hashlib.sha256(text.encode()).hexdigest()[:16]


class WebhookPayload(_Lenient):
    version: str
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[WebhookAlert]
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    groupKey: str = ""
    truncatedAlerts: int = 0


def _validate_payload(body: Any) -> WebhookPayload:
    payload: WebhookPayload = WebhookPayload.__pydantic_validator__.validate_python(body)
    return payload


def parse_webhook(body: Any) -> WebhookPayload:
    """Validate a decoded JSON body; PayloadError lists every problem with its JSON path."""
    # ``type is dict`` first: what a JSON decoder returns, without the ABC check's cost
    if type(body) is not dict and not isinstance(body, Mapping):
        raise PayloadError("payload must be a JSON object", problems=["$: expected an object"])
    version = body.get("version")
    if version is not None and version != SUPPORTED_VERSION:
        raise PayloadError(
            f"unsupported Alertmanager payload version {version!r}; this receiver speaks "
            f"version {SUPPORTED_VERSION!r}",
            problems=[f"version: {version!r} is not {SUPPORTED_VERSION!r}"],
            unsupported_version=True,
        )
    try:
        # what WebhookPayload.model_validate(body) calls, without its Python frame (per webhook)
        return _validate_payload(body)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"${path}: {msg}")
        raise PayloadError("not a valid Alertmanager webhook payload", problems=problems) from None


class AlertState(NamedTuple):
    """What we last heard about one alert (by fingerprint).

    Immutable. A named tuple rather than a frozen dataclass: one is built per alert of every
    webhook, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field)
    costs about twice as much (issue 10)."""

    fingerprint: str
    name: str
    labels: Mapping[str, str]
    status: Literal["firing", "resolved"]
    starts_at: float
    received_at: float


@dataclass(frozen=True)
class AlertBook:
    """Alerts by fingerprint. Immutable: ``apply`` returns a new book."""

    alerts: Mapping[str, AlertState] = field(default_factory=dict)

    def apply(self, payload: WebhookPayload, *, received_at: float) -> AlertBook:
        """Fold in one webhook: each alert's own status wins, latest notification per fingerprint."""
        alerts = dict(self.alerts)
        for a in payload.alerts:
            state = alert_state(a, received_at)
            key = state.fingerprint
            old = alerts.get(key)
            if old is not None and old.received_at > received_at:
                continue  # an older notification arriving late does not undo a newer one
            alerts[key] = state
        return AlertBook(alerts)

    def firing(self, *, now: float, ttl: float) -> list[AlertState]:
        """Alerts firing at ``now``: status firing, started, and re-sent within ``ttl``."""
        return [
            a
            for a in self.alerts.values()
            if a.status == "firing" and a.starts_at <= now and now - a.received_at <= ttl
        ]

    def expired(self, *, now: float, ttl: float) -> list[AlertState]:
        """Firing alerts that were not re-sent within ``ttl`` (treated as not firing)."""
        return [
            a for a in self.alerts.values() if a.status == "firing" and now - a.received_at > ttl
        ]

    def pruned(self, *, now: float, ttl: float) -> AlertBook:
        """Drop resolved and expired alerts older than ``ttl`` (keeps memory bounded)."""
        keep = {k: a for k, a in self.alerts.items() if now - a.received_at <= ttl}
        return AlertBook(keep) if len(keep) != len(self.alerts) else self


AlertFilter = Callable[[Mapping[str, str]], bool]
"""Whether an alert (by its labels) is worth remembering: some policy's condition matches it."""


@dataclass(frozen=True)
class ApplyResult:
    """What one payload did to an :class:`AlertStore`."""

    names: frozenset[str]
    """``alertname`` of every alert the store took in (the policies reading these are dirty)."""
    ignored: int
    """Alerts no policy can match: not remembered."""
    dropped: int
    """Alerts evicted (least recently heard first) because the store was at capacity."""


class AlertStore:
    """The service's alert state: indexed by fingerprint and by ``alertname``, bounded.

    :class:`AlertBook` is the immutable value the engine reads; copying it per webhook made a
    webhook cost O(alerts remembered) (issue 10). This store changes in place at
    O(alerts in the payload): a dict in order of last notification (so the least recently
    heard alert is always first, for pruning and eviction) plus a per-``alertname`` index from
    which :meth:`book` builds the small book one policy's evaluation needs.

    Bounded two ways (issue 9 item 5): alerts that no policy can match are not kept
    (``keep``), and past ``capacity`` the least recently heard alert is evicted and counted.
    ``operations`` counts entries touched (a cost measure for tests, not a timing).
    """

    __slots__ = ("_by_fp", "_by_name", "_keep", "capacity", "operations")

    def __init__(self, *, capacity: int = 10_000, keep: AlertFilter | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._keep = keep
        self._by_fp: dict[str, AlertState] = {}
        self._by_name: dict[str, dict[str, AlertState]] = {}
        self.operations = 0

    def __len__(self) -> int:
        return len(self._by_fp)

    def values(self) -> Iterator[AlertState]:
        """Every remembered alert, least recently heard first."""
        return iter(self._by_fp.values())

    def get(self, fingerprint: str) -> AlertState | None:
        return self._by_fp.get(fingerprint)

    def set_filter(self, keep: AlertFilter | None) -> int:
        """Use a new relevance filter (policies changed); returns how many alerts it forgot."""
        self._keep = keep
        return self.retain(keep) if keep is not None else 0

    def retain(self, keep: AlertFilter) -> int:
        """Forget the alerts ``keep`` refuses (O(store): only on a policy reload)."""
        gone = [a for a in self._by_fp.values() if not keep(a.labels)]
        for a in gone:
            self._remove(a.fingerprint)
        return len(gone)

    def put(self, state: AlertState, *, kept: bool = False) -> tuple[bool, int]:
        """Remember one alert state: ``(taken, evicted)``. A state older than the one held
        (by ``received_at``) does not undo it; one no policy can match is not taken
        (``kept=True``: the caller already checked)."""
        self.operations += 1
        if not kept and self._keep is not None and not self._keep(state.labels):
            return False, 0
        fp = state.fingerprint
        by_fp = self._by_fp
        old = by_fp.get(fp)
        if old is not None:
            if old.received_at > state.received_at:
                return True, 0  # an older notification arriving late does not undo a newer one
            if old.name == state.name:
                # The usual re-send (Alertmanager's fingerprint covers the alertname): move
                # the alert to the end of both indexes (most recently heard) in place, rather
                # than dropping its alertname group when it was the only one and rebuilding it.
                self.operations += 1  # what _remove counts
                group = self._by_name[state.name]
                del by_fp[fp], group[fp]
                by_fp[fp] = group[fp] = state
                return True, 0  # as many alerts as before: nothing to evict
            self._remove(fp)
        by_fp[fp] = state
        self._by_name.setdefault(state.name, {})[fp] = state
        evicted = 0
        while len(self._by_fp) > self.capacity:
            self._remove(next(iter(self._by_fp)))
            evicted += 1
        return True, evicted

    def apply(self, payload: WebhookPayload, *, received_at: float) -> ApplyResult:
        """Fold in one webhook, like :meth:`AlertBook.apply`, in O(alerts in the payload)."""
        names: set[str] = set()
        ignored = dropped = 0
        for a in payload.alerts:
            taken, evicted = self.put(alert_state(a, received_at))
            dropped += evicted
            if taken:
                names.add(a.labels["alertname"])
            else:
                ignored += 1
        return ApplyResult(frozenset(names), ignored, dropped)

    def prune(self, *, now: float, ttl: float) -> int:
        """Forget alerts not heard of within ``ttl``, like :meth:`AlertBook.pruned`.

        Amortised O(1): the oldest are first, so it stops at the first one still young
        (after a clock step backwards a few may linger until the next prune).
        """
        by_fp = self._by_fp
        if by_fp and now - next(iter(by_fp.values())).received_at <= ttl:
            self.operations += 1  # the usual case: the least recently heard is still young
            return 0
        stale: list[str] = []
        for key, a in by_fp.items():
            self.operations += 1
            if now - a.received_at <= ttl:
                break
            stale.append(key)
        for key in stale:
            self._remove(key)
        return len(stale)

    def book(self, names: Iterable[str]) -> AlertBook:
        """The alerts with these ``alertname``s, as the book the engine reads."""
        out: dict[str, AlertState] = {}
        for name in names:
            out.update(self._by_name.get(name, {}))
        return AlertBook(out)

    def named(self, name: str) -> Iterable[AlertState]:
        """The alerts with this ``alertname`` (a view: do not change the store meanwhile)."""
        return self._by_name.get(name, {}).values()

    def firing_count(self, *, now: float, ttl: float) -> int:
        """How many alerts fire at ``now`` (O(store): for a metrics scrape, not per request)."""
        return sum(
            1
            for a in self._by_fp.values()
            if a.status == "firing" and a.starts_at <= now and now - a.received_at <= ttl
        )

    def _remove(self, key: str) -> None:
        self.operations += 1
        a = self._by_fp.pop(key)
        group = self._by_name.get(a.name)
        if group is not None:
            group.pop(key, None)
            if not group:
                del self._by_name[a.name]


def alert_state(a: WebhookAlert, received_at: float) -> AlertState:
    """One webhook alert as the state the book keeps."""
    # positional (AlertState's field order): keywords cost more, once per alert per webhook
    return AlertState(
        a.key(),
        a.labels["alertname"],
        dict(a.labels),
        a.status,
        parse_timestamp(a.startsAt),
        received_at,
    )
