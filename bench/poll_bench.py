"""Node-stats polling cost: bytes on the wire, and our processing against plain ``json.loads``.

Why: the poller asks only for the metric groups and fields its policies need (DESIGN §4), and
parses every poll of every cluster; on a 100-node cluster both the payload size and the CPU
per poll must stay small next to the unavoidable cost (decoding the JSON). Figures are ratios
measured side by side in one run (DESIGN §9), so they mean the same on any machine.

The 100-node body comes from the digital twin over HTTP (full ``GET /_nodes/stats`` vs the
poller's request); if the twin cannot be imported, from the real 8.4.2 capture's data node
replicated 100 times (then the filtered body is cut locally with the twin-independent rules
of ``filter_path``, i.e. the same fields, so the size ratio is still meaningful).

Run: ``python -m bench.poll_bench``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autoscaler.core.policy import AGGREGATES, METRICS
from autoscaler.signals.nodes import (
    aggregate,
    filter_path_for,
    index_metrics_for,
    needed_metric_groups,
    parse_node_stats,
    select_tier,
)

NODES = 100
KEYS = [(m, a) for m in METRICS for a in AGGREGATES]
CAPTURE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "elasticsearch"
    / "es-8.4.2_nodes_stats.json"
)


def _request_path() -> str:
    groups = ",".join(sorted(needed_metric_groups(KEYS)))
    idx = ",".join(index_metrics_for(KEYS))
    return f"/_nodes/stats/{groups}/{idx}?filter_path={','.join(filter_path_for(KEYS))}"


async def _from_twin() -> tuple[bytes, bytes, bytes, str]:
    import aiohttp
    from aiohttp import web

    from autoscaler.sim.clock import VirtualClock
    from autoscaler.sim.cluster import Cluster
    from autoscaler.sim.es_api import build_es_app

    clock = VirtualClock()
    cluster = Cluster(clock=clock, version="8.15.0", seed=1)
    for i in range(NODES):
        cluster.add_node(f"es-data-{i}", roles=("data_hot", "data_content", "ingest"))
    cluster.set_workload(search_per_s=40 * NODES, index_per_s=500 * NODES)
    cluster.run_for(20)
    runner = web.AppRunner(build_es_app(cluster), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(url + "/_nodes/stats") as r:
                full = await r.read()
            async with s.get(url + _request_path()) as r:
                filtered = await r.read()
            cluster.run_for(10)
            async with s.get(url + _request_path()) as r:
                filtered_later = await r.read()
    finally:
        await runner.cleanup()
    return full, filtered, filtered_later, "digital twin (ES 8.15 emulation)"


def _synthetic() -> tuple[bytes, bytes, bytes, str]:
    base = json.loads(CAPTURE.read_text())
    node = base["nodes"]["Klg1CjgMTouentQcJlRGuA"]
    body: dict[str, Any] = {
        "_nodes": {"total": NODES, "successful": NODES, "failed": 0},
        "nodes": {},
    }
    for i in range(NODES):
        n = copy.deepcopy(node)
        n["name"] = f"es-data-{i}"
        body["nodes"][f"node-{i:03d}"] = n
    later = copy.deepcopy(body)
    for n in later["nodes"].values():
        n["timestamp"] += 10_000
        n["indices"]["indexing"]["index_total"] += 5000
    full = json.dumps(body).encode()
    return (
        full,
        json.dumps(_cut(body)).encode(),
        json.dumps(_cut(later)).encode(),
        "synthetic: 8.4.2 capture × 100",
    )


def _cut(body: dict[str, Any]) -> dict[str, Any]:
    """Keep only the ``filter_path`` fields (``*`` = any one key), like the server would."""
    paths = [p.split(".") for p in filter_path_for(KEYS)]

    def keep(v: Any, pats: list[list[str]]) -> Any:
        if any(not p for p in pats):
            return v
        if not isinstance(v, dict):
            return None
        out = {}
        for k, child in v.items():
            rest = [p[1:] for p in pats if p and p[0] in ("*", k)]
            kept = keep(child, rest) if rest else None
            if kept not in (None, {}):
                out[k] = kept
        return out

    return keep(body, paths) or {}


def _best(fn: Callable[[], object], *, repeat: int = 7, number: int = 20) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return min(times)


def run() -> None:
    try:
        full, filtered, filtered_later, source = asyncio.run(_from_twin())
    except ImportError:
        full, filtered, filtered_later, source = _synthetic()

    prev_obj = json.loads(filtered)
    prev = {s.node_id: s for s in parse_node_stats(prev_obj)}
    full_obj = json.loads(full)
    later_obj = json.loads(filtered_later)

    def process(obj: Any) -> None:
        aggregate(select_tier(parse_node_stats(obj), roles=["data"]), prev, KEYS)

    # sanity: the row is complete (rates included) on the later filtered body
    row = aggregate(select_tier(parse_node_stats(later_obj), roles=["data"]), prev, KEYS)
    missing = sorted(f"{m}.{a}" for (m, a), v in row.items() if v is None)

    t_json_full = _best(lambda: json.loads(full))
    t_ours_full = _best(lambda: process(full_obj))
    t_json_filt = _best(lambda: json.loads(filtered_later), number=100)
    t_ours_filt = _best(lambda: process(later_obj), number=100)

    print(f"node-stats poll bench — {NODES} nodes, {len(KEYS)} keys, source: {source}")
    print(f"  request: GET {_request_path()[:90]}…")
    print(f"  full _nodes/stats body      {len(full):>10,} bytes")
    print(
        f"  filtered body (poller)      {len(filtered_later):>10,} bytes"
        f"   = {len(filtered_later) / len(full):.1%} of full ({len(full) / len(filtered_later):.0f}× smaller)"
    )
    print("  processing = parse_node_stats + select_tier + aggregate (all keys, rates included)")
    print(
        f"  full body:     json.loads {t_json_full * 1e3:8.3f} ms   ours {t_ours_full * 1e3:8.3f} ms"
        f"   ratio ours/json.loads {t_ours_full / t_json_full:.2f}"
    )
    print(
        f"  filtered body: json.loads {t_json_filt * 1e3:8.3f} ms   ours {t_ours_filt * 1e3:8.3f} ms"
        f"   ratio ours/json.loads {t_ours_filt / t_json_filt:.2f}"
    )
    print(
        "  whole poll CPU (json.loads + ours), filtered vs full json.loads alone: "
        f"{(t_json_filt + t_ours_filt) / t_json_full:.2f}"
    )
    if missing:
        print(f"  note: keys without a value on the second poll: {', '.join(missing)}")


if __name__ == "__main__":
    run()
