"""``es-autoscaler sim``: run the digital twin as a standalone process.

Ops rehearse policies against it and the e2e tests drive it from outside; both need the
endpoints without reading logs, so the command prints exactly one JSON line on stdout —
``{"elasticsearch": URL, "kubernetes": URL, "kubeconfig": PATH, "exporter": URL}`` — then serves
until Ctrl-C or SIGTERM, and exits 0. ``exporter`` is the twin's elasticsearch_exporter
``/metrics`` (``autoscaler/sim/exporter.py``), for a Prometheus to scrape.

With ``--security`` both sides serve HTTPS with a CA the twin generates, Elasticsearch
requires credentials and the Kubernetes API its ServiceAccount token; the line then also holds
``ca_file``, ``cert_file``, ``es_username``/``es_password``/``es_password_file`` (the ``elastic`` superuser),
``serviceaccount_dir`` (``token``, ``ca.crt``, ``namespace``) and ``KUBERNETES_SERVICE_HOST`` /
``KUBERNETES_SERVICE_PORT`` for an in-cluster configuration.

With ``--rbac FILE...`` the Kubernetes side enforces the Role/ClusterRole/RoleBinding/
ClusterRoleBinding manifests and the line holds ``"kubeconfigs": {"NS/NAME": PATH}``, one per
ServiceAccount a binding names, and ``"admin_kubeconfig"`` (``system:masters``, never
restricted: for inspecting the rehearsal); ``GET /_sim/requests`` lists every request it served.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

# Only light imports here: every ``es-autoscaler`` command builds this parser. The twin
# itself (aiohttp servers, models) is imported when ``sim`` actually runs.
from autoscaler.sim.datasets import DEFAULT_ROLES, parse_indices_spec


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _es_version(text: str) -> str:
    # The twin derives its behaviour from the numbers; "8.x" or "banana" would run as 0.0.0.
    if not re.fullmatch(r"\d+\.\d+\.\d+", text):
        raise argparse.ArgumentTypeError(f"must be MAJOR.MINOR.PATCH, e.g. 8.15.0, got {text!r}")
    return text


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sim`` options, for a subcommand parser or a standalone one."""
    parser.add_argument("--nodes", type=int, default=3, help="initial ES data nodes (default 3)")
    parser.add_argument(
        "--roles",
        default=",".join(DEFAULT_ROLES),
        help="comma-separated ES roles of the StatefulSet's nodes (default data,master,ingest)",
    )
    parser.add_argument(
        "--indices",
        default=None,
        help="index spec name:PxR:size[,...], e.g. logs:5x1:40gb (default: a realistic data set)",
    )
    parser.add_argument(
        "--es-version",
        type=_es_version,
        default="8.15.0",
        help="Elasticsearch version to emulate, MAJOR.MINOR.PATCH (default 8.15.0); the "
        "service supports 7.17 and later 7.x, 8.x and 9.x",
    )
    clock = parser.add_mutually_exclusive_group()
    clock.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        help="real-time mode: simulated seconds per wall second (default 1)",
    )
    clock.add_argument(
        "--virtual",
        action="store_true",
        help="virtual clock: time moves only on POST /_sim/advance?seconds=N",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--es-port", type=int, default=0, help="ES port (default: any free)")
    parser.add_argument("--k8s-port", type=int, default=0, help="k8s port (default: any free)")
    parser.add_argument(
        "--exporter-port",
        type=int,
        default=0,
        help="port of the elasticsearch_exporter /metrics endpoint (default: any free)",
    )
    parser.add_argument(
        "--statefulset",
        default="elastic/es-data",
        help="NAMESPACE/NAME of the StatefulSet whose pods are the ES nodes "
        "(default elastic/es-data)",
    )
    parser.add_argument(
        "--pod-ready-delay",
        type=_non_negative_float,
        default=30.0,
        help="simulated seconds from pod creation to Ready (default 30)",
    )
    parser.add_argument(
        "--workload",
        default="0,0",
        metavar="SEARCH,INDEX",
        help="initial workload: searches/s and documents indexed/s over the tier "
        "(default 0,0; change it live with PUT /_sim/workload)",
    )
    parser.add_argument(
        "--security",
        action="store_true",
        help="Elasticsearch 8 defaults: HTTPS with a generated CA and security on (users, "
        "roles, API keys), and the Kubernetes API over HTTPS requiring its token",
    )
    parser.add_argument(
        "--es-users",
        type=Path,
        default=None,
        metavar="FILE",
        help="ES users and roles for --security (YAML; format in autoscaler/sim/es_security.py "
        "and the README); default: only the 'elastic' superuser with a generated password",
    )
    parser.add_argument(
        "--vm-nodes",
        type=int,
        default=0,
        metavar="N",
        help="a VM-only cluster (Ansible target): N nodes es-vm-0..N-1 and no StatefulSet; "
        "provision/stop more with POST/DELETE /_sim/nodes (default 0: StatefulSet pods)",
    )
    parser.add_argument(
        "--rbac",
        nargs="+",
        default=[],
        metavar="FILE",
        help="enforce RBAC on the Kubernetes side with these Role/ClusterRole/RoleBinding/"
        "ClusterRoleBinding manifests; a kubeconfig per bound ServiceAccount is listed in the "
        'JSON line as "kubeconfigs" (default: permissive)',
    )
    parser.add_argument(
        "--pvc-when-scaled",
        choices=("Retain", "Delete"),
        default="Retain",
        help="persistentVolumeClaimRetentionPolicy.whenScaled of the StatefulSet (default "
        "Retain: a node scaled back up returns with its id and data; Delete: new and empty)",
    )
    parser.add_argument(
        "--start",
        type=_start_time,
        default=None,
        metavar="TIME",
        help="sim clock start, RFC 3339 (2026-01-01T00:00:00Z) or epoch seconds "
        "(default: the current wall time)",
    )
    parser.add_argument(
        "--kubeconfig-dir",
        type=Path,
        default=None,
        help="where to write the kubeconfig (default: a temporary directory)",
    )


def _start_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        from datetime import datetime

        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected RFC 3339 (2026-01-01T00:00:00Z) or epoch seconds, got {text!r}"
        ) from None


