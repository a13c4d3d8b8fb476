"""Deterministic inputs for the benches: a 30-day metrics file at 10 s resolution.

Why: the back-test figure must be measured on what users replay (a month of a busy tier, one
row per poll), and every run of the bench must replay the very same bytes, so the file is
generated from a fixed seed rather than downloaded or checked in (it is ~7.7 MiB).

The load has a daily cycle (quiet nights, busy afternoons), a few hours-long hot spells a week
that push CPU and heap over the shipped policy's scale-up thresholds, short spikes that must
*not* scale (they are shorter than the 5 min window), and ~0.1 % missing cells, so the
back-test exercises scale-ups, scale-downs, cooldowns and stale data.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

DAYS = 30
STEP = 10
START = 1_785_456_000  # 2026-07-31T00:00:00Z, a round epoch like examples/metrics/busy-day.csv
SEED = 20261128
COLUMNS = ("cpu.avg", "cpu.max", "heap.avg", "heap.max")


def rows_count(days: int = DAYS, step: int = STEP) -> int:
    return days * 86_400 // step


def write_month(path: Path, *, days: int = DAYS, step: int = STEP, seed: int = SEED) -> Path:
    """Write the metrics CSV to ``path`` (same bytes for the same arguments) and return it."""
    rng = random.Random(seed)
    hot_until = -1
    spike_until = -1
    lines = ["timestamp," + ",".join(COLUMNS)]
    for i in range(rows_count(days, step)):
        t = START + i * step
        day_frac = (t % 86_400) / 86_400
        base = 35 + 25 * math.sin(math.pi * 2 * (day_frac - 0.35))  # 10 … 60, peak mid-afternoon
        if i > hot_until and rng.random() < 1 / 6_000:  # a hot spell about every 17 h
            hot_until = i + rng.randint(360, 1_440)  # 1 to 4 hours
        if i > spike_until and rng.random() < 1 / 700:  # short spikes, 1 to 3 min
            spike_until = i + rng.randint(6, 18)
        cpu = base + rng.gauss(0, 3)
        heap = 40 + 0.5 * base + rng.gauss(0, 2)
        if i <= hot_until:
            cpu += 45
            heap += 30
        elif i <= spike_until:
            cpu += 40
        cpu = min(max(cpu, 1.0), 99.0)
        heap = min(max(heap, 20.0), 98.0)
        cells = [
            f"{cpu:.1f}",
            f"{min(cpu + abs(rng.gauss(8, 4)), 100.0):.1f}",
            f"{heap:.1f}",
            f"{min(heap + abs(rng.gauss(4, 2)), 100.0):.1f}",
        ]
        if rng.random() < 0.001:
            cells[rng.randrange(len(cells))] = ""
        lines.append(f"{t}," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
