"""Engine cost in a back-test: one day of 30 s samples through ``backtest.run`` (one
``decide`` per sample, windows up to 30 min) against the baseline of only parsing that CSV,
measured in the same run. Prints evaluations/s and the ratio."""

from __future__ import annotations

import time
from pathlib import Path

from autoscaler import backtest
from autoscaler.policyfiles import load_policies

ROOT = Path(__file__).parents[1]


def run() -> None:
    text = (ROOT / "examples/metrics/busy-day.csv").read_text()
    policy = load_policies([ROOT / "policies/prod-data-cpu-heap.yaml"]).policies[0].policy
    rounds = 3
    t0 = time.perf_counter()
    for _ in range(rounds):
        table = backtest.parse_metrics_csv(text)
    parse = (time.perf_counter() - t0) / rounds
    t0 = time.perf_counter()
    for _ in range(rounds):
        backtest.run(policy, table, [], backtest.Settings(replicas=3, confirm_after=300))
    replay = (time.perf_counter() - t0) / rounds
    n = len(table.times)
    print(f"samples              : {n}")
    print(f"parse CSV (baseline) : {parse * 1000:8.1f} ms")
    print(f"replay through engine: {replay * 1000:8.1f} ms  ({n / replay:,.0f} evaluations/s)")
    print(f"ratio (replay/parse) : {replay / parse:8.2f}")
