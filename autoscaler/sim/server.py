"""Serve a twin on two local ports: an Elasticsearch endpoint and a Kubernetes API endpoint.

Tests, the ``sim`` command and the demo all need the same thing — a running twin, its two
URLs and a kubeconfig that both kubernetes-asyncio and kubectl accept — so it lives here
once, as an async context manager that starts and stops cleanly (port 0 picks free ports).

The kubeconfig points at ``http://`` with a bearer token. kubernetes-asyncio sends the token;
kubectl 1.29 sends no credentials over plain http (API-BEHAVIOUR §8.1), which is why the token
check is off unless ``require_token=True``.

With ``TwinSpec.security`` the ES side serves HTTPS with a CA generated at start (``sim/tls.py``)
and the security realm of ``sim/es_security.py``; with ``TwinSpec.k8s_security`` the Kubernetes
side serves HTTPS with the same CA, requires the token, and the in-cluster layout
(``serviceaccount/{token,ca.crt,namespace}``) is written beside the kubeconfig. ``RunningTwin``
names every file and address a client needs (``ca_file``, ``es_password_file``,
``serviceaccount_dir``, ``k8s_service_host``/``port``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from autoscaler.sim.control import add_control_routes
from autoscaler.sim.es.api.routes import add_es_routes
from autoscaler.sim.es_security import EsSecurity
from autoscaler.sim.exporter import METRICS_PATH, build_exporter_app
from autoscaler.sim.k8s.api import build_k8s_app
from autoscaler.sim.k8s.auth import K8sAuth
from autoscaler.sim.k8s.rbac import ADMIN_USER, load_rbac, service_account_user
from autoscaler.sim.spec import TwinSpec
from autoscaler.sim.tls import HandshakeCounter, TlsFiles, generate_tls, server_ssl_context
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
    # --- security (``TwinSpec.security`` / ``k8s_security``); None when off -----------------
    #: PEM of the CA that signed the twin's server certificate (both sides).
    ca_file: Path | None = None
    #: the server certificate (PEM) both sides present, signed by ``ca_file``.
    cert_file: Path | None = None
    #: the ES security realm (users, roles, API keys, request counters).
    es_security: EsSecurity | None = None
    #: the reserved superuser's password, also written to ``es_password_file``.
    es_password: str | None = None
    es_password_file: Path | None = None
    #: directory with ``token``, ``ca.crt``, ``namespace`` (a pod's serviceaccount mount).
    serviceaccount_dir: Path | None = None
    #: ``KUBERNETES_SERVICE_HOST`` / ``_PORT`` for the in-cluster configuration.
    k8s_service_host: str | None = None
    k8s_service_port: int | None = None
    #: TLS handshakes each side has seen (failed ones included).
    es_handshakes: HandshakeCounter | None = None
    k8s_handshakes: HandshakeCounter | None = None
    #: the twin's elasticsearch_exporter endpoint (``sim/exporter.py``), ``http://HOST:PORT/metrics``.
    exporter_url: str | None = None
    #: ``sim --rbac``: one kubeconfig per ServiceAccount a binding names, ``"NS/NAME"`` → path.
    kubeconfigs: dict[str, Path] = field(default_factory=dict)
    #: ``sim --rbac``: a kubeconfig of ``kubernetes-admin`` (group ``system:masters``), which
    #: RBAC never restricts — for inspecting the rehearsal (``kubectl get events``).
    admin_kubeconfig: Path | None = None
    #: ``sim --rbac`` with ``k8s_security``: the in-cluster layout of each of those
    #: ServiceAccounts, ``"NS/NAME"`` → directory (as ``serviceaccount_dir``).
    serviceaccount_dirs: dict[str, Path] = field(default_factory=dict)


def build_es_side(twin: Twin, *, security: EsSecurity | None = None) -> web.Application:
    """The ES app: fault middleware outermost, then security (if on), ``/_sim`` control
    routes, then the ES API."""
    middlewares = [twin.faults.middleware("es")]
    if security is not None:
        middlewares.append(security.middleware())
    app = web.Application(middlewares=middlewares)
    add_control_routes(app, twin)
    if security is not None:
        security.add_routes(app)
    add_es_routes(app, twin.cluster)
    return app


def write_serviceaccount_dir(directory: Path, *, token: str, ca_file: Path, namespace: str) -> Path:
    """The files a pod finds in ``/var/run/secrets/kubernetes.io/serviceaccount``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes(ca_file.read_bytes())
    (directory / "namespace").write_text(namespace)
    for f in ("token", "ca.crt", "namespace"):
        (directory / f).chmod(0o600)
    return directory


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    token: str,
    namespace: str,
    name: str = "sim-twin",
    ca_file: Path | None = None,
) -> Path:
    """A minimal kubeconfig (API-BEHAVIOUR §8.2) for ``server``."""
    cluster: dict[str, str] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
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


