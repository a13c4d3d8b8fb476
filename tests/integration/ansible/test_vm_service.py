"""The VM target through ``es-autoscaler serve`` (a child process) against ``sim --vm-nodes``:
the shipped ``policies/vm-cluster-ansible.yaml`` (a test copy pointing at the twin
playbooks) scales a VM cluster up end to end; SIGTERM during a playbook run stops the
service promptly (the playbook and its command killed), and the restarted service resumes
the stored operation by checking Elasticsearch rather than re-running the playbook."""

from __future__ import annotations

import os
import shutil
import signal
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from _vm_kit import REPO, TEST_PLAYBOOKS, TWIN_PLAYBOOKS, sleepers, vm_twin, write_vm_policy
from serve_proc import ServeProc
from twin_kit import eventually as _eventually
from twin_kit import sim

TOKEN = "vm-service-token"
HOT = "{metric: cpu, aggregate: avg, above: 50, for: 1s}"


eventually = partial(_eventually, deadline_s=60.0)


def serve(tmp_path: Path, n: int) -> ServeProc:
    (tmp_path / "token").write_text(TOKEN)
    args = [
        "--policies", str(tmp_path / "policies"),
        "--host", "127.0.0.1", "--port", "0",
        "--webhook-token-file", str(tmp_path / "token"),
        "--state-dir", str(tmp_path / "state"),
    ]  # fmt: skip
    return ServeProc(tmp_path / f"serve-{n}.log", args)


async def finished_ops(p: ServeProc) -> list[dict[str, Any]] | None:
    ops: list[dict[str, Any]] = (await p.get("/api/v1/operations"))["operations"]
    return ops if ops and all(o["state"] != "running" for o in ops) else None


