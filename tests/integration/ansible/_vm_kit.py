"""Shared pieces of the VM-target tests: a VM-only twin (``sim --vm-nodes``), a policy file
whose playbooks sit next to it (paths relative to the policy file), and a Runner wired with
the real ``AnsibleTarget`` and elasticsearch-py."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import AsyncElasticsearch

from autoscaler.core.operation import Operation
from autoscaler.core.policy import Policy
from autoscaler.elastic.admin import EsAdmin
from autoscaler.metrics import Metrics
from autoscaler.operations.runner import Binding, Runner
from autoscaler.operations.store import FileStore
from autoscaler.policyfiles import load_policies
from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.server import RunningTwin, run_twin
from autoscaler.targets.ansible import AnsibleTarget, target_for

REPO = Path(__file__).resolve().parents[3]
TWIN_PLAYBOOKS = REPO / "ansible" / "twin"
TEST_PLAYBOOKS = Path(__file__).parent / "playbooks"
GIB = 2**30
SMALL_DATA = (
    IndexSpec("logs", 3, 1, 6 * GIB),
    IndexSpec("metrics", 2, 1, 2 * GIB),
    IndexSpec("scratch", 1, 0, 1 * GIB),  # no replica: an undrained removal loses it
)
SPEED = 50.0


@contextlib.asynccontextmanager
async def vm_twin(*, vm_nodes: int = 3, **kw: Any) -> AsyncIterator[RunningTwin]:
    async with run_twin(vm_nodes=vm_nodes, speed=SPEED, indices=SMALL_DATA, **kw) as twin:
        yield twin


def write_vm_policy(
    directory: Path,
    *,
    es_url: str,
    name: str = "vms",
    scale_up: Path | None = None,
    scale_down: Path | None = None,
    timeout: str = "2m",
    extra_vars: dict[str, Any] | None = None,
    safety: dict[str, Any] | None = None,
    bounds: tuple[int, int] = (1, 8),
    up: str | None = "{metric: cpu, aggregate: avg, above: 50, for: 1s}",
    down: str | None = None,
    poll: str = "300ms",
) -> Path:
    """A policy file in ``directory`` with the twin playbooks copied to ``../ansible`` and
    named relative to the policy file (as the README tells users to do; outside the policy
    directory, whose every YAML file is read as a policy)."""
    book = directory.parent / "ansible"
    book.mkdir(parents=True, exist_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    for src in (
        scale_up or TWIN_PLAYBOOKS / "scale-up.yml",
        scale_down or TWIN_PLAYBOOKS / "scale-down.yml",
    ):
        shutil.copy(src, book / src.name)
    shutil.copy(TWIN_PLAYBOOKS / "inventory.ini", book / "inventory.ini")
    doc: dict[str, Any] = {
        "name": name,
        "elasticsearch": {"url": es_url, "pollInterval": poll, "requestTimeout": "2s"},
        "nodes": {"roles": ["data"]},
        "target": {
            "ansible": {
                "scaleUp": f"../ansible/{(scale_up or TWIN_PLAYBOOKS / 'scale-up.yml').name}",
                "scaleDown": f"../ansible/{(scale_down or TWIN_PLAYBOOKS / 'scale-down.yml').name}",
                "inventory": "../ansible/inventory.ini",
                "extraVars": {"sim_url": es_url, "join_after": "20s"} | (extra_vars or {}),
                "timeout": timeout,
            }
        },
        "replicas": {"min": bounds[0], "max": bounds[1]},
        "safety": {"joinTimeout": "30s", "drainTimeout": "30s", "rebalanceTimeout": "60s"}
        | (safety or {}),
        "mode": "active",
    }
    if up:
        doc["scaleUp"] = {"when": yaml.safe_load(up), "step": 1, "cooldown": "1m"}
    if down:
        doc["scaleDown"] = {"when": yaml.safe_load(down), "step": 1, "cooldown": "10m"}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def load_one(path: Path) -> Policy:
    result = load_policies([path])
    assert result.ok, result.errors
    return result.policies[0].policy


@dataclass
class VmRig:
    twin: RunningTwin
    runner: Runner
    policy: Policy
    target: AnsibleTarget
    es: AsyncElasticsearch

    async def run(self, *, frm: int, to: int, deadline_s: float = 90.0) -> Operation:
        op = await self.runner.begin(policy=self.policy.name, from_replicas=frm, to_replicas=to)
        assert op is not None, "the runner declined to start"
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            for o in self.runner.operations():
                if o.id == op.id and not o.running:
                    return o
            await _sleep(0.05)
        raise AssertionError(f"operation {op.id} did not end: {self.runner.operations()[:1]}")


def sleepers(seconds: int) -> list[int]:
    """PIDs of running ``sleep SECONDS`` processes (each test uses its own SECONDS)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[:2] == [b"sleep", str(seconds).encode()]:  # (a zombie has an empty cmdline)
            found.append(int(proc.name))
    return found


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


@contextlib.asynccontextmanager
async def vm_rig(twin: RunningTwin, policy_file: Path, state_dir: Path) -> AsyncIterator[VmRig]:
    policy = load_one(policy_file)
    es = AsyncElasticsearch(twin.es_url, request_timeout=5, max_retries=0)
    target = target_for(policy, policy_file=policy_file, output_dir=state_dir / "playbooks")

    async def bind(name: str) -> Binding | None:
        if name != policy.name:
            return None
        return Binding(policy=policy, target=target, admin=EsAdmin(es, server=None))

    runner = Runner(
        store=FileStore(state_dir),
        clock=time.time,
        metrics=Metrics(),
        bind=bind,
        poll_interval=0.1,
    )
    await runner.restore()
    try:
        yield VmRig(twin, runner, policy, target, es)
    finally:
        await runner.stop()
        await es.close()
