"""The twin's Elasticsearch wire, driven by the real ``elasticsearch`` 8.x async client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from elasticsearch import ApiError, AsyncElasticsearch, BadRequestError, NotFoundError
from es_kit import serve_cluster

from autoscaler.sim.clock import ScaledClock, VirtualClock
from autoscaler.sim.cluster import Cluster
from autoscaler.sim.datasets import IndexSpec

GB = 2**30
COMPAT_8 = "application/vnd.elasticsearch+json; compatible-with=8"
COMPAT_9 = "application/vnd.elasticsearch+json; compatible-with=9"


def make_cluster(*, version: str = "8.15.0", nodes: int = 3, **kw: object) -> Cluster:
    cluster = Cluster(clock=VirtualClock(), version=version, seed=7, **kw)  # type: ignore[arg-type]
    for i in range(nodes):
        cluster.add_node(f"es-{i}")
    cluster.step(0)
    return cluster


serve = serve_cluster


@contextlib.asynccontextmanager
async def client(cluster: Cluster) -> AsyncIterator[AsyncElasticsearch]:
    async with serve(cluster) as url:
        es = AsyncElasticsearch(url, request_timeout=5)
        try:
            yield es
        finally:
            await es.close()


async def test_info_reports_emulated_version_with_product_header() -> None:
    async with client(make_cluster(version="8.15.0")) as es:
        info = await es.info()
        assert info["version"]["number"] == "8.15.0"
        assert info["tagline"] == "You Know, for Search"
        assert info.meta.headers["X-elastic-product"] == "Elasticsearch"
        assert (
            info.meta.headers["content-type"]
            == "application/vnd.elasticsearch+json;compatible-with=8"
        )


async def test_nodes_stats_honours_metric_and_filter_path() -> None:
    cluster = make_cluster()
    cluster.set_workload(search_per_s=300, index_per_s=3000)
    cluster.run_for(30)
    async with client(cluster) as es:
        resp = await es.nodes.stats(
            metric="os,fs", filter_path="nodes.*.os.cpu.percent,nodes.*.fs.total.available_in_bytes"
        )
        assert set(resp.body) == {"nodes"}
        assert len(resp["nodes"]) == 3
        for node in resp["nodes"].values():
            assert node == {
                "os": {"cpu": {"percent": node["os"]["cpu"]["percent"]}},
                "fs": {"total": {"available_in_bytes": node["fs"]["total"]["available_in_bytes"]}},
            }
        deep = await es.nodes.stats(filter_path="**.query_total")
        for node in deep["nodes"].values():
            assert node["indices"]["search"]["query_total"] > 0
        local = await es.nodes.stats(node_id="_local", metric="jvm")
        assert local["_nodes"] == {"total": 1, "successful": 1, "failed": 0}
        assert "os" not in next(iter(local["nodes"].values()))


async def test_nodes_stats_unknown_metric_is_a_400() -> None:
    async with client(make_cluster()) as es:
        with pytest.raises(BadRequestError) as err:
            await es.nodes.stats(metric="cpu")
        assert "contains unrecognized metric: [cpu]" in str(err.value.body)


async def test_health_unmet_wait_is_a_408_api_error_with_the_normal_body() -> None:
    async with client(make_cluster()) as es:
        ok = await es.cluster.health(wait_for_status="green", timeout="1s")
        assert ok["status"] == "green"
        assert ok["timed_out"] is False
        with pytest.raises(ApiError) as err:
            await es.cluster.health(wait_for_nodes="5", timeout="2s")
        assert type(err.value) is ApiError
        assert err.value.meta.status == 408
        assert err.value.body["timed_out"] is True
        assert err.value.body["number_of_nodes"] == 3
        resp = await es.options(ignore_status=408).cluster.health(
            wait_for_no_relocating_shards=True
        )
        assert resp.meta.status == 200


async def test_health_wait_polls_the_model_in_real_time_mode() -> None:
    clock = ScaledClock(speed=200.0)
    cluster = Cluster(clock=clock, seed=1, indices=[IndexSpec("big", 2, 0, 4 * GB)])
    cluster.add_node("es-0")
    cluster.step(0)
    cluster.add_node("es-1")  # one 2 GB shard moves over: ~51 simulated s, ~0.26 s of wall time
    cluster.step(1)

    async def ticker() -> None:
        last = clock.time()
        while True:
            await asyncio.sleep(0.01)
            now = clock.time()
            cluster.step(now - last)
            last = now

    task = asyncio.create_task(ticker())
    try:
        async with client(cluster) as es:
            before = await es.cluster.health()
            assert before["relocating_shards"] == 1
            after = await es.cluster.health(wait_for_no_relocating_shards=True, timeout="600s")
            assert after["relocating_shards"] == 0
            assert after["timed_out"] is False
            assert cluster.relocations_completed == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_health_of_missing_index_times_out_red() -> None:
    async with client(make_cluster()) as es:
        resp = await es.options(ignore_status=408).cluster.health(index="nope", timeout="0s")
        assert resp.meta.status == 408
        assert resp["status"] == "red"


async def test_put_and_get_cluster_settings_flat_nested_and_null_reset() -> None:
    async with client(make_cluster()) as es:
        put = await es.cluster.put_settings(
            persistent={"cluster.routing.allocation.exclude._name": "es-2"},
            transient={"cluster": {"routing": {"allocation": {"cluster_concurrent_rebalance": 4}}}},
        )
        assert put["acknowledged"] is True
        assert put["persistent"] == {
            "cluster": {"routing": {"allocation": {"exclude": {"_name": "es-2"}}}}
        }
        assert put["transient"] == {
            "cluster": {"routing": {"allocation": {"cluster_concurrent_rebalance": "4"}}}
        }
        flat = await es.cluster.get_settings(flat_settings=True)
        assert flat["persistent"] == {"cluster.routing.allocation.exclude._name": "es-2"}
        assert flat["transient"] == {"cluster.routing.allocation.cluster_concurrent_rebalance": "4"}
        assert "defaults" not in flat
        with_defaults = await es.cluster.get_settings(include_defaults=True, flat_settings=True)
        assert with_defaults["defaults"]["indices.recovery.max_bytes_per_sec"] == "40mb"
        assert (
            "cluster.routing.allocation.cluster_concurrent_rebalance"
            not in with_defaults["defaults"]
        )
        await es.cluster.put_settings(
            transient={"cluster.routing.allocation.cluster_concurrent_rebalance": None}
        )
        after = await es.cluster.get_settings()
        assert after["transient"] == {}
        with pytest.raises(BadRequestError) as err:
            await es.cluster.put_settings(persistent={"foo.bar": 1})
        assert err.value.body["error"]["reason"] == "persistent setting [foo.bar], not recognized"


async def test_cat_shards_json_rows_are_strings_and_text_has_columns() -> None:
    cluster = make_cluster(indices=[IndexSpec("idx", 2, 1, 2 * GB), IndexSpec("solo", 1, 0, GB)])
    async with client(cluster) as es:
        rows = await es.cat.shards(format="json")
        assert len(rows.body) == 5
        first = rows.body[0]
        assert list(first) == [
            "index",
            "shard",
            "prirep",
            "state",
            "docs",
            "store",
            "dataset",
            "ip",
            "node",
        ]
        assert all(isinstance(v, str) for v in first.values())
        assert {r["state"] for r in rows.body} == {"STARTED"}
        picked = await es.cat.shards(format="json", h="i,s,n")
        assert set(picked.body[0]) == {"i", "s", "n"}
        text = await es.cat.shards(v=True)
        lines = str(text.body).splitlines()
        assert lines[0].split() == [
            "index",
            "shard",
            "prirep",
            "state",
            "docs",
            "store",
            "dataset",
            "ip",
            "node",
        ]
        assert len(lines) == 6


async def test_cat_shards_shows_relocation_as_source_arrow_target() -> None:
    cluster = make_cluster(indices=[IndexSpec("big", 2, 0, 400 * GB)], nodes=1)
    cluster.add_node("es-new")
    cluster.run_for(2)
    async with client(cluster) as es:
        rows = (await es.cat.shards(index="big", format="json")).body
        relocating = [r for r in rows if r["state"] == "RELOCATING"]
        assert len(relocating) == 1
        new = cluster.node("es-new")
        assert relocating[0]["node"] == f"es-0 -> {new.ip} {new.id} es-new"
        rec = (await es.cat.recovery(format="json", active_only=True)).body
        assert [(r["type"], r["stage"], r["target_node"]) for r in rec] == [
            ("peer", "index", "es-new")
        ]


async def test_cat_allocation_and_nodes_list_data_nodes() -> None:
    async with client(make_cluster()) as es:
        alloc = (await es.cat.allocation(format="json")).body
        assert sorted(r["node"] for r in alloc) == ["es-0", "es-1", "es-2"]
        assert all(int(r["disk.percent"]) > 0 for r in alloc)
        nodes = (await es.cat.nodes(format="json", h="name,master,cpu,heap.percent")).body
        assert sum(1 for n in nodes if n["master"] == "*") == 1


async def test_8x_server_refuses_compatible_with_9_with_the_real_body() -> None:
    async with client(make_cluster(version="8.15.0")) as es:
        with pytest.raises(BadRequestError) as err:
            await es.perform_request("GET", "/", headers={"accept": COMPAT_9})
        body = err.value.body
        assert body["status"] == 400
        assert body["error"]["type"] == "media_type_header_exception"
        assert (
            body["error"]["reason"] == "Invalid media-type value on headers [Accept, Content-Type]"
        )
        assert body["error"]["root_cause"][0]["type"] == "media_type_header_exception"
        assert body["error"]["caused_by"] == {
            "type": "status_exception",
            "reason": f"Accept version must be either version 8 or 7, but found 9. Accept={COMPAT_9}",
        }


async def test_9x_server_accepts_the_8x_client() -> None:
    async with client(make_cluster(version="9.1.0")) as es:
        info = await es.info()
        assert info["version"]["number"] == "9.1.0"
        health = await es.cluster.health()
        assert health["status"] == "green"


async def test_7x_server_refuses_8x_client_and_answers_plain_json_with_charset() -> None:
    cluster = make_cluster(version="7.17.27")
    async with serve(cluster) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/", headers={"Accept": COMPAT_8}) as resp:
            assert resp.status == 400
            body = await resp.json(content_type=None)
            assert (
                "Accept version must be either version 7 or 7, but found 8"
                in body["error"]["caused_by"]["reason"]
            )
        async with http.get(url + "/_cluster/health") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
            assert resp.headers["X-elastic-product"] == "Elasticsearch"


async def test_unknown_route_method_and_parameter_errors_look_like_es() -> None:
    cluster = make_cluster()
    async with serve(cluster) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/_foo/bar?x=1") as resp:
            assert resp.status == 400
            assert await resp.json() == {
                "error": "no handler found for uri [/_foo/bar?x=1] and method [GET]"
            }
        async with http.post(url + "/_cluster/health") as resp:
            assert resp.status == 405
            assert resp.headers["Allow"] == "GET"
            body = await resp.json()
            assert body["error"].startswith(
                "Incorrect HTTP method for uri [/_cluster/health] and method [POST]"
            )
        async with http.get(url + "/_cluster/health?levl=indices") as resp:
            assert resp.status == 400
            body = await resp.json()
            assert (
                body["error"]["reason"]
                == "request [/_cluster/health] contains unrecognized parameter: [levl]"
            )
        async with http.get(url + "/missing-index") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["type"] == "index_not_found_exception"


async def test_allocation_explain_without_unassigned_shards_is_a_400() -> None:
    async with client(make_cluster()) as es:
        with pytest.raises(BadRequestError) as err:
            await es.cluster.allocation_explain()
        assert "there are no unassigned shards in this cluster" in err.value.body["error"]["reason"]
        explained = await es.cluster.allocation_explain(index="orders", shard=0, primary=True)
        assert explained["current_state"] == "started"
        assert explained["can_remain_on_current_node"] == "yes"
        with pytest.raises(NotFoundError):
            await es.cluster.allocation_explain(index="nope", shard=0, primary=True)


async def test_allocation_explain_without_body_explains_an_unassigned_replica() -> None:
    cluster = make_cluster(nodes=1, indices=[IndexSpec("idx", 1, 1, GB)])
    async with client(cluster) as es:
        health = await es.options(ignore_status=408).cluster.health()
        assert health["status"] == "yellow"
        explained = await es.cluster.allocation_explain()
        assert explained["note"].startswith("No shard was specified in the explain API request")
        assert explained["can_allocate"] == "no"
        deciders = explained["node_allocation_decisions"][0]["deciders"]
        assert deciders[0]["decider"] == "same_shard"


async def test_voting_exclusions_add_wait_and_clear() -> None:
    cluster = make_cluster()
    async with client(cluster) as es:
        resp = await es.cluster.post_voting_config_exclusions(node_names="es-2")
        assert resp.body is None
        state = await es.cluster.state(
            metric="metadata", filter_path="metadata.cluster_coordination"
        )
        coord = state["metadata"]["cluster_coordination"]
        assert coord["voting_config_exclusions"] == [
            {"node_id": cluster.node("es-2").id, "node_name": "es-2"}
        ]
        assert cluster.node("es-2").id not in coord["last_committed_config"]
        with pytest.raises(ApiError) as err:
            await es.cluster.delete_voting_config_exclusions()
        assert err.value.meta.status == 500
        assert err.value.body["error"]["type"] == "timeout_exception"
        cluster.remove_node("es-2")
        await es.cluster.delete_voting_config_exclusions()
        assert cluster.voting_exclusions == []
        with pytest.raises(BadRequestError):
            await es.perform_request("POST", "/_cluster/voting_config_exclusions")


async def test_node_shutdown_remove_drains_and_reports_progress() -> None:
    cluster = make_cluster(indices=[IndexSpec("idx", 3, 1, 3 * GB)])
    node_id = cluster.node("es-0").id
    async with client(cluster) as es:
        ack = await es.shutdown.put_node(node_id=node_id, type="remove", reason="scale down")
        assert ack["acknowledged"] is True
        status = await es.shutdown.get_node(node_id=node_id)
        entry = status["nodes"][0]
        assert entry["type"] == "REMOVE"
        assert entry["status"] == "IN_PROGRESS"
        cluster.run_for(600)
        status = await es.shutdown.get_node(node_id=node_id)
        assert status["nodes"][0]["status"] == "COMPLETE"
        assert cluster.shards_on("es-0") == 0
        assert (await es.shutdown.get_node(node_id="unknown"))["nodes"] == []
        await es.shutdown.delete_node(node_id=node_id)
        with pytest.raises(NotFoundError):
            await es.shutdown.delete_node(node_id=node_id)


async def test_health_without_any_master_is_a_503_master_not_discovered() -> None:
    cluster = make_cluster(nodes=1, indices=[IndexSpec("idx", 1, 1, GB)])
    cluster.crash_node("es-0")
    async with client(cluster) as es:
        resp = await es.options(ignore_status=503, max_retries=0).cluster.health(
            master_timeout="1s"
        )
        assert resp.meta.status == 503
        assert resp.body == {
            "error": {
                "root_cause": [{"type": "master_not_discovered_exception", "reason": None}],
                "type": "master_not_discovered_exception",
                "reason": None,
            },
            "status": 503,
        }


async def test_every_es_response_carries_the_product_header_even_errors() -> None:
    async with serve(make_cluster()) as url, aiohttp.ClientSession() as http:
        for path in (
            "/",
            "/_cat/shards",
            "/_nope/x",
            "/_cluster/health?timeout=0s&wait_for_nodes=9",
        ):
            async with http.get(url + path) as resp:
                assert resp.headers.get("X-elastic-product") == "Elasticsearch", path


async def test_pretty_output_is_indented_json() -> None:
    async with (
        serve(make_cluster()) as url,
        aiohttp.ClientSession() as http,
        http.get(url + "/?pretty") as resp,
    ):
        text = await resp.text()
        assert text.startswith("{\n  ")
        assert json.loads(text)["cluster_name"] == "sim-es"


async def test_filter_path_never_hides_an_error_body() -> None:
    # ES AbstractRestChannel.newErrorBuilder: "Disable filtering when building error responses"
    async with (
        serve(make_cluster()) as url,
        aiohttp.ClientSession() as session,
        session.get(f"{url}/no-such-index/_settings", params={"filter_path": "*.settings"}) as resp,
    ):
        assert resp.status == 404
        body = await resp.json()
    assert body["error"]["type"] == "index_not_found_exception"
    assert body["status"] == 404