async def test_the_shipped_vm_policy_scales_a_vm_cluster_up_end_to_end_through_serve(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=4) as twin:
        # the shipped example, pointed at the twin: its URL, its playbooks, short waits
        doc = yaml.safe_load((REPO / "policies" / "vm-cluster-ansible.yaml").read_text())
        doc["elasticsearch"] = {"url": twin.es_url, "pollInterval": "300ms"}
        doc["nodes"]["namePattern"] = "-vm-"
        book = tmp_path / "playbooks"  # outside the policy directory (all YAML there is policy)
        book.mkdir()
        (tmp_path / "policies").mkdir()
        for f in ("scale-up.yml", "scale-down.yml", "inventory.ini"):
            shutil.copy(TWIN_PLAYBOOKS / f, book / f)
        doc["target"]["ansible"] |= {
            "scaleUp": "../playbooks/scale-up.yml",
            "scaleDown": "../playbooks/scale-down.yml",
            "inventory": "../playbooks/inventory.ini",
            "timeout": "2m",
        }
        doc["target"]["ansible"]["extraVars"] |= {"sim_url": twin.es_url}
        doc["scaleUp"]["when"] = yaml.safe_load(HOT)
        doc["safety"] |= {"joinTimeout": "60s", "rebalanceTimeout": "60s"}
        (tmp_path / "policies" / "vm.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        await sim(twin, "PUT", "/_sim/workload", {"search": 5000.0, "index": 5000.0})
        p = serve(tmp_path, 1)
        try:
            await p.started()
            ops = await eventually(lambda: finished_ops(p), what="the scale-up to finish")
            (op,) = ops
            assert op["state"] == "confirmed", op["failure"]
            assert (op["direction"], op["from"], op["to"]) == ("up", 4, 5)
            fleet = {
                v["name"]: v["state"] for v in (await sim(twin, "GET", "/_sim/nodes"))["nodes"]
            }
            new = [n for n in fleet if n.startswith("vm-analytics-vm-")]
            assert len(new) == 1
            assert fleet[new[0]] == "joined"
            state = (await sim(twin, "GET", "/_sim/state"))["elasticsearch"]
            assert {n["name"]: n["shards"] for n in state["nodes"]}[new[0]] > 0
            assert state["invariants"] == []
            kept = list((tmp_path / "state" / "playbook-output").glob("*-up.log"))
            assert len(kept) == 1
        finally:
            p.stop()


async def test_sigterm_during_a_playbook_run_stops_promptly_and_the_restart_resumes_from_elasticsearch(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=3) as twin:
        write_vm_policy(
            tmp_path / "policies",
            es_url=twin.es_url,
            scale_up=TEST_PLAYBOOKS / "twin-slow-up.yml",
            extra_vars={"slow_seconds": 431},
            up=HOT,
        )
        await sim(twin, "PUT", "/_sim/workload", {"search": 5000.0, "index": 5000.0})
        first = serve(tmp_path, 1)
        second: ServeProc | None = None
        try:
            await first.started()

            async def slow_step_running() -> bool:
                return bool(sleepers(431))

            await eventually(slow_step_running, what="the playbook's slow step")
            fleet = {v["name"] for v in (await sim(twin, "GET", "/_sim/nodes"))["nodes"]}
            assert "vms-slow-4" in fleet  # provisioned before the stop
            first.terminate()
            # SIGTERM answered within the pod's grace period (the chart's 30 s), not after
            # the playbook's 431 s step: a hang guard, not a benchmark
            assert first.proc.wait(timeout=30) == 0
            assert not sleepers(431)  # the playbook's command did not outlive the service
            (held,) = [r for r in first.lines() if r.get("event") == "playbook_start"]

            second = serve(tmp_path, 2)
            await second.started()
            ops = await eventually(lambda: finished_ops(second), what="the resumed scale-up")
            (op,) = ops
            assert op["id"] == held["run"]  # resumed, not started anew
            assert op["state"] == "confirmed", op["failure"]
            details = [h["detail"] for h in op["history"]]
            assert any("already joined; playbook not run" in d for d in details), details
            assert not [r for r in second.lines() if r.get("event") == "playbook_start"]
            state = (await sim(twin, "GET", "/_sim/state"))["elasticsearch"]
            assert "vms-slow-4" in {n["name"] for n in state["nodes"]}
            assert state["invariants"] == []
        finally:
            first.stop()
            if second is not None:
                second.stop()


async def test_sigkill_during_the_scale_down_playbook_resumes_from_elasticsearch_without_rerunning_it(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=4) as twin:
        write_vm_policy(
            tmp_path / "policies",
            es_url=twin.es_url,
            scale_down=TEST_PLAYBOOKS / "twin-slow-down.yml",
            extra_vars={"slow_seconds": 433},
            up=None,
            down="{metric: cpu, aggregate: avg, below: 20, for: 1s}",
        )
        await sim(twin, "PUT", "/_cluster/settings",
                  {"persistent": {"cluster.routing.allocation.exclude._name": "old-node-9"}})  # fmt: skip
        await sim(twin, "PUT", "/_sim/workload", {"search": 0.0, "index": 0.0})
        first = serve(tmp_path, 1)
        second: ServeProc | None = None
        try:
            await first.started()

            async def slow_step_running() -> bool:
                return bool(sleepers(433))

            await eventually(slow_step_running, what="the scale-down playbook's slow step")
            first.kill()  # a crash mid-run: nothing is cleaned up by the service
            (started,) = [r for r in first.lines() if r.get("event") == "playbook_start"]

            second = serve(tmp_path, 2)
            await second.started()
            ops = await eventually(lambda: finished_ops(second), what="the resumed scale-down")
            (op,) = ops
            assert op["id"] == started["run"]
            assert op["state"] == "confirmed", op["failure"]
            details = [h["detail"] for h in op["history"]]
            assert any("scale-down playbook not run" in d for d in details), details
            assert not [r for r in second.lines() if r.get("event") == "playbook_start"]
            (victim,) = op["victims"]
            fleet = {
                v["name"]: v["state"] for v in (await sim(twin, "GET", "/_sim/nodes"))["nodes"]
            }
            assert fleet[victim] == "stopped"
            state = (await sim(twin, "GET", "/_sim/state"))["elasticsearch"]
            assert victim not in {n["name"] for n in state["nodes"]}
            assert state["invariants"] == []  # drained before the playbook: nothing lost
            assert state["settings"]["excluded_names"] == ["old-node-9"]  # ours removed
        finally:
            first.stop()
            if second is not None:
                second.stop()
            for pid in sleepers(433):  # the killed service's orphaned command
                os.kill(pid, signal.SIGKILL)
