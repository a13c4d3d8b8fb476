"""A hung or connection-dropping Kubernetes API is visible, not a silent freeze (issue 9 item 2).

Before: the replicas read had no timeout (kubernetes-asyncio's default ``ClientTimeout()``
has none), so a hung API server froze the policy while its status said the old replica count.
The real service and the real kubernetes-asyncio client against the twin's fault injection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from service_kit import serving

from autoscaler.sim.server import RunningTwin


async def _fault(twin: RunningTwin, spec: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{twin.es_url}/_sim/faults", json=spec) as r,
    ):
        assert r.status == 200, await r.text()


async def _clear(twin: RunningTwin) -> None:
    async with aiohttp.ClientSession() as s, s.delete(f"{twin.es_url}/_sim/faults") as r:
        assert r.status == 200, await r.text()


async def test_a_hung_kubernetes_api_shows_as_a_replicas_error_within_a_few_polls(
    tmp_path: Path, twin: RunningTwin
) -> None:
    async with serving(
        tmp_path, twin, name="data", when_up="{metric: cpu, aggregate: max, above: 101, for: 2s}"
    ) as r:

        async def replicas() -> Any:
            return (await r.get("/api/v1/policies/data"))["replicas"]

        await r.wait_for(lambda: _is_current(replicas, 3), what="a first replicas read")
        await _fault(twin, {"type": "timeout", "app": "k8s", "seconds": 3600})
        view = await r.wait_for(lambda: _errored(replicas), what="the hang to show")
        assert view["current"] is None
        assert "did not answer" in view["error"]
        metrics = await _metrics(r.session, r.url)
        assert 'esas_target_unavailable{policy="data"} 1.0' in metrics
        # polling went on meanwhile: Elasticsearch samples kept arriving
        last = (await r.get("/api/v1/policies/data"))["lastPoll"]
        assert last["ok"] is True
        await _clear(twin)
        await r.wait_for(lambda: _is_current(replicas, 3), what="recovery")
        assert 'esas_target_unavailable{policy="data"} 0.0' in await _metrics(r.session, r.url)


async def test_a_dropped_kubernetes_connection_shows_as_a_replicas_error(
    tmp_path: Path, twin: RunningTwin
) -> None:
    async with serving(
        tmp_path, twin, name="data", when_up="{metric: cpu, aggregate: max, above: 101, for: 2s}"
    ) as r:

        async def replicas() -> Any:
            return (await r.get("/api/v1/policies/data"))["replicas"]

        await r.wait_for(lambda: _is_current(replicas, 3), what="a first replicas read")
        await _fault(twin, {"type": "drop", "app": "k8s"})
        view = await r.wait_for(lambda: _errored(replicas), what="the drop to show")
        assert "kubernetes API" in view["error"]


async def _is_current(replicas: Any, n: int) -> bool:
    return bool((await replicas())["current"] == n)


async def _errored(replicas: Any) -> Any:
    view = await replicas()
    return view if view["error"] else None


async def _metrics(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url + "/metrics") as resp:
        return await resp.text()
