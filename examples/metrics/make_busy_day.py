"""Regenerates busy-day.csv: one synthetic day of a data tier's load, sampled every 30 s.

Night idle, a morning ramp, a sustained midday peak with a heap-heavy indexing burst, an
evening decline. Deterministic (seeded), so the README's timeline never changes by accident.
Run: python examples/metrics/make_busy_day.py > examples/metrics/busy-day.csv
"""

import math
import random

START = 1_785_456_000  # 2026-07-31T00:00:00Z
rng = random.Random(7)
print("timestamp,cpu.avg,cpu.max,heap.avg,heap.max,disk.max")
for i in range(24 * 120):
    t = i * 30
    hour = t / 3600
    # load: 15% at night, peak ~88% from 10:00 to 15:00, smooth ramps
    day = 0.5 - 0.5 * math.cos(2 * math.pi * max(0.0, min(1.0, (hour - 6) / 14)))
    peak = 1.0 if 10 <= hour < 15 else 0.0
    cpu = 15 + 60 * day + 14 * peak + rng.uniform(-3, 3)
    heap = 45 + 30 * day + 12 * peak + rng.uniform(-2, 2)
    disk = 55 + 10 * (hour / 24) + rng.uniform(-0.5, 0.5)
    cells = [cpu, min(100, cpu + 8 + rng.uniform(0, 4)), heap, min(99, heap + 5), disk]
    print(f"{START + t}," + ",".join(f"{c:.1f}" for c in cells))
