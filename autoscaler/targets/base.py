"""The one small interface every scaling target implements (DESIGN §3: two implementations).

The service only needs to know a target's current size today; scaling itself arrives with
the operations runner. Keeping this a Protocol lets tests and the back-test use plain objects.
"""

from __future__ import annotations

from typing import Protocol


class TargetUnavailable(Exception):
    """The target's API could not answer (network, auth, not found); the reason is the message."""


class ReplicaReader(Protocol):
    async def current_replicas(self) -> int:
        """Replicas the target is set to now; raises TargetUnavailable."""
        ...
