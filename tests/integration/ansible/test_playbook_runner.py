"""Real ``ansible-playbook`` runs through ``targets/playbook.py`` (ansible-runner), locally."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
from _vm_kit import sleepers

from autoscaler.targets.playbook import run_playbook

PLAYBOOKS = Path(__file__).parent / "playbooks"


INVENTORY = PLAYBOOKS / "inventory.ini"


async def test_extra_vars_reach_the_playbook(tmp_path: Path) -> None:
    out = tmp_path / "vars.json"
    result = await run_playbook(
        playbook=PLAYBOOKS / "record-vars.yml",
        inventory=INVENTORY,
        extravars={
            "cluster": "vm-analytics",
            "current": 4,
            "desired": 5,
            "count": 1,
            "out_file": str(out),
        },
        timeout=120,
        work_root=tmp_path,
    )
    assert result.ok, result.output_tail
    assert json.loads(out.read_text()) == {
        "cluster": "vm-analytics",
        "current": 4,
        "desired": 5,
        "count": 1,
        "nodes": [],
    }
    assert not list(tmp_path.glob("esas-ansible-*"))  # noqa: ASYNC240 - a test's assertion


async def test_a_failing_task_is_named_with_its_message(tmp_path: Path) -> None:
    result = await run_playbook(
        playbook=PLAYBOOKS / "fail.yml",
        inventory=INVENTORY,
        extravars={"count": 2},
        timeout=120,
        work_root=tmp_path,
    )
    assert result.status == "failed"
    assert result.failed_task == (
        "task 'Check the node image exists' on localhost: "
        "image es-8.15.0 not found in the template library"
    )
    assert "fail.yml failed: task 'Check the node image exists'" in result.reason()
    assert any("provisioning 2 node(s)" in line for line in result.output_tail)


async def test_a_playbook_past_its_timeout_is_killed(tmp_path: Path) -> None:
    result = await run_playbook(
        playbook=PLAYBOOKS / "hang.yml",
        inventory=INVENTORY,
        extravars={"seconds": 6001},
        timeout=2,
        work_root=tmp_path,
    )
    assert result.status == "timeout"
    assert "killed after its timeout" in result.reason()
    assert not sleepers(6001)  # no `sleep` left running


async def test_cancelling_the_run_terminates_ansible_and_keeps_our_signal_handlers(
    tmp_path: Path,
) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    task = asyncio.create_task(
        run_playbook(
            playbook=PLAYBOOKS / "hang.yml",
            inventory=INVENTORY,
            extravars={"seconds": 6002},
            timeout=600,
            work_root=tmp_path,
        )
    )
    for _ in range(300):  # bounded: until ansible has started the task's `sleep 600`
        if sleepers(6002):
            break
        await asyncio.sleep(0.05)
    assert sleepers(6002)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not sleepers(6002):
            break
        await asyncio.sleep(0.05)
    assert not sleepers(6002)


async def test_a_missing_playbook_is_an_error_not_a_crash(tmp_path: Path) -> None:
    result = await run_playbook(
        playbook=tmp_path / "nope.yml", extravars={}, timeout=10, work_root=tmp_path
    )
    assert result.status == "error"
    assert "not found" in result.reason()
