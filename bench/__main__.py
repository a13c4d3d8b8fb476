"""``python -m bench [name ...] [--json FILE]``: run every benchmark (or the named ones).

``make bench`` runs them all. Each prints its figures (ratios against a baseline measured in
the same run where one exists); ``--json FILE`` also writes every raw figure there.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from typing import Any

from bench import product_tree

BENCHES = ["webhook_bench", "poll_bench", "backtest_bench", "sim_bench"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", choices=[*BENCHES, []], metavar="NAME")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures here")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "tree": str(product_tree()),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for name in args.names or BENCHES:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        out = module.run()
        if isinstance(out, dict):
            results.update(out)
        print(flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
