"""The twin as ops run it: ``es-autoscaler sim`` (Elasticsearch + Kubernetes), one busy hour.

Why: ops rehearse policies against the twin and the integration suite leans on it, so what
counts is the full model behind the ``sim`` command — the Elasticsearch cluster (allocator,
recoveries, load model) *and* the Kubernetes model (StatefulSet, pods, PVCs, leases) — not the
ES half alone. The bench starts the real command as a separate process with a virtual clock,
scales its StatefulSet up by 10 % through the Kubernetes API (pods start, ES nodes join, shards
rebalance) under a steady workload, and times ``POST /_sim/advance?seconds=3600``: one
simulated hour at 1 s resolution, at 100 nodes / 5,000 shard copies and 300 nodes / 15,000.

The baseline measured in the same run is a bare Python loop doing one dict update per node per
simulated second (the least any per-second model must do); the ratio is printed beside the
wall time. Bounded: every request has a timeout and the process is terminated in ``finally``.

Run: ``python -m bench sim_bench``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import product_tree
from bench.processes import running, wait_json_line

HOUR = 3600
SIZES = (100, 300)
COPIES_PER_NODE = 50
INDICES = 50


def _indices_spec(nodes: int) -> str:
    primaries = COPIES_PER_NODE * nodes // (2 * INDICES)  # one replica: two copies each
    return ",".join(f"logs-{i:02d}:{primaries}x1:{primaries}gb" for i in range(INDICES))


def _request(
    method: str, url: str, body: dict[str, Any] | None, *, ctype: str, timeout: float
) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def _baseline(nodes: int) -> float:
    state = {f"n{i}": {"a": 0.0, "b": 0.0, "c": 0.0} for i in range(nodes)}
    t0 = time.perf_counter()
    for _ in range(HOUR):
        for d in state.values():
            d["a"] += 1.0
            d["b"] += d["a"] * 0.5
            d["c"] = max(d["c"], d["b"])
    return time.perf_counter() - t0


def hour(nodes: int, work: Path) -> dict[str, Any]:
    log = work / f"sim-{nodes}.log"
    args = [sys.executable, "-m", "autoscaler", "sim", "--virtual", "--nodes", str(nodes)]
    args += ["--indices", _indices_spec(nodes), "--kubeconfig-dir", str(work / f"kube-{nodes}")]
    args += ["--workload", f"{80 * nodes},{800 * nodes}"]
    with running(args, log, cwd=product_tree(), stop_timeout=30) as proc:
        twin = wait_json_line(log, "elasticsearch", proc, timeout=300)
        es, k8s = twin["elasticsearch"], twin["kubernetes"]
        started = time.perf_counter()
        _request(
            "POST", f"{es}/_sim/advance?seconds=60", None, ctype="application/json", timeout=600
        )
        settle = time.perf_counter() - started
        sts = f"{k8s}/apis/apps/v1/namespaces/elastic/statefulsets/es-data/scale"
        _request(
            "PATCH",
            sts,
            {"spec": {"replicas": nodes + nodes // 10}},
            ctype="application/merge-patch+json",
            timeout=60,
        )
        t0 = time.perf_counter()
        _request(
            "POST",
            f"{es}/_sim/advance?seconds={HOUR}",
            None,
            ctype="application/json",
            timeout=1800,
        )
        wall = time.perf_counter() - t0
        state = _request("GET", f"{es}/_sim/state", None, ctype="application/json", timeout=60)
    base = _baseline(nodes)
    return {
        "nodes": nodes,
        "wall_s": wall,
        "first_minute_s": settle,
        "baseline_s": base,
        "state": state,
    }


def _summary(state: Any) -> str:
    if not isinstance(state, dict):
        return ""
    keys = [k for k in ("clock", "health", "nodes", "pods", "relocations_completed") if k in state]
    return ", ".join(f"{k}={json.dumps(state[k])[:60]}" for k in keys)


def run() -> dict[str, Any]:
    out = []
    print(
        f"twin — `es-autoscaler sim --virtual` (ES + Kubernetes) as a process; StatefulSet scaled "
        f"+10 % then one simulated hour (POST /_sim/advance?seconds={HOUR}), {COPIES_PER_NODE} "
        "shard copies per node, steady workload"
    )
    with tempfile.TemporaryDirectory(prefix="esas-bench-") as tmp:
        for nodes in SIZES:
            r = hour(nodes, Path(tmp))
            out.append(r)
            print(
                f"  {nodes:>3} nodes / {COPIES_PER_NODE * nodes:,} copies: one hour in {r['wall_s']:6.2f} s wall "
                f"({HOUR / r['wall_s']:,.0f}× real time); bare per-node loop {r['baseline_s']:.2f} s, "
                f"ratio {r['wall_s'] / r['baseline_s']:.1f}×"
            )
            summary = _summary(r["state"])
            if summary:
                print(f"      after: {summary}")
    return {"sim": out}


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    run()
