"""Node statistics derived from a workload, so the autoscaler sees believable signals.

The autoscaler decides from ``_nodes/stats``: CPU, load, heap, thread-pool queues and
rejections, disk, and rates derived from cumulative counters. A twin that returned
constants would let any policy pass. Here the data tier receives a workload (search
requests and indexed documents per second, optionally a step profile over time) which is
spread over the data nodes in proportion to the shard copies they hold; each node's
utilisation is ``share ÷ capacity``, so adding data nodes lowers per-node CPU.

Determinism: counters are integrated in ``advance`` from the same inputs, and the bounded
noise is a pure hash of ``(seed, node, whole second, channel)`` — no RNG state — so two
runs with the same seed and the same calls give identical stats, however often they are read.

Model (per data node, ``us`` = search share / search capacity, ``uw`` likewise for writes,
``u = us + uw``):

* ``os.cpu.percent`` ≈ 3 + 92·min(u, 1.05) ± 3, clamped to 0–100;
* load averages: exponential moving averages (60 s / 300 s / 900 s) of ``processors·min(u, 1.5)``;
* heap: 25 % + 45 %·min(u, 1.2) + a 10 % GC sawtooth ± 2, clamped to 99;
* thread pools: demand above capacity fills the queue (search 1000, write 10000 slots);
  demand beyond a full queue is rejected (``rejected`` counts it); the queue drains with spare
  capacity;
* ``query_total``/``index_total`` grow by the served requests; ``*_time_in_millis`` by served ×
  latency, latency rising as ``1 / (1 − u)`` plus queue wait;
* disk is not modelled here: it is what the cluster model says the node's shards occupy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SEARCH_QUEUE_SIZE = 1000
WRITE_QUEUE_SIZE = 10000


@dataclass(frozen=True)
class NodeCapacity:
    """What one data node can serve at 100 % utilisation."""

    search_per_s: float = 400.0
    index_per_s: float = 5000.0
    processors: int = 8


@dataclass(frozen=True)
class Workload:
    search_per_s: float
    index_per_s: float


@dataclass
class WorkloadSchedule:
    """A base workload plus steps ``(at_epoch_seconds, search_per_s, index_per_s)``.

    The value at time ``t`` is that of the last step whose time is ≤ ``t`` (else the base).
    """

    base: Workload = field(default_factory=lambda: Workload(100.0, 1000.0))
    steps: list[tuple[float, Workload]] = field(default_factory=list)

    def at(self, t: float) -> Workload:
        current = self.base
        for when, w in self.steps:
            if when <= t:
                current = w
            else:
                break
        return current


def _mix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def noise(seed: int, key: int, t: float, channel: int) -> float:
    """Deterministic noise in [-1, 1] for (seed, node key, whole second, channel)."""
    h = _mix64(seed * 1_000_003 ^ key * 7919 ^ int(t) * 104_729 ^ channel * 15_485_863)
    return (h / 0xFFFFFFFFFFFFFFFF) * 2.0 - 1.0


@dataclass
class NodeLoad:
    """Mutable per-node load state; floats internally, ints when rendered."""

    key: int
    started_at: float
    search_share: float = 0.0
    index_share: float = 0.0
    us: float = 0.0
    uw: float = 0.0
    load1: float = 0.0
    load5: float = 0.0
    load15: float = 0.0
    search_queue: float = 0.0
    write_queue: float = 0.0
    search_rejected: float = 0.0
    write_rejected: float = 0.0
    search_completed: float = 0.0
    write_completed: float = 0.0
    query_total: float = 0.0
    query_time_ms: float = 0.0
    fetch_total: float = 0.0
    fetch_time_ms: float = 0.0
    index_total: float = 0.0
    index_time_ms: float = 0.0
    gc_young: float = 0.0


class LoadModel:
    """Per-node load state advanced by the cluster model each simulated second."""

    def __init__(self, *, seed: int, capacity: NodeCapacity | None = None) -> None:
        self.seed = seed
        self.capacity = capacity or NodeCapacity()
        self.nodes: dict[str, NodeLoad] = {}

    def add(self, node_id: str, *, key: int, now: float) -> None:
        self.nodes[node_id] = NodeLoad(key=key, started_at=now)

    def remove(self, node_id: str) -> None:
        self.nodes.pop(node_id, None)

    def advance(self, dt: float, workload: Workload, shares: Mapping[str, float]) -> None:
        """Integrate ``dt`` seconds of ``workload`` spread by ``shares`` (fractions summing ≤ 1).

        Everything that depends only on a node's share (demand, utilisation, latency factors)
        is computed once per distinct share and shared by the nodes that have it — in a
        balanced cluster a handful of values for hundreds of nodes; an empty queue whose
        demand fits the capacity takes a fast path with the same arithmetic result.
        """
        if dt <= 0:
            return
        cap = self.capacity
        a1 = 1.0 - math.exp(-dt / 60.0)
        a5 = 1.0 - math.exp(-dt / 300.0)
        a15 = 1.0 - math.exp(-dt / 900.0)
        s_cap = cap.search_per_s * dt
        w_cap = cap.index_per_s * dt
        per_share: dict[float, tuple[float, ...]] = {}
        for node_id, st in self.nodes.items():
            share = shares.get(node_id, 0.0)
            g = per_share.get(share)
            if g is None:
                s_demand = workload.search_per_s * share
                w_demand = workload.index_per_s * share
                us = s_demand / cap.search_per_s
                uw = w_demand / cap.index_per_s
                g = (
                    s_demand,
                    w_demand,
                    us,
                    uw,
                    cap.processors * min(us + uw, 1.5),  # target load
                    4.0 / (1.0 - min(us, 0.95)),  # search latency factor (ms)
                    0.08 / (1.0 - min(uw, 0.95)),  # indexing latency factor (ms)
                    dt * (0.05 + 0.5 * min(us + uw, 1.5)),  # young GCs
                    s_demand * dt,  # search arrivals
                    w_demand * dt,  # write arrivals
                )
                per_share[share] = g
            s_demand, w_demand, us, uw, target, lat_s, lat_w, gc, s_arr, w_arr = g
            st.search_share = s_demand
            st.index_share = w_demand
            st.us, st.uw = us, uw
            st.load1 += (target - st.load1) * a1
            st.load5 += (target - st.load5) * a5
            st.load15 += (target - st.load15) * a15
            if st.search_queue == 0.0 and s_arr <= s_cap:
                s_served, s_rej = s_arr, 0.0
            else:
                s_served, s_rej = _queue_step(st, "search", s_demand, cap.search_per_s, dt)
            if st.write_queue == 0.0 and w_arr <= w_cap:
                w_served, w_rej = w_arr, 0.0
            else:
                w_served, w_rej = _queue_step(st, "write", w_demand, cap.index_per_s, dt)
            st.search_rejected += s_rej
            st.write_rejected += w_rej
            st.search_completed += s_served
            st.write_completed += w_served / 100.0  # bulk requests of ~100 docs
            wait_ms = st.search_queue / cap.search_per_s * 1000.0
            st.query_total += s_served
            st.query_time_ms += s_served * (lat_s + wait_ms)
            st.fetch_total += s_served * 0.8
            st.fetch_time_ms += s_served * 0.8 * 1.5
            st.index_total += w_served
            st.index_time_ms += w_served * lat_w
            st.gc_young += gc


def _queue_step(
    st: NodeLoad, pool: str, demand: float, capacity: float, dt: float
) -> tuple[float, float]:
    """Advance one pool's queue; return (served requests, rejected requests) over ``dt``."""
    qsize = SEARCH_QUEUE_SIZE if pool == "search" else WRITE_QUEUE_SIZE
    queue = st.search_queue if pool == "search" else st.write_queue
    arrived = demand * dt
    can_serve = capacity * dt
    backlog = queue + arrived
    served = min(backlog, can_serve)
    backlog -= served
    rejected = max(0.0, backlog - qsize)
    backlog -= rejected
    if pool == "search":
        st.search_queue = backlog
    else:
        st.write_queue = backlog
    return served, rejected


