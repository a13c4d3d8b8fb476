"""The twin's Prometheus endpoint, speaking prometheus-community/elasticsearch_exporter.

Why: the shipped alert rules, the Alertmanager route and the Grafana dashboard are written for
the metrics operators actually have — the ``elasticsearch_*`` series of elasticsearch_exporter —
and the whole chain (Prometheus → rules → Alertmanager → autoscaler) can only be rehearsed
against the twin if the twin exposes exactly those series. So this module serves ``/metrics`` on
its own port with the exporter's names, help texts, types and labels, derived the way the
exporter derives them: from the twin's own ``_nodes/stats`` and ``_cluster/health`` bodies
(built in-process by the same ``NodesApi.nodes_stats_body`` / ``HealthApi.health_body`` that
answer the autoscaler's polls), never from a second model. A value the exporter shows is
therefore the value the autoscaler polls at the same simulated instant.

Source (read, not vendored): github.com/prometheus-community/elasticsearch_exporter at commit
9bc4295ddde4bb26df5e5a81649c9b6fdac5278c (v1.11.0-32):

- ``collector/nodes.go`` — every per-node descriptor (``NewNodes``: nodeMetrics,
  gcCollectionMetrics, breakerMetrics, indexingPressureMetrics, threadPoolMetrics,
  filesystemDataMetrics, filesystemIODeviceMetrics), the label sets ``defaultNodeLabels`` …
  ``defaultFilesystemIODeviceLabels``, ``getRoles``/``isDataNode`` for the ``es_*_node``
  labels, ``nodesRolesMetric``, and ``Collect`` (cluster label = the response's
  ``cluster_name``; one sample per thread pool / GC collector / breaker / ``fs.data`` entry /
  ``io_stats`` device);
- ``collector/nodes_response.go`` — the JSON field each Go field decodes from (a missing field
  decodes to 0, as Go's zero value);
- ``collector/cluster_health.go`` + ``cluster_health_response.go`` — the cluster health
  gauges and ``elasticsearch_cluster_health_status{color}`` (1 for the current colour, 0 for
  the other two).

The descriptor tables (``exporter_metrics``) were generated from those files (the extraction script and its
output are ``tests/fixtures/elasticsearch/exporter/``) and keep the exporter's quirks: counters
without ``_total`` (``elasticsearch_thread_pool_rejected_count``, exposed as written, which is
why this module renders the text format itself instead of using ``prometheus_client``'s
``Counter``), ``elasticsearch_jvm_memory_pool_max_bytes`` declared a counter, and
``elasticsearch_jvm_uptime_seconds{type="mapped"}``.

Two series are NOT in that commit: ``elasticsearch_node_stats_up`` and
``elasticsearch_cluster_health_up`` (unlabelled gauges "Was the last scrape of the
Elasticsearch nodes/cluster health endpoint successful."). They are served as the exporter
served them before removing them — ``cluster_health_up`` until v1.6.0 (removed in acddc58,
first released in v1.7.0), ``node_stats_up`` until v1.8.0 (removed in da4a406, v1.9.0) —
because dashboards and rules in the wild still use them. Rules shipped with the chart do not.

Rendering follows client_golang's text format 0.0.4 (``expfmt``): families sorted by name,
samples by their label values in label-name order, floats as Go's ``strconv.FormatFloat(v,
'g', -1, 64)`` (``1.073741824e+09``).

It behaves as the exporter run with ``--es.all`` (every node's stats; the default asks only
``_nodes/_local/stats``). A collection that would fail yields that collector's series not at
all and its ``_up`` gauge 0, as ``Collect`` returns on error: an ES-side wire fault of the twin
(``error``/``timeout``/``drop``, or ``latency`` ≥ the exporter's 5 s ``--es.timeout``) matching
the request, peeked at without consuming it; or, for cluster health, no elected master (the
exporter's health request is not ``local``, so ES answers 503 — inferred).

Differences from the real exporter, by design: no ``go_*``/``process_*``/build-info series, no
``elasticsearch_scrape_*`` (those belong to the optional collectors), no authentication (the
twin reads its model in-process, whatever ``--security`` says).
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from autoscaler.sim.es.api.routes import EsApi
from autoscaler.sim.es.cluster import Cluster
from autoscaler.sim.es.errors import EsError
from autoscaler.sim.exporter_metrics import (
    BREAKER_METRICS,
    CLUSTER_HEALTH_UP,
    CLUSTER_HEALTH_UP_HELP,
    FS_DATA_METRICS,
    FS_IO_METRICS,
    GAUGE,
    GC_METRICS,
    HEALTH_COLORS,
    HEALTH_METRICS,
    HEALTH_STATUS,
    HEALTH_STATUS_HELP,
    INDEXING_PRESSURE_METRICS,
    NODE_METRICS,
    NODE_STATS_UP,
    NODE_STATS_UP_HELP,
    NODES_ROLES,
    NODES_ROLES_HELP,
    THREAD_POOL_METRICS,
    Desc,
)
from autoscaler.sim.faults import FaultInjector
from autoscaler.sim.loadmodel import ALL_METRICS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_PATH = "/metrics"

_DATA_ROLES = ("data", "data_content", "data_hot", "data_warm", "data_cold", "data_frozen")
_KNOWN_ROLES = (
    "master", "data", "data_hot", "data_warm", "data_cold", "data_frozen", "data_content", "ml",
    "remote_cluster_client", "transform", "ingest", "client",
)  # fmt: skip


def node_roles(node: Mapping[str, Any]) -> dict[str, bool]:
    """``getRoles`` of nodes.go: the fixed role map, set from ``roles`` (an unknown role is
    added as false, as the exporter does), or from ``attributes`` when ``roles`` is empty;
    ``client`` is true unless the node's ``http`` section is missing or empty."""
    roles = dict.fromkeys(_KNOWN_ROLES, False)
    roles["client"] = True
    listed = node.get("roles") or []
    if listed:
        for role in listed:
            roles[role] = role in roles and role in _KNOWN_ROLES
    else:
        for role, setting in (node.get("attributes") or {}).items():
            if role in roles:
                roles[role] = setting != "false"
    if not node.get("http"):
        roles["client"] = False
    return roles


