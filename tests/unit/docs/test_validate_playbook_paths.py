"""``validate`` (and ``serve``'s policy loading, which logs warnings) says when an Ansible
target's playbook or inventory is not there — resolved relative to the policy file, as the
target resolves it. A typo otherwise surfaces only when the cluster needs the node."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscaler.cli import main
from autoscaler.policyfiles import load_policies

REPO = Path(__file__).resolve().parents[3]
VM_POLICY = """\
name: vm
target:
  ansible: {scaleUp: ../ansible/add-nodes.yml, scaleDown: ../ansible/remove-node.yml}
replicas: {min: 3, max: 6}
scaleUp: {when: {metric: cpu, aggregate: avg, above: 80, for: 5m}, step: 1, cooldown: 5m}
"""


def test_a_missing_playbook_is_a_warning_naming_where_it_was_looked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ansible").mkdir()
    (tmp_path / "ansible" / "add-node.yml").write_text("---\n")
    (tmp_path / "ansible" / "remove-node.yml").write_text("---\n")
    (tmp_path / "policies").mkdir()
    f = tmp_path / "policies" / "vm.yaml"
    f.write_text(VM_POLICY)
    assert main(["validate", str(f)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {f}:1: target.ansible.scaleUp: '../ansible/add-nodes.yml' is not a file "
        f"(looked at {tmp_path / 'policies' / '..' / 'ansible' / 'add-nodes.yml'}); paths are "
        "relative to the policy file's directory"
    ]
    f.write_text(VM_POLICY.replace("add-nodes.yml", "add-node.yml"))
    assert load_policies([f]).warnings == []


def test_the_shipped_vm_policy_finds_its_playbooks() -> None:
    result = load_policies([REPO / "policies" / "vm-cluster-ansible.yaml"])
    assert result.ok
    assert [w for w in result.warnings if w.field.startswith("target.ansible")] == []
