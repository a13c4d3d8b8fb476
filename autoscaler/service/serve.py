"""``es-autoscaler serve``: wires settings, policies, pollers, webhook and HTTP into one service.

This is the composition root of the running service: clients are built here and passed in,
the clock is read here and passed down. Lifecycle: load policies (refuse to start on invalid
ones), bind HTTP, start one poller per Elasticsearch connection, watch the policy directory
(and SIGHUP) for changes, stop cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from elasticsearch import AsyncElasticsearch

from autoscaler.core.alerts import AlertState, WebhookPayload
from autoscaler.core.policy import Policy
from autoscaler.core.policyload import LoadedPolicy, LoadResult
from autoscaler.elastic.admin import EsAdmin
from autoscaler.elastic.client import ServerInfo, connection_key, make_client
from autoscaler.metrics import Metrics
from autoscaler.operations.actuator import RunnerActuator
from autoscaler.operations.runner import Binding, Runner
from autoscaler.operations.store import (
    ConfigMapStore,
    FileStore,
    Store,
    StoreError,
    parse_configmap_ref,
)
from autoscaler.policyfiles import (
    FileState,
    load_policies,
    load_policies_isolated,
    snapshot,
)
from autoscaler.service.forward import Forwarder, NotForwarded, capture_headers
from autoscaler.service.http import build_app
from autoscaler.service.leader import LeaderElector, LeaseTiming, rfc3339
from autoscaler.service.limits import GuardedSite, HttpLimits, make_runner, quiet_accept_errors
from autoscaler.service.logs import fields
from autoscaler.service.runtime import Runtime
from autoscaler.settings import Settings
from autoscaler.signals.alertmanager import AlertmanagerSync
from autoscaler.signals.poller import Poller, PollResult, TierSubscription
from autoscaler.signals.webhook import WebhookAuth, webhook_handler
from autoscaler.targets.ansible import AnsibleTarget, target_for
from autoscaler.targets.base import Target, TargetUnavailable
from autoscaler.targets.statefulset import REQUEST_TIMEOUT, StatefulSetTarget, make_api_client

log = logging.getLogger("autoscaler.service")


def target_read_timeout(policy: Policy) -> float:
    """How long one read of a policy's target size may take: within its poll interval."""
    return max(1.0, min(REQUEST_TIMEOUT, 0.8 * policy.elasticsearch.pollInterval))


EVAL_TICK = 0.05
"""Seconds between two evaluation passes triggered by webhooks while they keep coming."""


@dataclass
class _ClusterGroup:
    poller: Poller
    client: AsyncElasticsearch
    task: asyncio.Task[None] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    polled_once: bool = False
    server: ServerInfo | None = None


