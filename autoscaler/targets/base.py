"""The one small interface every scaling target implements (DESIGN §3: two implementations).

The operations runner drives a scale through this Protocol only — read the size, write the
size, see which members exist and are ready, tell the world — so the StatefulSet target and
the Ansible target share one runner and one set of safety rules. Plain objects satisfy it in
tests and in the back-test.
"""

from __future__ import annotations

from typing import Protocol


class TargetUnavailable(Exception):
    """The target's API could not answer (network, auth, not found); the reason is the message."""


class TargetRefused(TargetUnavailable):
    """The target answered and refused for good (RBAC 403, not found 404, endless 409):
    retrying cannot help, the operation fails with this message."""


class ReplicaReader(Protocol):
    async def current_replicas(self) -> int:
        """Replicas the target is set to now; raises TargetUnavailable."""
        ...


class Target(ReplicaReader, Protocol):
    """A resizable group of Elasticsearch nodes.

    ``key`` identifies the target across restarts (the store and the one-operation-per-target
    rule use it); member names equal the Elasticsearch node names.
    """

    @property
    def key(self) -> str: ...

    def member_names(self, *, start: int, stop: int) -> tuple[str, ...]:
        """Names of the members at ordinals ``start .. stop-1`` (victims are the highest)."""
        ...

    async def scale(self, replicas: int) -> None:
        """Set the size to ``replicas``; idempotent. Raises TargetRefused with a clear reason
        when the write is refused (RBAC, not found), TargetUnavailable when it may pass later."""
        ...

    async def members(self, names: tuple[str, ...]) -> dict[str, bool]:
        """Which of ``names`` exist now, each with whether it is Ready (absent: not a key)."""
        ...

    async def data_retention(self) -> str | None:
        """What happens to a removed member's data (StatefulSet ``whenScaled``: ``Retain`` or
        ``Delete``; another marker for other kinds); None when it cannot be known."""
        ...

    async def announce(self, *, reason: str, message: str, warning: bool = False) -> None:
        """Record a transition where people look (a Kubernetes Event); never raises."""
        ...

    async def close(self) -> None: ...
