"""The ``/_sim`` control API: virtual vs real-time clocks, workload and its validation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from k8s_kit import api_for
from kubernetes_asyncio import client
from twin_kit import call

from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import run_twin

SMALL = parse_indices_spec("logs:2x1:1gb")


async def test_advance_is_refused_with_409_in_real_time_mode(tmp_path: Path) -> None:
    async with run_twin(nodes=1, indices=SMALL, speed=1.0, kubeconfig_dir=tmp_path) as running:
        status, body = await call(running, "POST", "/_sim/advance?seconds=5")
        assert status == 409
        assert "real time" in body["error"]
        _, state = await call(running, "GET", "/_sim/state")
        assert state["clock"] == {**state["clock"], "virtual": False, "speed": 1.0}


async def test_real_time_ticker_makes_new_pods_join_without_advance(tmp_path: Path) -> None:
    async with run_twin(
        nodes=2, indices=SMALL, speed=200.0, pod_ready_delay=30.0, kubeconfig_dir=tmp_path
    ) as running:
        running.twin.k8s.patch_scale("elastic", "es-data", "merge", {"spec": {"replicas": 3}})
        for _ in range(200):  # bounded wait: 30 simulated seconds take ~0.15 s at ×200
            if "es-data-2" in running.twin.cluster.node_names():
                break
            await asyncio.sleep(0.05)
        assert running.twin.cluster.node_names() == ["es-data-0", "es-data-1", "es-data-2"]


async def test_advance_needs_a_non_negative_number(tmp_path: Path) -> None:
    async with run_twin(nodes=1, indices=SMALL, kubeconfig_dir=tmp_path) as running:
        assert (await call(running, "POST", "/_sim/advance?seconds=-1"))[0] == 400
        assert (await call(running, "POST", "/_sim/advance?seconds=abc"))[0] == 400
        assert (await call(running, "POST", "/_sim/advance"))[0] == 400
        status, body = await call(running, "POST", "/_sim/advance", {"seconds": 2.5})
        assert (status, body["advanced"]) == (200, 2.5)


async def test_workload_with_profile_changes_at_the_given_offsets(tmp_path: Path) -> None:
    async with run_twin(nodes=1, indices=SMALL, kubeconfig_dir=tmp_path) as running:
        profile = [[60, 100, 10], {"at": 120, "search": 5, "index": 1}]
        status, _ = await call(
            running, "PUT", "/_sim/workload", {"search": 1, "index": 2, "profile": profile}
        )
        assert status == 200
        seen = []
        for _ in range(3):
            _, state = await call(running, "GET", "/_sim/state")
            seen.append(state["elasticsearch"]["workload"])
            await call(running, "POST", "/_sim/advance?seconds=60")
        assert seen == [
            {"search_per_s": 1.0, "index_per_s": 2.0},
            {"search_per_s": 100.0, "index_per_s": 10.0},
            {"search_per_s": 5.0, "index_per_s": 1.0},
        ]
        status, body = await call(running, "PUT", "/_sim/workload", {"search": "lots"})
        assert status == 400
        assert "search" in body["error"]


async def test_kubeconfig_carries_the_token_the_twin_can_require(tmp_path: Path) -> None:
    async with run_twin(
        nodes=1, indices=SMALL, kubeconfig_dir=tmp_path, require_token=True
    ) as running:
        async with await api_for(running.kubeconfig_path) as api:
            scale = await client.AppsV1Api(api).read_namespaced_stateful_set_scale(
                "es-data", "elastic"
            )
        assert scale.spec.replicas == 1
        url = f"{running.k8s_url}/apis/apps/v1/namespaces/elastic/statefulsets/es-data"
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 401
