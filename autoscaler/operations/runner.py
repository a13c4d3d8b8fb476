"""The operations runner: carries scale operations out, one per target, crash-safely.

``core.operation`` says which phase comes next; this module does each phase's work through a
``Target`` (the size of the group) and ``EsAdmin`` (exclusions, health, shard placement), and
persists the operation in the ``Store`` *before* every side effect. Every phase is written to
be re-run: a service killed at any point resumes the stored phase on start (``resume_all``)
and finishes the operation — no half state (DESIGN §6).

A drain whose copies Elasticsearch says can never leave fails at once instead of waiting for
the stall window: drain checks ask ``_cluster/allocation/explain`` about the copies still
sitting on a victim (``operations/blocked.py``), and a copy that may not remain and that every
other node refuses fails the drain with the deciders' own words once nothing relocates.
Explain errors only mean "no verdict": the stall window and ``drainTimeout`` still apply.

Waits are bounded by the phase's deadline (policy ``safety``, measured from when the phase
began, which is persisted); transient API errors inside a wait are logged and retried until
that deadline. Rebalancing is watched with ``_cluster/health`` long-polls, so a confirmation
follows the end of relocations within one round trip — and it also requires the new nodes to
hold shards, because right after a node joins, health can report zero relocations before the
allocator has acted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from autoscaler.clock import wall_seconds
from autoscaler.core.durations import format_duration
from autoscaler.core.operation import (
    PHASES,
    Announcement,
    Operation,
    Outcome,
    Transition,
    advance,
    deadline,
    phase_timeout,
    start,
    timed_out,
    with_plan,
)
from autoscaler.core.policy import Policy
from autoscaler.core.preflight import scale_down_preflight
from autoscaler.elastic.admin import EsAdmin, EsNode, preflight_input
from autoscaler.metrics import Metrics
from autoscaler.operations.blocked import BlockedDrainCheck
from autoscaler.operations.store import Store, StoredState, StoreError
from autoscaler.signals.nodes import in_tier
from autoscaler.targets.ansible import NodeGroup, ansible_key
from autoscaler.targets.base import Target, TargetRefused
from autoscaler.targets.statefulset import statefulset_key

log = logging.getLogger("autoscaler.operations")

T = TypeVar("T")
R = TypeVar("R")

_STATUS_RANK = {"green": 0, "yellow": 1, "red": 2}
LONG_POLL_SECONDS = 30.0
"""Server-side ``timeout`` of one health long-poll (the client waits longer)."""
MIN_CADENCE = 0.05
"""Wall seconds a wait sleeps at least between two checks when the clock runs faster than the
wall clock (the demo): ``poll_interval`` of simulated time would otherwise be a busy loop."""
STALL_SECONDS = 120.0
"""A drain with copies left and nothing relocating for this long has stalled (a shard that
cannot move: allocation filters, ``total_shards_per_node``, a full disk) — fail early
instead of waiting out ``drainTimeout`` (at most a quarter of it). The same window lets a
scale-up confirm new nodes that stay empty in a quiet cluster (fewer shards than nodes)."""


def stall_window(drain_timeout: float) -> float:
    """How long a drain may show no movement at all before it counts as stalled."""
    return min(STALL_SECONDS, drain_timeout / 4)


def target_key(policy: Policy) -> str | None:
    """The store key of a policy's target (same as ``Target.key``); None without a target."""
    t = policy.target
    if t is not None and t.statefulSet is not None:
        return statefulset_key(t.statefulSet.namespace, t.statefulSet.name)
    if t is not None and t.ansible is not None:
        return ansible_key(policy.name)
    return None


def tier_names(nodes: Iterable[EsNode], policy: Policy) -> tuple[str, ...]:
    """Names of the nodes of ``policy``'s tier among ``nodes`` (the poller's rule,
    ``signals.nodes.in_tier``), sorted."""
    member = in_tier(roles=policy.nodes.roles, name_pattern=policy.nodes.namePattern)
    return tuple(sorted(n.name for n in nodes if member(n.name, frozenset(n.roles))))


