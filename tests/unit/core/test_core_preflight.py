"""``scale_down_preflight`` table-tested: one case per refusal rule (named after it), the safe
case, and the two disk projections the engine and the runner share."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from autoscaler.core.preflight import (
    HealthFacts,
    IndexFacts,
    NodeFacts,
    PreflightInput,
    disk_reason,
    format_percent,
    projected_disk_from_percent,
    projected_disk_percent,
    scale_down_preflight,
)

GB = 2**30


def node(
    i: int, *, used: int | None = 40, total: int | None = 100, master: bool = True
) -> NodeFacts:
    return NodeFacts(
        name=f"es-data-{i}",
        roles=("data", "master") if master else ("data",),
        master_eligible=master,
        node_id=f"id{i}",
        disk_used_bytes=None if used is None else used * GB,
        disk_total_bytes=None if total is None else total * GB,
    )


SAFE = PreflightInput(
    health=HealthFacts("green"),
    nodes=(node(0), node(1), node(2), node(3)),
    indices=(IndexFacts("logs-1", primaries=3, replicas=1),),
    victims=("es-data-3",),
    voting_config=frozenset({"id0", "id1", "id2"}),
    max_disk_percent=75.0,
    pvc_retention="Retain",
)
"""4 nodes at 40 % disk, one index with one replica: removing es-data-3 leaves 160 of 300 GB
used (53 %), 3 nodes for 2 copies, and the voting config {0,1,2} untouched."""


def test_safe_scale_down_has_no_reasons() -> None:
    assert scale_down_preflight(SAFE) == []


@pytest.mark.parametrize(
    ("case", "change", "reason"),
    [
        ("health_not_green", {"health": HealthFacts("yellow")}, "cluster is yellow"),
        ("health_red", {"health": HealthFacts("red")}, "cluster is red"),
        (
            "no_relocations",
            {"health": HealthFacts("green", relocating_shards=2)},
            "2 shards relocating",
        ),
        (
            "no_initializing",
            {"health": HealthFacts("green", initializing_shards=1)},
            "1 shard initializing",
        ),
        (
            "victims_known",
            {"victims": ("es-data-9",)},
            "victim es-data-9 is not a node of the cluster",
        ),
        (
            "disk_projection",
            {"nodes": (node(0, used=80), node(1, used=80), node(2, used=60), node(3, used=60))},
            "disk projection 93.3% > 75%",
        ),
        (
            "disk_use_known",
            {"nodes": (node(0), node(1), node(2), node(3, used=None))},
            "disk use unknown on es-data-3",
        ),
        (
            "replicas_fit",
            {"indices": (IndexFacts("logs-1", primaries=1, replicas=3),)},
            "index logs-1 needs 4 nodes (replicas 3 + 1), 3 would remain",
        ),
        (
            "total_shards_per_node",
            {"indices": (IndexFacts("x", primaries=4, replicas=1, total_shards_per_node=2),)},
            "total_shards_per_node 2 on index x needs 4 nodes, 3 would remain",
        ),
        (
            "name_filters_require_a_victim",
            {"indices": (IndexFacts("pinned", 1, 0, require_names=("es-data-3",)),)},
            "index pinned needs 1 node its allocation filters (require._name [es-data-3]) "
            "allow, 0 would remain",
        ),
        (
            "name_filters_include_too_few_remaining",
            {"indices": (IndexFacts("logs-1", 3, 1, include_names=("es-data-2", "es-data-3")),)},
            "index logs-1 needs 2 nodes its allocation filters "
            "(include._name [es-data-2,es-data-3]) allow, 1 would remain",
        ),
        (
            "name_filters_exclude_with_wildcard",
            {
                "indices": (
                    IndexFacts("logs-1", 3, 1, exclude_names=("es-data-[01]", "*-0", "*-1")),
                )
            },
            "index logs-1 needs 2 nodes its allocation filters "
            "(exclude._name [es-data-[01],*-0,*-1]) allow, 1 would remain",
        ),
        (
            "name_filters_under_a_per_node_limit",
            {
                "indices": (
                    IndexFacts(
                        "x", 4, 0, total_shards_per_node=2, require_names=("es-data-[12]", "*3")
                    ),
                )
            },
            "index x needs 2 nodes its allocation filters (require._name [es-data-[12],*3]) "
            "allow, 0 would remain",
        ),
        (
            "cluster_shards_per_node",
            {"cluster_shards_per_node": 2, "indices": (IndexFacts("logs-1", 4, 1),)},
            "cluster total_shards_per_node 2: 8 shard copies do not fit 3 remaining data nodes",
        ),
        (
            "quorum_majority_of_voting_config",
            {"victims": ("es-data-1", "es-data-2"), "max_disk_percent": None, "indices": ()},
            "quorum at risk: 1 of 3 voting nodes would remain, 2 needed",
        ),
        (
            "pvc_retention_known",
            {"pvc_retention": None},
            "PVC retention policy unknown",
        ),
    ],
)
def test_each_refusal_rule_names_its_reason(
    case: str, change: dict[str, object], reason: str
) -> None:
    reasons = scale_down_preflight(replace(SAFE, **change))  # type: ignore[arg-type]
    assert reasons == [reason], case


def test_quorum_at_risk_when_every_master_eligible_node_leaves() -> None:
    inp = PreflightInput(
        health=HealthFacts("green"),
        nodes=(node(0, master=False), node(1, master=False), node(2, master=True)),
        indices=(),
        victims=("es-data-2",),
        pvc_retention="Retain",
    )
    assert scale_down_preflight(inp) == ["quorum at risk: no master-eligible node would remain"]


def test_quorum_rule_ignores_victims_outside_the_voting_config() -> None:
    # es-data-3 is master-eligible but not a voter: {0,1,2} keeps all three voters
    assert scale_down_preflight(replace(SAFE, victims=("es-data-3",))) == []


def test_no_node_of_the_tier_remains() -> None:
    inp = replace(SAFE, tier=frozenset({"es-data-3"}), voting_config=None)
    assert scale_down_preflight(inp) == ["no node of the tier would remain"]


def test_tier_limits_the_nodes_counted_for_disk_and_replicas() -> None:
    # tier {2, 3}: removing 3 leaves one node, too few for one replica; its disk holds 80 of 100
    inp = replace(SAFE, tier=frozenset({"es-data-2", "es-data-3"}))
    assert scale_down_preflight(inp) == [
        "disk projection 80% > 75%",
        "index logs-1 needs 2 nodes (replicas 1 + 1), 1 would remain",
    ]


def test_disk_rule_is_skipped_without_a_limit() -> None:
    inp = replace(SAFE, max_disk_percent=None, nodes=(*SAFE.nodes[:3], node(3, used=None)))
    assert scale_down_preflight(inp) == []


def test_pvc_retention_may_be_not_applicable() -> None:
    assert (
        scale_down_preflight(replace(SAFE, pvc_retention=None, require_pvc_retention=False)) == []
    )


def test_every_broken_rule_is_reported_not_only_the_first() -> None:
    inp = replace(SAFE, health=HealthFacts("yellow", relocating_shards=1), pvc_retention=None)
    assert scale_down_preflight(inp) == [
        "cluster is yellow",
        "1 shard relocating",
        "PVC retention policy unknown",
    ]


@pytest.mark.parametrize(
    ("used", "capacity", "expected"),
    [(160, 300, 53.333), (80, 100, 80.0), (0, 100, 0.0), (10, 0, math.inf)],
)
def test_projected_disk_percent_is_used_over_remaining_capacity(
    used: int, capacity: int, expected: float
) -> None:
    got = projected_disk_percent(used_bytes=used, remaining_capacity_bytes=capacity)
    assert got == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    ("avg", "current", "remaining", "expected"),
    [(80.0, 2, 1, 160.0), (60.0, 4, 3, 80.0), (41.0, 2, 1, 82.0), (50.0, 1, 0, math.inf)],
)
def test_projected_disk_from_percent_is_avg_times_n_over_remaining(
    avg: float, current: int, remaining: int, expected: float
) -> None:
    got = projected_disk_from_percent(disk_avg_percent=avg, current=current, remaining=remaining)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "text"), [(82.0, "82%"), (75.36, "75.4%"), (75.04, "75%"), (math.inf, "∞%")]
)
def test_format_percent_keeps_whole_numbers_whole(value: float, text: str) -> None:
    assert format_percent(value) == text


def test_disk_reason_just_over_the_limit_still_reads_as_over() -> None:
    assert disk_reason(75.04, 75.0) == "disk projection 75.04% > 75%"
    assert disk_reason(75.0, 75.0) is None


def test_name_filters_that_still_allow_enough_remaining_nodes_pass() -> None:
    fine = IndexFacts("logs-1", 3, 1, require_names=("es-data-*",), exclude_names=("es-data-0",))
    assert scale_down_preflight(replace(SAFE, indices=(fine,))) == []


def test_a_cluster_shard_limit_that_still_fits_passes_and_zero_means_unbounded() -> None:
    # 6 copies on 3 remaining nodes at 2 each fit exactly; ES reads 0 or less as no limit
    assert scale_down_preflight(replace(SAFE, cluster_shards_per_node=2)) == []
    assert scale_down_preflight(replace(SAFE, cluster_shards_per_node=0)) == []
