"""Real kubectl 1.29 works against the twin: get, scale, events."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from k8s_kit import kubectl_or_skip

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return kubectl_or_skip()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with run_twin(
        nodes=3, indices=parse_indices_spec("logs:3x1:3gb"), kubeconfig_dir=tmp_path
    ) as twin:
        yield twin


async def kubectl_run(kubectl: Path, running: RunningTwin, *args: str) -> tuple[int, str, str]:
    # async subprocess: the twin serves from this very event loop
    cache = running.kubeconfig_path.parent / "kube-cache"
    proc = await asyncio.create_subprocess_exec(
        str(kubectl), "--kubeconfig", str(running.kubeconfig_path), "--cache-dir", str(cache),
        "--request-timeout", "20s", *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(running.kubeconfig_path.parent)},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_kubectl_gets_scales_and_lists_events(kubectl: Path, running: RunningTwin) -> None:
    code, out, err = await kubectl_run(kubectl, running, "get", "statefulsets", "-n", "elastic")
    assert code == 0, err
    assert out.split("\n")[0].split() == ["NAME", "READY", "AGE"]
    assert out.split("\n")[1].split()[:2] == ["es-data", "3/3"]

    code, out, err = await kubectl_run(
        kubectl, running, "scale", "statefulset/es-data", "--replicas=4", "-n", "elastic"
    )
    assert code == 0, err
    assert out.strip() == "statefulset.apps/es-data scaled"
    sts = running.twin.k8s.scale_of("elastic", "es-data")
    assert sts["spec"]["replicas"] == 4

    running.twin.advance(40)
    code, out, err = await kubectl_run(kubectl, running, "get", "events", "-n", "elastic")
    assert code == 0, err
    assert out.split("\n")[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "create Pod es-data-3 in StatefulSet es-data successful" in out
    assert "es-data-3" in running.twin.cluster.node_names()


async def test_kubectl_reports_not_found_like_a_real_server(
    kubectl: Path, running: RunningTwin
) -> None:
    code, _, err = await kubectl_run(
        kubectl, running, "get", "statefulset", "nope", "-n", "elastic"
    )
    assert code == 1
    assert 'Error from server (NotFound): statefulsets.apps "nope" not found' in err
