"""``EsAdmin`` with the real ``elasticsearch[async]`` client against the twin on 127.0.0.1.

What the scale-down operations rely on, each checked on the twin's own state rather than on
what ``EsAdmin`` says about itself: the user's exclusion survives ours (both scopes, transient
winning), the twin really drains the node we exclude, a RELOCATING copy counts for both ends,
health long-polls answer when the condition is met and turn a 408 into ``timed_out``, voting
exclusions are added and cleared, 5xx are retried and 4xx are not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from elasticsearch import ApiError, AsyncElasticsearch

from autoscaler.elastic.admin import EXCLUDE_NAME, EsAdmin
from autoscaler.elastic.client import RetryPolicy, server_info
from autoscaler.sim.datasets import parse_indices_spec
from autoscaler.sim.server import RunningTwin, run_twin

NODES = ["es-data-0", "es-data-1", "es-data-2", "es-data-3"]
INDICES = "logs:4x1:2gb,scratch:2x0:256mb"
FAST_RETRY = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.02)


@pytest.fixture
async def running() -> AsyncIterator[RunningTwin]:
    async with run_twin(nodes=4, indices=parse_indices_spec(INDICES)) as rt:
        yield rt


@pytest.fixture
async def es(running: RunningTwin) -> AsyncIterator[AsyncElasticsearch]:
    async with AsyncElasticsearch(running.es_url, max_retries=0) as client:
        yield client


@pytest.fixture
async def admin(es: AsyncElasticsearch) -> EsAdmin:
    return EsAdmin(es, server=await server_info(es), retry=FAST_RETRY)


async def put_settings(es: AsyncElasticsearch, body: dict[str, Any]) -> None:
    await es.cluster.put_settings(**body)


async def flat_settings(es: AsyncElasticsearch) -> dict[str, Any]:
    body = (await es.cluster.get_settings(flat_settings=True)).body
    return {scope: body[scope].get(EXCLUDE_NAME) for scope in ("persistent", "transient")}


def model_copies(rt: RunningTwin) -> Counter[str]:
    """Copies per node from the twin's model: a relocating copy counts at source and target."""
    count: Counter[str] = Counter()
    for c in rt.twin.cluster.copies():
        if c.node is None or c.state == "UNASSIGNED":
            continue
        count[c.node] += 1
        if c.state == "RELOCATING" and c.relocating_to:
            count[c.relocating_to] += 1
    return count


# ------------------------------------------------------------------ allocation exclusion


async def test_exclude_merges_with_a_user_exclusion_set_before(
    running: RunningTwin, es: AsyncElasticsearch, admin: EsAdmin
) -> None:
    await put_settings(es, {"persistent": {EXCLUDE_NAME: "old-node-7,retired-*"}})
    await admin.exclude(["es-data-3"])
    assert await flat_settings(es) == {
        "persistent": "old-node-7,retired-*,es-data-3",
        "transient": None,
    }
    assert await admin.excluded_names() == ["old-node-7", "retired-*", "es-data-3"]
    await admin.exclude(["es-data-3"])  # twice: no duplicate
    assert (await flat_settings(es))["persistent"] == "old-node-7,retired-*,es-data-3"


async def test_unexclude_keeps_the_users_names_and_is_idempotent(
    es: AsyncElasticsearch, admin: EsAdmin
) -> None:
    await put_settings(es, {"persistent": {EXCLUDE_NAME: "old-node-7"}})
    await admin.exclude(["es-data-3", "es-data-2"])
    await admin.unexclude(["es-data-3", "es-data-2"])
    assert await flat_settings(es) == {"persistent": "old-node-7", "transient": None}
    await admin.unexclude(["es-data-3", "es-data-2"])
    assert await flat_settings(es) == {"persistent": "old-node-7", "transient": None}


async def test_unexclude_resets_the_setting_when_only_our_names_were_there(
    es: AsyncElasticsearch, admin: EsAdmin
) -> None:
    await admin.exclude(["es-data-3"])
    await admin.unexclude(["es-data-3"])
    body = (await es.cluster.get_settings(flat_settings=True)).body
    assert EXCLUDE_NAME not in body["persistent"]


