"""The 30-day back-test users run: wall time and peak memory of ``es-autoscaler backtest``.

Why: ops replay a month of a tier's metrics (one row per 10 s poll: 259,200 rows) through a
policy before shipping it. The bench runs the real command as a separate process on a file
generated deterministically (``bench/datasets.py``) and reports its wall time and peak RSS
(the process's own ``VmHWM``, see ``_WRAPPER``), against the baseline of reading the same file
with the ``csv`` module, measured in the same run, rounds interleaved.

Run: ``python -m bench backtest_bench``.
"""

from __future__ import annotations

import csv
import re
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


# The child reports its own peak: ``ru_maxrss`` from ``wait4`` would include the parent's
# RSS (Linux records the pre-exec memory's high-water mark into the child's maxrss), and this
# bench's parent holds other benches' data. ``VmHWM`` belongs to the exec'd image alone.
_WRAPPER = """
import atexit, runpy, sys
def _hwm():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    sys.stderr.write('BENCH_VMHWM_KB ' + line.split()[1] + chr(10))
    except OSError:
        pass
atexit.register(_hwm)
sys.argv = ['es-autoscaler', *sys.argv[1:]]
runpy.run_module('autoscaler', run_name='__main__', alter_sys=True)
"""


def _peak_rss(path: Path) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, last output line) of one ``es-autoscaler backtest``
    process (the same as ``python -m autoscaler backtest``, plus a report of its peak RSS)."""
    args = [sys.executable, "-c", _WRAPPER, "backtest", "--policy", str(POLICY)]
    args += ["--metrics", str(path), "--replicas", "3", "--confirm-after", "5m"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        args, capture_output=True, cwd=product_tree(), env=product_env(), timeout=900, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"backtest failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    m = re.search(rb"BENCH_VMHWM_KB (\d+)", proc.stderr)
    if not m:
        raise SystemExit("the back-test process did not report its peak RSS (no /proc?)")
    lines = proc.stdout.decode().strip().splitlines()
    return wall, int(m.group(1)) * 1024, lines[-1] if lines else ""


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