def _workload(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        search, index = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"--workload must be SEARCH,INDEX (two numbers), got {text!r}") from None
    if search < 0 or index < 0:
        raise ValueError("--workload values must be >= 0")
    return search, index


def add_sim_parser(subparsers: Any) -> None:
    """Register ``sim`` on an ``argparse`` subparsers object (sets ``func=cmd_sim``)."""
    parser = subparsers.add_parser(
        "sim",
        help="run the Elasticsearch + Kubernetes digital twin",
        description=(__doc__ or "").replace("``", ""),  # reST quoting reads as noise in a terminal
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_sim_arguments(parser)
    parser.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    """Synchronous entry point (``args.func`` in the main CLI)."""
    try:
        return asyncio.run(run_sim_command(args))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 0


def _security_fields(running: Any) -> dict[str, str]:
    """The JSON-line fields of ``--security`` (absent when it is off)."""
    fields: dict[str, str | None] = {
        "ca_file": str(running.ca_file) if running.ca_file else None,
        "cert_file": str(running.cert_file) if running.cert_file else None,
        "es_username": "elastic" if running.es_password else None,
        "es_password": running.es_password,
        "es_password_file": str(running.es_password_file) if running.es_password_file else None,
        "serviceaccount_dir": (
            str(running.serviceaccount_dir) if running.serviceaccount_dir else None
        ),
        "KUBERNETES_SERVICE_HOST": running.k8s_service_host,
        "KUBERNETES_SERVICE_PORT": (
            str(running.k8s_service_port) if running.k8s_service_port else None
        ),
    }
    return {k: v for k, v in fields.items() if v is not None}


async def run_sim_command(args: argparse.Namespace) -> int:
    """Serve the twin until SIGINT/SIGTERM; 0 on a clean stop, 2 on bad arguments."""
    from autoscaler.sim.server import run_twin
    from autoscaler.sim.spec import TwinSpec
    from autoscaler.sim.twin import split_statefulset

    try:
        indices = parse_indices_spec(args.indices) if args.indices else None
        roles = tuple(r.strip() for r in str(args.roles).split(",") if r.strip())
        split_statefulset(args.statefulset)
        search, index = _workload(args.workload)
        if args.nodes < 0:
            raise ValueError("--nodes must be >= 0")
        if args.vm_nodes < 0:
            raise ValueError("--vm-nodes must be >= 0")
        if args.es_users and not args.security:
            raise ValueError("--es-users needs --security")
        spec = TwinSpec(
            nodes=args.nodes,
            roles=roles,
            indices=indices,
            es_version=args.es_version,
            speed=None if args.virtual else args.speed,
            seed=args.seed,
            statefulset=args.statefulset,
            pod_ready_delay=args.pod_ready_delay,
            security=args.security,
            k8s_security=args.security,
            es_users_file=str(args.es_users) if args.es_users else None,
            rbac_files=tuple(str(f) for f in args.rbac),
            pvc_when_scaled=args.pvc_when_scaled,
            start=args.start,
            vm_nodes=args.vm_nodes,
        )
    except ValueError as exc:
        print(f"es-autoscaler sim: error: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with run_twin(
            spec,
            host=args.host,
            es_port=args.es_port,
            k8s_port=args.k8s_port,
            exporter_port=args.exporter_port,
            kubeconfig_dir=args.kubeconfig_dir,
        ) as running:
            running.twin.cluster.set_workload(search_per_s=search, index_per_s=index)
            line: dict[str, Any] = {
                "elasticsearch": running.es_url,
                "kubernetes": running.k8s_url,
                "kubeconfig": str(running.kubeconfig_path),
                "exporter": running.exporter_url,
            }
            if spec.vm_nodes:
                line["vm_nodes"] = ",".join(vm["name"] for vm in running.twin.vms.list())
            line.update(_security_fields(running))
            if running.kubeconfigs:
                line["kubeconfigs"] = {k: str(v) for k, v in running.kubeconfigs.items()}
            if running.admin_kubeconfig is not None:
                line["admin_kubeconfig"] = str(running.admin_kubeconfig)
            if running.serviceaccount_dirs:
                line["serviceaccount_dirs"] = {
                    k: str(v) for k, v in running.serviceaccount_dirs.items()
                }
            print(json.dumps(line), flush=True)
            await stop.wait()
    except ValueError as exc:  # e.g. an --rbac manifest or --es-users file that cannot be loaded
        print(f"es-autoscaler sim: error: {exc}", file=sys.stderr)
        return 2
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return 0
