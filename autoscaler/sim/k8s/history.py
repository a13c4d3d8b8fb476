"""The watch cache and etcd compaction: what lets a client resume, and when it cannot.

A client that resumes a watch (or a paged list) from an old ``resourceVersion`` gets the
changes since then only while the server still has them; after that it gets ``410 Gone`` /
``reason: Expired`` and must re-list. A twin that remembers everything forever would let a
client with a broken re-list path pass its tests, so the window is bounded as in the real
server:

* watch history per resource (``staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go``):
  a cyclic buffer that keeps at least ``eventFreshDuration`` (75 s) of events, at least
  ``defaultLowerBoundCapacity`` (100) and at most ``defaultUpperBoundCapacity`` (100 × 1024)
  events; ``getAllEventsSinceLocked`` answers ``too old resource version: RV (OLDEST-1)`` for
  ``resourceVersion < oldest-1``.
* etcd compaction (kube-apiserver ``--etcd-compaction-interval``, default 5 min): each
  compaction drops the revisions older than the one recorded at the previous compaction; a
  continue token from before it answers the ``inconsistentContinue`` message of
  ``staging/src/k8s.io/apiserver/pkg/storage/etcd3/errors.go``.

Times are the twin's simulated clock (inferred: the real windows are wall time; with the sim
clock a one-hour ``advance`` expires old resourceVersions as an hour of production would).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from dataclasses import dataclass

from autoscaler.sim.k8s.errors import K8sError, bad_request
from autoscaler.sim.k8s.types import Obj

EVENT_FRESH_SECONDS = 75.0
LOWER_BOUND_CAPACITY = 100
UPPER_BOUND_CAPACITY = 100 * 1024
COMPACTION_INTERVAL_SECONDS = 300.0

INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True)
class WatchEvent:
    """One change as a watcher sees it (``watchCacheEvent``)."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: tuple[str, str]
    object: Obj  # never mutated after it is logged
    at: float
    #: the object before a MODIFIED (selector transitions use it, as ``cache_watcher.go``)
    prev: Obj | None = None


def expired(message: str) -> K8sError:
    """``errors.NewResourceExpired``: 410, reason Expired, no details."""
    return K8sError(410, "Expired", message)


class ResourceHistory:
    """The watch cache of one resource: a bounded, time-aware event buffer."""

    def __init__(self, *, created_rv: int) -> None:
        self.events: deque[WatchEvent] = deque()
        #: resourceVersion of the initial list; the oldest deliverable event is the next one
        self.list_rv = created_rv
        self.removed_since_list = False

    def append(self, event: WatchEvent) -> None:
        self.events.append(event)
        self._trim(event.at)

    def _trim(self, now: float) -> None:
        while len(self.events) > UPPER_BOUND_CAPACITY or (
            len(self.events) > LOWER_BOUND_CAPACITY
            and now - self.events[0].at > EVENT_FRESH_SECONDS
        ):
            self.events.popleft()
            self.removed_since_list = True

    def since(self, rv: int, now: float) -> list[WatchEvent]:
        """Events after ``rv``, or 410 when ``rv`` predates the buffer."""
        self._trim(now)
        if not self.removed_since_list:
            oldest = self.list_rv + 1
        else:
            oldest = self.events[0].rv if self.events else self.list_rv + 1
        if rv < oldest - 1:
            raise expired(f"too old resource version: {rv} ({oldest - 1})")
        return [e for e in self.events if e.rv > rv]


class Compactor:
    """etcd compaction every ``COMPACTION_INTERVAL_SECONDS`` of simulated time."""

    def __init__(self, *, now: float, rv: int) -> None:
        self.compacted_rv = 0
        self._mark_rv = rv
        self._next_at = now + COMPACTION_INTERVAL_SECONDS

    def tick(self, now: float, rv: int) -> None:
        while now >= self._next_at:
            self.compacted_rv, self._mark_rv = self._mark_rv, rv
            self._next_at += COMPACTION_INTERVAL_SECONDS


# ---- continue tokens (staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go encodeContinue)


def encode_continue(rv: int, start_key: str) -> str:
    """``base64.RawURLEncoding`` of ``{"v":"meta.k8s.io/v1","rv":RV,"start":KEY+"\\x00"}``."""
    doc = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start_key + "\x00"})
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """``(rv, start key)``; 400 ``continue key is not valid`` as ``decodeContinue`` says."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("v") != "meta.k8s.io/v1":
            raise ValueError("server does not recognize this encoded key")
        rv = int(doc.get("rv", 0))
        start = str(doc.get("start", ""))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from exc
    if not start:
        raise bad_request("continue key is not valid: encoded start key empty")
    return rv, start.rstrip("\x00")
