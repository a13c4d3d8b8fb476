"""The shipped monitoring artefacts, made runnable in a test: Prometheus configs, a test copy of
the rules with short ``for``, the shipped Alertmanager route pointed at a test receiver, and a
real Prometheus started on 127.0.0.1.

For the whole-chain e2e (Prometheus → rules → Alertmanager → service → StatefulSet) and the
dashboard test. Everything is derived from the files in ``helm/es-autoscaler/files/``, never
retyped, so a change to a shipped file is what the tests run.

How the twin drives the shipped rules (3 data nodes, ``TwinSpec`` defaults; measured with the
twin's load model, see ``test_monitoring_artefacts``): a search workload of ~1000/s puts the
data-node CPU near 90 % (``EsHighCpu``) with shard query times ~25 ms; from ~1500/s the search
pool saturates (queue 1000, rejections, shard query time ~2.6 s → ``EsSearchLatencyHigh``,
``EsSearchRejections``); disk stays ~54 % used (no ``EsDiskFilling``). Set it with
``twin.cluster.set_workload(search_per_s=…, index_per_s=…)`` or ``PUT /_sim/workload``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from _e2e_kit import ALERTMANAGER, PROMETHEUS, Alertmanager, Process, free_port, http_ok, wait_until

REPO = Path(__file__).parents[2]
FILES = REPO / "helm" / "es-autoscaler" / "files"
RULES = FILES / "prometheus-rules.yaml"
ALERTMANAGER_CONFIG = FILES / "alertmanager.yaml"
DASHBOARD = FILES / "dashboard.json"


def rules_for_test(*, for_: str = "2s", window: str = "30s") -> str:
    """The shipped rules with every ``for`` shortened to ``for_`` and every range selector
    (``[5m]``) to ``window``, so alerts fire and resolve in seconds; nothing else changes."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = for_
            rule["expr"] = re.sub(r"\[\d+[smhd]\]", f"[{window}]", rule["expr"])
    return yaml.safe_dump(doc, sort_keys=False)


def alertmanager_config_for_test(
    *, webhook_url: str, credentials_file: Path, fast: bool = True
) -> str:
    """The shipped route + receiver with the test receiver's URL and token file; ``fast``
    shortens ``group_wait``/``group_interval`` to 1s (``repeat_interval`` stays as shipped)."""
    doc = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for receiver in doc["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url
            hook["http_config"]["authorization"]["credentials_file"] = str(credentials_file)
    if fast:
        for route in doc["route"].get("routes", []):
            route["group_wait"] = "1s"
            route["group_interval"] = "1s"
    return yaml.safe_dump(doc, sort_keys=False)


def prometheus_config(
    *,
    targets: Mapping[str, str],
    rule_files: Sequence[Path] = (),
    alertmanager: str | None = None,
    interval: str = "1s",
) -> str:
    """A Prometheus config scraping ``{job: "host:port"}`` (path ``/metrics``) every
    ``interval``, evaluating ``rule_files``, sending alerts to ``alertmanager`` (``host:port``)."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }
    if alertmanager is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return json.dumps(config, indent=2)  # JSON is YAML


def host_port(url: str) -> str:
    """``http://127.0.0.1:9/metrics`` → ``127.0.0.1:9`` (a scrape target)."""
    return url.split("://", 1)[-1].split("/", 1)[0]


@dataclass
class Prometheus:
    url: str
    process: Process


def _write_home(home: Path, config: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "prometheus.yml").write_text(config)


async def start_prometheus(
    processes: Callable[..., Process], home: Path, config: str
) -> Prometheus:
    """Write ``config`` under ``home``, start the real Prometheus on 127.0.0.1, wait until
    ready (it is stopped by the ``processes`` fixture)."""
    _write_home(home, config)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = processes(
        "prometheus",
        [
            str(PROMETHEUS),
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
        ],
        log=home / "prometheus.log",
    )
    await wait_until(lambda: http_ok(f"{url}/-/ready"), what="Prometheus ready", procs=(proc,))
    return Prometheus(url=url, process=proc)


async def start_alertmanager(
    processes: Callable[..., Process], home: Path, config: str
) -> Alertmanager:
    """The real Alertmanager on 127.0.0.1 with ``config`` (e.g. ``alertmanager_config_for_test``),
    no clustering, ready when this returns (stopped by the ``processes`` fixture)."""
    (home / "data").mkdir(parents=True, exist_ok=True)
    (home / "alertmanager.yml").write_text(config)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = processes(
        "alertmanager",
        [
            str(ALERTMANAGER),
            f"--config.file={home / 'alertmanager.yml'}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
            "--cluster.listen-address=",
        ],
        log=home / "alertmanager.log",
    )
    await wait_until(lambda: http_ok(f"{url}/-/ready"), what="Alertmanager ready", procs=(proc,))
    return Alertmanager(url=url, process=proc)