def _go_bool(flag: bool) -> str:
    return "true" if flag else "false"


def node_labels(cluster: str, node: Mapping[str, Any]) -> dict[str, str]:
    """``defaultNodeLabelValues``: cluster, host, name and the four ``es_*_node`` flags."""
    roles = node_roles(node)
    return {
        "cluster": cluster,
        "host": str(node.get("host", "")),
        "name": str(node.get("name", "")),
        "es_master_node": _go_bool(roles["master"]),
        "es_data_node": _go_bool(any(roles.get(r, False) for r in _DATA_ROLES)),
        "es_ingest_node": _go_bool(roles["ingest"]),
        "es_client_node": _go_bool(roles["client"]),
    }


def _value(doc: Any, desc: Desc) -> float:
    """The field at ``desc.path`` as Go decodes it: missing → 0, bool → 1/0, ms → s."""
    cur = doc
    for key in desc.path:
        if not isinstance(cur, Mapping) or key not in cur:
            return 0.0
        cur = cur[key]
    if isinstance(cur, bool):
        return 1.0 if cur else 0.0
    if not isinstance(cur, int | float):
        return 0.0
    return float(cur) / desc.scale if desc.scale != 1 else float(cur)


@dataclass
class Family:
    """One metric family of the exposition: name, type, help and its samples."""

    name: str
    kind: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


