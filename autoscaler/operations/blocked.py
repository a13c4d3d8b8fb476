"""Is a drain blocked for good? Allocation explain of the copies left on the leaving nodes.

Without this, a drain that can never finish (a per-node shard limit reached everywhere, an
index filter pinning copies to a victim, receivers over the disk watermark) waits for the
runner's stall window and then fails with a generic "stalled". Elasticsearch can say why at
once: ``_cluster/allocation/explain`` of a STARTED copy on a victim, judged by
``elastic.admin.move_block``. The per-drain state — which copies were asked how often, a copy
found blocked while shards were still moving, when explain was last asked — lives here, apart
from the runner's phase plumbing (``operations/runner.py`` ``_draining`` owns one per drain).

Explain judges the current placement only. While shards relocate, the allocator may still be
making room (ES 8.6+ moves towards a desired balance computed in the background), so a blocked
answer fails the drain only at a check where nothing relocates; that copy is asked first from
then on. Errors are no verdict (DEBUG log): the stall window and ``drainTimeout`` still apply.
"""

from __future__ import annotations

import logging

from autoscaler.elastic.admin import CopyRef, EsAdmin, move_block
from autoscaler.metrics import Metrics

log = logging.getLogger("autoscaler.operations")

EXPLAIN_EVERY_POLLS = 10
"""While shards relocate, explain is asked at most once per this many poll intervals; when
nothing moves, at every check — a blocked drain fails at the first quiet check, and a long
healthy drain costs ES about one explain per 5 s (``poll_interval`` 0.5 s)."""


class BlockedDrainCheck:
    """One drain's explain check (module doc)."""

    def __init__(
        self,
        *,
        admin: EsAdmin,
        metrics: Metrics,
        policy: str,
        op_id: str,
        poll_interval: float,
    ) -> None:
        self._admin = admin
        self._metrics = metrics
        self._policy = policy
        self._op_id = op_id
        self._interval = EXPLAIN_EVERY_POLLS * poll_interval
        self._asked: dict[CopyRef, int] = {}
        self._suspect: CopyRef | None = None
        self._asked_at: float | None = None

    async def verdict(self, sitting: list[CopyRef], *, moving: bool, now: float) -> str | None:
        """The failure detail when Elasticsearch says one of the copies ``sitting`` on the
        victims may not remain and no node may take it, and nothing is ``moving``; else None.
        Asks about one copy per call at most: the suspect first, else the one asked least."""
        if not sitting:
            return None
        due = self._asked_at is None or now - self._asked_at >= self._interval
        if moving and not due:
            return None
        self._asked_at = now
        ref = self._suspect if self._suspect in sitting else None
        if ref is None:
            ref = min(sitting, key=lambda c: self._asked.get(c, 0))
        self._asked[ref] = self._asked.get(ref, 0) + 1
        blocked = await self._explain(ref)
        if blocked is None:
            if ref == self._suspect:
                self._suspect = None
            return None
        if moving:
            self._suspect = ref
            return None
        return (
            f"drain blocked: {ref.label()} may not remain and no other node may take it: {blocked}"
        )

    async def _explain(self, ref: CopyRef) -> str | None:
        try:
            body = await self._admin.allocation_explain(
                index=ref.index, shard=ref.shard, primary=ref.primary, current_node=ref.node
            )
        except Exception as e:  # no verdict; CancelledError is not an Exception
            self._count("error")
            log.debug(
                "drain_explain_failed",
                extra={"fields": {"id": self._op_id, "copy": ref.label(), "error": str(e)[:300]}},
            )
            return None
        why = move_block(body)
        if why is not None:
            self._count("blocked")
            return why
        throttled = any(
            isinstance(e, dict) and e.get("node_decision") == "throttled"
            for e in body.get("node_allocation_decisions") or ()
        )
        self._count("throttled" if throttled else "movable")
        return None

    def _count(self, result: str) -> None:
        self._metrics.drain_explains.labels(self._policy, result).inc()
