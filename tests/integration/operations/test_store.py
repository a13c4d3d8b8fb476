"""The operations store: the file backend on a real filesystem, the ConfigMap backend on the
twin's Kubernetes API (real kubernetes-asyncio, real resourceVersion conflicts)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _ops_kit import NS, fault, small_twin
from kubernetes_asyncio import client

from autoscaler.core.operation import Operation, Outcome, advance, start
from autoscaler.operations.store import ConfigMapStore, FileStore, StoredState, StoreError, fit
from autoscaler.targets.statefulset import make_api_client


def _op(op_id: str, target: str = "statefulset/elastic/es-data") -> Operation:
    return start(
        op_id=op_id,
        policy="p",
        target=target,
        from_replicas=3,
        to_replicas=4,
        members=("es-data-3",),
        now=100.0,
    ).op


def _confirmed(op: Operation, at: float) -> Operation:
    for _ in range(4):
        op = advance(op, Outcome("done", "ok"), now=at).op
    assert op.state == "confirmed"
    return op


async def test_file_store_keeps_running_operations_confirmations_and_history(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path / "state", keep=2)
    op = _op("a")
    await store.update(lambda s: s.with_operation(op))
    assert (await FileStore(tmp_path / "state").load()).running == {op.target: op}
    done = _confirmed(op, 500.0)
    await store.update(lambda s: s.with_operation(done))
    for i in range(3):
        await store.update(lambda s, i=i: s.with_operation(_confirmed(_op(f"x{i}", "t2"), 600 + i)))
    state = await FileStore(tmp_path / "state", keep=2).load()
    assert state.running == {}
    assert state.last_confirmed == {op.target: 500.0, "t2": 602.0}
    assert [o.id for o in state.finished] == ["x2", "x1"]  # newest first, at most keep
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["operations.json"]


async def test_file_store_refuses_a_corrupt_state_instead_of_forgetting_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "operations.json").write_text("{not json")
    with pytest.raises(StoreError, match="not JSON"):
        await FileStore(tmp_path).load()
    (tmp_path / "operations.json").write_text(json.dumps({"version": 99}))
    with pytest.raises(StoreError, match="version"):
        await FileStore(tmp_path).load()


async def test_configmap_store_creates_then_replaces_with_resource_version_and_retries_conflicts(
    tmp_path: Path,
) -> None:
    async with small_twin() as twin:
        kube = await make_api_client(kubeconfig=twin.kubeconfig_path)
        assert kube is not None
        try:
            a = ConfigMapStore(kube, namespace=NS, name="esas-state")
            b = ConfigMapStore(kube, namespace=NS, name="esas-state")
            assert await a.load() == StoredState()
            await a.update(lambda s: s.with_operation(_op("first", "t1")))
            # two writers at once: each re-reads on 409 and re-applies its change
            await asyncio.gather(
                a.update(lambda s: s.with_operation(_op("from-a", "ta"))),
                b.update(lambda s: s.with_operation(_op("from-b", "tb"))),
            )
            await fault(twin, {"type": "conflict", "count": 2})
            await a.update(lambda s: s.with_operation(_confirmed(_op("c", "t1"), 700.0)))
            state = await b.load()
            assert sorted(state.running) == ["ta", "tb"]
            assert state.last_confirmed == {"t1": 700.0}
            cm = await client.CoreV1Api(kube).read_namespaced_config_map("esas-state", NS)
            assert json.loads(cm.data["state.json"])["version"] == 1
        finally:
            await kube.close()


def test_serve_refuses_to_start_on_an_unreadable_state_rather_than_forget_operations(
    tmp_path: Path,
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(
        "name: p\nelasticsearch: {url: 'http://127.0.0.1:9'}\nreplicas: {min: 1, max: 3}\n"
        "scaleUp: {when: {metric: cpu, aggregate: avg, above: 80}, cooldown: 1m}\nmode: dry-run\n"
    )
    state = tmp_path / "state"
    state.mkdir()
    (state / "operations.json").write_text("{torn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESAS_")}
    env["KUBECONFIG"] = str(tmp_path / "none")
    proc = subprocess.run(
        [sys.executable, "-m", "autoscaler", "serve", "--policies", str(policies),
         "--host", "127.0.0.1", "--port", "0", "--insecure-no-auth", "--state-dir", str(state)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    failed = [e for e in events if e.get("event") == "state_store_failed"]
    assert len(failed) == 1
    assert "not JSON" in failed[0]["error"]


def test_a_state_too_big_for_a_configmap_drops_the_oldest_finished_operations_first() -> None:
    finished = tuple(_confirmed(_op(f"old-{i}", "t"), 100.0 + i) for i in range(40))[::-1]
    state = StoredState(running={"r": _op("running", "r")}, finished=finished, keep=100)
    full = len(json.dumps(state.to_dict(), sort_keys=True))
    kept, text = fit(state, limit=full // 3)
    assert len(text) <= full // 3
    assert kept.running == state.running
    assert kept.finished == state.finished[: len(kept.finished)]  # newest kept
    assert 0 < len(kept.finished) < 40
    assert fit(state, limit=full)[0] == state
