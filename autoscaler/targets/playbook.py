"""Run one Ansible playbook through ansible-runner without blocking the event loop.

The VM target (``targets/ansible.py``) provisions and decommissions Elasticsearch nodes with the
operators' own playbooks. Everything about *running* a playbook safely lives here, apart from
what the target decides:

* ansible-runner is synchronous, so a run happens in a worker thread; the event loop keeps
  polling, answering webhooks and renewing the leader Lease meanwhile.
* ``cancel_callback`` is always given: without one ansible-runner installs its own SIGTERM and
  SIGINT handlers (``ansible_runner/runner.py``), which would swallow the service's shutdown.
  Cancelling the awaiting task (SIGTERM, lost leadership) sets the flag the callback reads, and
  ansible-runner then terminates ``ansible-playbook``.
* ``timeout`` is ansible-runner's job timeout: past it the playbook is killed and the result is
  ``timeout``.
* a fresh private data dir per run: a reused one re-applies the previous run's ``env/extravars``.
* ``ansible-playbook`` must be on PATH (the venv's ``bin`` is prepended), with a UTF-8 locale and
  writable ``ANSIBLE_HOME`` / ``ANSIBLE_LOCAL_TEMP`` (read-only root filesystems in Kubernetes).
* ansible-runner kills ``ansible-playbook``'s process group on timeout or cancel, but Ansible's
  worker processes start sessions of their own (``setsid``), so a task's command (a cloud CLI,
  a ``sleep``) would outlive the kill. Every run's environment carries a unique marker
  (``ESAS_PLAYBOOK_RUN``); after a run that did not succeed, every process still carrying it is
  killed (Linux ``/proc``; elsewhere this step is skipped).
* the output is kept, bounded (the last ``max_output_lines`` lines), and the first failed task's
  name and message become the failure reason an operator reads in ``/api/v1/operations``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RunStatus = Literal["successful", "failed", "timeout", "canceled", "error"]


@dataclass(frozen=True)
class PlaybookResult:
    """What one run did, in the words an operator needs."""

    playbook: str
    status: RunStatus
    rc: int | None
    #: ``"TASK NAME on HOST: message"`` of the first failed task, if any
    failed_task: str | None = None
    output_tail: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.status == "successful"

    def reason(self) -> str:
        """One line for the operation's ``failure`` field."""
        if self.ok:
            return f"{self.playbook} succeeded"
        if self.failed_task:
            return f"{self.playbook} failed: {self.failed_task}"
        if self.status == "timeout":
            return f"{self.playbook} killed after its timeout"
        if self.status == "canceled":
            return f"{self.playbook} canceled"
        return f"{self.playbook} ended with status {self.status} (rc={self.rc})"


def _failed_task(event: Mapping[str, Any]) -> str | None:
    """``runner_on_failed`` / ``runner_on_unreachable`` events name the task and carry the
    module result (ansible-runner's event schema: ``event_data.task``, ``.host``, ``.res``)."""
    if event.get("event") not in ("runner_on_failed", "runner_on_unreachable"):
        return None
    data = event.get("event_data") or {}
    if data.get("ignore_errors"):
        return None
    res = data.get("res") or {}
    message = res.get("msg") or res.get("stderr") or res.get("reason") or "failed"
    text = str(message).strip().splitlines()[0] if str(message).strip() else "failed"
    return f"task {data.get('task', '?')!r} on {data.get('host', '?')}: {text[:500]}"


RUN_MARKER = "ESAS_PLAYBOOK_RUN"


def kill_marked(marker: str, *, rounds: int = 50) -> int:
    """SIGKILL every process whose environment has ``ESAS_PLAYBOOK_RUN=marker``, rescanning
    until none is left (a dying worker may fork once more between two scans); their count."""
    killed = 0
    for _ in range(rounds):
        found = _kill_marked_once(marker)
        if not found:
            break
        killed += found
        time.sleep(0.05)
    return killed


def _kill_marked_once(marker: str) -> int:
    needle = f"{RUN_MARKER}={marker}".encode()
    killed = 0
    proc_root = Path("/proc")
    if not proc_root.is_dir():
        return 0
    for entry in proc_root.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed


def runner_env(base: Path) -> dict[str, str]:
    """Environment for ``ansible-playbook``: PATH with this interpreter's ``bin`` first, UTF-8,
    and a writable Ansible home and temp under ``base``."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "/usr/bin:/bin")
    home = base / "ansible-home"
    tmp = base / "ansible-tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{path}",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(tmp),
        "ANSIBLE_REMOTE_TEMP": str(tmp),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
    }


async def run_playbook(
    *,
    playbook: Path,
    extravars: Mapping[str, Any],
    inventory: Path | None = None,
    timeout: float,  # noqa: ASYNC109 - ansible-runner's job timeout: it kills the playbook itself
    work_root: Path | None = None,
    max_output_lines: int = 200,
) -> PlaybookResult:
    """Run ``playbook`` to its end, its timeout, or until the awaiting task is cancelled.

    Cancellation is honoured: the worker thread is told to stop, ``ansible-playbook`` is
    terminated by ansible-runner, and ``CancelledError`` propagates once the thread returned.
    """
    import ansible_runner  # heavy import, and only the VM target needs it

    if not await asyncio.to_thread(playbook.is_file):
        return PlaybookResult(str(playbook), "error", None, f"playbook {playbook} not found")
    root = Path(tempfile.mkdtemp(prefix="esas-ansible-", dir=work_root))
    (root / "private").mkdir()
    cancel = threading.Event()
    marker = uuid.uuid4().hex
    tail: deque[str] = deque(maxlen=max_output_lines)
    failures: list[str] = []

    def on_event(event: Mapping[str, Any]) -> bool:
        for line in str(event.get("stdout") or "").splitlines():
            if line.strip():
                tail.append(line)
        failed = _failed_task(event)
        if failed and not failures:
            failures.append(failed)
        return False  # we keep what we need; ansible-runner need not write event files

    def work() -> Any:
        return ansible_runner.run(
            private_data_dir=str(root / "private"),
            project_dir=str(playbook.parent.resolve()),
            playbook=playbook.name,
            inventory=str(inventory.resolve()) if inventory else None,
            extravars=dict(extravars),
            envvars={**runner_env(root), RUN_MARKER: marker},
            cancel_callback=cancel.is_set,
            event_handler=on_event,
            timeout=max(1, int(timeout)),
            quiet=True,
            json_mode=False,
        )

    thread_task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        runner = await asyncio.shield(thread_task)
    except asyncio.CancelledError:
        cancel.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(thread_task), 15)
        await asyncio.to_thread(kill_marked, marker)
        raise
    finally:
        if thread_task.done():
            shutil.rmtree(root, ignore_errors=True)
    status = str(getattr(runner, "status", "error"))
    if status != "successful":
        await asyncio.to_thread(kill_marked, marker)
    run_status: RunStatus = (
        status if status in ("successful", "failed", "timeout", "canceled") else "error"  # type: ignore[assignment]
    )
    return PlaybookResult(
        playbook=str(playbook),
        status=run_status,
        rc=getattr(runner, "rc", None),
        failed_task=failures[0] if failures else None,
        output_tail=tuple(tail),
    )