class Service:
    """One running autoscaler instance."""

    def __init__(
        self,
        *,
        settings: Settings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        auth: WebhookAuth,
        client_factory: Callable[[Policy], AsyncElasticsearch] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.auth = auth
        self.runtime = Runtime(
            metrics=self.metrics,
            clock=clock,
            alert_ttl=settings.alert_ttl_seconds,
            decision_log_size=settings.decision_log_size,
        )
        self._client_factory = client_factory or (lambda p: make_client(p.elasticsearch))
        self._groups: dict[tuple[object, ...], _ClusterGroup] = {}
        self._readers: dict[str, Target] = {}
        self._vm_targets: dict[str, AnsibleTarget] = {}
        self.operations: Runner | None = None
        #: leader election (``--leader-election``); None: this single instance acts
        self.elector: LeaderElector | None = None
        self.forwarder: Forwarder | None = None
        self.identity = settings.identity or os.environ.get("POD_NAME") or socket.gethostname()
        self._started_at = clock()
        self._kube: Any = None
        self._mtimes: dict[str, FileState] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._eval_pending = False
        self._last_eval = float("-inf")
        self.address: tuple[str, int] | None = None
        self.http_limits = HttpLimits()
        self.alert_sync: AlertmanagerSync | None = None

    # -- policies -----------------------------------------------------------------------------

    def _read_policies(self) -> LoadResult:
        """Read and validate the policy directory, remember its files, count the outcome."""
        self._mtimes = snapshot([self.settings.policies])
        result = load_policies([self.settings.policies])
        self.metrics.policy_reloads.labels("success" if result.ok else "failure").inc()
        return result

    def load_initial(self) -> LoadResult:
        result = self._read_policies()
        if result.ok:
            self.runtime.install(result.policies)
        return result

    async def reload(self, *, why: str) -> bool:
        """Re-read the policy directory; an invalid set is rejected and the old one stays."""
        self.auth.refresh()  # SIGHUP also re-reads the webhook credential files
        async with self._reload_lock:
            # in a child process: a large file takes seconds to parse (issue 9 item 4)
            self._mtimes, result = await load_policies_isolated([self.settings.policies])
            self.metrics.policy_reloads.labels("success" if result.ok else "failure").inc()
            self.runtime.last_reload = {
                "ok": result.ok,
                "at": self.clock(),
                "trigger": why,
                "errors": [str(e) for e in result.errors],
            }
            if not result.ok:
                log.error(
                    "policy_reload_rejected",
                    extra=fields(
                        trigger=why,
                        errors=[str(e) for e in result.errors],
                        kept=sorted(self.runtime.policies),
                    ),
                )
                return False
            self.runtime.install(result.policies)
            for w in result.warnings:
                log.warning("policy_warning", extra=fields(warning=str(w)))
            await self._sync_pollers()
            await self._sync_readers()
            log.info(
                "policies_reloaded",
                extra=fields(trigger=why, policies=sorted(self.runtime.policies)),
            )
            return True

    async def _watch(self) -> None:
        """Reload on file change (mtime polling: works on ConfigMap volumes' symlink swaps)."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=2.0)
            if self._stopping.is_set():
                return
            self.auth.refresh()  # a rotated webhook token Secret (issue 9 item 10)
            now = await asyncio.to_thread(snapshot, [self.settings.policies])
            if now != self._mtimes:
                await self.reload(why="file_change")

    # -- pollers ------------------------------------------------------------------------------

    def _desired_groups(self) -> dict[tuple[object, ...], list[LoadedPolicy]]:
        groups: dict[tuple[object, ...], list[LoadedPolicy]] = {}
        for rt in self.runtime.policies.values():
            groups.setdefault(connection_key(rt.policy.elasticsearch), []).append(rt.loaded)
        return groups

    async def _sync_pollers(self) -> None:
        """One poller per connection with its current subscribers. A poller whose connection,
        subscribers and interval are unchanged keeps running, so a reload does not cost it the
        previous sample that rates are computed from."""
        if not self.acting():
            # followers poll nothing (only the leader polls and acts)
            for key in list(self._groups):
                await self._stop_group(key)
            return
        desired = self._desired_groups()
        wanted: dict[tuple[object, ...], tuple[list[TierSubscription], float]] = {
            key: (
                [TierSubscription.for_policy(lp.policy) for lp in members],
                min(lp.policy.elasticsearch.pollInterval for lp in members),
            )
            for key, members in desired.items()
        }
        for key, group in list(self._groups.items()):
            if wanted.get(key) != (group.poller.subscribers, group.poller.interval):
                await self._stop_group(key)
        for key, members in desired.items():
            if key in self._groups:
                continue
            subs, interval = wanted[key]
            first = members[0].policy
            try:
                client = self._client_factory(first)
            except (OSError, ValueError) as e:
                for lp in members:
                    self.runtime.record_poll(
                        lp.policy.name, at=self.clock(), ok=False, row=None, error=f"client: {e}"
                    )
                log.error(
                    "es_client_failed", extra=fields(cluster=first.elasticsearch.url, error=str(e))
                )
                continue
            name = ",".join(first.elasticsearch.url)
            poller = Poller(
                name=name,
                client=client,
                subscribers=subs,
                interval=interval,
                clock=self.clock,
                metrics=self.metrics,
                on_result=functools.partial(self._on_poll, key),
            )
            group = _ClusterGroup(poller, client)
            group.task = asyncio.create_task(poller.run(group.stop), name=f"poller:{name}")
            self._groups[key] = group

    async def _stop_group(self, key: tuple[object, ...]) -> None:
        group = self._groups.pop(key)
        group.stop.set()
        if group.task is not None:
            group.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await group.task
        with contextlib.suppress(Exception):
            await group.client.close()

    async def _on_poll(self, key: tuple[object, ...], result: PollResult) -> None:
        group = self._groups.get(key)
        if group is None:
            return  # the policies changed while this poll ran
        group.polled_once = True
        if result.server is not None:
            group.server = result.server
        names = [s.policy_name for s in group.poller.subscribers]
        for name in names:
            tier = result.tiers.get(name)
            if result.ok and tier is not None:
                self.runtime.record_poll(
                    name, at=result.at, ok=True, row=tier.row, tier_nodes=tier.node_names
                )
            else:
                error = result.detail or result.error or "no data for this tier"
                self.runtime.record_poll(name, at=result.at, ok=False, row=None, error=error)
        await self._refresh_replicas(names, result)
        self.runtime.evaluate_all(names)

    # -- replicas -----------------------------------------------------------------------------

    async def _sync_readers(self) -> None:
        self._readers = {}
        self._vm_targets = {
            rt.policy.name: target_for(
                rt.policy,
                policy_file=Path(rt.loaded.file),
                output_dir=self.settings.state_dir / "playbook-output",
            )
            for rt in self.runtime.policies.values()
            if rt.policy.target is not None and rt.policy.target.ansible is not None
        }
        needs_kube = [
            rt
            for rt in self.runtime.policies.values()
            if rt.policy.target is not None and rt.policy.target.statefulSet is not None
        ]
        if needs_kube and self._kube is None:
            try:
                self._kube = await make_api_client(kubeconfig=self.settings.kubeconfig)
            except Exception as e:  # a broken kubeconfig must not kill the service
                log.error("kubernetes_config_failed", extra=fields(error=str(e)))
                self._kube = None
            else:
                if self._kube is None:
                    # Said once per (re)load: otherwise only /api/v1/policies and a gauge
                    # would tell that these targets can never be read or scaled.
                    log.error(
                        "kubernetes_config_missing",
                        extra=fields(
                            policies=[rt.policy.name for rt in needs_kube],
                            detail="no Kubernetes configuration (in-cluster or KUBECONFIG): "
                            "these StatefulSet targets cannot be read or scaled; pass "
                            "--kubeconfig or run in a pod with a ServiceAccount",
                        ),
                    )
        for rt in needs_kube:
            assert rt.policy.target is not None
            assert rt.policy.target.statefulSet is not None
            sts = rt.policy.target.statefulSet
            if self._kube is None:
                self.runtime.set_replicas(
                    rt.policy.name,
                    None,
                    error="no Kubernetes configuration (in-cluster or KUBECONFIG)",
                )
                continue
            self._readers[rt.policy.name] = StatefulSetTarget(
                self._kube, namespace=sts.namespace, name=sts.name, clock=self.clock
            )

    # -- operations ---------------------------------------------------------------------------

    async def _require_kube(self, option: str) -> Any:
        """The Kubernetes API client (made on first use); a clear error naming ``option``
        when there is no Kubernetes configuration."""
        if self._kube is None:
            self._kube = await make_api_client(kubeconfig=self.settings.kubeconfig)
        if self._kube is None:
            raise ValueError(f"{option} needs a Kubernetes configuration")
        return self._kube

    async def _store(self) -> Store:
        """``--state-configmap NS/NAME`` if given (or in-cluster with ``POD_NAMESPACE``),
        else the file under ``--state-dir``."""
        ref = self.settings.state_configmap
        if (
            ref is None
            and os.environ.get("KUBERNETES_SERVICE_HOST")
            and os.environ.get("POD_NAMESPACE")
        ):
            ref = f"{os.environ['POD_NAMESPACE']}/es-autoscaler-state"
        if ref is not None:
            namespace, name = parse_configmap_ref(ref)
            kube = await self._require_kube("--state-configmap")
            return ConfigMapStore(kube, namespace=namespace, name=name)
        return FileStore(self.settings.state_dir)

    async def _bind(self, name: str) -> Binding | None:
        """What an operation of policy ``name`` acts through, as configured right now."""
        rt = self.runtime.policies.get(name)
        target: Target | None = self._readers.get(name) or self._vm_targets.get(name)
        if rt is None or target is None:
            return None
        group = self._groups.get(connection_key(rt.policy.elasticsearch))
        if group is None:
            return None
        tier = frozenset(rt.tier_nodes) if rt.last_poll_ok and rt.tier_nodes else None
        return Binding(
            policy=rt.policy,
            target=target,
            admin=EsAdmin(group.client, server=group.server),
            tier=tier,
        )

    async def _refresh_replicas(self, names: list[str], result: PollResult) -> None:
        # One read per target per poll, shared by every policy sizing it; reads of different
        # targets run concurrently (issue 10), each bounded on its own.
        by_target: dict[str, list[str]] = {}
        for name in names:
            reader = self._readers.get(name)
            rt = self.runtime.policies.get(name)
            if rt is None:
                continue
            if reader is not None:
                by_target.setdefault(reader.key, []).append(name)  # statefulset/NS/NAME
            elif rt.policy.target is None or rt.policy.target.ansible is not None:
                # VM clusters: the tier's size is the number of its nodes Elasticsearch sees.
                tier = result.tiers.get(name)
                if result.ok and tier is not None:
                    self.runtime.set_replicas(name, tier.node_count)
        if by_target:
            await asyncio.gather(*(self._read_replicas(group) for group in by_target.values()))

    async def _read_replicas(self, names: list[str]) -> None:
        """Read one target's size once and give it (or the error) to every policy in ``names``."""
        reader = self._readers[names[0]]
        # bounded whatever the target does: a hung API must show, not freeze the policy
        # (issue 9 item 2); the read's own timeout usually answers first
        bound = max(target_read_timeout(self.runtime.policies[n].policy) for n in names)
        replicas: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(bound):
                replicas = await reader.current_replicas()
        except TargetUnavailable as e:
            error = str(e)
        except TimeoutError:
            error = f"kubernetes API did not answer within {bound:g}s"
        except Exception as e:  # anything else a client lets escape
            error = f"reading the target failed: {type(e).__name__}: {e}"
        for name in names:
            if name in self.runtime.policies:
                self.runtime.set_replicas(name, replicas, error=error)

    # -- webhook ------------------------------------------------------------------------------

    async def on_webhook(self, payload: WebhookPayload) -> None:
        """Fold the alerts in (O(payload)) and schedule one evaluation pass for the burst."""
        touched = self.runtime.apply_webhook(payload)
        if log.isEnabledFor(logging.DEBUG):  # per request: DEBUG; decisions log at INFO
            log.debug(
                "webhook_accepted",
                extra=fields(
                    status=payload.status,
                    alerts=len(payload.alerts),
                    group=payload.groupLabels,
                    dirty=touched,
                ),
            )
        if touched:
            self._schedule_evaluation()
        if self.forwarder is not None and not self.acting():
            # applied here too; the leader must see it: forward, else 503 and Alertmanager
            # retries (service/forward.py)
            try:
                url = await self.forwarder.forward(payload)
            except NotForwarded as e:
                log.warning("webhook_not_forwarded", extra=fields(error=str(e)))
                raise
            log.debug("webhook_forwarded", extra=fields(leader=url))

    def _on_synced_alerts(self, states: list[AlertState]) -> None:
        """Firing alerts read from Alertmanager's API, taken like a webhook's."""
        if self.runtime.restore_alerts(states):
            self._schedule_evaluation()

    def _schedule_evaluation(self) -> None:
        """Evaluate dirty policies at once when idle, else at most once per ``EVAL_TICK``
        (an alert storm costs one pass per tick, not one per webhook). Views flush first."""
        if self._eval_pending:
            return
        self._eval_pending = True
        loop = asyncio.get_running_loop()
        wait = self._last_eval + EVAL_TICK - loop.time()
        if wait > 0:
            loop.call_later(wait, self._run_evaluation)
        else:
            loop.call_soon(self._run_evaluation)

    def _run_evaluation(self) -> None:
        self._eval_pending = False
        self._last_eval = asyncio.get_running_loop().time()
        try:
            self.runtime.flush()
        except Exception:  # a bug in one pass must not stop later ones
            log.exception("evaluation_failed")

    # -- lifecycle ----------------------------------------------------------------------------

    # -- leadership ---------------------------------------------------------------------------

    def acting(self) -> bool:
        """Whether this replica may act now: no election, or the Lease is ours (checked by
        the runner right before every side effect)."""
        return self.elector is None or self.elector.is_leader()

    def leader_status(self) -> dict[str, Any]:
        """``GET /api/v1/leader``."""
        if self.elector is not None:
            return self.elector.status()
        return {
            "identity": self.identity,
            "leader": True,
            "holder": self.identity,
            "since": rfc3339(self._started_at),
            "lastError": None,
        }

    def _advertise_url(self) -> str | None:
        if self.settings.advertise_url:
            return self.settings.advertise_url
        assert self.address is not None
        port = self.address[1]
        pod_ip = os.environ.get("POD_IP")
        if pod_ip:
            host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
            return f"http://{host}:{port}"
        if self.settings.host not in ("0.0.0.0", "::", ""):
            return f"http://{self.settings.host}:{port}"
        return None

    async def _start_election(self, ref: str) -> None:
        namespace, _, lease = ref.partition("/")
        timing = LeaseTiming(
            lease_duration=self.settings.lease_duration_seconds,
            renew_deadline=self.settings.renew_deadline_seconds,
            retry_period=self.settings.retry_period_seconds,
            request_timeout=min(5.0, self.settings.renew_deadline_seconds / 2),
        )
        kube = await self._require_kube("--leader-election")
        self.elector = LeaderElector(
            api=kube,
            namespace=namespace,
            name=lease,
            identity=self.identity,
            timing=timing,
            advertise_url=self._advertise_url(),
        )
        self.forwarder = Forwarder(identity=self.identity, leader_url=self.elector.leader_url)
        if self.elector.advertise_url is None:
            log.warning(
                "no_advertise_url",
                extra=fields(
                    identity=self.identity,
                    detail="followers cannot forward webhooks to this replica while it leads "
                    "(they answer 503); set --advertise-url or POD_IP, or listen on one address",
                ),
            )
        self.metrics.leader.set(0)
        self._tasks.append(asyncio.create_task(self.elector.run(), name="leader-election"))
        self._tasks.append(asyncio.create_task(self._follow_leadership(), name="leadership"))

    async def _follow_leadership(self) -> None:
        """Start acting when elected (state re-read from the store, pollers, operations
        resumed); stop at once when the Lease is lost (operations stay stored)."""
        assert self.elector is not None
        assert self.operations is not None
        while True:
            await self.elector.changed.wait()
            self.elector.changed.clear()
            if self.elector.is_leader():
                # what the previous leader stored: running operations, cooldowns
                try:
                    await self.operations.restore()
                except StoreError as e:
                    # act only on the stored truth: try again shortly (still leader?)
                    log.error("state_store_failed", extra=fields(error=str(e)))
                    await asyncio.sleep(self.settings.retry_period_seconds)
                    self.elector.changed.set()
                    continue
                self.metrics.leader.set(1)
                log.info("acting_as_leader", extra=fields(identity=self.identity))
                await self._sync_pollers()
                self.operations.resume_all()
            else:
                self.metrics.leader.set(0)
                log.warning("stopped_acting", extra=fields(identity=self.identity))
                await self.operations.stop()
                await self._sync_pollers()

    def ready(self) -> tuple[bool, list[str]]:
        waiting = []
        if not self.runtime.policies:
            waiting.append("policies")
        waiting += [
            f"first poll of {g.poller.name}" for g in self._groups.values() if not g.polled_once
        ]
        if self.alert_sync is not None and not self.alert_sync.attempted.is_set():
            waiting.append("first alert sync from Alertmanager")
        if (
            not waiting
            and self._groups
            and all(self._group_stale(g) for g in self._groups.values())
        ):
            # blind: no cluster has fresh data, so do not take traffic (issue 9 item 10)
            waiting.append("fresh data: every cluster's data is stale")
        return not waiting, waiting

    def _group_stale(self, group: _ClusterGroup) -> bool:
        """True when no policy polled through this group has a sample within its staleness."""
        now = self.clock()
        for sub in group.poller.subscribers:
            rt = self.runtime.policies.get(sub.policy_name)
            if rt is None or not rt.observations.polls:
                continue
            if now - rt.observations.polls[-1] <= rt.policy.elasticsearch.staleness_limit:
                return False
        return True

    async def start(self) -> tuple[str, int]:
        """Bind HTTP and start background work. Policies must already be installed."""
        handler = webhook_handler(
            auth=self.auth,
            max_bytes=self.settings.webhook_max_bytes,
            on_payload=self.on_webhook,
            metrics=self.metrics,
            read_timeout=self.http_limits.body_timeout,
        )
        app = build_app(
            runtime=self.runtime,
            ready=self.ready,
            # the forwarder needs the sender's headers (service/forward.py); without leader
            # election nothing is ever forwarded, so requests skip that wrapper (issue 10)
            webhook=capture_headers(handler) if self.settings.leader_election else handler,
            control_auth=self.auth,
            leader=self.leader_status,
        )
        self._runner = make_runner(app, limits=self.http_limits)
        await self._runner.setup()
        quiet_accept_errors()
        site = GuardedSite(
            self._runner,
            self.settings.host,
            self.settings.port,
            limits=self.http_limits,
            metrics=self.metrics,
        )
        await site.start()
        server = site._server
        assert server is not None
        sock = server.sockets[0].getsockname()  # type: ignore[attr-defined]
        self.address = (str(sock[0]), int(sock[1]))
        await self._sync_readers()
        store = await self._store()
        self.operations = Runner(
            store=store,
            clock=self.clock,
            metrics=self.metrics,
            bind=self._bind,
            may_act=self.acting,
        )
        # before the first poll is evaluated: running operations and cooldowns are known
        await self.operations.restore()
        self.runtime.actuator = RunnerActuator(self.operations)
        if self.settings.leader_election:
            # followers poll and act on nothing; _follow_leadership starts both once elected
            await self._start_election(self.settings.leader_election)
        else:
            self.metrics.leader.set(1)
            await self._sync_pollers()
            self.operations.resume_all()
        self._tasks.append(asyncio.create_task(self._watch(), name="policy-watch"))
        if self.settings.alertmanager_url:
            # alerts that fired before this start (issue 9 item 6; signals/alertmanager.py)
            self.alert_sync = AlertmanagerSync(
                url=self.settings.alertmanager_url,
                on_alerts=self._on_synced_alerts,
                clock=self.clock,
                metrics=self.metrics,
                interval=self.settings.alertmanager_sync_seconds,
            )
            task = asyncio.create_task(self.alert_sync.run(self._stopping), name="alert-sync")
            self._tasks.append(task)
        log.info(
            "listening",
            extra=fields(
                host=self.address[0],
                port=self.address[1],
                policies=sorted(self.runtime.policies),
                webhook_auth=list(self.auth.schemes) or ["none"],
                identity=self.identity,
                leader_election=self.settings.leader_election,
            ),
        )
        return self.address

    async def stop(self) -> None:
        self._stopping.set()
        if self.operations is not None:
            await self.operations.stop()  # stored at their phase; the next start resumes
        for key in list(self._groups):
            await self._stop_group(key)
        for t in self._tasks:  # the election task releases the Lease when cancelled
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self.forwarder is not None:
            await self.forwarder.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._kube is not None:
            with contextlib.suppress(Exception):
                await self._kube.close()


async def serve(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads policies. Returns the exit code."""
    try:
        auth = WebhookAuth.from_sources(
            token=settings.webhook_token.get_secret_value() if settings.webhook_token else None,
            token_file=settings.webhook_token_file,
            basic_user=settings.webhook_basic_user,
            basic_password_file=settings.webhook_basic_password_file,
            insecure_no_auth=settings.insecure_no_auth,
        )
    except ValueError as e:
        log.error(
            "webhook_auth_config",
            extra=fields(
                error=str(e),
                hint="flags: --webhook-token-file FILE, --webhook-basic-user USER with "
                "--webhook-basic-password-file FILE, or --insecure-no-auth",
            ),
        )
        return 2
    if auth.insecure:
        log.warning(
            "insecure_no_auth",
            extra=fields(
                detail="webhooks are accepted WITHOUT authentication (--insecure-no-auth)"
            ),
        )
    service = Service(settings=settings, auth=auth)
    result = service.load_initial()
    if not result.ok:
        log.error("policies_invalid", extra=fields(errors=[str(e) for e in result.errors]))
        return 2
    for w in result.warnings:
        log.warning("policy_warning", extra=fields(warning=str(w)))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(
        signal.SIGHUP, lambda: asyncio.ensure_future(service.reload(why="sighup"))
    )
    try:
        await service.start()
    except (StoreError, ValueError) as e:
        log.error("state_store_failed", extra=fields(error=str(e)))
        await service.stop()
        return 2
    except OSError as e:
        log.error("bind_failed", extra=fields(host=settings.host, port=settings.port, error=str(e)))
        return 1
    await stop.wait()
    log.info("shutting_down")
    await service.stop()
    log.info("stopped")
    return 0