async def test_transient_exclusion_wins_and_receives_our_names(
    running: RunningTwin, es: AsyncElasticsearch, admin: EsAdmin
) -> None:
    await put_settings(
        es,
        {"persistent": {EXCLUDE_NAME: "p-user"}, "transient": {EXCLUDE_NAME: "t-user"}},
    )
    assert await admin.excluded_names() == ["t-user"]
    await admin.exclude(["es-data-3"])
    assert await flat_settings(es) == {"persistent": "p-user", "transient": "t-user,es-data-3"}
    # the twin honours the effective (transient) value: es-data-3 drains
    running.twin.advance(600)
    assert (await admin.shard_copies_on(["es-data-3"])) == {"es-data-3": 0}
    assert running.twin.cluster.shards_on("es-data-3") == 0
    await admin.unexclude(["es-data-3"])
    assert await flat_settings(es) == {"persistent": "p-user", "transient": "t-user"}


async def test_a_list_valued_user_exclusion_is_rewritten_as_a_string(
    es: AsyncElasticsearch, admin: EsAdmin
) -> None:
    await put_settings(es, {"persistent": {EXCLUDE_NAME: ["u-1", "u-2"]}})
    await admin.exclude(["es-data-3"])
    assert (await flat_settings(es))["persistent"] == "u-1,u-2,es-data-3"
    await admin.unexclude(["es-data-3"])
    assert (await flat_settings(es))["persistent"] == "u-1,u-2"


# ------------------------------------------------------------------ shards and nodes


async def test_shard_copies_on_counts_relocating_rows_for_source_and_target(
    running: RunningTwin, es: AsyncElasticsearch, admin: EsAdmin
) -> None:
    await admin.exclude(["es-data-3"])
    running.twin.advance(2)  # the allocator starts moving es-data-3's copies
    rows = (await es.cat.shards(format="json", h="state,node")).body
    relocating = [r for r in rows if r["state"] == "RELOCATING"]
    assert relocating, "the twin should have relocations in flight"
    counts = await admin.shard_copies_on(NODES)
    assert counts == {n: model_copies(running)[n] for n in NODES}
    targets = {r["node"].rsplit(" ", 1)[1] for r in relocating}
    source_only = Counter(r["node"].split(" -> ")[0] for r in rows if r["node"])
    for target in targets:  # a target is counted beyond the rows naming it as current node
        assert counts[target] > source_only[target]
    assert counts["es-data-3"] > 0
    running.twin.advance(900)
    assert (await admin.shard_copies_on(["es-data-3"])) == {"es-data-3": 0}


async def test_nodes_and_indices_describe_the_twin(running: RunningTwin, admin: EsAdmin) -> None:
    nodes = await admin.nodes()
    cl = running.twin.cluster
    assert sorted(n.name for n in nodes) == NODES
    for n in nodes:
        assert n.master_eligible
        assert "data" in n.roles
        assert n.shards == cl.shards_on(n.name)
        assert 0 < (n.disk_used_bytes or 0) < (n.disk_total_bytes or 0)
    assert sum(n.is_elected_master for n in nodes) == 1
    indices = {i.name: i for i in await admin.indices()}
    assert {k: (v.primaries, v.replicas, v.total_shards_per_node) for k, v in indices.items()} == {
        "logs": (4, 1, None),
        "scratch": (2, 0, None),
    }
    assert indices["logs"].store_bytes == 2 * 2 * 2**30  # 2 GB of primaries, one replica


# ------------------------------------------------------------------ health


async def test_health_without_waiting_reports_the_cluster(admin: EsAdmin) -> None:
    h = await admin.health()
    assert (h.status, h.number_of_nodes, h.relocating_shards, h.timed_out) == ("green", 4, 0, False)


async def test_health_wait_not_met_is_timed_out_not_an_error(
    running: RunningTwin, admin: EsAdmin
) -> None:
    await admin.exclude(["es-data-3"])
    running.twin.advance(2)
    h = await admin.health(wait_for_no_relocating_shards=True, timeout=1)
    assert h.timed_out is True
    assert h.relocating_shards > 0


