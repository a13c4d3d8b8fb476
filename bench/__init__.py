"""Benchmarks of the paths users run (issue 10); ``python -m bench`` / ``make bench``.

The product under test is this checkout, unless ``BENCH_TREE`` names another source tree of
it (e.g. ``git archive <commit> | tar -x -C /tmp/before``): then every product process the
benches start (``es-autoscaler serve``, ``backtest``, ``sim``) runs that tree's code, with the
same bench, load generator and data — which is how ``bench/RESULTS.md``'s "before" column is
measured.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def product_tree() -> Path:
    """The source tree whose ``autoscaler`` the product processes run (cwd for ``-m``)."""
    return Path(os.environ.get("BENCH_TREE", str(ROOT))).resolve()


def product_env() -> dict[str, str]:
    """Environment for a product process: no ``ESAS_*`` settings leak in from the caller, and
    ``autoscaler`` is imported from ``product_tree()``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESAS_")}
    env["PYTHONPATH"] = str(product_tree())
    return env
