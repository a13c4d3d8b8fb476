"""``python -m bench [name ...]`` runs every benchmark (or the named ones) and prints figures."""

from __future__ import annotations

import importlib
import sys

BENCHES = ["webhook_bench", "backtest_bench", "poll_bench", "sim_bench"]


def main(argv: list[str]) -> int:
    names = argv or BENCHES
    for name in names:
        print(f"== {name}")
        module = importlib.import_module(f"bench.{name}")
        module.run()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
