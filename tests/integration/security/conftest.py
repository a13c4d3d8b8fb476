"""A twin with security on (ES 8 defaults: HTTPS with the twin's own CA, users, roles, API keys)
and the Kubernetes side over HTTPS with a required ServiceAccount token.

The users file gives each test a user with exactly the privileges it is about; ``es_autoscaler``
is the minimal role the README documents for the service (kept in one place, here, and checked
against the README text by ``test_minimal_role``)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from _security_kit import USERS
from elasticsearch import AsyncElasticsearch

from autoscaler.sim.server import RunningTwin, run_twin


@pytest.fixture
async def secure(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    users = tmp_path / "users.yml"
    users.write_text(yaml.safe_dump(USERS))
    async with run_twin(
        kubeconfig_dir=tmp_path / "twin",
        security=True,
        k8s_security=True,
        es_users_file=str(users),
        nodes=3,
    ) as running:
        yield running


@pytest.fixture
def ca_context(secure: RunningTwin) -> ssl.SSLContext:
    assert secure.ca_file is not None
    return ssl.create_default_context(cafile=str(secure.ca_file))


@pytest.fixture
async def es_as(
    secure: RunningTwin,
) -> AsyncIterator[Callable[..., AsyncElasticsearch]]:
    """Real clients for the secure twin: ``es_as(basic_auth=(u, p))`` or ``es_as(api_key=…)``."""
    made: list[AsyncElasticsearch] = []

    def make(**auth: Any) -> AsyncElasticsearch:
        c = AsyncElasticsearch(secure.es_url, ca_certs=str(secure.ca_file), max_retries=0, **auth)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()
