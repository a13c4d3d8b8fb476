"""The record of every request the twin's Kubernetes API served (``GET /_sim/requests``).

To prove a Role is exactly what a service needs, run the service against the twin with RBAC
on and read back which (verb, group, resource, subresource, namespace) it used — and which
were refused. Verbs are RBAC verbs (``get``/``list``/``watch``/``create``/``update``/
``patch``/``delete``/``deletecollection``) as ``RequestInfoFactory`` derives them, so the log
compares directly with a Role's rules.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

#: The log keeps the most recent requests only (a long real-time run must not grow forever).
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class RequestRecord:
    """One served request (``/_sim/*`` control calls are not recorded)."""

    at: float
    method: str
    path: str
    verb: str
    group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    user: str
    code: int
    resource_request: bool


class RequestLog:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[RequestRecord] = deque(maxlen=max_entries)

    def add(self, record: RequestRecord) -> None:
        self._entries.append(record)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self._entries]
