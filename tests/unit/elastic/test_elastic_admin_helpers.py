"""The pure helpers of ``elastic/admin.py``, table-tested: merging our exclusion names with the
user's, removing only ours, reading ``_cat`` cells and mapping admin facts to the preflight."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autoscaler.core.preflight import scale_down_preflight
from autoscaler.elastic.admin import (
    ClusterHealth,
    EsIndex,
    EsNode,
    VotingState,
    count_copies,
    indices_from,
    merge_exclusion,
    nodes_from_cat,
    parse_name_list,
    parse_relocating_node,
    preflight_input,
    remove_ours,
    roles_from_abbrev,
)


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (None, []),
        ("", []),
        ("a", ["a"]),
        ("a,b", ["a", "b"]),
        (" a , b ,, ", ["a", "b"]),  # whitespace and empty entries
        ("b,a,b", ["b", "a"]),  # duplicates: first occurrence, order kept
        (["a", "b"], ["a", "b"]),  # the JSON-array form ES echoes back
        (["a,b", " c "], ["a", "b", "c"]),  # array entries holding commas
        ([], []),
    ],
)
def test_parse_name_list_reads_strings_and_lists(
    value: str | list[str] | None, names: list[str]
) -> None:
    assert parse_name_list(value) == names


@pytest.mark.parametrize(
    ("case", "current", "ours", "merged"),
    [
        ("nothing_set", None, ["es-data-3"], "es-data-3"),
        ("empty_string", "", ["es-data-3"], "es-data-3"),
        ("user_names_first", "user-1,user-2", ["es-data-3"], "user-1,user-2,es-data-3"),
        ("user_order_kept", "zz,aa", ["mm"], "zz,aa,mm"),
        ("ours_already_there", "user-1,es-data-3", ["es-data-3"], "user-1,es-data-3"),
        ("user_excluded_our_victim", "es-data-3,user-1", ["es-data-3"], "es-data-3,user-1"),
        ("duplicates_collapsed", "a,a,b", ["c", "c"], "a,b,c"),
        ("whitespace_trimmed", " a , b ", [" c "], "a,b,c"),
        ("list_value_becomes_string", ["user-1", "user-2"], ["es-data-3"], "user-1,user-2,es-data-3"),
        ("several_of_ours_in_order", "u", ["es-data-4", "es-data-3"], "u,es-data-4,es-data-3"),
        ("wildcard_kept", "old-*", ["es-data-3"], "old-*,es-data-3"),
        ("nothing_of_ours", "u", [], "u"),
    ],
)  # fmt: skip
def test_merge_exclusion_keeps_the_users_names_and_appends_ours(
    case: str, current: str | list[str] | None, ours: list[str], merged: str
) -> None:
    assert merge_exclusion(current, ours) == merged, case


@pytest.mark.parametrize(
    ("case", "current", "ours", "left"),
    [
        ("only_ours", "es-data-3", ["es-data-3"], ""),
        ("users_stay", "user-1,es-data-3,user-2", ["es-data-3"], "user-1,user-2"),
        ("idempotent", "user-1", ["es-data-3"], "user-1"),
        ("nothing_set", None, ["es-data-3"], ""),
        ("empty", "", ["es-data-3"], ""),
        ("whitespace", " user-1 , es-data-3 ", ["es-data-3"], "user-1"),
        ("duplicates_of_ours", "es-data-3,u,es-data-3", ["es-data-3"], "u"),
        ("list_value", ["u", "es-data-3"], ["es-data-3"], "u"),
        ("several_of_ours", "es-data-4,u,es-data-3", ["es-data-3", "es-data-4"], "u"),
        ("prefix_is_not_a_match", "es-data-30", ["es-data-3"], "es-data-30"),
    ],
)
def test_remove_ours_removes_only_our_names(
    case: str, current: str | list[str] | None, ours: list[str], left: str
) -> None:
    assert remove_ours(current, ours) == left, case


def test_merge_then_remove_restores_the_users_value() -> None:
    user = "u-2,u-1"
    assert remove_ours(merge_exclusion(user, ["es-data-3"]), ["es-data-3"]) == user


@pytest.mark.parametrize(
    ("cell", "parsed"),
    [
        ("es-data-1", ("es-data-1", None)),
        ("es-data-1 -> 10.0.0.3 Ab12Cd34 es-data-3", ("es-data-1", "es-data-3")),
        ("node a -> 10.0.0.3 Ab12 node b", ("node a", "node b")),  # names with spaces
    ],
)
def test_relocating_node_cell_names_both_ends(cell: str, parsed: tuple[str, str | None]) -> None:
    assert parse_relocating_node(cell) == parsed


@pytest.mark.parametrize(
    ("abbrev", "roles"),
    [
        ("dim", ("data", "ingest", "master")),
        ("hm", ("data_hot", "master")),
        ("-", ()),
        (None, ()),
        ("mv", ("master", "voting_only")),
    ],
)
def test_role_letters_map_to_role_names(abbrev: str | None, roles: tuple[str, ...]) -> None:
    assert roles_from_abbrev(abbrev) == roles


def test_preflight_input_maps_admin_facts_onto_the_core_rules() -> None:
    gb = 2**30

    def node(i: int) -> EsNode:
        return EsNode(f"id{i}", f"es-data-{i}", f"10.0.0.{i}", ("data", "master"), True,
                      i == 0, 80 * gb, 100 * gb, 5)  # fmt: skip

    inp = preflight_input(
        health=ClusterHealth("green", 2, 2, 0, 0, 0, False),
        nodes=[node(0), node(1)],
        indices=[EsIndex("logs", 3, 1, None, 10 * gb)],
        victims=["es-data-1"],
        voting=VotingState(frozenset({"id0", "id1"}), ()),
        max_disk_percent=75.0,
        pvc_retention="Delete",
    )
    assert scale_down_preflight(inp) == [
        "disk projection 160% > 75%",
        "index logs needs 2 nodes (replicas 1 + 1), 1 would remain",
        "quorum at risk: 1 of 2 voting nodes would remain, 2 needed",
    ]


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"


def test_count_copies_on_a_real_cat_shards_capture_skips_unassigned_rows() -> None:
    # es-7.15.0: three STARTED copies on one node, two UNASSIGNED replicas (node null)
    rows = json.loads((FIXTURES / "es-7.15.0_cat_shards.json").read_text("utf-8"))
    assert count_copies(rows, ["35dfca79831a", "other"]) == {"35dfca79831a": 3, "other": 0}


@pytest.mark.parametrize(
    ("rows", "counts"),
    [
        ([{"state": "STARTED", "node": "a"}], {"a": 1, "b": 0}),
        ([{"state": "INITIALIZING", "node": "b"}], {"a": 0, "b": 1}),
        ([{"state": "RELOCATING", "node": "a -> 10.0.0.2 XyZ b"}], {"a": 1, "b": 1}),
        ([{"state": "UNASSIGNED", "node": None}], {"a": 0, "b": 0}),
        ([{"state": "STARTED", "node": "c"}], {"a": 0, "b": 0}),  # other nodes are not counted
    ],
)
def test_count_copies_counts_each_row_for_the_nodes_it_occupies(
    rows: list[dict[str, Any]], counts: dict[str, int]
) -> None:
    assert count_copies(rows, ["a", "b"]) == counts


def test_indices_from_reads_string_settings_and_sums_store() -> None:
    # shape of GET /_all?filter_path=*.settings.index.… on ES 8 (values are strings)
    settings = {
        "logs": {
            "settings": {
                "index": {
                    "number_of_shards": "3",
                    "number_of_replicas": "1",
                    "routing": {"allocation": {"total_shards_per_node": "2"}},
                }
            }
        },
        "unbounded": {
            "settings": {
                "index": {
                    "number_of_shards": "1",
                    "number_of_replicas": "0",
                    "routing": {"allocation": {"total_shards_per_node": "-1"}},
                }
            }
        },
        "plain": {"settings": {"index": {"number_of_shards": "1", "number_of_replicas": "2"}}},
    }
    rows = [
        {"index": "logs", "store": "100"},
        {"index": "logs", "store": "150"},
        {"index": "plain", "store": None},  # unassigned copy
    ]
    assert indices_from(settings, rows) == [
        EsIndex("logs", 3, 1, 2, 250),
        EsIndex("plain", 1, 2, None, 0),
        EsIndex("unbounded", 1, 0, None, 0),
    ]


def test_nodes_from_cat_joins_allocation_by_name() -> None:
    rows = [
        {"id": "id0", "name": "es-0", "ip": "10.0.0.1", "node.role": "dim", "master": "*",
         "disk.used": "40", "disk.total": "100"},
        {"id": "id1", "name": "coord", "ip": "10.0.0.2", "node.role": "-", "master": "-",
         "disk.used": None, "disk.total": None},
    ]  # fmt: skip
    alloc = [{"node": "es-0", "shards": "7"}, {"node": "UNASSIGNED", "shards": "2"}]
    assert nodes_from_cat(rows, alloc) == [
        EsNode("id0", "es-0", "10.0.0.1", ("data", "ingest", "master"), True, True, 40, 100, 7),
        EsNode("id1", "coord", "10.0.0.2", (), False, False, None, None, 0),
    ]
