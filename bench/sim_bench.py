"""Benchmark of the twin's Elasticsearch half at the size the design targets.

Budget (DESIGN §9, brief): a 100-node cluster holding 5,000 shard copies must advance one
simulated hour at 1 s resolution in under 10 s on one core, and serve ``_nodes/stats`` in
under 50 ms. Figures are printed with a ratio against a baseline measured in the same run,
so they stay comparable across machines:

* the hour vs a bare Python loop doing one dict update per node per simulated second;
* ``_nodes/stats`` over HTTP vs ``json.dumps`` of the very same response dict.

Run: ``.venv/bin/python -m bench.sim_bench`` (or ``python bench/sim_bench.py``).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import Cluster
from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.es_api import EsApi, build_es_app
from autoscaler.sim.loadmodel import ALL_METRICS

GB = 2**30
NODES = 100
HOUR = 3600


def _cluster() -> Cluster:
    # 50 indices × 50 primaries × (1 + 1 replica) = 5,000 shard copies of 1 GB each
    indices = [IndexSpec(f"logs-{i:02d}", 50, 1, 50 * GB) for i in range(50)]
    cluster = Cluster(clock=VirtualClock(), seed=42, indices=indices)
    for i in range(NODES - 10):
        cluster.add_node(f"es-{i:03d}", disk_bytes=2000 * GB, heap_bytes=16 * GB)
    cluster.step(0)
    return cluster


def _baseline_loop() -> float:
    state = {f"n{i}": {"a": 0.0, "b": 0.0, "c": 0.0} for i in range(NODES)}
    t0 = time.perf_counter()
    for _ in range(HOUR):
        for d in state.values():
            d["a"] += 1.0
            d["b"] += d["a"] * 0.5
            d["c"] = max(d["c"], d["b"])
    return time.perf_counter() - t0


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


async def _http_stats(cluster: Cluster, path: str, n: int) -> tuple[list[float], int]:
    runner = web.AppRunner(build_es_app(cluster))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    times: list[float] = []
    size = 0
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(n):
                t0 = time.perf_counter()
                async with http.get(f"http://{host}:{port}{path}") as resp:
                    body = await resp.read()
                    assert resp.status == 200
                times.append(time.perf_counter() - t0)
                size = len(body)
    finally:
        await runner.cleanup()
    return times, size


def run() -> None:
    t0 = time.perf_counter()
    cluster = _cluster()
    layout_s = time.perf_counter() - t0
    copies = len(cluster.copies())
    print(f"layout: {NODES - 10} nodes, {copies} shard copies placed in {layout_s * 1000:.0f} ms")

    # one busy hour: 10 nodes join (rebalancing), one node drains, steady workload
    for i in range(NODES - 10, NODES):
        cluster.add_node(f"es-{i:03d}", disk_bytes=2000 * GB, heap_bytes=16 * GB)
    cluster.update_settings(persistent={"cluster.routing.allocation.exclude._name": "es-000"})
    cluster.set_workload(search_per_s=8000, index_per_s=80000)
    t0 = time.perf_counter()
    cluster.run_for(HOUR)
    hour_s = time.perf_counter() - t0
    base_s = _baseline_loop()
    print(
        f"advance 1 simulated hour (1 s steps, {NODES} nodes, {copies} copies): {hour_s:.2f} s wall "
        f"= {HOUR / hour_s:.0f}x real time; baseline bare loop {base_s:.3f} s; ratio {hour_s / base_s:.1f}x "
        f"[budget 10 s]"
    )
    print(
        f"  during that hour: {cluster.relocations_completed} relocations "
        f"({cluster.relocated_bytes / GB:.0f} GB), es-000 has {cluster.shards_on('es-000')} copies left"
    )

    api = EsApi(cluster)
    metrics = frozenset(ALL_METRICS)
    build: list[float] = []
    dumps: list[float] = []
    body: dict[str, Any] = {}
    for _ in range(25):
        t0 = time.perf_counter()
        body = api.nodes_stats_body(None, metrics, None)
        build.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        json.dumps(body, separators=(",", ":"))
        dumps.append(time.perf_counter() - t0)
    server = [b + d for b, d in zip(build, dumps, strict=True)]
    print(
        f"_nodes/stats server side (build + serialise): {_median_ms(server):.1f} ms "
        f"(build {_median_ms(build):.1f} ms); baseline json.dumps alone {_median_ms(dumps):.1f} ms; "
        f"ratio {_median_ms(server) / _median_ms(dumps):.1f}x [budget 50 ms]"
    )
    for path in (
        "/_nodes/stats",
        "/_nodes/stats/os,jvm,fs,thread_pool,indices?filter_path=nodes.*.os.cpu",
    ):
        times, size = asyncio.run(_http_stats(cluster, path, 25))
        print(
            f"GET {path} round trip incl. client read: median {_median_ms(times):.1f} ms "
            f"({size / 1024:.0f} KiB); ratio vs json.dumps {_median_ms(times) / _median_ms(dumps):.1f}x"
        )


if __name__ == "__main__":
    run()
