"""Structural fidelity: the twin's responses have the key paths and JSON types of real captures.

Each capture in ``tests/fixtures/elasticsearch`` is compared with the twin emulating the same
major version (7.x captures vs a 7.17 twin, 8.x captures vs an 8.x twin). Both bodies are
flattened to ``path → JSON type`` (map keys such as node ids and index names become ``*``,
array elements ``[]``); every path of the capture in the compared scope must exist in the
twin's body with the same type, and the top-level layout must be the same.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.cluster import Cluster
from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.es_api import build_es_app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"

# Parts of captures that depend on the deployment, not on the server's response format:
# node attributes (cloud zones, ml settings), ingest pipelines by name, open HTTP clients.
DEPLOYMENT_SPECIFIC = (
    "nodes.*.attributes.",
    "nodes.*.ingest.pipelines.*",
    "nodes.*.http.clients[]",
)


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "array" if isinstance(value, list) else "object"


def flatten(value: Any, *, maps: Collection[str] = (), path: str = "") -> dict[str, str]:
    """``{"a": {"b": [1]}}`` → ``{"": object, "a": object, "a.b": array, "a.b[]": number}``.

    Keys of the objects at ``maps`` paths (node ids, index names) are replaced by ``*``.
    """
    out = {path: json_type(value)}
    if isinstance(value, dict):
        for key, child in value.items():
            name = "*" if path in maps else key
            out.update(flatten(child, maps=maps, path=f"{path}.{name}" if path else name))
    elif isinstance(value, list):
        for child in value:
            out.update(flatten(child, maps=maps, path=path + "[]"))
    return out


def structural_diff(
    capture: Any, twin: Any, *, maps: Collection[str] = (), scope: Collection[str] = ("",)
) -> list[str]:
    """Capture paths (under one of the ``scope`` prefixes) missing or typed differently in ``twin``."""
    want = flatten(capture, maps=maps)
    have = flatten(twin, maps=maps)
    problems = []
    for path, kind in sorted(want.items()):
        if not any(path == s or path.startswith(s) for s in scope):
            continue
        if path.startswith(DEPLOYMENT_SPECIFIC):
            continue
        if path not in have:
            problems.append(f"missing {path} ({kind})")
        elif have[path] != kind and not (kind == "null" or have[path] == "null"):
            problems.append(f"type of {path}: capture {kind}, twin {have[path]}")
    return problems


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def twin_for(version: str) -> Cluster:
    cluster = Cluster(clock=VirtualClock(), version=version, seed=11)
    for i in range(3):
        cluster.add_node(f"es-{i}", roles=("data_content", "data_hot", "ingest", "master"))
    cluster.step(0)
    cluster.set_workload(search_per_s=200, index_per_s=2000)
    cluster.run_for(30)
    return cluster


@contextlib.asynccontextmanager
async def get_json(cluster: Cluster) -> AsyncIterator[Any]:
    runner = web.AppRunner(build_es_app(cluster))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as http:

        async def fetch(path: str, method: str = "GET", body: Any = None) -> Any:
            async with http.request(method, f"http://{host}:{port}{path}", json=body) as resp:
                assert resp.status == 200, await resp.text()
                return await resp.json(content_type=None)

        try:
            yield fetch
        finally:
            await runner.cleanup()


def test_structural_diff_reports_missing_and_retyped_paths() -> None:
    capture = {"nodes": {"abc": {"os": {"cpu": {"percent": 3}}, "name": "x"}}}
    twin = {"nodes": {"zzz": {"os": {"cpu": {"percent": "3"}}}}}
    assert structural_diff(capture, twin, maps=("nodes",)) == [
        "missing nodes.*.name (string)",
        "type of nodes.*.os.cpu.percent: capture number, twin string",
    ]


NODE_STATS = [
    ("es-8.4.2_nodes_stats.json", "8.4.2", "/_nodes/stats"),
    ("es-8.4.2_nodes_local_stats.json", "8.4.2", "/_nodes/_local/stats"),
    ("es-7.13.1_nodes_stats.json", "7.17.27", "/_nodes/stats"),
    ("es-7.6.2_nodes_stats.json", "7.17.27", "/_nodes/stats"),
]


@pytest.mark.parametrize(("fixture", "version", "path"), NODE_STATS)
async def test_node_stats_have_every_captured_field_with_its_type(
    fixture: str, version: str, path: str
) -> None:
    capture = load(fixture)
    async with get_json(twin_for(version)) as fetch:
        twin = await fetch(path)
    assert list(twin) == list(capture)
    assert list(twin["_nodes"]) == list(capture["_nodes"])
    assert structural_diff(capture, twin, maps=("nodes", "nodes.*.ingest.pipelines")) == []
    # the groups the autoscaler reads carry the same keys in each node
    for group in ("os", "jvm", "fs", "thread_pool", "indices"):
        cap_keys = set(next(iter(capture["nodes"].values()))[group])
        twin_keys = set(next(iter(twin["nodes"].values()))[group])
        assert cap_keys <= twin_keys, group


@pytest.mark.parametrize(
    ("fixture", "version"),
    [
        ("es-8.4.2_root_info.json", "8.4.2"),
        ("es-8.17.0_root_info.json", "8.17.0"),
        ("es-7.17.27_root_info.json", "7.17.27"),
        ("es-7.13.1_root_info.json", "7.17.27"),
    ],
)
async def test_root_info_matches_capture_layout(fixture: str, version: str) -> None:
    capture = load(fixture)
    async with get_json(twin_for(version)) as fetch:
        twin = await fetch("/")
    assert list(twin) == list(capture)
    assert list(twin["version"]) == list(capture["version"])
    assert structural_diff(capture, twin) == []
    if capture["version"]["number"] == version:
        for key in (
            "lucene_version",
            "minimum_wire_compatibility_version",
            "minimum_index_compatibility_version",
        ):
            assert twin["version"][key] == capture["version"][key]


@pytest.mark.parametrize(
    ("fixture", "version"),
    [
        ("es-8.4.2_cluster_health.json", "8.4.2"),
        ("es-7.13.1_cluster_health.json", "7.17.27"),
        ("es-7.6.1_cluster_health.json", "7.17.27"),
    ],
)
async def test_cluster_health_matches_capture_layout(fixture: str, version: str) -> None:
    capture = load(fixture)
    async with get_json(twin_for(version)) as fetch:
        twin = await fetch("/_cluster/health")
    assert list(twin) == list(capture)  # same keys in the same order
    assert structural_diff(capture, twin) == []


async def test_cat_shards_rows_match_capture_for_started_and_unassigned() -> None:
    capture = load("es-7.15.0_cat_shards.json")
    cluster = Cluster(
        clock=VirtualClock(),
        version="7.17.27",
        seed=1,
        indices=[IndexSpec("testindex", 1, 1, 2**20)],
    )
    cluster.add_node("es-0")  # one node: the replica stays unassigned, as in the capture
    cluster.step(0)
    async with get_json(cluster) as fetch:
        twin = await fetch("/_cat/shards?format=json")
    started = [r for r in twin if r["state"] == "STARTED"]
    unassigned = [r for r in twin if r["state"] == "UNASSIGNED"]
    for rows, cap_rows in (
        (started, [r for r in capture if r["state"] == "STARTED"]),
        (unassigned, [r for r in capture if r["state"] == "UNASSIGNED"]),
    ):
        assert rows
        assert list(rows[0]) == list(cap_rows[0])
        assert flatten(rows[0]) == flatten(cap_rows[0])


SETTINGS = [
    ("es-8.9.1_cluster_settings_include_defaults.json", "8.9.1"),
    ("es-7.17.5_cluster_settings_include_defaults.json", "7.17.5"),
]


@pytest.mark.parametrize(("fixture", "version"), SETTINGS)
async def test_settings_defaults_for_allocation_and_recovery_match_capture(
    fixture: str, version: str
) -> None:
    capture = load(fixture)
    async with get_json(twin_for(version)) as fetch:
        # put the same persistent settings as the captured cluster had, then read back
        await fetch("/_cluster/settings", "PUT", {"persistent": capture["persistent"]})
        twin = await fetch("/_cluster/settings?include_defaults=true")
    assert list(twin) == list(capture)
    assert twin["persistent"] == capture["persistent"]
    scope = ("persistent", "transient", "defaults.cluster.routing", "defaults.indices.recovery")
    assert structural_diff(capture, twin, scope=scope) == []
    recovery = twin["defaults"]["indices"]["recovery"]
    assert recovery["max_bytes_per_sec"] == "40mb"
    allocation = twin["defaults"]["cluster"]["routing"]["allocation"]
    assert allocation["cluster_concurrent_rebalance"] == "2"
    assert allocation["node_concurrent_recoveries"] == "2"
    assert allocation["type"] == capture["defaults"]["cluster"]["routing"]["allocation"]["type"]
