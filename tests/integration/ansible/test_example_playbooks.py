"""The playbooks shipped in ``ansible/`` are valid Ansible: syntax-check and ansible-lint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_DIR = REPO / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted(p for p in ANSIBLE_DIR.rglob("*.yml"))


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "LC_ALL": "C.UTF-8",
        "ANSIBLE_HOME": str(tmp_path / "home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
    }


def test_the_examples_and_the_twin_playbooks_are_shipped() -> None:
    names = {p.relative_to(ANSIBLE_DIR).as_posix() for p in PLAYBOOKS}
    assert {"add-node.yml", "remove-node.yml", "twin/scale-up.yml", "twin/scale-down.yml"} <= names


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.relative_to(ANSIBLE_DIR).as_posix())
def test_every_shipped_playbook_passes_syntax_check(playbook: Path, tmp_path: Path) -> None:
    inventory = playbook.parent / "inventory.ini"
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(inventory), str(playbook)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_shipped_playbooks_pass_ansible_lint_production_profile(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor", "."],
        cwd=ANSIBLE_DIR,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failure(s)" in proc.stdout + proc.stderr
