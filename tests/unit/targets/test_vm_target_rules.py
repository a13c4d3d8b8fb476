"""Rules of the VM target that need no cluster: victim choice, tier names, path resolution,
the persisted ``knownBefore`` field, the leadership flags."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from autoscaler.cli import build_parser
from autoscaler.core.operation import Operation, start
from autoscaler.core.policy import Policy
from autoscaler.elastic.admin import EsNode
from autoscaler.operations.runner import target_key, tier_names
from autoscaler.targets.ansible import choose_victims, resolve, target_for

GIB = 2**30


def node(
    name: str,
    *,
    used: int | None,
    shards: int = 5,
    master: bool = False,
    roles: tuple[str, ...] = ("data", "ingest"),
) -> EsNode:
    return EsNode(
        id=name,
        name=name,
        ip="10.0.0.1",
        roles=roles,
        master_eligible=True,
        is_elected_master=master,
        disk_used_bytes=used,
        disk_total_bytes=100 * GIB,
        shards=shards,
    )


def test_victims_are_the_nodes_holding_the_least_data() -> None:
    nodes = [node("a", used=30 * GIB), node("b", used=10 * GIB), node("c", used=20 * GIB)]
    assert choose_victims(nodes, tier=["a", "b", "c"], count=1) == ("b",)
    assert choose_victims(nodes, tier=["a", "b", "c"], count=2) == ("b", "c")


def test_equal_disk_is_decided_by_fewer_shards_then_by_name() -> None:
    nodes = [node("z", used=GIB, shards=3), node("y", used=GIB, shards=9), node("x", used=GIB)]
    assert choose_victims(nodes, tier=["x", "y", "z"], count=2) == ("z", "x")


def test_the_elected_master_is_chosen_only_when_no_other_node_is_left() -> None:
    nodes = [node("m", used=0, master=True), node("a", used=50 * GIB), node("b", used=60 * GIB)]
    assert choose_victims(nodes, tier=["m", "a", "b"], count=2) == ("a", "b")
    assert choose_victims(nodes, tier=["m", "a", "b"], count=3) == ("a", "b", "m")


def test_a_node_with_unknown_disk_use_counts_as_holding_the_most() -> None:
    nodes = [node("u", used=None), node("k", used=90 * GIB)]
    assert choose_victims(nodes, tier=["u", "k"], count=1) == ("k",)


def test_victims_come_from_the_tier_only() -> None:
    nodes = [node("other", used=0), node("t1", used=5 * GIB), node("t2", used=9 * GIB)]
    assert choose_victims(nodes, tier=["t1", "t2"], count=1) == ("t1",)


def _policy(**nodes: object) -> Policy:
    doc = {
        "name": "vms",
        "nodes": nodes or {"roles": ["data"]},
        "target": {"ansible": {"scaleUp": "../ansible/up.yml", "scaleDown": "/abs/down.yml"}},
        "replicas": {"min": 1, "max": 5},
        "scaleUp": {"when": {"metric": "cpu", "aggregate": "avg", "above": 80}, "cooldown": "5m"},
    }
    return Policy.model_validate(yaml.safe_load(yaml.safe_dump(doc)))


def test_tier_names_follow_the_policys_roles_and_name_pattern() -> None:
    nodes = [
        node("es-vm-0", used=0),
        node("es-master-0", used=0, roles=("master",)),
        node("other-vm-1", used=0),
    ]
    assert tier_names(nodes, _policy()) == ("es-vm-0", "other-vm-1")
    assert tier_names(nodes, _policy(roles=["data"], namePattern="^es-")) == ("es-vm-0",)


def test_playbook_paths_are_relative_to_the_policy_files_directory() -> None:
    t = target_for(_policy(), policy_file=Path("/etc/esas/policies/vms.yaml"), output_dir=None)
    assert t.scale_up_playbook == Path("/etc/esas/policies/../ansible/up.yml")
    assert t.scale_down_playbook == Path("/abs/down.yml")
    assert t.inventory is None
    assert resolve(Path("/p"), "x.yml") == Path("/p/x.yml")
    assert t.key == target_key(_policy()) == "ansible/vms"


def test_the_tier_before_a_vm_scale_up_survives_the_store_round_trip() -> None:
    op = start(
        op_id="vms-1",
        policy="vms",
        target="ansible/vms",
        from_replicas=3,
        to_replicas=4,
        members=(),
        now=100.0,
    ).op
    op = replace(op, known_before=("es-vm-0", "es-vm-1", "es-vm-2"))
    again = Operation.from_dict(op.to_dict())
    assert again.known_before == ("es-vm-0", "es-vm-1", "es-vm-2")
    assert Operation.from_dict({**op.to_dict(), "knownBefore": None}).known_before is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--leader-election", "ns/lease", "--identity", "pod-0"], ("ns/lease", "pod-0")),
        (["--no-leader-election"], (None, None)),
    ],
)
def test_serve_parses_the_leader_election_flags(
    argv: list[str], expected: tuple[str | None, str | None]
) -> None:
    args = build_parser().parse_args(
        ["serve", *argv, "--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s"]
    )
    assert (args.leader_election, args.identity) == expected
    assert (args.lease_duration_seconds, args.renew_deadline_seconds) == (4.0, 3.0)
    assert args.retry_period_seconds == 1.0


def _scaling_up(*, known_before: tuple[str, ...] | None, joining: tuple[str, ...]) -> Operation:
    op = start(
        op_id="op",
        policy="p",
        target="t",
        from_replicas=3,
        to_replicas=5,
        members=() if known_before is not None else ("s-3", "s-4"),
        now=0.0,
    ).op
    return replace(op, known_before=known_before, joining=joining)


def test_a_vm_scale_up_whose_playbook_failed_after_nodes_appeared_rolls_them_back() -> None:
    from autoscaler.core.operation import Outcome, advance

    op = _scaling_up(known_before=("a", "b", "c"), joining=("d",))
    tr = advance(op, Outcome("failed", "up.yml failed: task 'X'"), now=1.0)
    assert (tr.op.phase, tr.op.rollback, tr.op.victims) == ("excluding", True, ("d",))
    assert tr.op.failure == "up.yml failed: task 'X'"


def test_a_failed_scale_up_with_nothing_new_fails_statefulset_or_vm() -> None:
    from autoscaler.core.operation import Outcome, advance

    for op in (
        _scaling_up(known_before=("a", "b", "c"), joining=()),
        _scaling_up(known_before=None, joining=("s-3", "s-4")),  # StatefulSet: ordinals
    ):
        tr = advance(op, Outcome("failed", "refused"), now=1.0)
        assert (tr.op.state, tr.op.failure) == ("failed", "refused")


def test_kept_playbook_output_is_bounded_in_lines_and_files(tmp_path: Path) -> None:
    from autoscaler.targets.ansible import KEEP_OUTPUT_FILES
    from autoscaler.targets.playbook import PlaybookResult

    t = target_for(_policy(), policy_file=tmp_path / "p.yaml", output_dir=tmp_path / "out")
    result = PlaybookResult("up.yml", "failed", 2, "task 'X' on h: boom", ("line",) * 3)
    for i in range(KEEP_OUTPUT_FILES + 5):
        t._keep_output(f"op-{i}", "up", result)
    files = list((tmp_path / "out").glob("*.log"))
    assert len(files) == KEEP_OUTPUT_FILES
    text = files[0].read_text()
    assert text.splitlines()[:2] == ["# up.yml: failed (rc=2)", "# task 'X' on h: boom"]
