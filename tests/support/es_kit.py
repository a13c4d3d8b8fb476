"""Serving one twin ``Cluster`` over HTTP for tests: its URL, or a real client pointed at it.

Many ES-side tests build a ``Cluster`` directly (no Kubernetes side, a virtual clock they step
themselves) and need it on 127.0.0.1:0; this is that once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from elasticsearch import AsyncElasticsearch

from autoscaler.sim.cluster import Cluster
from autoscaler.sim.es_api import build_es_app


@contextlib.asynccontextmanager
async def serve_cluster(cluster: Cluster) -> AsyncIterator[str]:
    """Serve ``cluster``'s ES API on 127.0.0.1 (a free port); yields its base URL."""
    runner = web.AppRunner(build_es_app(cluster), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def es_client(cluster: Cluster, **options: Any) -> AsyncIterator[AsyncElasticsearch]:
    """The real elasticsearch-py client against ``cluster`` (``options`` go to the client;
    transport retries are off unless given)."""
    options.setdefault("max_retries", 0)
    async with serve_cluster(cluster) as url:
        es = AsyncElasticsearch(url, **options)
        try:
            yield es
        finally:
            await es.close()
