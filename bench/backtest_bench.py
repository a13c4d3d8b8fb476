"""The 30-day back-test users run: wall time and peak memory of ``es-autoscaler backtest``.

Why: ops replay a month of a tier's metrics (one row per 10 s poll: 259,200 rows) through a
policy before shipping it. The bench runs the real command as a separate process on a file
generated deterministically (``bench/datasets.py``) and reports its wall time and peak RSS
(``wait4`` of that process), against the baseline of reading the same file with the ``csv``
module, measured in the same run, rounds interleaved.

Run: ``python -m bench backtest_bench``.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import product_env, product_tree
from bench.datasets import rows_count, write_month

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "prod-data-cpu-heap.yaml"
ROUNDS = 3


def csv_read(path: Path) -> float:
    t0 = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as f:
        for _ in csv.reader(f):
            pass
    return time.perf_counter() - t0


def _peak_rss(path: Path) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, last output line) of one ``es-autoscaler backtest``
    process, reaped with ``os.wait4`` for its own peak RSS (not the children's maximum)."""
    args = [sys.executable, "-m", "autoscaler", "backtest", "--policy", str(POLICY)]
    args += ["--metrics", str(path), "--replicas", "3", "--confirm-after", "5m"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=product_tree(), env=product_env())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"backtest failed ({proc.returncode}): {err.read().decode()[-2000:]}")
        lines = out.read().decode().strip().splitlines()
    return wall, usage.ru_maxrss * 1024, lines[-1] if lines else ""


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="esas-bench-") as tmp:
        path = write_month(Path(tmp) / "month.csv")
        size = path.stat().st_size
        walls, rss, csvs = [], [], []
        summary = ""
        for _ in range(ROUNDS):
            csvs.append(csv_read(path))
            wall, peak, summary = _peak_rss(path)
            walls.append(wall)
            rss.append(peak)
    ratios = [w / c for w, c in zip(walls, csvs, strict=True)]
    print(
        f"30-day back-test — {rows_count():,} rows at 10 s ({size / 2**20:.1f} MiB), "
        f"policy {POLICY.name}, `es-autoscaler backtest` as a process, {ROUNDS} rounds"
    )
    print(
        f"  wall time     {statistics.median(walls):6.2f} s (min {min(walls):.2f}, max {max(walls):.2f})"
    )
    print(f"  peak RSS      {statistics.median(rss) / 2**20:6.1f} MiB (max {max(rss) / 2**20:.1f})")
    print(f"  csv module    {statistics.median(csvs):6.2f} s to read the same file")
    print(
        f"  ratio backtest/csv read: {statistics.median(ratios):.1f}× (min {min(ratios):.1f}, max {max(ratios):.1f})"
    )
    print(f"  {summary}")
    return {
        "backtest": {
            "wall_s": walls,
            "peak_rss_bytes": rss,
            "csv_s": csvs,
            "ratio": ratios,
            "summary": summary,
        }
    }


if __name__ == "__main__":
    run()
