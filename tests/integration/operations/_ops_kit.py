"""Shared pieces of the operations tests: a small, fast twin and a Runner wired for real.

The twin runs in real time at a high speed factor, so joinTimeout/drainTimeout and the
twin's pod and recovery delays pass in about a second of wall time while the service and
runner keep using the ordinary wall clock and long-polls. The data set is small (a few GiB)
so relocations finish quickly, and it includes an index with ``number_of_replicas: 0`` —
the one that loses data (and turns red) if a node leaves undrained.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import AsyncElasticsearch
from kubernetes_asyncio import client
from twin_kit import eventually, sim

from autoscaler.core.operation import Operation
from autoscaler.core.policy import Policy
from autoscaler.elastic.admin import EsAdmin
from autoscaler.metrics import Metrics
from autoscaler.operations.runner import Binding, Runner
from autoscaler.operations.store import FileStore, Store
from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.server import RunningTwin, run_twin
from autoscaler.targets.statefulset import StatefulSetTarget, make_api_client

GIB = 2**30
SMALL_DATA = (
    IndexSpec("logs", 3, 1, 6 * GIB),
    IndexSpec("metrics", 2, 1, 2 * GIB),
    IndexSpec("scratch", 1, 0, 1 * GIB),  # no replica: an undrained removal loses it
)
SPEED = 50.0
NS, STS = "elastic", "es-data"


def policy_doc(
    *,
    es_url: str,
    name: str = "data",
    bounds: tuple[int, int] = (1, 6),
    up: str | None = "{metric: cpu, aggregate: avg, above: 50, for: 1s}",
    down: str | None = None,
    step: int = 1,
    safety: dict[str, Any] | None = None,
    mode: str = "active",
    poll: str = "300ms",
) -> str:
    doc: dict[str, Any] = {
        "name": name,
        "elasticsearch": {"url": es_url, "pollInterval": poll, "requestTimeout": "2s"},
        "nodes": {"roles": ["data"]},
        "target": {"statefulSet": {"namespace": NS, "name": STS}},
        "replicas": {"min": bounds[0], "max": bounds[1]},
        "safety": {"joinTimeout": "20s", "drainTimeout": "20s", "rebalanceTimeout": "30s"}
        | (safety or {}),
        "mode": mode,
    }
    if up:
        doc["scaleUp"] = {"when": yaml.safe_load(up), "step": step, "cooldown": "1m"}
    if down:
        doc["scaleDown"] = {"when": yaml.safe_load(down), "step": step, "cooldown": "10m"}
    return yaml.safe_dump(doc, sort_keys=False)


def make_policy(**kw: Any) -> Policy:
    return Policy.model_validate(yaml.safe_load(policy_doc(**kw)))


@contextlib.asynccontextmanager
async def small_twin(*, nodes: int = 3, **kw: Any) -> AsyncIterator[RunningTwin]:
    spec: dict[str, Any] = {
        "nodes": nodes,
        "speed": SPEED,
        "pod_ready_delay": 20.0,
        "pod_termination_delay": 10.0,
        "indices": SMALL_DATA,
    }
    async with run_twin(**(spec | kw)) as twin:
        yield twin


async def es_state(twin: RunningTwin) -> dict[str, Any]:
    state: dict[str, Any] = (await sim(twin, "GET", "/_sim/state"))["elasticsearch"]
    return state


async def fault(twin: RunningTwin, spec: dict[str, Any]) -> int:
    body = await sim(twin, "POST", "/_sim/faults", spec)
    return int(body["added"][0]["id"])


@dataclass
class Rig:
    """A Runner with a real StatefulSet target and EsAdmin against one twin."""

    twin: RunningTwin
    runner: Runner
    policy: Policy
    target: StatefulSetTarget
    es: AsyncElasticsearch
    kube: client.ApiClient
    metrics: Metrics

    async def run(self, *, to: int) -> Operation:
        """Start an operation from the current replicas to ``to``; wait until it ends."""
        current = await self.target.current_replicas()
        op = await self.runner.begin(policy=self.policy.name, from_replicas=current, to_replicas=to)
        assert op is not None, "the runner declined to start"
        return await self.finished(op.id)

    async def finished(self, op_id: str, deadline_s: float = 60.0) -> Operation:
        async def done() -> Operation | None:
            for o in self.runner.operations():
                if o.id == op_id and not o.running:
                    return o
            return None

        op: Operation = await eventually(
            done, what=f"operation {op_id} to end", deadline_s=deadline_s
        )
        return op

    async def events(self) -> list[Any]:
        evs = await client.CoreV1Api(self.kube).list_namespaced_event(NS)
        return [
            e
            for e in evs.items
            if e.involved_object.name == STS and e.source and e.source.component == "es-autoscaler"
        ]


@contextlib.asynccontextmanager
async def rig(
    twin: RunningTwin,
    policy: Policy,
    *,
    store: Store | None = None,
    state_dir: Path | None = None,
    failure_backoff: float = 60.0,
    es_call_timeout: float = 30.0,
) -> AsyncIterator[Rig]:
    kube = await make_api_client(kubeconfig=twin.kubeconfig_path)
    assert kube is not None
    es = AsyncElasticsearch(twin.es_url, request_timeout=5, max_retries=0)
    target = StatefulSetTarget(kube, namespace=NS, name=STS)
    metrics = Metrics()

    async def bind(name: str) -> Binding | None:
        return (
            Binding(
                policy=policy,
                target=target,
                admin=EsAdmin(es, server=None, call_timeout=es_call_timeout),
            )
            if (name == policy.name)
            else None
        )

    assert store is not None or state_dir is not None
    runner = Runner(
        store=store or FileStore(state_dir),  # type: ignore[arg-type]
        clock=time.time,
        metrics=metrics,
        bind=bind,
        poll_interval=0.1,
        failure_backoff=failure_backoff,
    )
    await runner.restore()
    try:
        yield Rig(twin, runner, policy, target, es, kube, metrics)
    finally:
        await runner.stop()
        await es.close()
        await kube.close()