class Exposition:
    """Families in the making, keyed by name (a name keeps its first help and type)."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def add(self, name: str, kind: str, help_: str, labels: dict[str, str], value: float) -> None:
        fam = self.families.get(name)
        if fam is None:
            fam = self.families[name] = Family(name, kind, help_)
        fam.samples.append((labels, value))

    def add_desc(self, desc: Desc, labels: dict[str, str], doc: Any) -> None:
        if desc.extra is not None:
            labels = {**labels, desc.extra[0]: desc.extra[1]}
        self.add(desc.name, desc.kind, desc.help, labels, _value(doc, desc))

    def render(self) -> str:
        return render(self.families.values())


def _each(
    exp: Exposition,
    descs: Sequence[Desc],
    items: Iterable[tuple[dict[str, str], Any]],
) -> None:
    for labels, doc in items:
        for desc in descs:
            exp.add_desc(desc, labels, doc)


def collect_nodes(exp: Exposition, body: Mapping[str, Any]) -> None:
    """``Nodes.Collect``: every series of every node in a ``_nodes/stats`` body."""
    cluster = str(body.get("cluster_name", ""))
    for node_id, node in (body.get("nodes") or {}).items():
        base = node_labels(cluster, node)
        for role, enabled in node_roles(node).items():
            labels = {
                "cluster": cluster,
                "host": base["host"],
                "name": base["name"],
                "node": node_id,
                "role": role,
            }
            exp.add(NODES_ROLES, GAUGE, NODES_ROLES_HELP, labels, 1.0 if enabled else 0.0)
        for desc in NODE_METRICS:
            exp.add_desc(desc, base, node)
        jvm = node.get("jvm") or {}
        collectors = (jvm.get("gc") or {}).get("collectors") or {}
        _each(exp, GC_METRICS, (({**base, "gc": k}, v) for k, v in collectors.items()))
        breakers = node.get("breakers") or {}
        _each(exp, BREAKER_METRICS, (({**base, "breaker": k}, v) for k, v in breakers.items()))
        pressure = node.get("indexing_pressure") or {}
        ip_base = {k: base[k] for k in ("cluster", "host", "name")}
        _each(
            exp,
            INDEXING_PRESSURE_METRICS,
            (({**ip_base, "indexing_pressure": k}, v) for k, v in pressure.items()),
        )
        pools = node.get("thread_pool") or {}
        _each(exp, THREAD_POOL_METRICS, (({**base, "type": k}, v) for k, v in pools.items()))
        fs = node.get("fs") or {}
        data = fs.get("data") or []
        _each(
            exp,
            FS_DATA_METRICS,
            (
                ({**base, "mount": str(d.get("mount", "")), "path": str(d.get("path", ""))}, d)
                for d in data
            ),
        )
        devices = (fs.get("io_stats") or {}).get("devices") or []
        _each(
            exp,
            FS_IO_METRICS,
            (({**base, "device": str(d.get("device_name", ""))}, d) for d in devices),
        )


def collect_health(exp: Exposition, body: Mapping[str, Any]) -> None:
    """``ClusterHealth.Collect``: the gauges and one status sample per colour."""
    labels = {"cluster": str(body.get("cluster_name", ""))}
    for name, help_, key in HEALTH_METRICS:
        raw = body.get(key, 0)
        exp.add(name, GAUGE, help_, labels, float(raw) if isinstance(raw, int | float) else 0.0)
    status = body.get("status")
    for color in HEALTH_COLORS:
        value = 1.0 if status == color else 0.0
        exp.add(HEALTH_STATUS, GAUGE, HEALTH_STATUS_HELP, {**labels, "color": color}, value)


def exposition_from_bodies(
    nodes_stats: Mapping[str, Any] | None, health: Mapping[str, Any] | None
) -> str:
    """The exporter's page for these two bodies (``None`` = that request failed)."""
    exp = Exposition()
    if nodes_stats is not None:
        collect_nodes(exp, nodes_stats)
    if health is not None:
        collect_health(exp, health)
    up = 1.0 if nodes_stats is not None else 0.0
    exp.add(NODE_STATS_UP, GAUGE, NODE_STATS_UP_HELP, {}, up)
    up = 1.0 if health is not None else 0.0
    exp.add(CLUSTER_HEALTH_UP, GAUGE, CLUSTER_HEALTH_UP_HELP, {}, up)
    return exp.render()


# --- text format 0.0.4, as client_golang's expfmt writes it ------------------------------


def go_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)`` with expfmt's ``+Inf``/``-Inf``/``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if value.is_integer() and abs(value) < 2**53:
        # every integer below 2**53 is its own double, so its shortest decimal is its digits
        # without trailing zeros (most exporter values: counts and byte sizes)
        whole = str(int(abs(value)))
        digits = whole.rstrip("0")
        point = len(whole)
        prefix = "-" if value < 0 else ""
    else:
        sign, digits_t, exponent = Decimal(repr(value)).normalize().as_tuple()
        assert isinstance(exponent, int)
        digits = "".join(map(str, digits_t))
        point = len(digits) + exponent  # position of the decimal point in ``digits``
        prefix = "-" if sign else ""
    exp10 = point - 1
    # strconv/ftoa.go, 'g' with precision -1 ("shortest"): %e when exp < -4 || exp >= 6.
    eprec = 6
    if exp10 < -4 or exp10 >= eprec:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        esign = "-" if exp10 < 0 else "+"
        return f"{prefix}{mant}e{esign}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{prefix}{digits}{'0' * (point - len(digits))}"
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


