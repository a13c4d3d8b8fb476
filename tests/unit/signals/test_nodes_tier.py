"""Tier membership: which nodes a policy's ``nodes: {roles, namePattern}`` selects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoscaler.signals.nodes import NodeSample, parse_node_stats, role_matches, select_tier

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"


def node(name: str, *roles: str) -> NodeSample:
    return NodeSample(node_id=f"id-{name}", name=name, roles=frozenset(roles), at=0.0)


def names(samples: list[NodeSample]) -> list[str]:
    return [s.name for s in samples]


def test_data_selects_8x_nodes_that_only_have_tier_roles() -> None:
    samples = parse_node_stats(json.loads((FIXTURES / "es-8.4.2_nodes_stats.json").read_text()))
    assert names(select_tier(samples, roles=["data"])) == [
        "instance-0000000005",
        "instance-0000000006",
    ]


def test_voting_only_tiebreaker_is_selected_by_master_but_not_by_data() -> None:
    samples = parse_node_stats(json.loads((FIXTURES / "es-8.4.2_nodes_stats.json").read_text()))
    assert "tiebreaker-0000000002" in names(select_tier(samples, roles=["master"]))
    assert "tiebreaker-0000000002" not in names(select_tier(samples, roles=["data_hot"]))


@pytest.mark.parametrize(
    "capture",
    ["es-6.8.8_nodes_stats.json", "es-7.6.2_nodes_stats.json", "es-7.13.1_nodes_stats.json"],
)
def test_plain_data_role_of_older_versions_is_selected_by_data(capture: str) -> None:
    samples = parse_node_stats(json.loads((FIXTURES / capture).read_text()))
    assert len(select_tier(samples, roles=["data"])) == 1


@pytest.mark.parametrize(
    ("policy_role", "node_roles", "member"),
    [
        ("data", {"data_hot", "data_content"}, True),
        ("data", {"data_frozen"}, True),
        ("data", {"master", "voting_only"}, False),
        ("data_hot", {"data"}, True),  # generic data nodes belong to every tier
        ("data_hot", {"data_warm"}, False),
        ("data_warm", {"data_hot", "data_content"}, False),
        ("master", {"cluster_manager", "data"}, True),  # OpenSearch spelling
        ("cluster_manager", {"master"}, True),
        ("ingest", {"data", "master"}, False),
        ("ml", {"ml", "remote_cluster_client"}, True),
    ],
)
def test_role_synonyms_and_data_tier_rules(
    policy_role: str, node_roles: set[str], member: bool
) -> None:
    assert role_matches(policy_role, frozenset(node_roles)) is member


def test_a_node_belongs_if_it_has_any_of_the_policy_roles() -> None:
    samples = [node("a", "data_hot"), node("b", "ml"), node("c", "ingest")]
    assert names(select_tier(samples, roles=["data_hot", "ml"])) == ["a", "b"]


def test_name_pattern_is_a_regex_search_and_narrows_the_role_match() -> None:
    samples = [
        node("analytics-0", "data"),
        node("analytics-1", "data"),
        node("logs-analytics-0", "data"),
        node("analytics-master", "master"),
    ]
    assert names(select_tier(samples, roles=["data"], name_pattern="^analytics-")) == [
        "analytics-0",
        "analytics-1",
    ]
    assert names(select_tier(samples, roles=["data"], name_pattern="analytics")) == [
        "analytics-0",
        "analytics-1",
        "logs-analytics-0",
    ]


def test_no_matching_node_is_an_empty_tier() -> None:
    assert select_tier([node("a", "master")], roles=["data"]) == []
