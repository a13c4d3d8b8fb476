"""Elasticsearch on virtual machines as a scaling target: the operators' own Ansible playbooks.

Shops that run Elasticsearch on VMs provision and decommission nodes with playbooks; this
target lets a policy drive those same playbooks, under the same safety rules as the
StatefulSet target (the runner in ``operations/runner.py`` drains, confirms and rolls back;
this module only runs playbooks and picks victims). What differs from a StatefulSet:

* **Members are named by Elasticsearch, not by ordinals.** A playbook may name new machines
  however it likes, so a scale-up never guesses names: the runner records the tier's node
  names before the run and learns the new ones as tier nodes that appeared afterwards
  (``Operation.known_before`` / ``joining``).
* **Victims are the tier nodes holding the least data** (disk used, then shard count, then
  name for a stable order), and never the elected master while another choice exists
  (``choose_victims``): the least data moves the fewest bytes while draining, and removing
  the elected master forces an election during the operation.
* **Scale-up** runs ``ansible.scaleUp`` with extra vars ``cluster`` (the policy name),
  ``current``, ``desired``, ``count`` (plus the policy's ``extraVars``; ours win on a clash).
  Its success is not trusted as confirmation: the runner waits for the new nodes to join,
  for rebalancing to finish and for them to hold shards.
* **Scale-down** runs ``ansible.scaleDown`` with the same vars plus ``nodes: [...]``, only
  after the runner drained those nodes (merged exclusion, voting exclusions, zero copies).
* **Paths** (``scaleUp``, ``scaleDown``, ``inventory``) are relative to the directory of the
  policy file that names them (absolute paths stay as they are).
* **Idempotency:** after a crash the runner checks Elasticsearch first (are the new nodes
  there? are the victims gone?) and runs a playbook again only when they are not, so
  playbooks must tolerate a re-run (README "VM clusters with Ansible").
* The output of each run is kept, bounded (``max_output_lines``), one file per operation and
  playbook under ``output_dir``; the first failed task's name and message are the failure
  reason (``PlaybookFailed``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from autoscaler.core.policy import Policy
from autoscaler.elastic.admin import EsNode
from autoscaler.targets.base import Target, TargetRefused, TargetUnavailable
from autoscaler.targets.playbook import PlaybookResult, run_playbook

log = logging.getLogger("autoscaler.targets")

#: What ``data_retention`` reports: a decommissioned VM takes its data with it, so the drain
#: is mandatory (the preflight treats it like a StatefulSet's ``whenScaled: Delete``).
VM_DATA_RETENTION = "Delete"


KEEP_RESULTS = 20
"""Results of the last runs kept in memory (tests, diagnostics)."""
KEEP_OUTPUT_FILES = 200
"""Output files kept in ``output_dir`` (the oldest are removed; 100 operations × up/down)."""


class PlaybookFailed(TargetRefused):
    """A playbook run did not succeed; the message names the failed task and its message."""

    def __init__(self, result: PlaybookResult) -> None:
        super().__init__(result.reason())
        self.result = result


@runtime_checkable
class NodeGroup(Target, Protocol):
    """A ``Target`` whose members are named by Elasticsearch and changed by running something
    (playbooks) rather than by writing a replica count. The runner learns joining names from
    Elasticsearch and picks victims with ``choose_victims``."""

    def choose_victims(
        self, nodes: Sequence[EsNode], *, tier: Iterable[str], count: int
    ) -> tuple[str, ...]: ...

    async def provision(self, *, current: int, desired: int, run_id: str) -> None:
        """Add ``desired - current`` nodes; raises ``PlaybookFailed`` / ``TargetUnavailable``."""
        ...

    async def decommission(
        self, names: tuple[str, ...], *, current: int, desired: int, run_id: str
    ) -> None:
        """Remove the (already drained) nodes ``names``."""
        ...


def choose_victims(nodes: Sequence[EsNode], *, tier: Iterable[str], count: int) -> tuple[str, ...]:
    """The ``count`` tier nodes holding the least data; the elected master only if needed.

    Order: not the elected master first, then disk used (unknown counts as most), then shard
    count, then name. Pure."""
    wanted = set(tier)
    candidates = [n for n in nodes if n.name in wanted]
    candidates.sort(
        key=lambda n: (
            n.is_elected_master,
            n.disk_used_bytes if n.disk_used_bytes is not None else float("inf"),
            n.shards,
            n.name,
        )
    )
    return tuple(n.name for n in candidates[: max(0, count)])


def resolve(base: Path, path: str) -> Path:
    """``path`` relative to ``base`` (the policy file's directory) unless absolute."""
    p = Path(path)
    return p if p.is_absolute() else (base / p)


def target_for(policy: Policy, *, policy_file: Path, output_dir: Path | None) -> AnsibleTarget:
    """The ``AnsibleTarget`` of a policy whose ``target.ansible`` is set; paths are taken
    relative to the directory of ``policy_file``."""
    spec = policy.target.ansible if policy.target is not None else None
    if spec is None:
        raise ValueError(f"policy {policy.name} has no ansible target")
    base = policy_file.parent
    return AnsibleTarget(
        policy=policy.name,
        scale_up=resolve(base, spec.scaleUp),
        scale_down=resolve(base, spec.scaleDown),
        inventory=resolve(base, spec.inventory) if spec.inventory else None,
        extra_vars=spec.extraVars,
        timeout=spec.timeout,
        output_dir=output_dir,
    )


def ansible_key(policy: str) -> str:
    """The store key of a policy's VM tier (``AnsibleTarget.key``)."""
    return f"ansible/{policy}"


class AnsibleTarget:
    """The VM target of one policy: its two playbooks, inventory, extra vars and timeout."""

    def __init__(
        self,
        *,
        policy: str,
        scale_up: Path,
        scale_down: Path,
        inventory: Path | None,
        extra_vars: Mapping[str, Any],
        timeout: float,
        output_dir: Path | None = None,
        max_output_lines: int = 200,
    ) -> None:
        self.policy = policy
        self.scale_up_playbook = scale_up
        self.scale_down_playbook = scale_down
        self.inventory = inventory
        self.extra_vars = dict(extra_vars)
        self.timeout = timeout
        self.output_dir = output_dir
        self.max_output_lines = max_output_lines
        #: the last result per (run_id, "up"|"down"), for tests and the failure reason
        self.results: dict[tuple[str, str], PlaybookResult] = {}

    @property
    def key(self) -> str:
        return ansible_key(self.policy)

    # ---- Target ----------------------------------------------------------------------------

    async def current_replicas(self) -> int:
        raise TargetUnavailable("a VM tier's size is the number of its nodes Elasticsearch sees")

    def member_names(self, *, start: int, stop: int) -> tuple[str, ...]:
        """VM names are never derived from ordinals: the runner learns them from Elasticsearch."""
        return ()

    async def scale(self, replicas: int) -> None:
        raise TargetRefused("a VM tier is scaled by its playbooks (provision / decommission)")

    async def members(self, names: tuple[str, ...]) -> dict[str, bool]:
        """Nothing beyond Elasticsearch knows the machines: the runner asks ES instead."""
        return {}

    async def data_retention(self) -> str | None:
        return VM_DATA_RETENTION

    async def announce(self, *, reason: str, message: str, warning: bool = False) -> None:
        """No Kubernetes object to hang an Event on: a log line (the runner logs as well)."""
        (log.warning if warning else log.info)(
            "vm_target_event",
            extra={"fields": {"target": self.key, "reason": reason, "message": message}},
        )

    async def close(self) -> None:
        """Nothing held between runs (each run has its own private data dir)."""

    # ---- NodeGroup -------------------------------------------------------------------------

    def choose_victims(
        self, nodes: Sequence[EsNode], *, tier: Iterable[str], count: int
    ) -> tuple[str, ...]:
        return choose_victims(nodes, tier=tier, count=count)

    def _vars(self, *, current: int, desired: int) -> dict[str, Any]:
        return self.extra_vars | {
            "cluster": self.policy,
            "current": current,
            "desired": desired,
            "count": abs(desired - current),
        }

    async def provision(self, *, current: int, desired: int, run_id: str) -> None:
        await self._run(
            "up", self.scale_up_playbook, self._vars(current=current, desired=desired), run_id
        )

    async def decommission(
        self, names: tuple[str, ...], *, current: int, desired: int, run_id: str
    ) -> None:
        extravars = self._vars(current=current, desired=desired) | {"nodes": list(names)}
        await self._run("down", self.scale_down_playbook, extravars, run_id)

    async def _run(self, kind: str, playbook: Path, extravars: dict[str, Any], run_id: str) -> None:
        log.info(
            "playbook_start",
            extra={"fields": {"target": self.key, "playbook": str(playbook), "run": run_id}},
        )
        try:
            result = await run_playbook(
                playbook=playbook,
                extravars=extravars,
                inventory=self.inventory,
                timeout=self.timeout,
                max_output_lines=self.max_output_lines,
            )
        except ImportError as e:  # the base image has no ansible-runner
            raise TargetRefused(
                f"cannot run {playbook.name}: {e}; the Ansible target needs ansible-core and "
                "ansible-runner (the image's `ansible` build target)"
            ) from None
        self.results[(run_id, kind)] = result
        while len(self.results) > KEEP_RESULTS:
            del self.results[next(iter(self.results))]
        await asyncio.to_thread(self._keep_output, run_id, kind, result)
        log.info(
            "playbook_end",
            extra={
                "fields": {
                    "target": self.key,
                    "playbook": str(playbook),
                    "run": run_id,
                    "status": result.status,
                    "failed_task": result.failed_task,
                }
            },
        )
        if not result.ok:
            raise PlaybookFailed(result)

    def _keep_output(self, run_id: str, kind: str, result: PlaybookResult) -> None:
        if self.output_dir is None:
            return
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
            text = "\n".join(
                (
                    f"# {result.playbook}: {result.status} (rc={result.rc})",
                    *([f"# {result.failed_task}"] if result.failed_task else []),
                    *result.output_tail,
                )
            )
            (self.output_dir / f"{safe}-{kind}.log").write_text(text + "\n", encoding="utf-8")
            logs = sorted(self.output_dir.glob("*.log"), key=lambda p: p.stat().st_mtime)
            for old in logs[:-KEEP_OUTPUT_FILES]:
                old.unlink(missing_ok=True)
        except OSError as e:
            log.warning("playbook_output_not_kept", extra={"fields": {"error": str(e)}})
