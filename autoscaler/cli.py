"""Command line: the composition root for ``validate``, ``backtest``, ``sim`` and ``serve``.

Argument parsing and file reading live here; everything a command decides is done by the
modules it calls. Exit codes: 0 success, 2 bad input (invalid policy, bad CSV), 1 failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoscaler import __version__
from autoscaler.core.durations import parse_duration

if TYPE_CHECKING:
    from autoscaler.core.policyload import LoadedPolicy, LoadResult, PolicyError

# Each command imports what it needs inside its function: ``backtest`` and ``validate`` are
# what ops run on a laptop or in CI, and must not pay for (nor need) the service's, the
# twin's or the Ansible clients' imports. ``main`` builds only the named command's parser
# for these two (same --help), the whole parser otherwise.

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


def _print_errors(errors: Sequence[PolicyError], *, prefix: str = "") -> None:
    for e in errors:
        print(f"{prefix}{e}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    from autoscaler.policyfiles import load_policies

    if args.schema:
        import json

        from autoscaler.core.policy import Policy

        schema = Policy.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "es-autoscaler policy"
        print(json.dumps(schema, indent=2))
        return EXIT_OK
    result = load_policies(args.paths or ["policies/"])
    _print_errors(result.errors)
    _print_errors(result.warnings, prefix="warning: ")
    if result.errors:
        print(f"{len(result.errors)} error(s)", file=sys.stderr)
        return EXIT_INPUT
    if args.strict and result.warnings:
        print(f"{len(result.warnings)} warning(s), failing under --strict", file=sys.stderr)
        return EXIT_INPUT
    for loaded in result.policies:
        print(loaded.policy.describe())
    print(f"{len(result.policies)} polic{'y' if len(result.policies) == 1 else 'ies'} valid")
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    import gc

    from autoscaler import backtest
    from autoscaler.core.engine import DEFAULT_ALERT_TTL
    from autoscaler.core.policy import lint_replay
    from autoscaler.policyfiles import load_policies

    result = load_policies([args.policy])
    if result.errors:
        _print_errors(result.errors)
        return EXIT_INPUT
    candidates = [p.policy for p in result.policies]
    if args.name:
        candidates = [p for p in candidates if p.name == args.name]
    if len(candidates) != 1:
        names = ", ".join(p.policy.name for p in result.policies)
        print(
            f"{args.policy}: holds {len(result.policies)} policies ({names}); pick one with --name"
            if not args.name
            else f"{args.policy}: no policy named {args.name!r} (has: {names})",
            file=sys.stderr,
        )
        return EXIT_INPUT
    policy = candidates[0]
    # What is loaded so far (modules, the policy) lives to the end: the collector need not
    # walk it again each time the CSV's rows trigger a collection (a tenth of the parse).
    gc.freeze()
    reading = args.metrics
    try:
        # streamed: a month of 10 s rows is ~8 MB of text, never held whole
        with open(args.metrics, encoding="utf-8", newline="") as f:
            table = backtest.parse_metrics_csv(f, file=args.metrics)
        reading = args.alerts
        alerts = (
            backtest.parse_alerts_jsonl(_read(args.alerts), file=args.alerts) if args.alerts else []
        )
    except backtest.InputError as e:
        print(str(e), file=sys.stderr)
        return EXIT_INPUT
    except UnicodeDecodeError as e:
        print(f"cannot read input: {reading}: not UTF-8 text ({e.reason})", file=sys.stderr)
        return EXIT_INPUT
    except OSError as e:
        print(f"cannot read input: {e}", file=sys.stderr)
        return EXIT_INPUT
    # validate's warnings of this policy, then what this CSV cannot feed (decided by code)
    chosen = next(lp for lp in result.policies if lp.policy is policy)
    replay = [chosen.warning(w) for w in lint_replay(policy, columns=table.keys)]
    _print_errors([*_warnings_of(result, chosen), *replay], prefix="warning: ")
    settings = backtest.Settings(
        replicas=args.replicas,
        confirm_after=args.confirm_after,
        poll_interval=args.poll_interval,
        alert_ttl=DEFAULT_ALERT_TTL if args.alert_ttl is None else args.alert_ttl,
    )
    outcome = backtest.run(policy, table, alerts, settings)
    lines = (
        backtest.json_lines(outcome)
        if args.format == "json"
        else backtest.text_lines(policy, outcome)
    )
    for line in lines:
        print(line)
    if args.format != "json" and outcome.actions:
        # stderr, so that the report on stdout stays what it was (and diffable)
        print(
            "note: the replay is open loop: the recorded load does not fall when replicas are "
            "added, so read a long run of scale-ups as 'the policy would keep asking', not as "
            "the size this tier needs (rehearse closed loop with `es-autoscaler demo --policy`)",
            file=sys.stderr,
        )
    return EXIT_OK


def _warnings_of(result: LoadResult, chosen: LoadedPolicy) -> list[PolicyError]:
    """The warnings of one policy of ``result`` (its document's lines of its file): a replay
    of a policy that can never act should say so where the replay is read."""
    later = [lp.line for lp in result.policies if lp.file == chosen.file and lp.line > chosen.line]
    end = min(later, default=None)
    return [
        w
        for w in result.warnings
        if w.file == chosen.file and w.line >= chosen.line and (end is None or w.line < end)
    ]


def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be ≥ 0")
    return value


def _duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


LEAN_COMMANDS = ("validate", "backtest")
"""Commands ``main`` parses with their own parser only (no imports of the other commands)."""


def build_parser(*, only: str | None = None) -> argparse.ArgumentParser:
    """The ``es-autoscaler`` parser: every command, or only the one of ``LEAN_COMMANDS``
    named (its ``--help``, usage and errors are the same as in the whole parser)."""
    parser = argparse.ArgumentParser(
        prog="es-autoscaler",
        description="Event-driven autoscaler for Elasticsearch clusters.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if only in (None, "validate"):
        _add_validate_parser(sub)
    if only in (None, "backtest"):
        _add_backtest_parser(sub)
    if only is None:
        _add_optional_commands(sub)
    return parser


def _add_validate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser(
        "validate",
        help="check policy files; print a one-line summary of each",
        description="Validate policy files (files or directories; default policies/). "
        "Exit 0 when all are valid, 2 with FILE:LINE: field: message for every error. "
        "Warnings (valid, but probably not what was meant) go to stderr too.",
    )
    v.add_argument("paths", nargs="*", metavar="PATH", help="policy files or directories")
    v.add_argument("--schema", action="store_true", help="print the policy JSON Schema and exit")
    v.add_argument(
        "--strict",
        action="store_true",
        help="warnings fail too (exit 2), e.g. in CI before policies reach a cluster",
    )
    v.set_defaults(func=cmd_validate)


def _add_backtest_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = sub.add_parser(
        "backtest",
        help="replay recorded metrics through a policy, offline",
        description="Replay a metrics CSV (timestamp, <metric>.<aggregate>, ...) and optional "
        "Alertmanager webhooks through the real engine and print the actions it would take.",
    )
    b.add_argument("--policy", required=True, metavar="FILE", help="policy file")
    b.add_argument("--name", help="policy name, when the file holds several")
    b.add_argument("--metrics", required=True, metavar="CSV", help="recorded tier metrics")
    b.add_argument(
        "--alerts", metavar="JSONL", help='webhooks as lines of {"at": ..., "payload": {...}}'
    )
    b.add_argument(
        "--replicas", type=_non_negative_int, metavar="N", help="starting replicas (default: min)"
    )
    b.add_argument(
        "--confirm-after",
        type=_duration_arg,
        default=0.0,
        metavar="DUR",
        help="time from the start of an operation to its confirmation (default 0s)",
    )
    b.add_argument(
        "--poll-interval",
        type=_duration_arg,
        metavar="DUR",
        help="poll interval for the staleness limit (default: the CSV's median spacing)",
    )
    b.add_argument(
        "--alert-ttl",
        type=_duration_arg,
        metavar="DUR",
        help="a firing alert not re-sent for this long expires (default 12h)",
    )
    b.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text: a timeline for people (default); json: one object per line for each "
        "action, then a summary",
    )
    b.set_defaults(func=cmd_backtest)


def _add_optional_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Commands that live in their own modules (the twin, the service, the demo)."""
    from autoscaler.demo.cli import add_demo_parser
    from autoscaler.sim.simcli import add_sim_parser

    add_demo_parser(sub)
    add_sim_parser(sub)
    _add_serve_parser(sub)


def _add_serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "serve",
        help="run the autoscaler service (webhook receiver, pollers, API, metrics)",
        description="Run the service. Every flag can also be set by its ESAS_* environment "
        "variable; a flag wins over the variable. Policies in --policies are validated at "
        "start (invalid → exit 2) and reloaded on change or SIGHUP.",
    )
    s.add_argument(
        "--policies", metavar="DIR", help="policy directory [ESAS_POLICIES, default policies]"
    )
    s.add_argument("--host", help="listen address [ESAS_HOST, default 0.0.0.0]")
    s.add_argument(
        "--port", type=int, help="listen port, 0 = any free port [ESAS_PORT, default 8080]"
    )
    s.add_argument(
        "--webhook-token-file",
        metavar="FILE",
        help="file with the bearer token Alertmanager sends [ESAS_WEBHOOK_TOKEN_FILE]; "
        "or set ESAS_WEBHOOK_TOKEN",
    )
    s.add_argument(
        "--webhook-basic-user",
        metavar="USER",
        help="accept basic auth with this user [ESAS_WEBHOOK_BASIC_USER]",
    )
    s.add_argument(
        "--webhook-basic-password-file",
        metavar="FILE",
        help="basic-auth password file [ESAS_WEBHOOK_BASIC_PASSWORD_FILE]",
    )
    s.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=None,
        help="accept webhooks without authentication (warns at every start) [ESAS_INSECURE_NO_AUTH]",
    )
    s.add_argument(
        "--webhook-max-bytes",
        type=int,
        metavar="N",
        help="largest webhook body in bytes, at least 1024 "
        "[ESAS_WEBHOOK_MAX_BYTES, default 1048576 = 1 MiB]",
    )
    s.add_argument(
        "--alert-ttl",
        type=_duration_arg,
        dest="alert_ttl_seconds",
        metavar="DUR",
        help="a firing alert not re-sent for this long expires [ESAS_ALERT_TTL_SECONDS, default 12h]",
    )
    s.add_argument(
        "--alertmanager-url",
        metavar="URL",
        help="re-sync firing alerts from this Alertmanager (GET /api/v2/alerts) at start and "
        "periodically, so a restart is not blind until repeat_interval [ESAS_ALERTMANAGER_URL]",
    )
    s.add_argument(
        "--alertmanager-sync",
        type=_duration_arg,
        dest="alertmanager_sync_seconds",
        metavar="DUR",
        help="time between two re-syncs [ESAS_ALERTMANAGER_SYNC_SECONDS, default 5m]",
    )
    s.add_argument(
        "--state-dir",
        metavar="DIR",
        help="directory of the operations state file (running operations, cooldowns, "
        "history) [ESAS_STATE_DIR, default state]",
    )
    s.add_argument(
        "--state-configmap",
        metavar="NS/NAME",
        help="keep the operations state in this ConfigMap instead of --state-dir "
        "[ESAS_STATE_CONFIGMAP; default in-cluster: $POD_NAMESPACE/es-autoscaler-state]",
    )
    s.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig [ESAS_KUBECONFIG; default: in-cluster config, then $KUBECONFIG]",
    )
    s.add_argument(
        "--leader-election",
        metavar="NS/LEASE",
        help="run as one of several replicas: only the holder of this coordination.k8s.io "
        "Lease acts [ESAS_LEADER_ELECTION; default: off, a single instance acts]",
    )
    s.add_argument(
        "--no-leader-election",
        action="store_true",
        help="act as the single instance even if ESAS_LEADER_ELECTION is set",
    )
    s.add_argument(
        "--identity",
        metavar="ID",
        help="this replica's identity in the Lease [ESAS_IDENTITY; default $POD_NAME, "
        "else the hostname]",
    )
    s.add_argument(
        "--advertise-url",
        metavar="URL",
        help="where followers forward webhooks to this replica when it leads "
        "[ESAS_ADVERTISE_URL; default http://$POD_IP:PORT, else http://HOST:PORT]",
    )
    s.add_argument(
        "--lease-duration",
        type=_duration_arg,
        dest="lease_duration_seconds",
        metavar="DUR",
        help="Lease duration [ESAS_LEASE_DURATION_SECONDS, default 15s]",
    )
    s.add_argument(
        "--renew-deadline",
        type=_duration_arg,
        dest="renew_deadline_seconds",
        metavar="DUR",
        help="the leader stops acting when it could not renew for this long "
        "[ESAS_RENEW_DEADLINE_SECONDS, default 10s]",
    )
    s.add_argument(
        "--retry-period",
        type=_duration_arg,
        dest="retry_period_seconds",
        metavar="DUR",
        help="interval of renewals and campaigns [ESAS_RETRY_PERIOD_SECONDS, default 2s]",
    )
    s.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="JSON log lines on stderr at this level and above [ESAS_LOG_LEVEL, default INFO]",
    )
    s.set_defaults(func=cmd_serve)


