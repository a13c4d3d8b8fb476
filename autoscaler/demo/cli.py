"""The ``demo`` sub-command's flags, kept beside the demo so ``cli.py`` only registers it."""

from __future__ import annotations

import argparse
import asyncio
import sys

from autoscaler.core.durations import parse_duration

EXIT_INPUT = 2
DEFAULT_SPEED = 240.0
"""Simulated seconds per wall second by default: the built-in profile's run (~3 h 50 m of
simulated time, most of it shards moving at 40 MB/s) takes about a minute."""


def _duration(text: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= 5000:
        raise argparse.ArgumentTypeError("must be between 1 and 5000")
    return value


def add_demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser(
        "demo",
        help="watch the autoscaler scale a simulated cluster up and down (about a minute)",
        description="Run the real service against a simulated Elasticsearch cluster on "
        "Kubernetes, on one simulated clock: a load profile rises and falls, the policy scales "
        "the StatefulSet up (confirmed after the shards rebalanced) and back down (after "
        "draining the node). Exit 0 when at least one scale-up and one drained scale-down were "
        "confirmed and no shard copy was lost.",
    )
    d.add_argument(
        "--speed",
        type=_speed,
        default=DEFAULT_SPEED,
        help=f"simulated seconds per wall second (default {DEFAULT_SPEED:g})",
    )
    d.add_argument(
        "--duration",
        type=_duration,
        metavar="DUR",
        help="simulated time to run at most (default: the workload's; the demo ends earlier "
        "once both operations are confirmed after the last workload step)",
    )
    d.add_argument(
        "--policy",
        metavar="FILE",
        help="rehearse your own StatefulSet policy (its connection is pointed at the twin)",
    )
    d.add_argument("--name", help="the policy to rehearse, when --policy holds several")
    d.add_argument(
        "--workload",
        metavar="FILE|SPEC",
        help="a load profile: a YAML file like the built-in one, or AT=SEARCH/INDEX steps, "
        "e.g. 0m=200/1500,10m=1000/1500,2h=200/1500",
    )
    d.add_argument(
        "--plain",
        action="store_true",
        help="timestamped lines instead of the live view (the default when not a terminal)",
    )
    d.add_argument(
        "--serve",
        action="store_true",
        help="keep the service and the twin running after the summary and print their URLs",
    )
    d.add_argument(
        "--keep", action="store_true", help="keep the run directory (service log, state)"
    )
    d.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from autoscaler.demo.rehearsal import RehearsalError, load_rehearsal
    from autoscaler.demo.run import DemoOptions, run_demo
    from autoscaler.demo.workload import WorkloadError, load_workload

    try:
        rehearsal = load_rehearsal(args.policy, name=args.name)
        workload = load_workload(args.workload)
    except (RehearsalError, WorkloadError) as e:
        print(f"demo: {e}", file=sys.stderr)
        return EXIT_INPUT
    opts = DemoOptions(
        rehearsal=rehearsal,
        workload=workload,
        speed=args.speed,
        duration=args.duration,
        plain=args.plain,
        serve=args.serve,
        keep=args.keep,
    )
    return asyncio.run(run_demo(opts))