async def test_health_long_poll_returns_when_relocations_finish() -> None:
    """Real time (×50): the call starts while shards move and comes back once none do."""
    async with (
        run_twin(nodes=4, indices=parse_indices_spec(INDICES), speed=50.0) as rt,
        AsyncElasticsearch(rt.es_url, max_retries=0) as es,
    ):
        admin = EsAdmin(es, server=await server_info(es), retry=FAST_RETRY)
        await admin.exclude(["es-data-3"])
        moving = await admin.health(wait_for_status="green", timeout=0)
        while moving.relocating_shards == 0:  # until the allocator has acted
            moving = await admin.health(wait_for_events="languid", timeout=5)
        h = await admin.health(
            wait_for_no_relocating_shards=True, wait_for_no_initializing_shards=True, timeout=600
        )
        assert (h.timed_out, h.relocating_shards, h.initializing_shards) == (False, 0, 0)
        assert rt.twin.cluster.shards_on("es-data-3") == 0


async def test_health_client_timeout_outlasts_the_server_wait() -> None:
    """Real time (×1), a client whose own request timeout (0.2 s) is shorter than the server's
    wait (1 s): the long-poll still gets the server's 408, not a client timeout."""
    async with (
        run_twin(nodes=4, indices=parse_indices_spec(INDICES), speed=1.0) as rt,
        AsyncElasticsearch(rt.es_url, max_retries=0, request_timeout=0.2) as es,
    ):
        admin = EsAdmin(es, server=await server_info(es), retry=RetryPolicy(attempts=1))
        h = await admin.health(wait_for_nodes="5", timeout=1)
        assert (h.timed_out, h.number_of_nodes) == (True, 4)
        assert (await admin.health(wait_for_nodes="4", timeout=1)).timed_out is False


# ------------------------------------------------------------------ voting exclusions


async def test_voting_exclusions_are_added_read_back_and_cleared(
    running: RunningTwin, admin: EsAdmin
) -> None:
    ids = {n.name: n.id for n in await admin.nodes()}
    before = await admin.voting_state()
    assert before.exclusions == ()
    assert before.committed_config <= set(ids.values())
    voter = next(name for name, i in sorted(ids.items()) if i in before.committed_config)
    await admin.add_voting_exclusions([voter])
    after = await admin.voting_state()
    assert after.exclusions == ((ids[voter], voter),)
    assert ids[voter] not in after.committed_config  # the POST returned after reconfiguration
    await admin.add_voting_exclusions([voter])  # again: not duplicated
    assert (await admin.voting_state()).exclusions == ((ids[voter], voter),)
    with pytest.raises(ApiError) as err:  # the node is still there: ES times out waiting
        await admin.clear_voting_exclusions(wait_for_removal=True)
    assert err.value.meta.status in (429, 500)
    await admin.clear_voting_exclusions(wait_for_removal=False)
    assert (await admin.voting_state()).exclusions == ()


# ------------------------------------------------------------------ errors


async def test_server_errors_are_retried(
    running: RunningTwin, es: AsyncElasticsearch, admin: EsAdmin
) -> None:
    running.twin.faults.add(
        {"type": "error", "app": "es", "status": 503, "path": "_cluster/settings", "count": 2}
    )
    await admin.exclude(["es-data-3"])
    fired = [h for h in running.twin.faults.history if h["event"] == "fired"]
    assert len(fired) == 2
    assert (await flat_settings(es))["persistent"] == "es-data-3"


async def test_client_errors_are_not_retried(running: RunningTwin, admin: EsAdmin) -> None:
    # one 403 only: a retry would have succeeded, so the raise proves there was none
    running.twin.faults.add(
        {"type": "error", "app": "es", "status": 403, "path": "_cat/shards", "count": 1}
    )
    with pytest.raises(ApiError) as err:
        await admin.shard_copies_on(["es-data-3"])
    assert err.value.meta.status == 403
    assert await admin.shard_copies_on(["es-data-3"]) == {
        "es-data-3": model_copies(running)["es-data-3"]
    }
