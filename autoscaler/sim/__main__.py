"""``python -m autoscaler.sim [options]``: the ``sim`` command without the main CLI.

Lets tests and ops start the twin before (or without) ``es-autoscaler``'s own CLI wiring.
"""

from __future__ import annotations

import argparse
import sys

from autoscaler.sim.simcli import add_sim_arguments, cmd_sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autoscaler.sim",
        description="Run the Elasticsearch + Kubernetes digital twin.",
    )
    add_sim_arguments(parser)
    return cmd_sim(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
