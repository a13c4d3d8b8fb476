"""The pure helpers of ``elastic/admin.py``, table-tested: merging our exclusion names with the
user's, removing only ours, reading ``_cat`` cells and mapping admin facts to the preflight."""

from __future__ import annotations

import pytest

from autoscaler.core.preflight import scale_down_preflight
from autoscaler.elastic.admin import (
    ClusterHealth,
    EsIndex,
    EsNode,
    VotingState,
    merge_exclusion,
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
