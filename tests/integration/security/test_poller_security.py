"""The poller against ``sim --security``: TLS with the cluster's CA and an API key or a user
and password, all from files as the policy configures them; and the two failures an operator
meets first — a wrong CA and a wrong key — reported as ``tls`` and ``auth`` without a retry
storm (the twin counts the handshakes and requests it served)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

from autoscaler.core.policy import ElasticsearchConnection
from autoscaler.elastic.client import make_client
from autoscaler.metrics import Metrics
from autoscaler.signals.poller import Poller, PollResult, TierSubscription
from autoscaler.sim.server import RunningTwin
from autoscaler.sim.tls import generate_tls

POLLS = 3


def poller(running: RunningTwin, **conn: Any) -> Poller:
    connection = ElasticsearchConnection.model_validate({"url": running.es_url, **conn})
    return Poller(
        name="secure",
        client=make_client(connection),
        subscribers=[TierSubscription.of("data", roles=["data"], keys=[("cpu", "max")])],
        interval=10.0,
        clock=running.twin.clock.time,
        metrics=Metrics(),
    )


async def poll_times(p: Poller, n: int) -> list[PollResult]:
    try:
        return [await p.poll_once() for _ in range(n)]
    finally:
        await p._client.close()


def secret(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text + "\n")
    return str(path)


async def test_poller_reads_the_tier_over_tls_with_ca_file_and_api_key_file(
    secure: RunningTwin, tmp_path: Path
) -> None:
    assert secure.es_security is not None
    assert secure.ca_file is not None
    async with AsyncElasticsearch(
        secure.es_url, ca_certs=str(secure.ca_file), basic_auth=("keys", "keys-pw")
    ) as owner:
        created = await owner.security.create_api_key(name="autoscaler-poller")
    key_file = secret(tmp_path, "api-key", created["encoded"])
    results = await poll_times(poller(secure, caFile=str(secure.ca_file), apiKeyFile=key_file), 1)
    assert results[0].ok, results[0].detail
    assert results[0].tiers["data"].node_count == 3
    assert results[0].health in ("green", "yellow")


async def test_poller_accepts_an_id_colon_key_file_as_well_as_the_encoded_form(
    secure: RunningTwin, tmp_path: Path
) -> None:
    async with AsyncElasticsearch(
        secure.es_url, ca_certs=str(secure.ca_file), basic_auth=("keys", "keys-pw")
    ) as owner:
        created = await owner.security.create_api_key(name="raw-form")
    key_file = secret(tmp_path, "api-key", f"{created['id']}:{created['api_key']}")
    results = await poll_times(poller(secure, caFile=str(secure.ca_file), apiKeyFile=key_file), 1)
    assert results[0].ok, results[0].detail


async def test_poller_reads_the_tier_with_username_and_password_file(
    secure: RunningTwin, tmp_path: Path
) -> None:
    password_file = secret(tmp_path, "password", "autoscaler-pw")
    p = poller(
        secure, caFile=str(secure.ca_file), username="autoscaler", passwordFile=password_file
    )
    results = await poll_times(p, 1)
    assert results[0].ok, results[0].detail


async def test_wrong_ca_is_a_tls_error_and_each_poll_makes_one_handshake_only(
    secure: RunningTwin, tmp_path: Path
) -> None:
    assert secure.es_handshakes is not None
    assert secure.es_security is not None
    other_ca = generate_tls(tmp_path / "other", prefix="other").ca_cert
    password_file = secret(tmp_path, "password", "autoscaler-pw")
    before = secure.es_handshakes.count
    p = poller(secure, caFile=str(other_ca), username="autoscaler", passwordFile=password_file)
    results = await poll_times(p, POLLS)
    assert [r.error for r in results] == ["tls"] * POLLS
    assert "certificate verify failed" in (results[0].detail or "")
    # What to fix survives the poller's shortening of long details.
    assert "caFile must hold the CA" in (results[0].detail or "")
    assert "Elasticsearch's http_ca.crt" in (results[0].detail or "")
    # A retried TLS error would show up as more handshakes than polls.
    assert secure.es_handshakes.count - before == POLLS
    assert secure.es_security.requests_seen == 0  # no HTTP request ever got through


async def test_wrong_api_key_is_an_auth_error_and_each_poll_sends_one_request_only(
    secure: RunningTwin, tmp_path: Path
) -> None:
    assert secure.es_security is not None
    bad = base64.b64encode(b"nosuchkey:secret").decode()
    key_file = secret(tmp_path, "api-key", bad)
    before = secure.es_security.requests_seen
    p = poller(secure, caFile=str(secure.ca_file), apiKeyFile=key_file)
    results = await poll_times(p, POLLS)
    assert [r.error for r in results] == ["auth"] * POLLS
    assert secure.es_security.requests_seen - before == POLLS
    assert secure.es_security.refused_401 == POLLS


async def test_wrong_password_is_an_auth_error_not_retried(
    secure: RunningTwin, tmp_path: Path
) -> None:
    assert secure.es_security is not None
    password_file = secret(tmp_path, "password", "wrong")
    p = poller(
        secure, caFile=str(secure.ca_file), username="autoscaler", passwordFile=password_file
    )
    results = await poll_times(p, POLLS)
    assert [r.error for r in results] == ["auth"] * POLLS
    assert secure.es_security.refused_401 == POLLS


async def test_a_user_without_monitor_is_an_auth_error_not_retried(
    secure: RunningTwin, tmp_path: Path
) -> None:
    assert secure.es_security is not None
    password_file = secret(tmp_path, "password", "nobody-pw")
    p = poller(secure, caFile=str(secure.ca_file), username="nobody", passwordFile=password_file)
    results = await poll_times(p, POLLS)
    assert [r.error for r in results] == ["auth"] * POLLS
    assert "cluster:monitor/main" in (results[0].detail or "")
    assert secure.es_security.refused_403 == POLLS
