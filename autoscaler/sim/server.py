"""Serve a twin on two local ports: an Elasticsearch endpoint and a Kubernetes API endpoint.

Tests, the ``sim`` command and the demo all need the same thing — a running twin, its two
URLs and a kubeconfig that both kubernetes-asyncio and kubectl accept — so it lives here
once, as an async context manager that starts and stops cleanly (port 0 picks free ports).

The kubeconfig points at ``http://`` with a bearer token. kubernetes-asyncio sends the token;
kubectl 1.29 sends no credentials over plain http (API-BEHAVIOUR §8.1), which is why the token
check is off unless ``require_token=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from autoscaler.sim.control import add_control_routes
from autoscaler.sim.es_api import add_es_routes
from autoscaler.sim.k8s_api import K8sAuth, build_k8s_app
from autoscaler.sim.spec import TwinSpec
from autoscaler.sim.twin import Twin

DEFAULT_TOKEN = "sim-twin-token"


@dataclass(frozen=True)
class RunningTwin:
    """A twin being served: where to reach it and how to steer it."""

    twin: Twin
    es_url: str
    k8s_url: str
    kubeconfig_path: Path
    token: str
    namespace: str
    statefulset: str


def build_es_side(twin: Twin) -> web.Application:
    """The ES app: fault middleware outermost, ``/_sim`` control routes, then the ES API."""
    app = web.Application(middlewares=[twin.faults.middleware("es")])
    add_control_routes(app, twin)
    add_es_routes(app, twin.cluster)
    return app


def write_kubeconfig(
    path: Path, *, server: str, token: str, namespace: str, name: str = "sim-twin"
) -> Path:
    """A minimal kubeconfig (API-BEHAVIOUR §8.2) for ``server``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
        ],
        "current-context": name,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return runner, int(bound)


@contextlib.asynccontextmanager
async def run_twin(
    spec: TwinSpec | None = None,
    *,
    host: str = "127.0.0.1",
    es_port: int = 0,
    k8s_port: int = 0,
    kubeconfig_dir: Path | str | None = None,
    token: str = DEFAULT_TOKEN,
    require_token: bool = False,
    **overrides: Any,
) -> AsyncIterator[RunningTwin]:
    """Build a twin from ``spec`` (with ``overrides`` of its fields), serve it, write its
    kubeconfig; stop everything on exit.

    ``speed=None`` runs on a virtual clock (drive it with ``twin.advance`` or
    ``POST /_sim/advance``); a number runs wall time × ``speed`` with a background ticker.
    Without ``kubeconfig_dir`` the kubeconfig goes to a temporary directory removed on exit.
    """
    spec = (spec or TwinSpec()).replace(**overrides)
    twin = Twin.create(spec)
    namespace, sts_name = twin.statefulset or ("default", "")
    auth = K8sAuth(
        token=token,
        require_token=require_token,
        user=f"system:serviceaccount:{namespace}:es-autoscaler",
    )
    k8s_app = build_k8s_app(twin.k8s, auth=auth, middlewares=[twin.faults.middleware("k8s")])
    es_app = build_es_side(twin)

    temp_dir: str | None = None
    if kubeconfig_dir is None:
        temp_dir = tempfile.mkdtemp(prefix="sim-twin-")
        kube_dir = Path(temp_dir)
    else:
        kube_dir = Path(kubeconfig_dir)
    runners: list[web.AppRunner] = []
    ticker: asyncio.Task[None] | None = None
    try:
        es_runner, es_bound = await _serve(es_app, host, es_port)
        runners.append(es_runner)
        k8s_runner, k8s_bound = await _serve(k8s_app, host, k8s_port)
        runners.append(k8s_runner)
        k8s_url = _url(host, k8s_bound)
        kubeconfig = write_kubeconfig(
            kube_dir / "kubeconfig", server=k8s_url, token=token, namespace=namespace
        )
        if not twin.virtual:
            ticker = asyncio.create_task(twin.run_ticker(), name="sim-twin-ticker")
        yield RunningTwin(
            twin=twin,
            es_url=_url(host, es_bound),
            k8s_url=k8s_url,
            kubeconfig_path=kubeconfig,
            token=token,
            namespace=namespace,
            statefulset=f"{namespace}/{sts_name}",
        )
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        twin.faults.clear()  # releases requests hanging in "timeout" faults
        for runner in reversed(runners):
            await runner.cleanup()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