def _url(host: str, port: int, scheme: str = "http") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def add_sim_date(app: web.Application, twin: Twin) -> None:
    """HTTP ``Date`` headers from the sim clock, as a server living at sim time would send."""

    async def set_date(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Date"] = formatdate(twin.now(), usegmt=True)

    app.on_response_prepare.append(set_date)


async def _serve(
    app: web.Application, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
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
    exporter_port: int = 0,
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
        require_token=require_token or spec.k8s_security,
        user=f"system:serviceaccount:{namespace}:es-autoscaler",
    )
    sa_tokens: dict[str, str] = {}  # "NS/NAME" → bearer token, for ``sim --rbac``
    for sa_ns, sa_name in load_rbac(twin.k8s, spec.rbac_files) if spec.rbac_files else ():
        sa_token = f"sim-sa-{secrets.token_hex(16)}"
        sa_tokens[f"{sa_ns}/{sa_name}"] = sa_token
        auth.tokens[sa_token] = service_account_user(sa_ns, sa_name)
    admin_token = f"sim-admin-{secrets.token_hex(16)}" if spec.rbac_files else None
    if admin_token is not None:
        auth.tokens[admin_token] = ADMIN_USER
    k8s_app = build_k8s_app(
        twin.k8s,
        auth=auth,
        middlewares=[twin.faults.middleware("k8s")],
        rbac=bool(spec.rbac_files),
        request_log=twin.requests,
    )
    add_sim_date(k8s_app, twin)
    es_security = (
        EsSecurity.create(twin.cluster, users_file=spec.es_users_file) if spec.security else None
    )
    es_app = build_es_side(twin, security=es_security)
    add_sim_date(es_app, twin)

    temp_dir: str | None = None
    if kubeconfig_dir is None:
        temp_dir = tempfile.mkdtemp(prefix="sim-twin-")
        kube_dir = Path(temp_dir)
    else:
        kube_dir = Path(kubeconfig_dir)
    tls: TlsFiles | None = None
    es_hs = k8s_hs = None
    if spec.security or spec.k8s_security:
        tls = generate_tls(kube_dir, hosts=(host,), prefix="sim")
    # the CA a Kubernetes client must trust (kubeconfigs, serviceaccount dirs); None over HTTP
    k8s_ca = tls.ca_cert if tls is not None and spec.k8s_security else None
    runners: list[web.AppRunner] = []
    ticker: asyncio.Task[None] | None = None
    try:
        es_ctx = k8s_ctx = None
        if tls is not None and spec.security:
            es_hs = HandshakeCounter()
            es_ctx = server_ssl_context(tls, counter=es_hs)
        if tls is not None and spec.k8s_security:
            k8s_hs = HandshakeCounter()
            k8s_ctx = server_ssl_context(tls, counter=k8s_hs)
        es_runner, es_bound = await _serve(es_app, host, es_port, es_ctx)
        runners.append(es_runner)
        k8s_runner, k8s_bound = await _serve(k8s_app, host, k8s_port, k8s_ctx)
        runners.append(k8s_runner)
        exporter_runner, exporter_bound = await _serve(
            build_exporter_app(twin.cluster, faults=twin.faults), host, exporter_port
        )
        runners.append(exporter_runner)
        k8s_url = _url(host, k8s_bound, "https" if k8s_ctx else "http")
        kubeconfig = write_kubeconfig(
            kube_dir / "kubeconfig",
            server=k8s_url,
            token=token,
            namespace=namespace,
            ca_file=k8s_ca,
        )
        kubeconfigs = {
            key: write_kubeconfig(
                kube_dir / f"kubeconfig-{key.replace('/', '-')}",
                server=k8s_url,
                token=sa_token,
                namespace=key.split("/", 1)[0],
                ca_file=k8s_ca,
            )
            for key, sa_token in sa_tokens.items()
        }
        admin_kubeconfig = (
            write_kubeconfig(
                kube_dir / "kubeconfig-admin",
                server=k8s_url,
                token=admin_token,
                namespace=namespace,
                ca_file=k8s_ca,
            )
            if admin_token is not None
            else None
        )
        password_file: Path | None = None
        if es_security is not None:
            password_file = kube_dir / "elastic-password"
            password_file.write_text(es_security.elastic_password + "\n")
            password_file.chmod(0o600)
        sa_dir: Path | None = None
        if k8s_ca is not None:
            sa_dir = write_serviceaccount_dir(
                kube_dir / "serviceaccount", token=token, ca_file=k8s_ca, namespace=namespace
            )
        sa_dirs = (
            {
                key: write_serviceaccount_dir(
                    kube_dir / f"serviceaccount-{key.replace('/', '-')}",
                    token=sa_token,
                    ca_file=k8s_ca,
                    namespace=key.split("/", 1)[0],
                )
                for key, sa_token in sa_tokens.items()
            }
            if k8s_ca is not None
            else {}
        )
        if not twin.virtual:
            ticker = asyncio.create_task(twin.run_ticker(), name="sim-twin-ticker")
        yield RunningTwin(
            twin=twin,
            es_url=_url(host, es_bound, "https" if es_ctx else "http"),
            k8s_url=k8s_url,
            kubeconfig_path=kubeconfig,
            token=token,
            namespace=namespace,
            statefulset=f"{namespace}/{sts_name}",
            ca_file=tls.ca_cert if tls is not None else None,
            cert_file=tls.cert if tls is not None else None,
            es_security=es_security,
            es_password=es_security.elastic_password if es_security else None,
            es_password_file=password_file,
            serviceaccount_dir=sa_dir,
            k8s_service_host=host if sa_dir is not None else None,
            k8s_service_port=k8s_bound if sa_dir is not None else None,
            es_handshakes=es_hs,
            k8s_handshakes=k8s_hs,
            exporter_url=_url(host, exporter_bound) + METRICS_PATH,
            kubeconfigs=kubeconfigs,
            admin_kubeconfig=admin_kubeconfig,
            serviceaccount_dirs=sa_dirs,
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
