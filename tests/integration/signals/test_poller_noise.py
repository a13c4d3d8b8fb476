"""Harmless failures log once, at the right level (issue 9 item 9).

During an Elasticsearch hang, ``fetch_health`` could fail while ``_nodes/stats`` was still
pending; when stats then failed too, the health task's exception was never retrieved and
asyncio logged "Task exception was never retrieved" at ERROR on every such poll. The real
client against the small fake on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import gc

from _es_kit import FakeEs, serve
from aiohttp import web

from autoscaler.core.policy import ElasticsearchConnection
from autoscaler.elastic.client import RetryPolicy, make_client
from autoscaler.metrics import Metrics
from autoscaler.signals.poller import Poller, TierSubscription


class HealthFailsFirst(FakeEs):
    """Health answers 404 at once; node stats answers 404 only after health has failed."""

    def __init__(self) -> None:
        super().__init__()
        self.health_failed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/_nodes/stats"):
            await self.health_failed.wait()
            await asyncio.sleep(0.05)  # let the client see the health answer first
            self.fail("/_nodes/stats", 404)
        response = await super().handle(request)
        if request.path.startswith("/_cluster/health"):
            self.health_failed.set()
        return response


async def test_a_poll_failing_in_both_calls_leaves_no_unretrieved_task_exception() -> None:
    fake = HealthFailsFirst()
    fake.fail("/_cluster/health", 404)
    async with serve(fake) as f:
        client = make_client(ElasticsearchConnection.model_validate({"url": f.url}))
        try:
            poller = Poller(
                name="prod",
                client=client,
                subscribers=[TierSubscription.of("p", roles=["data"], keys=[("cpu", "avg")])],
                interval=10.0,
                clock=lambda: 1000.0,
                metrics=Metrics(),
                retry=RetryPolicy(attempts=1, deadline=5.0),
            )
            loop = asyncio.get_running_loop()
            unhandled: list[str] = []
            loop.set_exception_handler(lambda _, ctx: unhandled.append(str(ctx.get("message"))))
            try:
                result = await poller.poll_once()
                for _ in range(3):
                    await asyncio.sleep(0.01)
                    gc.collect()
            finally:
                loop.set_exception_handler(None)
        finally:
            await client.close()
    assert not result.ok
    assert f.seen("/_cluster/health")
    assert f.seen("/_nodes/stats")
    assert not [m for m in unhandled if "never retrieved" in m], unhandled
