"""Client fixtures for twin tests. Each test module defines its own ``running`` twin (the data
set differs per module); these build the real clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from elasticsearch import AsyncElasticsearch
from k8s_kit import api_for
from kubernetes_asyncio import client

from autoscaler.sim.server import RunningTwin


@pytest.fixture
async def k8s(running: RunningTwin) -> AsyncIterator[client.ApiClient]:
    async with await api_for(running.kubeconfig_path) as api:
        yield api


@pytest.fixture
async def es(running: RunningTwin) -> AsyncIterator[AsyncElasticsearch]:
    async with AsyncElasticsearch(running.es_url, max_retries=0) as es_client:
        yield es_client