# --------------------------------------------------------------------------- stats document


@dataclass(frozen=True)
class NodeFacts:
    """What the cluster model knows about a node, handed to the stats renderer."""

    id: str
    name: str
    ip: str
    host: str
    roles: Sequence[str]
    attributes: Mapping[str, str]
    disk_total: int
    disk_used: int
    heap_max: int
    mem_total: int
    docs: int
    store_bytes: int
    shard_count: int
    is_data: bool
    recoveries_as_source: int
    recoveries_as_target: int


ALL_METRICS = (
    "indices",
    "os",
    "process",
    "jvm",
    "thread_pool",
    "fs",
    "transport",
    "http",
    "breaker",
    "script",
    "discovery",
    "ingest",
    "adaptive_selection",
    "script_cache",
    "indexing_pressure",
)

_OTHER_POOLS = (
    "analyze",
    "auto_complete",
    "ccr",
    "cluster_coordination",
    "fetch_shard_started",
    "fetch_shard_store",
    "flush",
    "force_merge",
    "generic",
    "get",
    "management",
    "ml_datafeed",
    "ml_job_comms",
    "ml_utility",
    "refresh",
    "rollup_indexing",
    "search_throttled",
    "searchable_snapshots_cache_fetch_async",
    "searchable_snapshots_cache_prewarming",
    "security-crypto",
    "security-token-key",
    "snapshot",
    "snapshot_meta",
    "system_critical_read",
    "system_critical_write",
    "system_read",
    "system_write",
    "warmer",
    "watcher",
)


