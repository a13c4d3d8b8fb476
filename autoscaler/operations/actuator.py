"""The runner as the runtime sees it: can this policy act, is its target busy, act now.

``service.runtime`` decides; this adapter turns an acting decision into an operation and
tells the engine what it must know about the target (an operation in progress, the last
confirmation — read from the store, so both survive a restart).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from autoscaler.core.engine import Decision
from autoscaler.core.policy import Policy
from autoscaler.operations.runner import Runner, target_key

log = logging.getLogger("autoscaler.operations")


class RunnerActuator:
    """Satisfies ``service.runtime.Actuator`` with a ``Runner``."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._pending: set[asyncio.Task[Any]] = set()

    def can_act(self, policy: Policy) -> bool:
        return target_key(policy) is not None

    def target_state(self, policy: Policy) -> tuple[bool, float | None]:
        key = target_key(policy)
        return self.runner.busy(key), self.runner.last_confirmed_at(key)

    def operation_view(self, policy: Policy) -> dict[str, Any] | None:
        op = self.runner.running_for(target_key(policy))
        return op.view() if op is not None else None

    def last_operation_view(self, policy: Policy) -> dict[str, Any] | None:
        last = next((o for o in self.runner.state.finished if o.policy == policy.name), None)
        return last.view() if last is not None else None

    def paused(self) -> frozenset[str]:
        return self.runner.state.paused

    async def set_paused(self, policy: str, paused: bool) -> None:
        await self.runner.set_paused(policy, paused)

    def operations_view(self) -> list[dict[str, Any]]:
        return [op.view() for op in self.runner.operations()]

    def act(self, decision: Decision) -> None:
        if decision.from_replicas is None or decision.to_replicas is None:
            return
        if decision.from_replicas == decision.to_replicas:
            return
        task = asyncio.ensure_future(
            self.runner.begin(
                policy=decision.policy,
                from_replicas=decision.from_replicas,
                to_replicas=decision.to_replicas,
            )
        )
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("operation_start_failed", extra={"fields": {"error": str(task.exception())}})