_SERVE_FIELDS = (
    "policies",
    "host",
    "port",
    "webhook_token_file",
    "webhook_basic_user",
    "webhook_basic_password_file",
    "insecure_no_auth",
    "webhook_max_bytes",
    "alert_ttl_seconds",
    "alertmanager_url",
    "alertmanager_sync_seconds",
    "state_dir",
    "state_configmap",
    "kubeconfig",
    "log_level",
    "leader_election",
    "identity",
    "advertise_url",
    "lease_duration_seconds",
    "renew_deadline_seconds",
    "retry_period_seconds",
)


def _settings_error(err: Any) -> str:
    """``--flag (ESAS_VAR): what is wrong`` — the names the user typed, not the field's, and
    no regular expression."""
    field = ".".join(map(str, err["loc"]))
    where = f"--{field.removesuffix('_seconds').replace('_', '-')} (ESAS_{field.upper()})"
    msg = str(err["msg"])
    if err["type"] == "string_pattern_mismatch":
        got = err.get("input")
        if field.endswith("_url"):
            msg = f"must be an http:// or https:// URL without user:password@, got {got!r}"
        else:
            msg = f"must be NAMESPACE/NAME (lowercase DNS names), got {got!r}"
    return f"{where}: {msg}"


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from autoscaler.service.logs import setup_logging
    from autoscaler.service.serve import serve
    from autoscaler.settings import Settings

    overrides = {k: getattr(args, k) for k in _SERVE_FIELDS if getattr(args, k) is not None}
    if getattr(args, "no_leader_election", False):
        overrides["leader_election"] = None  # wins over ESAS_LEADER_ELECTION
    try:
        settings = Settings(**overrides)
    except ValidationError as e:
        for err in e.errors():
            print(f"serve: {_settings_error(err)}", file=sys.stderr)
        return EXIT_INPUT
    setup_logging(settings.log_level)
    return asyncio.run(serve(settings))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=argv[0] if argv and argv[0] in LEAN_COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
