"""Shared fixtures for service tests: a real Service on 127.0.0.1:0 against the real twin."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twin_kit import eventually

from autoscaler.metrics import Metrics
from autoscaler.service.serve import Service
from autoscaler.settings import Settings
from autoscaler.signals.webhook import WebhookAuth
from autoscaler.sim.server import RunningTwin, run_twin

TOKEN = "test-webhook-token-123"  # the token in the real captures' headers


def policy_yaml(
    *,
    name: str,
    es_url: str,
    when_up: str,
    when_down: str | None = None,
    poll: str = "500ms",
    sts: str = "elastic/es-data",
    bounds: tuple[int, int] = (3, 6),
    mode: str = "active",
) -> str:
    ns, sts_name = sts.split("/")
    text = f"""
name: {name}
elasticsearch: {{url: "{es_url}", pollInterval: {poll}, requestTimeout: 2s}}
nodes: {{roles: [data]}}
target: {{statefulSet: {{namespace: {ns}, name: {sts_name}}}}}
replicas: {{min: {bounds[0]}, max: {bounds[1]}}}
scaleUp:
  when: {when_up}
  step: 1
  cooldown: 1m
mode: {mode}
"""
    if when_down:
        text += f"scaleDown:\n  when: {when_down}\n  step: 1\n  cooldown: 5m\n"
    return text


@dataclass
class Running:
    service: Service
    url: str
    twin: RunningTwin
    session: aiohttp.ClientSession
    policies: Path

    async def get(self, path: str) -> Any:
        async with self.session.get(self.url + path) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def wait_for(
        self, predicate: Callable[[], Any], *, deadline_s: float = 20.0, what: str = ""
    ) -> Any:
        """Poll an async predicate until it returns a truthy value (or fail after timeout)."""
        return await eventually(
            predicate, what=what or str(predicate), deadline_s=deadline_s, interval_s=0.1
        )


@pytest.fixture
async def twin() -> AsyncIterator[RunningTwin]:
    async with run_twin(nodes=3, speed=1.0, pod_ready_delay=1.0) as t:
        yield t


async def start_service(
    tmp_path: Path,
    twin: RunningTwin,
    *,
    settings_extra: dict[str, Any] | None = None,
    **policy: Any,
) -> tuple[Service, str]:
    """A Service on 127.0.0.1:0 with one policy (``policy_yaml(**policy)`` on the twin's ES);
    ``settings_extra`` adds Settings fields (e.g. ``alertmanager_url``)."""
    pdir = tmp_path / "policies"
    pdir.mkdir(exist_ok=True)
    (pdir / "p.yaml").write_text(policy_yaml(es_url=twin.es_url, **policy))
    settings = Settings(
        policies=pdir,
        host="127.0.0.1",
        port=0,
        kubeconfig=twin.kubeconfig_path,
        state_dir=tmp_path / "state",
        **(settings_extra or {}),
    )
    return await start_with(settings)


async def start_with(settings: Settings) -> tuple[Service, str]:
    """A Service started on ``settings`` with the bearer ``TOKEN``; it and its URL."""
    auth = WebhookAuth.from_sources(
        token=TOKEN,
        token_file=None,
        basic_user=None,
        basic_password_file=None,
        insecure_no_auth=False,
    )
    service = Service(settings=settings, metrics=Metrics(), auth=auth)
    result = service.load_initial()
    assert result.ok, result.errors
    host, port = await service.start()
    return service, f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, twin: RunningTwin, **policy: Any) -> AsyncIterator[Running]:
    """A started Service (see ``start_service``) plus an HTTP session to it; both closed on exit."""
    service, url = await start_service(tmp_path, twin, **policy)
    session = aiohttp.ClientSession()
    try:
        yield Running(service, url, twin, session, tmp_path / "policies")
    finally:
        await session.close()
        await service.stop()