_BREAKERS_8 = (
    ("model_inference", 50),
    ("eql_sequence", 50),
    ("fielddata", 40),
    ("request", 60),
    ("inflight_requests", 100),
    ("parent", 95),
)
_BREAKERS_7 = (
    ("request", 60),
    ("fielddata", 40),
    ("in_flight_requests", 100),
    ("model_inference", 50),
    ("accounting", 100),
    ("parent", 95),
)


_IDLE_POOL = {"threads": 1, "queue": 0, "active": 0, "rejected": 0, "largest": 1, "completed": 0}
_EMPTY_POOL = {"threads": 0, "queue": 0, "active": 0, "rejected": 0, "largest": 0, "completed": 0}


def _pool(threads: int, queue: int, active: int, rejected: int, completed: int) -> dict[str, int]:
    return {
        "threads": threads,
        "queue": queue,
        "active": active,
        "rejected": rejected,
        "largest": threads,
        "completed": completed,
    }


def node_stats_doc(
    facts: NodeFacts,
    load: NodeLoad,
    *,
    model: LoadModel,
    now: float,
    major: int,
    metrics: frozenset[str],
) -> dict[str, Any]:
    """One node's entry under ``nodes`` in a ``_nodes/stats`` response (8.4.2 layout; 7.x shape for major 7)."""
    cap = model.capacity
    seed = model.seed
    k = load.key
    ts = int(now * 1000)
    doc: dict[str, Any] = {
        "timestamp": ts,
        "name": facts.name,
        "transport_address": f"{facts.ip}:9300",
        "host": facts.host,
        "ip": f"{facts.ip}:9300",
        "roles": list(facts.roles),
        "attributes": dict(facts.attributes),
    }
    u = load.us + load.uw
    uptime_ms = int(max(0.0, now - load.started_at) * 1000) + 60_000
    if "indices" in metrics:
        doc["indices"] = _indices_section(facts, load)
    if "os" in metrics:
        cpu = round(3 + 92 * min(u, 1.05) + 3 * noise(seed, k, now, 1))
        cpu = max(0, min(100, cpu))
        mem_total = facts.mem_total
        used_pct = max(1, min(99, int(70 + 20 * min(u, 1.0) + 2 * noise(seed, k, now, 2))))
        mem_used = mem_total * used_pct // 100
        os_doc: dict[str, Any] = {
            "timestamp": ts,
            "cpu": {
                "percent": cpu,
                "load_average": {
                    "1m": round(load.load1 + 0.05 * abs(noise(seed, k, now, 3)), 2),
                    "5m": round(load.load5, 2),
                    "15m": round(load.load15, 2),
                },
            },
            "mem": {
                "total_in_bytes": mem_total,
                "free_in_bytes": mem_total - mem_used,
                "used_in_bytes": mem_used,
                "free_percent": 100 - used_pct,
                "used_percent": used_pct,
            },
            "swap": {"total_in_bytes": 0, "free_in_bytes": 0, "used_in_bytes": 0},
            "cgroup": {
                "cpuacct": {
                    "control_group": "/",
                    "usage_nanos": uptime_ms * 1_000_000 * max(1, int(u * 4)),
                },
                "cpu": {
                    "control_group": "/",
                    "cfs_period_micros": 100000,
                    "cfs_quota_micros": cap.processors * 100000,
                    "stat": {
                        "number_of_elapsed_periods": uptime_ms * 10,
                        "number_of_times_throttled": 0,
                        "time_throttled_nanos": 0,
                    },
                },
                "memory": {
                    "control_group": "/",
                    "limit_in_bytes": str(mem_total),
                    "usage_in_bytes": str(mem_used),
                },
            },
        }
        if major >= 8:
            os_doc["mem"] = {
                "total_in_bytes": mem_total,
                "adjusted_total_in_bytes": mem_total,
                **{k2: v for k2, v in os_doc["mem"].items() if k2 != "total_in_bytes"},
            }
        doc["os"] = os_doc
    if "process" in metrics:
        doc["process"] = {
            "timestamp": ts,
            "open_file_descriptors": 600 + facts.shard_count * 30,
            "max_file_descriptors": 1048576,
            "cpu": {
                "percent": max(0, min(100, round(2 + 90 * min(u, 1.05)))),
                "total_in_millis": int(uptime_ms * (0.05 + min(u, 1.0))),
            },
            "mem": {"total_virtual_in_bytes": facts.heap_max * 3 + facts.store_bytes // 4},
        }
    if "jvm" in metrics:
        saw = ((now / 37.0) % 1.0) * 10.0
        heap_pct = 25 + 45 * min(u, 1.2) + saw + 2 * noise(seed, k, now, 4)
        heap_pct_i = max(1, min(99, int(heap_pct)))
        heap_used = facts.heap_max * heap_pct_i // 100
        young = heap_used // 5
        doc["jvm"] = {
            "timestamp": ts,
            "uptime_in_millis": uptime_ms,
            "mem": {
                "heap_used_in_bytes": heap_used,
                "heap_used_percent": heap_pct_i,
                "heap_committed_in_bytes": facts.heap_max,
                "heap_max_in_bytes": facts.heap_max,
                "non_heap_used_in_bytes": 180_000_000,
                "non_heap_committed_in_bytes": 190_000_000,
                "pools": {
                    "young": _mem_pool(young, 0),
                    "old": _mem_pool(heap_used - young - young // 8, facts.heap_max),
                    "survivor": _mem_pool(young // 8, 0),
                },
            },
            "threads": {"count": 80 + cap.processors * 4, "peak_count": 90 + cap.processors * 4},
            "gc": {
                "collectors": {
                    "young": {
                        "collection_count": int(load.gc_young),
                        "collection_time_in_millis": int(load.gc_young * 12),
                    },
                    "old": {"collection_count": 0, "collection_time_in_millis": 0},
                }
            },
            "buffer_pools": {
                "mapped": {
                    "count": facts.shard_count * 20,
                    "used_in_bytes": facts.store_bytes,
                    "total_capacity_in_bytes": facts.store_bytes,
                },
                "direct": {
                    "count": 60,
                    "used_in_bytes": 4_000_000,
                    "total_capacity_in_bytes": 4_000_000,
                },
                "mapped - 'non-volatile memory'": {
                    "count": 0,
                    "used_in_bytes": 0,
                    "total_capacity_in_bytes": 0,
                },
            },
            "classes": {
                "current_loaded_count": 30000,
                "total_loaded_count": 30500,
                "total_unloaded_count": 500,
            },
        }
    if "thread_pool" in metrics:
        s_threads = cap.processors * 3 // 2 + 1
        w_threads = cap.processors
        pools: dict[str, Any] = {}
        for name in _OTHER_POOLS:
            pools[name] = _IDLE_POOL  # shared, never mutated: saves building ~30 dicts per node
        pools["search"] = _pool(
            s_threads,
            int(load.search_queue),
            min(s_threads, round(s_threads * min(load.us, 1.0))),
            int(load.search_rejected),
            int(load.search_completed),
        )
        pools["write"] = _pool(
            w_threads,
            int(load.write_queue),
            min(w_threads, round(w_threads * min(load.uw, 1.0))),
            int(load.write_rejected),
            int(load.write_completed),
        )
        if major >= 8:
            pools["search_coordination"] = _pool(
                cap.processors // 2, 0, 0, 0, int(load.search_completed)
            )
            for name in (
                "azure_event_loop",
                "ml_native_inference_comms",
                "repository_azure",
                "vector_tile_generation",
            ):
                pools[name] = _EMPTY_POOL
        else:
            for name in ("listener", "transform_indexing"):
                pools[name] = _IDLE_POOL
        doc["thread_pool"] = dict(sorted(pools.items()))
    if "fs" in metrics:
        free = max(0, facts.disk_total - facts.disk_used)
        doc["fs"] = {
            "timestamp": ts,
            "total": {
                "total_in_bytes": facts.disk_total,
                "free_in_bytes": free,
                "available_in_bytes": free,
            },
            "data": [
                {
                    "path": "/usr/share/elasticsearch/data",
                    "mount": "/usr/share/elasticsearch/data (/dev/nvme1n1)",
                    "type": "ext4",
                    "total_in_bytes": facts.disk_total,
                    "free_in_bytes": free,
                    "available_in_bytes": free,
                }
            ],
            "io_stats": {
                "devices": [
                    {
                        "device_name": "nvme1n1",
                        "operations": int(load.query_total + load.index_total),
                        "read_operations": int(load.query_total),
                        "write_operations": int(load.index_total),
                        "read_kilobytes": int(load.query_total * 8),
                        "write_kilobytes": int(load.index_total * 2),
                        "io_time_in_millis": int(load.query_time_ms / 10),
                    }
                ],
                "total": {
                    "operations": int(load.query_total + load.index_total),
                    "read_operations": int(load.query_total),
                    "write_operations": int(load.index_total),
                    "read_kilobytes": int(load.query_total * 8),
                    "write_kilobytes": int(load.index_total * 2),
                    "io_time_in_millis": int(load.query_time_ms / 10),
                },
            },
        }
    if "transport" in metrics:
        rx = int(load.query_total * 3 + load.index_total)
        tr: dict[str, Any] = {
            "server_open": 24,
            "total_outbound_connections": 9,
            "rx_count": rx,
            "rx_size_in_bytes": rx * 2048,
            "tx_count": rx,
            "tx_size_in_bytes": rx * 1024,
        }
        if major >= 8:
            tr["inbound_handling_time_histogram"] = [
                {"lt_millis": 1, "count": rx - rx // 20},
                {"ge_millis": 1, "lt_millis": 2, "count": rx // 20},
            ]
            tr["outbound_handling_time_histogram"] = [
                {"lt_millis": 1, "count": rx - rx // 20},
                {"ge_millis": 1, "lt_millis": 2, "count": rx // 20},
            ]
        doc["transport"] = tr
    if "http" in metrics:
        doc["http"] = {
            "current_open": 12,
            "total_opened": 100 + int(load.search_completed // 1000),
            "clients": [],
        }
    if "breaker" in metrics:
        doc["breakers"] = {
            name: {
                "limit_size_in_bytes": facts.heap_max * pct // 100,
                "limit_size": f"{facts.heap_max * pct // 100 / 2**30:.1f}gb",
                "estimated_size_in_bytes": 0,
                "estimated_size": "0b",
                "overhead": 1.0 if name != "fielddata" else 1.03,
                "tripped": 0,
            }
            for name, pct in (_BREAKERS_8 if major >= 8 else _BREAKERS_7)
        }
    if "script" in metrics:
        doc["script"] = {"compilations": 10, "cache_evictions": 0, "compilation_limit_triggered": 0}
    if "discovery" in metrics:
        doc["discovery"] = {
            "cluster_state_queue": {"total": 0, "pending": 0, "committed": 0},
            "published_cluster_states": {
                "full_states": 2,
                "incompatible_diffs": 0,
                "compatible_diffs": 100,
            },
        }
    if "ingest" in metrics:
        doc["ingest"] = {
            "total": {"count": 0, "time_in_millis": 0, "current": 0, "failed": 0},
            "pipelines": {},
        }
    if "adaptive_selection" in metrics:
        doc["adaptive_selection"] = {}
    if "script_cache" in metrics:
        doc["script_cache"] = {
            "sum": {"compilations": 10, "cache_evictions": 0, "compilation_limit_triggered": 0},
            "contexts": [
                {
                    "context": ctx,
                    "compilations": n,
                    "cache_evictions": 0,
                    "compilation_limit_triggered": 0,
                }
                for ctx, n in (
                    ("aggs", 0),
                    ("field", 2),
                    ("filter", 0),
                    ("score", 8),
                    ("update", 0),
                )
            ],
        }
    if "indexing_pressure" in metrics:
        doc["indexing_pressure"] = {
            "memory": {
                "current": {
                    "combined_coordinating_and_primary_in_bytes": 0,
                    "coordinating_in_bytes": 0,
                    "primary_in_bytes": 0,
                    "replica_in_bytes": 0,
                    "all_in_bytes": 0,
                },
                "total": {
                    "combined_coordinating_and_primary_in_bytes": int(load.index_total * 300),
                    "coordinating_in_bytes": int(load.index_total * 150),
                    "primary_in_bytes": int(load.index_total * 150),
                    "replica_in_bytes": int(load.index_total * 150),
                    "all_in_bytes": int(load.index_total * 450),
                    "coordinating_rejections": 0,
                    "primary_rejections": 0,
                    "replica_rejections": 0,
                },
                "limit_in_bytes": facts.heap_max // 10,
            }
        }
    return doc


def _mem_pool(used: int, max_: int) -> dict[str, int]:
    return {
        "used_in_bytes": used,
        "max_in_bytes": max_,
        "peak_used_in_bytes": max(used, max_ // 2),
        "peak_max_in_bytes": max_,
    }


def _indices_section(facts: NodeFacts, load: NodeLoad) -> dict[str, Any]:
    q = int(load.query_total)
    it = int(load.index_total)
    return {
        "docs": {"count": facts.docs, "deleted": facts.docs // 1000},
        "shard_stats": {"total_count": facts.shard_count},
        "store": {
            "size_in_bytes": facts.store_bytes,
            "total_data_set_size_in_bytes": facts.store_bytes,
            "reserved_in_bytes": 0,
        },
        "indexing": {
            "index_total": it,
            "index_time_in_millis": int(load.index_time_ms),
            "index_current": int(load.write_queue > 0),
            "index_failed": int(load.write_rejected),
            "delete_total": it // 1000,
            "delete_time_in_millis": it // 10000,
            "delete_current": 0,
            "noop_update_total": 0,
            "is_throttled": False,
            "throttle_time_in_millis": 0,
        },
        "get": {
            "total": q // 100,
            "time_in_millis": q // 500,
            "exists_total": q // 100,
            "exists_time_in_millis": q // 500,
            "missing_total": 0,
            "missing_time_in_millis": 0,
            "current": 0,
        },
        "search": {
            "open_contexts": 0,
            "query_total": q,
            "query_time_in_millis": int(load.query_time_ms),
            "query_current": int(min(load.search_queue, 1e9)),
            "fetch_total": int(load.fetch_total),
            "fetch_time_in_millis": int(load.fetch_time_ms),
            "fetch_current": 0,
            "scroll_total": 0,
            "scroll_time_in_millis": 0,
            "scroll_current": 0,
            "suggest_total": 0,
            "suggest_time_in_millis": 0,
            "suggest_current": 0,
        },
        "merges": {
            "current": 0,
            "current_docs": 0,
            "current_size_in_bytes": 0,
            "total": it // 50000,
            "total_time_in_millis": it // 100,
            "total_docs": it,
            "total_size_in_bytes": it * 500,
            "total_stopped_time_in_millis": 0,
            "total_throttled_time_in_millis": 0,
            "total_auto_throttle_in_bytes": 20971520 * max(1, facts.shard_count),
        },
        "refresh": {
            "total": it // 1000,
            "total_time_in_millis": it // 200,
            "external_total": it // 1000,
            "external_total_time_in_millis": it // 200,
            "listeners": 0,
        },
        "flush": {
            "total": it // 100000,
            "periodic": it // 100000,
            "total_time_in_millis": it // 1000,
        },
        "warmer": {"current": 0, "total": it // 1000, "total_time_in_millis": it // 10000},
        "query_cache": {
            "memory_size_in_bytes": 0,
            "total_count": q,
            "hit_count": q // 8,
            "miss_count": q - q // 8,
            "cache_size": 0,
            "cache_count": 0,
            "evictions": 0,
        },
        "fielddata": {"memory_size_in_bytes": 0, "evictions": 0},
        "completion": {"size_in_bytes": 0},
        "segments": {
            "count": facts.shard_count * 20,
            "memory_in_bytes": 0,
            "terms_memory_in_bytes": 0,
            "stored_fields_memory_in_bytes": 0,
            "term_vectors_memory_in_bytes": 0,
            "norms_memory_in_bytes": 0,
            "points_memory_in_bytes": 0,
            "doc_values_memory_in_bytes": 0,
            "index_writer_memory_in_bytes": 0,
            "version_map_memory_in_bytes": 0,
            "fixed_bit_set_memory_in_bytes": 0,
            "max_unsafe_auto_id_timestamp": -1,
            "file_sizes": {},
        },
        "translog": {
            "operations": 0,
            "size_in_bytes": 55 * max(1, facts.shard_count),
            "uncommitted_operations": 0,
            "uncommitted_size_in_bytes": 55 * max(1, facts.shard_count),
            "earliest_last_modified_age": 0,
        },
        "request_cache": {
            "memory_size_in_bytes": 0,
            "evictions": 0,
            "hit_count": 0,
            "miss_count": 0,
        },
        "recovery": {
            "current_as_source": facts.recoveries_as_source,
            "current_as_target": facts.recoveries_as_target,
            "throttle_time_in_millis": 0,
        },
        "bulk": {
            "total_operations": it // 100,
            "total_time_in_millis": int(load.index_time_ms),
            "total_size_in_bytes": it * 500,
            "avg_time_in_millis": 0,
            "avg_size_in_bytes": 0,
        },
    }