class LostLeadership(Exception):
    """This replica may no longer act (leader election): stop before the next side effect."""


@dataclass(frozen=True)
class Binding:
    """What the runner needs to act for one policy, as the service currently has it."""

    policy: Policy
    target: Target
    admin: EsAdmin
    tier: frozenset[str] | None = None
    """Names of the policy's tier nodes at the last poll (the preflight's remaining set)."""


Binder = Callable[[str], Awaitable[Binding | None]]


def _fields(**kw: Any) -> dict[str, Any]:
    return {"fields": kw}


def _log_retry(op: Operation, e: Exception) -> None:
    """A transient error inside a phase: logged, then the phase tries again."""
    log.warning("operation_retry", extra=_fields(id=op.id, phase=op.phase, error=str(e)[:300]))


class Runner:
    """Starts, drives and resumes operations; the store is the source of truth."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Callable[[], float],
        metrics: Metrics,
        bind: Binder,
        poll_interval: float = 0.5,
        failure_backoff: float = 60.0,
        may_act: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        #: checked right before every side effect (store write, scale, exclusion, playbook):
        #: with leader election, ``LeaderElector.is_leader``; False stops driving at once
        self.may_act = may_act or (lambda: True)
        self.clock = clock
        self.metrics = metrics
        self.bind = bind
        self.poll_interval = poll_interval
        self.failure_backoff = failure_backoff
        self.state = StoredState()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._starting: set[str] = set()
        self._last_failed: dict[str, float] = {}

    @property
    def cadence(self) -> float:
        """Wall seconds between two checks of a wait: ``poll_interval`` seconds of the clock's
        time — the same on the wall clock; shorter on the demo's faster simulated clock (down
        to ``MIN_CADENCE``), so a phase is confirmed as soon in simulated time as in real."""
        return min(
            self.poll_interval, max(MIN_CADENCE, wall_seconds(self.clock, self.poll_interval))
        )

    # -- queries ----------------------------------------------------------------------------

    def running_for(self, key: str | None) -> Operation | None:
        return None if key is None else self.state.running.get(key)

    def busy(self, key: str | None) -> bool:
        return key is not None and (
            key in self.state.running or key in self._starting or key in self._tasks
        )

    def last_confirmed_at(self, key: str | None) -> float | None:
        return None if key is None else self.state.last_confirmed.get(key)

    async def set_paused(self, policy: str, paused: bool) -> None:
        """Remember a pause in the store, so it outlives a restart."""
        self.state = await self.store.update(lambda s: s.with_paused(policy, paused))

    def operations(self) -> list[Operation]:
        """Running then finished, newest first."""
        running = sorted(self.state.running.values(), key=lambda o: o.started_at, reverse=True)
        return [*running, *self.state.finished]

    # -- lifecycle --------------------------------------------------------------------------

    async def restore(self) -> None:
        """Load the stored state (call before the engine's first decision)."""
        self.state = await self.store.load()
        for op in self.state.running.values():
            log.info(
                "operation_found",
                extra=_fields(id=op.id, policy=op.policy, phase=op.phase, where=self.store.where),
            )

    def resume_all(self) -> None:
        """Drive every stored running operation from its stored phase."""
        for key, op in self.state.running.items():
            if key not in self._tasks:
                self._spawn(op)

    async def stop(self) -> None:
        """Stop driving (operations stay stored at their phase and resume on next start)."""
        for op in self.state.running.values():
            # An operator restarting mid-drain should see that the exclusion stays in place
            # and who finishes the job, not just "stopped".
            log.info(
                "operation_left_running",
                extra=_fields(
                    id=op.id,
                    policy=op.policy,
                    phase=op.phase,
                    where=self.store.where,
                    detail="stored at its phase; the next start (or the next leader) resumes it",
                ),
            )
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()

    async def begin(self, *, policy: str, from_replicas: int, to_replicas: int) -> Operation | None:
        """Start an operation for ``policy`` unless its target is busy or just failed."""
        binding = await self.bind(policy)
        if binding is None:
            return None
        key = binding.target.key
        if self.busy(key):
            return None
        failed_at = self._last_failed.get(key)
        now = self.clock()
        if failed_at is not None and now - failed_at < self.failure_backoff:
            return None
        self._starting.add(key)
        try:
            if to_replicas > from_replicas:
                members = binding.target.member_names(start=from_replicas, stop=to_replicas)
            else:
                members = binding.target.member_names(start=to_replicas, stop=from_replicas)
            health_before: str | None = None
            with contextlib.suppress(Exception):
                health_before = (await binding.admin.health(timeout=0)).status
            known_before: tuple[str, ...] | None = None
            if isinstance(binding.target, NodeGroup):
                # VMs: names come from Elasticsearch (never guessed from ordinals)
                nodes = await binding.admin.nodes()
                tier = tier_names(nodes, binding.policy)
                if to_replicas > from_replicas:
                    known_before = tier
                else:
                    members = binding.target.choose_victims(
                        nodes, tier=tier, count=from_replicas - to_replicas
                    )
            tr = start(
                op_id=f"{policy}-{int(now)}-{secrets.token_hex(3)}",
                policy=policy,
                target=key,
                from_replicas=from_replicas,
                to_replicas=to_replicas,
                members=members,
                now=now,
                health_before=health_before,
            )
            if known_before is not None:
                tr = Transition(replace(tr.op, known_before=known_before), tr.announce)
            if not self.may_act():
                return None
            await self._commit(tr, binding)
        finally:
            self._starting.discard(key)
        self._spawn(tr.op)
        return tr.op

    def _spawn(self, op: Operation) -> None:
        task = asyncio.create_task(self._drive(op), name=f"operation:{op.id}")
        self._tasks[op.target] = task

        def forget(_: asyncio.Task[None], key: str = op.target) -> None:
            if self._tasks.get(key) is task:
                del self._tasks[key]

        task.add_done_callback(forget)

    # -- driving ----------------------------------------------------------------------------

    async def _drive(self, op: Operation) -> None:
        try:
            await self._drive_until_done(op)
        except LostLeadership:
            log.warning(
                "operation_paused_not_leader",
                extra=_fields(id=op.id, policy=op.policy, detail="stored; the leader resumes it"),
            )

    def _guard(self) -> None:
        """Raise ``LostLeadership`` unless this replica may act right now."""
        if not self.may_act():
            raise LostLeadership()

    async def _drive_until_done(self, op: Operation) -> None:
        while op.running:
            self._guard()
            binding = await self.bind(op.policy)
            if binding is None:
                # the policy is gone or its clients are not ready: keep the operation
                # stored and try again (a restart or reload brings it back)
                await asyncio.sleep(max(self.poll_interval, 1.0))
                continue
            self._phase_metric(op)
            try:
                result = await self._run_phase(op, binding)
            except (asyncio.CancelledError, LostLeadership):
                raise
            except Exception as e:  # a bug or an unexpected answer: fail the phase, safely
                log.exception("operation_phase_error", extra=_fields(id=op.id, phase=op.phase))
                result = Outcome("failed", f"{op.phase}: unexpected error {e!r}")
            if isinstance(result, Operation):  # a plan was recorded; now perform it
                await self._persist(result)
                op = result
                continue
            if isinstance(result, tuple):  # the phase learnt something its outcome depends on
                op, result = result
            tr = advance(op, result, now=self.clock())
            await self._commit(tr, binding)
            op = tr.op
        self._phase_metric(op)

    async def _persist(self, op: Operation) -> None:
        """Write ``op`` to the store; retry until it lands (no side effect before it does)."""
        while True:
            self._guard()
            try:
                self.state = await self.store.update(lambda s: s.with_operation(op))
                return
            except StoreError as e:
                log.error("state_write_failed", extra=_fields(id=op.id, error=str(e)))
                await asyncio.sleep(max(self.poll_interval, 1.0))

    async def _commit(self, tr: Transition, binding: Binding) -> None:
        op = tr.op
        await self._persist(op)
        last = op.history[-1] if op.history else None
        log.info(
            "operation",
            extra=_fields(
                id=op.id,
                policy=op.policy,
                target=op.target,
                direction=op.direction,
                **{"from": op.from_replicas, "to": op.to_replicas},
                state=op.state,
                phase=op.phase,
                victims=list(op.victims),
                detail=last.detail if last else None,
                failure=op.failure,
            ),
        )
        for a in tr.announce:
            await self._announce(binding, op, a)
        if not op.running:
            outcome = op.state
            self.metrics.operations.labels(op.policy, op.direction, outcome).inc()
            self.metrics.operation_duration.labels(op.policy, op.direction).observe(
                max(0.0, op.updated_at - op.started_at)
            )
            if op.state != "confirmed":
                self._last_failed[op.target] = op.updated_at
            if op.state == "failed":
                reason = op.failure_reason or "failed"
                self.metrics.operation_failures.labels(op.policy, op.direction, reason).inc()

    async def _announce(self, binding: Binding, op: Operation, a: Announcement) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                binding.target.announce(
                    reason=a.reason, message=f"{op.policy}: {a.message}", warning=a.warning
                ),
                timeout=10,
            )

    def _phase_metric(self, op: Operation) -> None:
        for phase in PHASES:
            if phase == "done":
                continue
            self.metrics.operation_phase.labels(op.policy, phase).set(
                1 if op.running and op.phase == phase else 0
            )

    # -- phases -----------------------------------------------------------------------------

    def _deadline(self, op: Operation, binding: Binding) -> float:
        safety = binding.policy.safety
        d = deadline(op, safety)
        # API-only phases retry transient errors for up to joinTimeout
        return d if d is not None else op.phase_started_at + safety.joinTimeout

    async def _run_phase(
        self, op: Operation, b: Binding
    ) -> Outcome | Operation | tuple[Operation, Outcome]:
        handler = {
            "preflight": self._preflight,
            "scaling": self._scaling,
            "waiting_for_pods": self._waiting_for_pods,
            "waiting_for_join": self._waiting_for_join,
            "rebalancing": self._rebalancing,
            "excluding": self._excluding,
            "draining": self._draining,
            "removing": self._removing,
            "cleaning_up": self._cleaning_up,
        }.get(op.phase)
        if handler is None:
            return Outcome("failed", f"cannot run phase {op.phase}")
        return await handler(op, b)

    async def _retry(
        self, op: Operation, b: Binding, what: str, fn: Callable[[], Awaitable[T]]
    ) -> T | Outcome:
        """``fn()`` with transient errors retried until the phase's deadline."""
        until = self._deadline(op, b)
        while True:
            try:
                return await fn()
            except (asyncio.CancelledError, TargetRefused, LostLeadership):
                raise
            except Exception as e:
                if self.clock() >= until:
                    return Outcome("failed", f"{what}: {e}")
                _log_retry(op, e)
                await asyncio.sleep(self.cadence)

    async def _wait(
        self,
        op: Operation,
        b: Binding,
        check: Callable[[], Awaitable[str | Outcome | None]],
        *,
        what: str,
    ) -> Outcome:
        """Call ``check`` until it returns a detail (done) or an outcome, or the phase times
        out (``_poll``)."""
        done = await self._poll(op, b, check, what=what)
        return done if isinstance(done, Outcome) else Outcome("done", str(done))

    async def _poll(
        self,
        op: Operation,
        b: Binding,
        check: Callable[[], Awaitable[R | None]],
        *,
        what: str,
    ) -> R | Outcome:
        """Call ``check`` until it returns something (handed back as is) or the phase times
        out (a ``timeout`` outcome naming ``what``); transient errors are retried. ``check``
        returns None while not there yet. Checks start at most every ``poll_interval`` (a
        long-poll that waited already counts)."""
        until = self._deadline(op, b)
        last_error = ""
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                done = await check()
                if done is not None:
                    return done
                last_error = ""
            except (asyncio.CancelledError, LostLeadership):
                raise
            except Exception as e:
                last_error = f" (last error: {str(e)[:200]})"
                _log_retry(op, e)
            if self.clock() >= until:
                limit = phase_timeout(op.phase, b.policy.safety) or b.policy.safety.joinTimeout
                out = timed_out(op.phase, limit, what)
                return Outcome(out.kind, out.detail + last_error)
            await asyncio.sleep(max(0.0, self.cadence - (loop.time() - began)))

    async def _preflight(self, op: Operation, b: Binding) -> Outcome:
        async def gather() -> list[str]:
            health = await b.admin.health(timeout=0)
            nodes = await b.admin.nodes()
            indices = await b.admin.indices()
            voting = await b.admin.voting_state()
            shard_limit = await b.admin.cluster_shards_per_node()
            retention = await b.target.data_retention()
            return scale_down_preflight(
                preflight_input(
                    health=health,
                    nodes=nodes,
                    indices=indices,
                    victims=op.victims,
                    voting=voting,
                    max_disk_percent=b.policy.safety.maxDiskPercentAfterScaleDown,
                    pvc_retention=retention,
                    tier=b.tier,
                    cluster_shards_per_node=shard_limit,
                )
            )

        reasons = await self._retry(op, b, "preflight", gather)
        if isinstance(reasons, Outcome):
            return reasons
        if reasons:
            return Outcome("refused", "; ".join(reasons))
        return Outcome("done", f"preflight passed; victims {', '.join(op.victims)}")

    async def _scaling(self, op: Operation, b: Binding) -> Outcome | tuple[Operation, Outcome]:
        if isinstance(b.target, NodeGroup):
            return await self._run_playbook(op, b, b.target)

        async def write() -> None:
            self._guard()
            await b.target.scale(op.writes)

        try:
            out = await self._retry(op, b, "scale write", write)
        except TargetRefused as e:
            return Outcome("failed", str(e))
        if isinstance(out, Outcome):
            return out
        return Outcome("done", f"replicas set to {op.writes}")

    async def _run_playbook(
        self, op: Operation, b: Binding, group: NodeGroup
    ) -> Outcome | tuple[Operation, Outcome]:
        """VMs: the scale-up or scale-down playbook. A resumed phase checks Elasticsearch
        first and runs the playbook again only if its work is not visible there (the new
        nodes joined / the victims left), so a crash mid-run is not blindly repeated."""
        leaving = op.direction == "down" or op.rollback
        nodes = await self._retry(op, b, "reading nodes", b.admin.nodes)
        if isinstance(nodes, Outcome):
            return nodes
        names = {n.name for n in nodes}
        try:
            if leaving:
                present = [v for v in op.victims if v in names]
                if not present:
                    gone = ", ".join(op.victims) or "no node"
                    return Outcome(
                        "done", f"{gone} not in the cluster; scale-down playbook not run"
                    )
                current = op.to_replicas if op.rollback else op.from_replicas
                self._guard()
                await group.decommission(
                    op.victims, current=current, desired=op.writes, run_id=op.id
                )
                return Outcome("done", f"scale-down playbook ran for {', '.join(op.victims)}")
            known = set(op.known_before or ())
            new = [n for n in tier_names(nodes, b.policy) if n not in known]
            if len(new) >= op.to_replicas - op.from_replicas:
                return Outcome("done", f"{', '.join(new)} already joined; playbook not run")
            self._guard()
            await group.provision(current=op.from_replicas, desired=op.to_replicas, run_id=op.id)
            return Outcome("done", "scale-up playbook succeeded")
        except TargetRefused as e:  # PlaybookFailed: the failed task's name and message
            failed = Outcome("failed", str(e))
            if leaving:
                return failed
            # a scale-up playbook that failed part-way may have added nodes already: learn
            # them, so the failure rolls them back (drain, scale-down playbook) instead of
            # leaving them behind
            with contextlib.suppress(Exception):
                known = set(op.known_before or ())
                after = tier_names(await b.admin.nodes(), b.policy)
                appeared = tuple(n for n in after if n not in known)
                if appeared:
                    return replace(op, joining=appeared), failed
            return failed

    async def _learn_joining(self, op: Operation, b: Binding) -> Outcome | Operation:
        """VMs: the joining nodes are the tier nodes that were not there before the scale-up.
        Each newly seen name is persisted (so a rollback drains exactly the nodes that did
        appear); done once as many as requested joined."""
        want = op.to_replicas - op.from_replicas
        known = set(op.known_before or ())

        async def check() -> Operation | Outcome | None:
            new = {n for n in tier_names(await b.admin.nodes(), b.policy) if n not in known}
            if new - set(op.joining):
                return replace(op, joining=tuple(sorted(new | set(op.joining))))
            if len(op.joining) >= want:
                return Outcome("done", f"{', '.join(op.joining)} joined the cluster")
            return None

        seen = ", ".join(op.joining) or "none"
        what = f"{want - len(op.joining)} of {want} new node(s) did not join (joined: {seen})"
        return await self._poll(op, b, check, what=what)

    async def _waiting_for_pods(self, op: Operation, b: Binding) -> Outcome:
        if isinstance(b.target, NodeGroup):
            return Outcome("done", "playbook finished; new nodes are learnt from Elasticsearch")

        async def check() -> str | None:
            members = await b.target.members(op.joining)
            if len(members) == len(op.joining) and all(members.values()):
                return f"{', '.join(op.joining)} ready"
            return None

        return await self._wait(op, b, check, what=f"{', '.join(op.joining)} not ready")

    async def _waiting_for_join(self, op: Operation, b: Binding) -> Outcome | Operation:
        if isinstance(b.target, NodeGroup):
            return await self._learn_joining(op, b)

        async def check() -> str | None:
            names = {n.name for n in await b.admin.nodes()}
            if set(op.joining) <= names:
                return f"{', '.join(op.joining)} joined the cluster"
            return None

        return await self._wait(op, b, check, what=f"{', '.join(op.joining)} did not join")

    async def _rebalancing(self, op: Operation, b: Binding) -> Outcome:
        before = _STATUS_RANK.get(op.health_before or "green", 0)
        settle = stall_window(b.policy.safety.rebalanceTimeout)
        quiet_since: float | None = None

        async def check() -> str | None:
            nonlocal quiet_since
            remaining = max(1.0, self._deadline(op, b) - self.clock())
            h = await b.admin.health(
                wait_for_no_relocating_shards=True,
                wait_for_no_initializing_shards=True,
                wait_for_events="languid",
                timeout=min(LONG_POLL_SECONDS, remaining),
            )
            if h.timed_out or h.relocating_shards or h.initializing_shards:
                quiet_since = None
                return None
            if _STATUS_RANK.get(h.status, 2) > max(before, 0):
                quiet_since = None
                return None
            copies = await b.admin.shard_copies_on(op.joining)
            held = ", ".join(f"{n} {copies.get(n, 0)}" for n in op.joining)
            if all(copies.get(name, 0) > 0 for name in op.joining):
                return f"no relocating or initializing shards, health {h.status}; copies: {held}"
            # Right after a join, health can say "nothing relocating" before the allocator has
            # acted: an empty new node is not rebalanced, just early. Only a cluster that stays
            # quiet for the settle window really has nothing to move (fewer shards than nodes).
            now = self.clock()
            quiet_since = now if quiet_since is None else quiet_since
            if now - quiet_since >= settle:
                return (
                    f"nothing moved for {format_duration(settle)}, health {h.status}; "
                    f"copies: {held} (no shard to rebalance onto the new nodes)"
                )
            return None

        return await self._wait(op, b, check, what="shards did not finish rebalancing")

    async def _excluding(self, op: Operation, b: Binding) -> Outcome | Operation:
        if op.excluded is None or op.voting_excluded is None:

            async def plan() -> Operation:
                already = set(await b.admin.excluded_names())
                present = {n.name: n for n in await b.admin.nodes()}
                ours = tuple(v for v in op.victims if v not in already)
                voting = tuple(v for v in op.victims if v in present and present[v].master_eligible)
                return with_plan(op, excluded=ours, voting_excluded=voting, now=self.clock())

            return await self._retry(op, b, "reading exclusions", plan)

        async def perform() -> None:
            self._guard()
            if op.voting_excluded:
                await b.admin.add_voting_exclusions(op.voting_excluded)
            if op.excluded:
                await b.admin.exclude(op.excluded)

        out = await self._retry(op, b, "writing exclusions", perform)
        if isinstance(out, Outcome):
            return out
        return Outcome("done", f"excluded {', '.join(op.victims)} from allocation")

    async def _draining(self, op: Operation, b: Binding) -> Outcome:
        window = stall_window(b.policy.safety.drainTimeout)
        progress: tuple[int, float] | None = None  # (copies left, since when unchanged+idle)
        explain = BlockedDrainCheck(
            admin=b.admin,
            metrics=self.metrics,
            policy=op.policy,
            op_id=op.id,
            poll_interval=self.poll_interval,
        )

        async def check() -> str | Outcome | None:
            nonlocal progress
            copies, sitting = await b.admin.drain_view(op.victims)
            left = sum(copies.get(v, 0) for v in op.victims)
            if left == 0:
                verb = "holds" if len(op.victims) == 1 else "hold"
                return f"{', '.join(op.victims)} {verb} no shard copies"
            h = await b.admin.health(timeout=0)
            now = self.clock()
            moving = h.relocating_shards + h.initializing_shards > 0
            # Elasticsearch says a copy can never leave (and nothing moves): fail at once
            blocked = await explain.verdict(sitting, moving=moving, now=now)
            if blocked is not None:
                return Outcome("blocked", blocked)
            # a stall: copies still on the victims, none leaving, nothing moving anywhere
            # for a while (not just the moment after the exclusion, before the allocator acts)
            if moving or progress is None or progress[0] != left:
                progress = (left, now)
            elif now - progress[1] >= window:
                on = ", ".join(f"{v} {copies.get(v, 0)}" for v in op.victims)
                return Outcome(
                    "timeout",
                    f"drain stalled: nothing moved for {format_duration(window)} "
                    f"with shard copies left on the victims ({on})",
                )
            return None

        async def still_on() -> str:
            with contextlib.suppress(Exception):
                copies = await b.admin.shard_copies_on(op.victims)
                return ", ".join(f"{v} {copies.get(v, 0)}" for v in op.victims)
            return "unknown"

        out = await self._wait(op, b, check, what="victims not drained")
        if out.kind == "timeout":
            return Outcome("timeout", f"{out.detail}; shard copies left: {await still_on()}")
        return out

    async def _removing(self, op: Operation, b: Binding) -> Outcome:
        async def check() -> str | None:
            members = await b.target.members(op.victims)
            if members:
                return None
            names = {n.name for n in await b.admin.nodes()}
            if names & set(op.victims):
                return None
            return f"{', '.join(op.victims)} gone and left the cluster"

        return await self._wait(op, b, check, what="victims did not go away")

    async def _cleaning_up(self, op: Operation, b: Binding) -> Outcome:
        async def undo() -> None:
            self._guard()
            if op.excluded:
                await b.admin.unexclude(op.excluded)
            if op.voting_excluded:
                await b.admin.clear_voting_exclusions(wait_for_removal=not op.aborted)

        out = await self._retry(op, b, "removing our exclusions", undo)
        if isinstance(out, Outcome):
            return out
        if op.aborted:
            return Outcome("done", "our exclusions removed")
        want = op.health_before if op.health_before in ("green", "yellow") else "green"

        async def healthy() -> str | None:
            remaining = max(1.0, self._deadline(op, b) - self.clock())
            h = await b.admin.health(
                wait_for_status=want, timeout=min(LONG_POLL_SECONDS, remaining)
            )
            if h.timed_out or _STATUS_RANK.get(h.status, 2) > _STATUS_RANK[want]:
                return None
            return f"exclusions removed; health {h.status}"

        return await self._wait(op, b, healthy, what=f"cluster not {want}")