@functools.lru_cache(maxsize=4096)  # a page repeats a few hundred distinct label values
def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(families: Iterable[Family]) -> str:
    """Families sorted by name, samples by label values in label-name order."""
    out: list[str] = []
    for fam in sorted(families, key=lambda f: f.name):
        out.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        out.append(f"# TYPE {fam.name} {fam.kind}")

        def key(sample: tuple[dict[str, str], float]) -> tuple[str, ...]:
            return tuple(sample[0][k] for k in sorted(sample[0]))

        for labels, value in sorted(fam.samples, key=key):
            if labels:
                pairs = ",".join(f'{k}="{_escape_label(labels[k])}"' for k in sorted(labels))
                out.append(f"{fam.name}{{{pairs}}} {go_float(value)}")
            else:
                out.append(f"{fam.name} {go_float(value)}")
    return "\n".join(out) + "\n" if out else ""


# --- the twin's endpoint ------------------------------------------------------------------


#: the exporter's ``--es.timeout`` default (main.go): a slower answer is a failed collection.
ES_TIMEOUT = 5.0
NODES_STATS_PATH = "/_nodes/stats"  # with ``--es.all``; without it ``/_nodes/_local/stats``
HEALTH_PATH = "/_cluster/health"


def wire_fault_hits(faults: FaultInjector | None, path: str) -> bool:
    """Would the exporter's ``GET path`` to the twin's ES side fail now? True when an active
    ``error``/``timeout``/``drop`` fault (or a ``latency`` of at least ``ES_TIMEOUT``) for
    ``es``/``any`` matches it. Peeked at, never consumed: a fault with a ``count`` is left to
    the requests it was set up for."""
    if faults is None:
        return False
    for fault in faults.active():
        kind = fault["type"]
        if kind not in ("error", "timeout", "drop", "latency"):
            continue
        if fault.get("app") not in ("any", "es"):
            continue
        method = fault.get("method")
        if method is not None and str(method).upper() != "GET":
            continue
        pattern = fault.get("path")
        if pattern is not None and re.search(str(pattern), path) is None:
            continue
        if kind == "latency" and float(fault.get("seconds", 0.0)) < ES_TIMEOUT:
            continue
        return True
    return False


def twin_bodies(
    cluster: Cluster, request: web.Request, *, faults: FaultInjector | None = None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The ``GET /_nodes/stats`` and ``GET /_cluster/health`` bodies the exporter (run with
    ``--es.all``) would get from the twin right now, built by the twin's own handlers' body
    builders; ``None`` for a request that would fail (a matching wire fault, or no elected
    master for the health request, which is not ``local``)."""
    api = EsApi(cluster)
    stats: dict[str, Any] | None = None
    if not wire_fault_hits(faults, NODES_STATS_PATH):
        with contextlib.suppress(EsError):
            stats = api.nodes_stats_body(None, frozenset(ALL_METRICS), None)
    health: dict[str, Any] | None = None
    if cluster.master() is not None and not wire_fault_hits(faults, HEALTH_PATH):
        with contextlib.suppress(EsError):
            health, _ = api.health_body(request.clone(rel_url=HEALTH_PATH), None)
    return stats, health


def build_exporter_app(cluster: Cluster, *, faults: FaultInjector | None = None) -> web.Application:
    """``GET /metrics`` (the exposition) and ``GET /`` (a landing page, as the exporter has).
    With ``faults`` (the twin's injector), ES-side wire faults reach the exporter too."""

    async def metrics(request: web.Request) -> web.Response:
        stats, health = twin_bodies(cluster, request, faults=faults)
        body = exposition_from_bodies(stats, health).encode()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def index(_: web.Request) -> web.Response:
        return web.Response(
            text=f"Elasticsearch exporter (es-autoscaler twin)\nMetrics: {METRICS_PATH}\n",
            content_type="text/plain",
        )

    app = web.Application()
    app.router.add_get(METRICS_PATH, metrics)
    app.router.add_get("/", index)
    return app


__all__: list[str] = [
    "CONTENT_TYPE",
    "METRICS_PATH",
    "Desc",
    "build_exporter_app",
    "exposition_from_bodies",
    "go_float",
    "node_labels",
    "node_roles",
    "render",
    "twin_bodies",
]
