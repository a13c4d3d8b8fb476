"""``sim --security``: the twin refuses and admits requests as an Elasticsearch 8 node with
security on does (bodies and messages from BEHAVIOUR.md §14), over HTTPS with its own CA,
driven by the real elasticsearch-py client."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from elasticsearch import (
    AsyncElasticsearch,
    AuthenticationException,
    AuthorizationException,
    BadRequestError,
)

from autoscaler.sim.es_security import load_users_file
from autoscaler.sim.server import RunningTwin

CHALLENGES = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]
EsFactory = Callable[..., AsyncElasticsearch]


async def test_request_without_credentials_gets_401_security_exception_with_three_challenges(
    secure: RunningTwin, ca_context: ssl.SSLContext
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{secure.es_url}/_cluster/health?pretty", ssl=ca_context) as resp,
    ):
        body = await resp.json(content_type=None)
        challenges = resp.headers.getall("WWW-Authenticate")
        product = resp.headers.get("X-elastic-product")
    reason = "missing authentication credentials for REST request [/_cluster/health?pretty]"
    cause = {
        "type": "security_exception",
        "reason": reason,
        "header": {"WWW-Authenticate": CHALLENGES},
    }
    assert resp.status == 401
    assert body == {"error": {"root_cause": [cause], **cause}, "status": 401}
    assert challenges == CHALLENGES
    assert product is None  # ES sends no product header on 401/403


async def test_filter_path_does_not_empty_a_security_error_body(
    secure: RunningTwin, ca_context: ssl.SSLContext
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{secure.es_url}/_nodes/stats?filter_path=nodes", ssl=ca_context) as resp,
    ):
        body = await resp.json(content_type=None)
    assert resp.status == 401
    assert body["error"]["type"] == "security_exception"


async def test_unknown_path_is_refused_before_routing_when_unauthenticated(
    secure: RunningTwin, ca_context: ssl.SSLContext
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{secure.es_url}/_no/such/api", ssl=ca_context) as resp,
    ):
        assert resp.status == 401


async def test_elastic_superuser_with_the_written_password_reads_over_tls(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    assert secure.es_url.startswith("https://")
    assert secure.es_password_file is not None
    password = secure.es_password_file.read_text().strip()
    assert password == secure.es_password
    es = es_as(basic_auth=("elastic", password))
    info = await es.info()
    me = await es.security.authenticate()
    assert info["version"]["number"] == "8.15.0"
    assert me["username"] == "elastic"
    assert me["roles"] == ["superuser"]
    assert me["authentication_realm"] == {"name": "reserved", "type": "reserved"}


async def test_wrong_password_is_refused_naming_the_user(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    es = es_as(basic_auth=("watcher", "not-the-password"))
    with pytest.raises(AuthenticationException) as caught:
        await es.cluster.health()
    assert caught.value.meta.status == 401
    assert caught.value.body["error"]["reason"] == (
        "unable to authenticate user [watcher] for REST request [/_cluster/health]"
    )


async def test_api_key_created_by_a_user_authenticates_with_the_apikey_header(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    owner = es_as(basic_auth=("keys", "keys-pw"))
    created = await owner.security.create_api_key(name="poller")
    encoded = base64.b64encode(f"{created['id']}:{created['api_key']}".encode()).decode()
    assert created["encoded"] == encoded
    keyed = es_as(api_key=created["encoded"])
    me = await keyed.security.authenticate()
    stats = await keyed.nodes.stats(metric="jvm")
    assert me["authentication_type"] == "api_key"
    assert me["api_key"] == {"id": created["id"], "name": "poller"}
    assert me["username"] == "keys"
    assert len(stats["nodes"]) == 3


async def test_unknown_api_key_is_refused_with_the_reason_under_additional_credentials(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    es = es_as(api_key=("nosuchkeyid", "whatever"))
    with pytest.raises(AuthenticationException) as caught:
        await es.info()
    error = caught.value.body["error"]
    assert error["reason"] == (
        "unable to authenticate with provided credentials and anonymous access "
        "is not allowed for this request"
    )
    assert error["additional_unsuccessful_credentials"] == (
        "API key: unable to find apikey with id nosuchkeyid"
    )


async def test_a_user_without_manage_api_key_privileges_cannot_create_keys(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    es = es_as(basic_auth=("manager", "manager-pw"))  # `manage` excludes security actions
    with pytest.raises(AuthorizationException) as caught:
        await es.security.create_api_key(name="nope")
    assert caught.value.body["error"]["reason"] == (
        "action [cluster:admin/xpack/security/api_key/create] is unauthorized for user "
        "[manager] with effective roles [cluster_manager], this action is granted by the "
        "cluster privileges [manage_own_api_key,manage_api_key,manage_security,all]"
    )


async def test_monitor_reads_stats_health_and_cat_but_cluster_settings_need_manage(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    es = es_as(basic_auth=("watcher", "watcher-pw"))
    await es.nodes.stats()
    await es.nodes.info()
    await es.cluster.health()
    await es.cat.nodes(format="json")
    with pytest.raises(AuthorizationException) as caught:
        await es.cluster.put_settings(persistent={"cluster.routing.allocation.enable": "all"})
    assert caught.value.meta.status == 403
    assert caught.value.body == {
        "error": {
            "root_cause": [
                {"type": "security_exception", "reason": caught.value.body["error"]["reason"]}
            ],
            "type": "security_exception",
            "reason": "action [cluster:admin/settings/update] is unauthorized for user "
            "[watcher] with effective roles [monitor_only], this action is granted by the "
            "cluster privileges [manage,all]",
        },
        "status": 403,
    }


async def test_voting_exclusions_need_manage(secure: RunningTwin, es_as: EsFactory) -> None:
    es = es_as(basic_auth=("watcher", "watcher-pw"))
    with pytest.raises(AuthorizationException) as caught:
        await es.cluster.delete_voting_config_exclusions()
    assert "action [cluster:admin/voting_config/clear_exclusions]" in str(caught.value.body)
    assert "granted by the cluster privileges [manage,all]" in str(caught.value.body)


async def test_manage_grants_everything_monitor_does(secure: RunningTwin, es_as: EsFactory) -> None:
    es = es_as(basic_auth=("manager", "manager-pw"))
    await es.nodes.stats()
    await es.cluster.health()
    await es.cat.allocation(format="json")
    await es.cluster.put_settings(persistent={"cluster.routing.allocation.enable": "all"})


async def test_a_user_lacking_monitor_gets_the_granting_privileges_and_missing_roles_named(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    es = es_as(basic_auth=("nobody", "nobody-pw"))
    with pytest.raises(AuthorizationException) as caught:
        await es.nodes.stats()
    assert caught.value.body["error"]["reason"] == (
        "action [cluster:monitor/nodes/stats] is unauthorized for user [nobody] with effective "
        "roles [nothing] (assigned roles [ghost_role] were not found), this action is granted "
        "by the cluster privileges [monitor,manage,all]"
    )


async def test_cluster_privileges_do_not_grant_index_actions(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    es = es_as(basic_auth=("manager", "manager-pw"))
    with pytest.raises(AuthorizationException) as caught:
        await es.indices.get(index="_all")
    assert caught.value.body["error"]["reason"] == (
        "action [indices:admin/get] is unauthorized for user [manager] with effective roles "
        "[cluster_manager] on indices [_all], this action is granted by the index privileges "
        "[view_index_metadata,manage,all]"
    )


async def test_api_key_with_role_descriptors_is_limited_by_them(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    assert secure.es_password is not None
    admin = es_as(basic_auth=("elastic", secure.es_password))
    created = await admin.security.create_api_key(
        name="read-only", role_descriptors={"ro": {"cluster": ["monitor"]}}
    )
    keyed = es_as(api_key=created["encoded"])
    await keyed.cluster.health()
    with pytest.raises(AuthorizationException) as caught:
        await keyed.cluster.put_settings(persistent={"cluster.routing.allocation.enable": "all"})
    assert caught.value.body["error"]["reason"] == (
        f"action [cluster:admin/settings/update] is unauthorized for API key id "
        f"[{created['id']}] of user [elastic], this action is granted by the cluster "
        "privileges [manage,all]"
    )


async def test_control_api_stays_open_when_security_is_on(
    secure: RunningTwin, ca_context: ssl.SSLContext
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{secure.es_url}/_sim/state", ssl=ca_context) as resp,
    ):
        assert resp.status == 200


async def test_plain_http_twin_stays_open_by_default() -> None:
    from autoscaler.sim.server import run_twin

    async with run_twin(nodes=1) as running, AsyncElasticsearch(running.es_url) as es:
        assert running.es_url.startswith("http://")
        assert running.ca_file is None
        assert running.es_security is None
        await es.cluster.health()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("roles: {r: {cluster: [monitor_everything]}}\n", "unknown cluster privilege"),
        ("roles: {r: {indices: [{names: ['*'], privileges: [rule]}]}}\n", "unknown index"),
        ("users: {u: {roles: [r]}}\n", "needs a string 'password'"),
        ("[1, 2]\n", "expected an object"),
    ],
)
def test_a_bad_users_file_is_refused_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "users.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_users_file(path)


async def test_an_api_key_cannot_derive_a_key_with_privileges(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    owner = es_as(basic_auth=("keys", "keys-pw"))
    created = await owner.security.create_api_key(name="parent")
    keyed = es_as(api_key=created["encoded"])
    with pytest.raises(BadRequestError) as caught:
        await keyed.security.create_api_key(name="child")
    assert caught.value.body["error"]["type"] == "illegal_argument_exception"
    with pytest.raises(BadRequestError):
        await keyed.security.create_api_key(
            name="powerful", role_descriptors={"r": {"cluster": ["monitor"]}}
        )
    empty = await keyed.security.create_api_key(name="empty", role_descriptors={"none": {}})
    assert empty["name"] == "empty"


async def test_an_expired_api_key_is_refused(secure: RunningTwin, es_as: EsFactory) -> None:
    owner = es_as(basic_auth=("keys", "keys-pw"))
    created = await owner.security.create_api_key(name="short", expiration="1m")
    keyed = es_as(api_key=created["encoded"])
    await keyed.cluster.health()
    secure.twin.advance(61)
    with pytest.raises(AuthenticationException) as caught:
        await keyed.cluster.health()
    assert caught.value.body["error"]["additional_unsuccessful_credentials"] == (
        "API key: api key is expired"
    )


async def test_index_settings_need_the_index_manage_privilege(
    secure: RunningTwin, es_as: EsFactory
) -> None:
    assert secure.es_password is not None
    admin = es_as(basic_auth=("elastic", secure.es_password))
    index = sorted((await admin.indices.get(index="_all")).body)[0]
    manager = es_as(basic_auth=("manager", "manager-pw"))  # cluster manage, no index privilege
    with pytest.raises(AuthorizationException) as caught:
        await manager.indices.put_settings(index=index, settings={"number_of_replicas": 1})
    assert caught.value.body["error"]["reason"] == (
        f"action [indices:admin/settings/update] is unauthorized for user [manager] with "
        f"effective roles [cluster_manager] on indices [{index}], this action is granted by "
        "the index privileges [manage,all]"
    )
    await admin.indices.put_settings(index=index, settings={"number_of_replicas": 1})


@pytest.mark.parametrize(
    ("user", "call", "allowed"),
    [
        ("watcher", "health_report", True),
        ("watcher", "cat_health", True),
        ("watcher", "reroute", False),
        ("manager", "reroute", True),
        ("manager", "cat_indices", False),  # index stats need an index privilege
    ],
)
async def test_newer_endpoints_need_the_privilege_of_their_action(
    secure: RunningTwin, es_as: EsFactory, user: str, call: str, allowed: bool
) -> None:
    es = es_as(basic_auth=(user, f"{user}-pw"))
    calls = {
        "health_report": lambda: es.health_report(),
        "cat_health": lambda: es.cat.health(format="json"),
        "reroute": lambda: es.cluster.reroute(retry_failed=True),
        "cat_indices": lambda: es.cat.indices(format="json"),
    }
    if allowed:
        await calls[call]()
    else:
        with pytest.raises(AuthorizationException):
            await calls[call]()
