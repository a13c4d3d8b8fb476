"""The minimal Elasticsearch role the README documents for the autoscaler is enough, and each of
its privileges is needed.

"Everything the service does" is the poller (``GET /``, node stats, health) plus every call of
``autoscaler.elastic.admin.EsAdmin`` (health, ``_cat/nodes``/``allocation``/``shards``,
``GET /_all``, allocation explain, cluster settings read and write, voting exclusions add /
read / clear), made by the real client over TLS as a user holding only that role. Dropping any
one privilege from the role makes one of those calls fail with 403 — within the privileges the
twin models (BEHAVIOUR.md §14), so the role cannot be trimmed further.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from _security_kit import AUTOSCALER_ROLE
from elasticsearch import AsyncElasticsearch, AuthorizationException

from autoscaler.core.policy import ElasticsearchConnection
from autoscaler.elastic.admin import EsAdmin
from autoscaler.elastic.client import RetryPolicy, make_client, server_info
from autoscaler.metrics import Metrics
from autoscaler.signals.poller import Poller, TierSubscription
from autoscaler.sim.es_security import EsUser, parse_role
from autoscaler.sim.server import RunningTwin

REPO_ROOT = Path(__file__).resolve().parents[3]
FAST = RetryPolicy(attempts=1)


def add_user(running: RunningTwin, name: str, role: dict[str, Any]) -> None:
    realm = running.es_security
    assert realm is not None
    realm.roles[f"{name}_role"] = parse_role(f"{name}_role", role)
    realm.users[name] = EsUser(name, f"{name}-pw", (f"{name}_role",))


async def everything_the_service_does(running: RunningTwin, user: str, tmp_path: Path) -> None:
    password = tmp_path / f"{user}.pw"
    password.write_text(f"{user}-pw\n")
    conn = ElasticsearchConnection.model_validate(
        {
            "url": running.es_url,
            "caFile": str(running.ca_file),
            "username": user,
            "passwordFile": str(password),
        }
    )
    client: AsyncElasticsearch = make_client(conn)
    try:
        poller = Poller(
            name="min",
            client=client,
            subscribers=[TierSubscription.of("data", roles=["data"], keys=[("cpu", "max")])],
            interval=10.0,
            clock=running.twin.clock.time,
            metrics=Metrics(),
            retry=FAST,
        )
        result = await poller.poll_once()
        if not result.ok:
            raise AssertionError(f"poll failed: {result.error}: {result.detail}")
        admin = EsAdmin(client, server=await server_info(client), retry=FAST)
        await admin.health()
        nodes = await admin.nodes()
        names = sorted(n.name for n in nodes)
        indices = await admin.indices()
        await admin.shard_copies_on(names)
        await admin.allocation_explain(index=indices[0].name, shard=0, primary=True)
        await admin.excluded_names()
        await admin.exclude([names[-1]])
        await admin.unexclude([names[-1]])
        voting = await admin.voting_state()
        voter = next(n.name for n in nodes if n.id in voting.committed_config)
        await admin.add_voting_exclusions([voter])
        await admin.clear_voting_exclusions(wait_for_removal=False)
    finally:
        await client.close()


async def test_a_user_with_only_the_documented_role_can_do_everything_the_service_does(
    secure: RunningTwin, tmp_path: Path
) -> None:
    assert secure.es_security is not None
    add_user(secure, "minimal", AUTOSCALER_ROLE)
    await everything_the_service_does(secure, "minimal", tmp_path)
    assert secure.es_security.refused_403 == 0


def without(role: dict[str, Any], where: str, privilege: str) -> dict[str, Any]:
    trimmed = copy.deepcopy(role)
    if where == "cluster":
        trimmed["cluster"].remove(privilege)
    else:
        for grant in trimmed["indices"]:
            grant["privileges"].remove(privilege)
    return trimmed


@pytest.mark.parametrize(
    ("where", "privilege"),
    [("cluster", "manage"), ("indices", "monitor"), ("indices", "view_index_metadata")],
)
async def test_every_privilege_of_the_documented_role_is_needed(
    secure: RunningTwin, tmp_path: Path, where: str, privilege: str
) -> None:
    add_user(secure, "trimmed", without(AUTOSCALER_ROLE, where, privilege))
    with pytest.raises((AuthorizationException, AssertionError)) as caught:
        await everything_the_service_does(secure, "trimmed", tmp_path)
    assert "is unauthorized for user [trimmed]" in str(caught.value)


def test_the_readme_security_section_documents_exactly_this_role() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Security", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the Security section has no ```json role block"
    assert json.loads(block.group(1)) == {"es_autoscaler": AUTOSCALER_ROLE}
