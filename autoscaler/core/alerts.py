"""Alert state from Alertmanager webhooks, as pure functions.

Alertmanager (payload ``version: "4"``) sends groups of alerts; what counts is each alert's
*own* ``status`` (a ``firing`` group can carry ``resolved`` alerts), deduplicated by
``fingerprint``. A firing alert that is not re-sent within a TTL expires, so a lost
"resolved" notification cannot pin a scale-up condition forever. Parsing, applying and
querying are pure so the service and the back-test share them exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

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


def parse_timestamp(text: str) -> float:
    """RFC 3339 (Alertmanager's ``2026-11-26T11:18:49.125Z`` or with offset) → epoch seconds."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python 3.11 parses up to 6 fractional digits; Go emits up to 9.
    if "." in s:
        head, _, rest = s.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        s = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
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


def parse_webhook(body: Any) -> WebhookPayload:
    """Validate a decoded JSON body; PayloadError lists every problem with its JSON path."""
    if not isinstance(body, Mapping):
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
        return WebhookPayload.model_validate(body)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"${path}: {msg}")
        raise PayloadError("not a valid Alertmanager webhook payload", problems=problems) from None


@dataclass(frozen=True)
class AlertState:
    """What we last heard about one alert (by fingerprint)."""

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
            key = a.key()
            state = AlertState(
                fingerprint=key,
                name=a.labels["alertname"],
                labels=dict(a.labels),
                status=a.status,
                starts_at=parse_timestamp(a.startsAt),
                received_at=received_at,
            )
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
