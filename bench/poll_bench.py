"""Node-stats poll processing at 1,000 nodes, against ``json.loads`` of the same bytes.

Why: the poller decodes and reads every poll of every cluster; the unavoidable part is
decoding the JSON, so our cost is stated as a ratio to the standard library's ``json.loads``
of the very same filtered body (DESIGN §9), measured interleaved in one run.

What is measured (what ``Poller._poll`` does with a body, with the functions it calls):

* ``decode``: the body through the Elasticsearch client's own serializer for the content type
  an 8.x server answers with (orjson since issue 10) — taken from a real ``make_client``;
* ``processing``: ``signals.poller.read_poll``, the function ``Poller._poll`` hands the
  decoded body to — ``parse_node_rows`` + ``read_tier_rows`` (tier selection and aggregates,
  one per distinct tier) + each policy's ``TierResult`` + the rows kept for the next poll's
  rates — for 50 policies on one tier (older trees, without ``read_poll``: a copy of their
  poller's path, ``parse_node_rows`` + ``read_tier_rows``, ``parse_node_stats`` +
  ``read_tiers`` or per-policy ``aggregate``);
* two key sets: the shipped ``prod-data-cpu-heap`` policy's keys (what its poll asks for) and
  every ``(metric, aggregate)`` (40 keys, rates included).

The 1,000-node bodies come from the digital twin over HTTP (the poller's exact request path);
two polls 10 s apart, so rates have a previous sample.

Run: ``python -m bench poll_bench``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autoscaler.core.observations import MetricKey
from autoscaler.core.policy import AGGREGATES, METRICS, ElasticsearchConnection
from autoscaler.elastic.client import make_client
from autoscaler.policyfiles import load_policies
from autoscaler.signals.nodes import (
    aggregate,
    filter_path_for,
    index_metrics_for,
    needed_metric_groups,
    parse_node_stats,
    select_tier,
)
from autoscaler.signals.poller import TierSubscription

try:
    from autoscaler.signals.nodes import read_tiers
except ImportError:  # a tree from before issue 10 (bench/__init__.py): its per-policy path
    read_tiers = None  # type: ignore[assignment]
try:  # the poller's path since the row reader (no NodeSample per node)
    from autoscaler.signals.nodes import parse_node_rows, read_tier_rows
except ImportError:  # an older tree: its poller read NodeSamples with read_tiers
    parse_node_rows = read_tier_rows = None  # type: ignore[assignment]
try:  # the poller's own processing function (no copy of it here to drift from it)
    from autoscaler.signals.poller import read_poll
except ImportError:  # an older tree: the copies of its path below
    read_poll = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
NODES = 1000
POLICIES = 50
ROUNDS = 7
COMPAT_MIMETYPE = "application/vnd.elasticsearch+json; compatible-with=8"
ALL_KEYS: list[MetricKey] = [(m, a) for m in METRICS for a in AGGREGATES]


def shipped_keys() -> list[MetricKey]:
    loaded = load_policies([ROOT / "policies" / "prod-data-cpu-heap.yaml"])
    return sorted(TierSubscription.for_policy(loaded.policies[0].policy).keys)


def request_path(keys: Sequence[MetricKey]) -> str:
    groups = ",".join(sorted(needed_metric_groups(keys)))
    idx = ",".join(index_metrics_for(keys))
    path = f"/_nodes/stats/{groups}"
    if idx and "indices" in groups:
        path += f"/{idx}"
    return f"{path}?filter_path={','.join(filter_path_for(keys))}"


async def twin_bodies(paths: Sequence[str]) -> list[tuple[bytes, bytes]]:
    """Two polls 10 simulated seconds apart of each path, from a 1,000-node twin."""
    import aiohttp
    from aiohttp import web

    from autoscaler.sim.clock import VirtualClock
    from autoscaler.sim.cluster import Cluster
    from autoscaler.sim.es_api import build_es_app

    cluster = Cluster(clock=VirtualClock(), version="8.15.0", seed=1)
    for i in range(NODES):
        cluster.add_node(f"es-data-{i}", roles=("data_hot", "data_content", "ingest"))
    cluster.set_workload(search_per_s=40 * NODES, index_per_s=500 * NODES)
    cluster.run_for(20)
    runner = web.AppRunner(build_es_app(cluster), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    first: list[bytes] = []
    second: list[bytes] = []
    try:
        async with aiohttp.ClientSession() as s:
            for path in paths:
                async with s.get(url + path) as r:
                    first.append(await r.read())
            cluster.run_for(10)
            for path in paths:
                async with s.get(url + path) as r:
                    second.append(await r.read())
    finally:
        await runner.cleanup()
    return list(zip(first, second, strict=True))


def _best(fn: Callable[[], object], number: int) -> tuple[float, float]:
    """Seconds per call of ``fn``, best of 3 runs of ``number`` calls: (wall clock, this
    thread's CPU time). Both clocks read the same runs. The CPU-time figure leaves out the time
    the thread waited for a core, which on a shared machine (2 cores, ~8 test runs) is most of
    the spread of the wall-clock ratios; it still includes what the neighbours cost us in
    caches. Every call here runs on this thread (json, orjson and ours), so both sides of each
    ratio are measured alike."""
    walls, cpus = [], []
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(number):
            fn()
        cpus.append((time.thread_time() - c0) / number)
        walls.append((time.perf_counter() - w0) / number)
    return min(walls), min(cpus)


def measure(name: str, keys: Sequence[MetricKey], before: bytes, body: bytes) -> dict[str, Any]:
    client = make_client(ElasticsearchConnection.model_validate({"url": "http://127.0.0.1:9"}))
    serializers = client.transport.serializers
    decode: Callable[[bytes], Any] = lambda b: serializers.loads(b, COMPAT_MIMETYPE)  # noqa: E731
    subs = [
        TierSubscription.of(f"p{i:02d}", roles=("data_hot", "data"), keys=keys)
        for i in range(POLICIES)
    ]
    tier_keys: dict[Any, set[MetricKey]] = {}
    for sub in subs:
        tier_keys.setdefault((sub.roles, sub.name_pattern), set()).update(sub.keys)
    previous = {s.node_id: s for s in parse_node_stats(decode(before))}
    obj = decode(body)

    def process() -> None:  # what Poller._poll does with a decoded body
        readings = read_tiers(parse_node_stats(obj), previous, tier_keys)
        for sub in subs:
            reading = readings[(sub.roles, sub.name_pattern)]
            {k: reading.row[k] for k in sub.keys}

    def process_rows() -> None:  # what Poller._poll does since the row reader
        readings = read_tier_rows(parse_node_rows(obj), previous_rows, tier_keys)
        for sub in subs:
            reading = readings[(sub.roles, sub.name_pattern)]
            {k: reading.row[k] for k in sub.keys}

    def process_before() -> None:  # the poller before issue 10: every policy on its own
        samples = parse_node_stats(obj)
        for sub in subs:
            tier = select_tier(samples, roles=sub.roles, name_pattern=sub.name_pattern)
            aggregate(tier, previous, sub.keys)

    def process_poll() -> None:  # what Poller._poll does, by calling what it calls
        read_poll(obj, previous=previous_rows, tier_keys=tier_keys, subscribers=subs)

    if read_tier_rows is not None:
        previous_rows = {r[0]: r for r in parse_node_rows(decode(before))}
        process = process_poll if read_poll is not None else process_rows
    elif read_tiers is None:
        process = process_before
    row = aggregate(select_tier(parse_node_stats(obj), roles=subs[0].roles), previous, keys)
    missing = sorted(f"{m}.{a}" for (m, a), v in row.items() if v is None)
    number = max(3, int(2e6 // len(body)))
    process_ratio: list[float] = []
    total_ratio: list[float] = []
    decode_ratio: list[float] = []
    process_cpu_ratio: list[float] = []
    fresh_ratio: list[float] = []

    def fresh() -> float:
        """``_best(process)`` (wall clock) on a body decoded just before each call, untimed:
        the poller processes the body it has just decoded, still in the CPU's caches, where
        ``_best(process)`` re-reads one body decoded long before (after the baseline's and the
        decoder's allocations have gone through the caches)."""
        nonlocal obj
        groups = []
        for _ in range(3):
            total = 0.0
            for _ in range(number):
                obj = decode(body)
                t0 = time.perf_counter()
                process()
                total += time.perf_counter() - t0
            groups.append(total / number)
        return min(groups)

    for _ in range(ROUNDS):  # interleaved: every round measures baseline and ours back to back
        base, base_cpu = _best(lambda: json.loads(body), number)
        dec, _ = _best(lambda: decode(body), number)
        ours, ours_cpu = _best(process, number)
        process_ratio.append(ours / base)
        decode_ratio.append(dec / base)
        total_ratio.append((dec + ours) / base)
        process_cpu_ratio.append(ours_cpu / base_cpu)
        fresh_ratio.append(fresh() / base)
    client_close = client.close()
    asyncio.run(client_close)
    return {
        "name": name,
        "keys": len(keys),
        "bytes": len(body),
        "json_loads_ms": base * 1e3,
        "processing": process_ratio,
        "processing_cpu_time": process_cpu_ratio,
        "processing_fresh_body": fresh_ratio,
        "decode": decode_ratio,
        "decode_plus_processing": total_ratio,
        "missing": missing,
        "serializer": type(serializers.get_serializer(COMPAT_MIMETYPE)).__name__,
    }


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}× (min {min(values):.2f}, max {max(values):.2f})"


def run() -> dict[str, Any]:
    shipped = shipped_keys()
    cases = [("shipped policy's keys", shipped), ("all keys", ALL_KEYS)]
    bodies = asyncio.run(twin_bodies([request_path(k) for _, k in cases]))
    out = []
    print(
        f"node-stats poll processing — {NODES} nodes (digital twin, ES 8.15), "
        f"{POLICIES} policies on one tier, {ROUNDS} interleaved rounds; ratios to json.loads"
    )
    for (name, keys), (before, body) in zip(cases, bodies, strict=True):
        r = measure(name, keys, before, body)
        out.append(r)
        print(
            f"  {name:<22} {r['keys']:>2} keys, {r['bytes']:>9,} bytes, json.loads "
            f"{r['json_loads_ms']:.2f} ms; decoder {r['serializer']}"
        )
        print(f"    processing (parse + tiers + rows) / json.loads: {_fmt(r['processing'])}")
        print(
            f"    same, on CPU time (thread_time) / json.loads:   {_fmt(r['processing_cpu_time'])}"
        )
        print(
            f"    same, each on a body just decoded (the poller): {_fmt(r['processing_fresh_body'])}"
        )
        print(f"    decode via the client's serializer / json.loads: {_fmt(r['decode'])}")
        print(
            f"    decode + processing / json.loads:               {_fmt(r['decode_plus_processing'])}"
        )
        if r["missing"]:
            print(f"    note: keys without a value: {', '.join(r['missing'])}")
    return {"poll": out}


if __name__ == "__main__":
    run()
