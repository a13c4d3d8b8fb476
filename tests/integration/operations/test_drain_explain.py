"""Drains that can never finish fail at once, explained by Elasticsearch's own deciders.

Real elasticsearch-py (``cluster.allocation_explain``) and kubernetes-asyncio clients, the real
runner, the twin. Each blocked case sets up a placement no allocator can drain — with the real
settings APIs — and checks that the operation fails with ``drain_blocked`` and the deciders'
words, long before the stall window (the policies use ``drainTimeout: 2h``, a 2-minute stall
window, while ``Rig.finished`` gives up after 60 s), with no exclusion of ours left, the
replicas unchanged and no copy lost. The twin's explain wording is sourced in
tests/fixtures/elasticsearch/BEHAVIOUR.md §9 and §18.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _ops_kit import GIB, es_state, eventually, make_policy, rig, sim, small_twin
from elasticsearch import AsyncElasticsearch, BadRequestError

from autoscaler.elastic.admin import EsAdmin, move_block
from autoscaler.elastic.client import server_info
from autoscaler.sim.datasets import IndexSpec

SLOW_STALL = {"drainTimeout": "2h"}  # stall window 2 min: longer than any test may take


async def _layout(es: AsyncElasticsearch, index: str) -> list[dict[str, Any]]:
    rows = await es.cat.shards(index=index, format="json", h="index,shard,prirep,state,node")
    return [dict(r) for r in rows]


def _metric(r: Any, name: str, labels: dict[str, str]) -> float:
    value = r.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


async def _assert_failed_cleanly(r: Any, op: Any) -> None:
    """The blocked operation's aftermath: no exclusion of ours, replicas kept, no copy lost,
    a DrainBlocked warning Event and the failure counted under its own reason."""
    assert op.state == "failed", op.failure
    assert op.failure_reason == "drain_blocked"
    assert "scaling" not in [s.phase for s in op.history]
    state = await es_state(r.twin)
    assert state["settings"]["excluded_names"] == []
    assert state["voting_config_exclusions"] == []
    assert state["invariants"] == []
    assert await r.target.current_replicas() == 4
    blocked = [e for e in await r.events() if e.reason == "DrainBlocked"]
    assert [e.type for e in blocked] == ["Warning"]
    assert "drain blocked" in blocked[0].message
    labels = {"policy": "data", "direction": "down", "reason": "drain_blocked"}
    assert _metric(r, "esas_operation_failures_total", labels) == 1


async def test_drain_blocked_by_shards_per_node_fails_at_once_with_the_decider_explanation(
    tmp_path: Path,
) -> None:
    async with small_twin(nodes=4) as twin:
        policy = make_policy(es_url=twin.es_url, safety=SLOW_STALL)
        async with rig(twin, policy, state_dir=tmp_path) as r:
            # the twin's placement of logs (3 primaries, 1 replica): es-data-3 holds one copy,
            # es-data-1 holds its sibling, es-data-0 and es-data-2 hold two copies each. With
            # at most 2 logs copies per node, the victim's copy fits nowhere: full nodes
            # (shards_limit) or the sibling's node (same_shard) — although 6 copies fit
            # 3 nodes x 2, so the preflight's count rule passes.
            rows = await _layout(r.es, "logs")
            on_victim = [x for x in rows if x["node"] == "es-data-3"]
            assert len(on_victim) == 1, rows
            victim_copy = on_victim[0]
            sibling = next(
                x for x in rows if x["shard"] == victim_copy["shard"] and x is not victim_copy
            )
            per_node = Counter(x["node"] for x in rows)
            free = [n for n in ("es-data-0", "es-data-1", "es-data-2") if per_node[n] < 2]
            assert free == [sibling["node"]], rows  # the scenario's precondition
            await r.es.indices.put_settings(
                index="logs", settings={"index.routing.allocation.total_shards_per_node": 2}
            )
            op = await r.run(to=3)
            kind = "primary" if victim_copy["prirep"] == "p" else "replica"
            assert (op.failure or "").startswith(
                f"drain blocked: [logs][{victim_copy['shard']}] {kind} on es-data-3 "
                "may not remain and no other node may take it: "
            ), op.failure
            full = sorted({"es-data-0", "es-data-1", "es-data-2"} - {sibling["node"]})
            assert (
                f"{', '.join(full)}: shards_limit: too many shards [2] allocated to this node "
                "for index [logs], index setting [index.routing.allocation.total_shards_per_node=2]"
            ) in (op.failure or "")
            assert (
                f"{sibling['node']}: same_shard: a copy of this shard is already allocated to "
                f"this node [[logs][{victim_copy['shard']}], node["
            ) in (op.failure or "")
            await _assert_failed_cleanly(r, op)


async def test_drain_blocked_by_an_ip_filter_pinning_an_index_to_the_victim_fails_at_once(
    tmp_path: Path,
) -> None:
    async with small_twin(nodes=4) as twin:
        policy = make_policy(es_url=twin.es_url, safety=SLOW_STALL)
        async with rig(twin, policy, state_dir=tmp_path) as r:
            nodes = await r.es.cat.nodes(format="json", h="name,ip")
            ip = next(n["ip"] for n in nodes if n["name"] == "es-data-3")
            # an _ip filter: the preflight judges _name filters only, so this reaches the drain
            await r.es.indices.put_settings(
                index="scratch", settings={"index.routing.allocation.require._ip": ip}
            )

            async def on_victim() -> bool:
                rows = await _layout(r.es, "scratch")
                return [x["node"] for x in rows if x["state"] == "STARTED"] == ["es-data-3"]

            await eventually(on_victim, what="scratch moved onto es-data-3")
            op = await r.run(to=3)
            assert (op.failure or "").startswith(
                "drain blocked: [scratch][0] primary on es-data-3 may not remain"
            ), op.failure
            assert (
                "es-data-0, es-data-1, es-data-2: filter: node does not match index setting "
                f'[index.routing.allocation.require] filters [_ip:"{ip}"]'
            ) in (op.failure or "")
            await _assert_failed_cleanly(r, op)


async def test_drain_blocked_by_the_low_watermark_on_every_receiver_fails_at_once(
    tmp_path: Path,
) -> None:
    async with small_twin(nodes=4) as twin:
        safety = SLOW_STALL | {"maxDiskPercentAfterScaleDown": 100}
        policy = make_policy(es_url=twin.es_url, safety=safety)
        async with rig(twin, policy, state_dir=tmp_path) as r:
            for name in ("es-data-0", "es-data-1", "es-data-2"):
                # above the low watermark (85 %), below the high one (90 %): nothing may
                # arrive, everything may stay
                await sim(twin, "PUT", f"/_sim/nodes/{name}/disk", {"used_percent": 87})
            op = await r.run(to=3)
            assert (op.failure or "").startswith("drain blocked: ["), op.failure
            low = (
                "disk_threshold: the node is above the low watermark cluster setting "
                "[cluster.routing.allocation.disk.watermark.low=85%], having less than the "
                "minimum required ["
            )
            # every receiver refuses by the watermark (nodes with the same words are grouped;
            # the victim copy's sibling also says same_shard)
            entries = (op.failure or "").split("may take it: ", 1)[1].split(" | ")
            named = sorted(n for e in entries for n in e.split(": ", 1)[0].split(", "))
            assert named == ["es-data-0", "es-data-1", "es-data-2"], op.failure
            assert all(low in e and "actual used: [87.0%]" in e for e in entries), op.failure
            await _assert_failed_cleanly(r, op)


async def test_throttled_drain_is_not_a_block(tmp_path: Path) -> None:
    primaries_only = (IndexSpec("bulk", 8, 0, 32 * GIB),)  # 2 primaries per node, 4 GiB each
    async with small_twin(nodes=4, indices=primaries_only) as twin:
        policy = make_policy(es_url=twin.es_url, safety=SLOW_STALL)
        async with rig(twin, policy, state_dir=tmp_path) as r:
            # one recovery per node at a time: while one primary leaves es-data-3, the other
            # may go nowhere *yet* — every node answers THROTTLE, explain's
            # can_move_to_other_node reads "no" with the "busy ... Please wait" explanation
            await r.es.cluster.put_settings(
                persistent={"cluster.routing.allocation.node_concurrent_recoveries": 1}
            )
            on_victim = [x for x in await _layout(r.es, "bulk") if x["node"] == "es-data-3"]
            assert len(on_victim) >= 2, on_victim
            op = await r.run(to=3)
            assert op.state == "confirmed", op.failure
            assert op.failure_reason is None
            throttled = {"policy": "data", "result": "throttled"}
            blocked = {"policy": "data", "result": "blocked"}
            assert _metric(r, "esas_drain_explains_total", throttled) >= 1
            assert _metric(r, "esas_drain_explains_total", blocked) == 0
            state = await es_state(twin)
            assert state["invariants"] == []
            assert await r.target.current_replicas() == 3


async def test_an_index_required_on_the_victim_by_name_refuses_the_scale_down_in_the_preflight(
    tmp_path: Path,
) -> None:
    async with small_twin(nodes=4) as twin:
        policy = make_policy(es_url=twin.es_url)
        async with rig(twin, policy, state_dir=tmp_path) as r:
            await r.es.indices.put_settings(
                index="scratch", settings={"index.routing.allocation.require._name": "es-data-3"}
            )

            async def on_victim() -> bool:
                rows = await _layout(r.es, "scratch")
                return [x["node"] for x in rows if x["state"] == "STARTED"] == ["es-data-3"]

            await eventually(on_victim, what="scratch moved onto es-data-3")
            op = await r.run(to=3)
            assert op.state == "failed"
            assert op.failure == (
                "unsafe(index scratch needs 1 node its allocation filters "
                "(require._name [es-data-3]) allow, 0 would remain)"
            )
            assert op.failure_reason == "refused"
            assert [s.phase for s in op.history] == ["preflight", "done"]
            assert (await es_state(twin))["settings"]["excluded_names"] == []


async def test_the_twin_explains_a_same_shard_block_as_elasticsearch_does() -> None:
    """A copy on an excluded node of a 3-node cluster whose index has 2 replicas: the other
    two nodes hold its siblings. The real client's explain call (``current_node`` by name)
    against the twin, read back through ``EsAdmin`` and ``move_block``."""
    triple = (IndexSpec("triple", 1, 2, GIB),)
    async with small_twin(nodes=3, indices=triple) as twin:
        es = AsyncElasticsearch(twin.es_url, request_timeout=5, max_retries=0)
        try:
            await es.cluster.put_settings(
                persistent={"cluster.routing.allocation.exclude._name": "es-data-2"}
            )
            rows = await _layout(es, "triple")
            here = next(x for x in rows if x["node"] == "es-data-2")
            body = await EsAdmin(es, server=None).allocation_explain(
                index="triple",
                shard=0,
                primary=here["prirep"] == "p",
                current_node="es-data-2",
            )
            assert body["current_node"]["name"] == "es-data-2"
            assert body["can_remain_on_current_node"] == "no"
            assert body["can_remain_decisions"] == [
                {
                    "decider": "filter",
                    "decision": "NO",
                    "explanation": "node matches cluster setting "
                    '[cluster.routing.allocation.exclude] filters [_name:"es-data-2"]',
                }
            ]
            assert body["can_move_to_other_node"] == "no"
            assert body["move_explanation"] == (
                "This shard may not remain on its current node, but Elasticsearch isn't allowed "
                "to move it to another node. Choose a node to which you expect this shard to be "
                "allocated, find this node in the node-by-node explanation, and address the "
                "reasons which prevent Elasticsearch from allocating this shard there."
            )
            decisions = {d["node_name"]: d for d in body["node_allocation_decisions"]}
            assert sorted(decisions) == ["es-data-0", "es-data-1"]
            for name, d in decisions.items():
                assert d["node_decision"] == "no"
                [decider] = d["deciders"]  # only NO deciders without include_yes_decisions
                assert decider["decider"] == "same_shard"
                sibling = next(x for x in rows if x["node"] == name)
                assert decider["explanation"].startswith(
                    "a copy of this shard is already allocated to this node "
                    f"[[triple][0], node[{d['node_id']}], "
                    f"[{sibling['prirep'].upper()}], s[STARTED], a[id="
                )
            why = move_block(body)
            assert why is not None
            # each node quotes its own sibling's routing: one entry per node
            for name in ("es-data-0", "es-data-1"):
                assert f"{name}: same_shard: a copy of this shard is already allocated" in why
            # the same copy with a throttled or a willing node is not a block
            throttled = body | {
                "node_allocation_decisions": [
                    *body["node_allocation_decisions"][:1],
                    {"node_name": "es-data-9", "node_decision": "throttled"},
                ]
            }
            assert move_block(throttled) is None
            assert move_block(body | {"can_move_to_other_node": "yes"}) is None
            assert move_block(body | {"can_remain_on_current_node": "yes"}) is None
            # a copy that is not where the request says: ES's 400s (findShardToExplain)
            wrong = "es-data-0" if here["prirep"] == "r" else "es-data-2"
            other = next(x for x in rows if x["node"] == wrong)
            with pytest.raises(BadRequestError) as bad:
                await es.cluster.allocation_explain(
                    index="triple", shard=0, primary=other["prirep"] != "p", current_node=wrong
                )
            kind = "primary shard" if other["prirep"] != "p" else "a replica shard"
            assert bad.value.body["error"]["reason"] == (
                f"unable to find {kind} assigned to node [{wrong}]"
            )
            with pytest.raises(BadRequestError) as bad:
                await es.cluster.allocation_explain(
                    index="triple", shard=0, primary=True, current_node="nope"
                )
            assert (
                bad.value.body["error"]["reason"] == "failed to resolve [nope], no matching nodes"
            )
        finally:
            await es.close()


async def test_a_7x_server_is_explained_with_its_compatible_with_7_headers() -> None:
    """The 8.x client's own ``cluster.allocation_explain`` would send ``compatible-with=8``;
    ``EsAdmin`` sends the same request with the 7 headers to a 7.17 server (the twin emulates
    its refusal of 8)."""
    triple = (IndexSpec("triple", 1, 2, GIB),)
    async with small_twin(nodes=3, indices=triple, es_version="7.17.27") as twin:
        es = AsyncElasticsearch(twin.es_url, request_timeout=5, max_retries=0)
        try:
            server = await server_info(es)
            assert server.major == 7
            admin = EsAdmin(es, server=server)
            await admin.exclude(["es-data-2"])
            counts, sitting = await admin.drain_view(["es-data-2"])
            assert counts == {"es-data-2": 1}
            [here] = sitting
            body = await admin.allocation_explain(
                index=here.index, shard=here.shard, primary=here.primary, current_node=here.node
            )
            assert body["can_remain_on_current_node"] == "no"
            assert "roles" not in body["current_node"]  # 8.11+ only
            why = move_block(body)
            assert why is not None
            assert "same_shard: a copy of this shard is already allocated" in why
        finally:
            await es.close()


@pytest.mark.parametrize(
    ("index_settings", "cluster_settings", "reason"),
    [
        (
            {"metrics": {"index.routing.allocation.total_shards_per_node": 1}},
            {},
            "total_shards_per_node 1 on index metrics needs 4 nodes, 3 would remain",
        ),
        (
            {},
            {"cluster.routing.allocation.total_shards_per_node": 3},
            "cluster total_shards_per_node 3: 11 shard copies do not fit 3 remaining data nodes",
        ),
    ],
)
async def test_shard_limits_the_remaining_nodes_cannot_meet_refuse_the_scale_down_in_the_preflight(
    tmp_path: Path,
    index_settings: dict[str, dict[str, int]],
    cluster_settings: dict[str, int],
    reason: str,
) -> None:
    async with small_twin(nodes=4) as twin:
        policy = make_policy(es_url=twin.es_url)
        async with rig(twin, policy, state_dir=tmp_path) as r:
            # both limits hold today (metrics has one copy per node, no node holds more than
            # 3 of the 11 copies): only the smaller cluster could not meet them
            for index, settings in index_settings.items():
                await r.es.indices.put_settings(index=index, settings=settings)
            if cluster_settings:
                await r.es.cluster.put_settings(persistent=cluster_settings)
            op = await r.run(to=3)
            assert op.failure == f"unsafe({reason})"
            assert [s.phase for s in op.history] == ["preflight", "done"]
            assert (await es_state(twin))["settings"]["excluded_names"] == []
