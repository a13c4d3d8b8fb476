"""Polling calls: node statistics and cluster health, as plain dicts.

The poller (signals/poller.py) is their only caller; they exist apart from ``client.py`` so
that the read path a poll takes every few seconds is one short file, and the admin calls the
operations make (``admin.py``) are another.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from elasticsearch import AsyncElasticsearch

from autoscaler.elastic.client import RetryPolicy, ServerInfo, get_json

__all__ = ["fetch_health", "fetch_node_stats"]


async def fetch_node_stats(
    client: AsyncElasticsearch,
    *,
    metric_groups: Iterable[str],
    filter_path: Iterable[str] | None = None,
    index_metric: Iterable[str] | None = None,
    server: ServerInfo | None = None,
    retry: RetryPolicy | None = None,
) -> dict[str, Any]:
    """``GET /_nodes/stats/<groups>[/<index_metric>]?filter_path=…`` as a dict.

    ``index_metric`` (e.g. ``["search", "indexing"]``) only applies when ``indices`` is among
    the groups; it spares the server the other index statistics.
    """
    groups = sorted(set(metric_groups)) or ["_all"]
    path = "/_nodes/stats/" + ",".join(groups)
    idx = sorted(set(index_metric or ()))
    if idx and "indices" in groups:
        path += "/" + ",".join(idx)
    fp = list(filter_path or ())
    params = {"filter_path": ",".join(fp)} if fp else None
    return await get_json(client, path, params=params, server=server, retry=retry)


async def fetch_health(
    client: AsyncElasticsearch,
    *,
    server: ServerInfo | None = None,
    retry: RetryPolicy | None = None,
) -> dict[str, Any]:
    """``GET /_cluster/health`` (no waiting) as a dict."""
    return await get_json(client, "/_cluster/health", params=None, server=server, retry=retry)
