"""The whole service against a twin secured on both sides, configured as in a pod: the policy
names ``caFile`` + ``apiKeyFile`` for Elasticsearch, and Kubernetes comes from the in-cluster
configuration (``KUBERNETES_SERVICE_HOST``/``_PORT`` + the ServiceAccount directory), not a
kubeconfig. The policy's view must show a live metric (ES over TLS with the key) and the
StatefulSet's replicas (Kubernetes over TLS with the token)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from elasticsearch import AsyncElasticsearch
from service_kit import start_with

from autoscaler.settings import Settings
from autoscaler.sim.server import RunningTwin, run_twin
from autoscaler.targets.statefulset import SERVICEACCOUNT_DIR_ENV


@pytest.fixture
async def live_secure(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    async with run_twin(
        kubeconfig_dir=tmp_path / "twin",
        security=True,
        k8s_security=True,
        nodes=3,
        speed=1.0,
        pod_ready_delay=1.0,
    ) as running:
        yield running


async def test_service_polls_es_with_ca_and_api_key_and_reads_k8s_in_cluster(
    tmp_path: Path, live_secure: RunningTwin, monkeypatch: pytest.MonkeyPatch
) -> None:
    twin = live_secure
    assert twin.es_password is not None
    async with AsyncElasticsearch(
        twin.es_url, ca_certs=str(twin.ca_file), basic_auth=("elastic", twin.es_password)
    ) as admin:
        key = await admin.security.create_api_key(name="es-autoscaler")
    key_file = tmp_path / "api-key"
    key_file.write_text(key["encoded"] + "\n")
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "p.yaml").write_text(
        f"""
name: data
elasticsearch:
  url: "{twin.es_url}"
  caFile: "{twin.ca_file}"
  apiKeyFile: "{key_file}"
  pollInterval: 500ms
  requestTimeout: 2s
nodes: {{roles: [data]}}
target: {{statefulSet: {{namespace: elastic, name: es-data}}}}
replicas: {{min: 3, max: 6}}
scaleUp:
  when: {{metric: cpu, aggregate: max, above: 101, for: 2s}}
  step: 1
  cooldown: 1m
mode: dry-run
"""
    )
    assert twin.k8s_service_host is not None
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", twin.k8s_service_host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(twin.k8s_service_port))
    monkeypatch.setenv(SERVICEACCOUNT_DIR_ENV, str(twin.serviceaccount_dir))
    settings = Settings(
        policies=pdir, host="127.0.0.1", port=0, kubeconfig=None, state_dir=tmp_path / "state"
    )
    service, url = await start_with(settings)
    view: dict[str, Any] | None = None
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):  # bounded: at most ~20 s of 100 ms waits
                async with session.get(f"{url}/api/v1/policies/data") as r:
                    view = await r.json()
                conds = view["conditions"] if view else []
                if conds and conds[0]["value"] is not None and view and view["replicas"]["current"]:
                    break
                await asyncio.sleep(0.1)
    finally:
        await service.stop()
    assert view is not None
    assert view["lastPoll"]["ok"] is True, view["lastPoll"]
    assert view["replicas"]["current"] == 3  # from the StatefulSet, via the in-cluster config
    assert sorted(view["tierNodes"]) == ["es-data-0", "es-data-1", "es-data-2"]
    assert twin.es_security is not None
    assert twin.es_security.refused_401 == 0
