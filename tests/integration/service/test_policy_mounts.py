"""The running service and its policy directory as Kubernetes mounts it (issue 9 items 1, 4).

A real Service on 127.0.0.1:0 (its policies poll an Elasticsearch address where nothing
listens: these tests are about files, not polls). The watcher notices kubelet's atomic
``..data`` swap, and re-reading even a large file never holds the event loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from loop_lag import loop_lag_probe

from autoscaler.metrics import Metrics
from autoscaler.service.serve import Service
from autoscaler.settings import Settings
from autoscaler.signals.webhook import WebhookAuth

POLICY = """
name: {name}
elasticsearch: {{url: "http://127.0.0.1:9", pollInterval: 30s}}
nodes: {{roles: [data]}}
replicas: {{min: 1, max: 5}}
scaleUp:
  when: {{alert: EsHighCpu{labels}}}
  cooldown: 5m
"""


def policy(name: str, *, labels: int = 0) -> str:
    extra = ", labels: {" + ", ".join(f"k{i}: v{i}" for i in range(labels)) + "}"
    return POLICY.format(name=name, labels=extra if labels else "")


def swap_data(root: Path, stamp: str, files: dict[str, str]) -> None:
    """What kubelet's AtomicWriter does on a ConfigMap update: a new hidden dir, an atomic
    rename of ``..data``, key symlinks that already point through ``..data``."""
    version = root / f"..{stamp}"
    version.mkdir()
    for key, text in files.items():
        (version / key).write_text(text)
    tmp = root / "..data_tmp"
    tmp.symlink_to(version.name)
    os.replace(tmp, root / "..data")
    for key in files:
        if not (root / key).is_symlink():
            (root / key).symlink_to(f"..data/{key}")


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    cm = tmp_path / "cm"
    cm.mkdir()
    swap_data(cm, "2026_01_01_00_00_00.1", {"p.yaml": policy("before")})
    settings = Settings(policies=cm, host="127.0.0.1", port=0, state_dir=tmp_path / "state")
    svc = Service(settings=settings, metrics=Metrics(), auth=WebhookAuth(insecure=True))
    result = svc.load_initial()
    assert result.ok, [str(e) for e in result.errors]
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


async def wait_for_policies(svc: Service, names: set[str], *, deadline_s: float = 20) -> None:
    end = time.monotonic() + deadline_s
    while set(svc.runtime.policies) != names:
        if time.monotonic() > end:
            pytest.fail(f"policies are {sorted(svc.runtime.policies)}, expected {sorted(names)}")
        await asyncio.sleep(0.05)


async def test_the_service_follows_kubelets_atomic_data_swap(service: Service) -> None:
    assert set(service.runtime.policies) == {"before"}
    cm = service.settings.policies
    swap_data(cm, "2026_01_01_00_01_00.2", {"p.yaml": policy("after")})
    await wait_for_policies(service, {"after"})


async def test_reloading_a_large_policy_file_never_blocks_the_event_loop(
    service: Service,
) -> None:
    cm = service.settings.policies
    big = policy("big", labels=15_000)  # ~ 230 KiB: on the loop this held it > 1 s
    assert len(big) < 1 << 20
    async with loop_lag_probe() as probe:
        swap_data(cm, "2026_01_01_00_01_00.2", {"p.yaml": big})
        await wait_for_policies(service, {"big"}, deadline_s=60)
    assert probe.samples > 10
