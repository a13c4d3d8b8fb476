"""The VM target end to end: the operations runner drives real ``ansible-playbook`` runs
(ansible-runner) whose ``uri`` tasks provision and stop VM nodes in the twin
(``sim --vm-nodes``), with real elasticsearch-py for exclusions, health and shard placement.
Outcomes are read from the twin's own state (its VM list, shard table, invariant log)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from _vm_kit import TEST_PLAYBOOKS, sleepers, vm_rig, vm_twin, write_vm_policy
from twin_kit import sim as _sim

from autoscaler.elastic.admin import EsAdmin
from autoscaler.sim.server import RunningTwin
from autoscaler.targets.ansible import choose_victims

sim = partial(_sim, ok=(200, 201))


async def es_state(twin: RunningTwin) -> dict[str, Any]:
    state: dict[str, Any] = (await sim(twin, "GET", "/_sim/state"))["elasticsearch"]
    return state


async def vms(twin: RunningTwin) -> dict[str, str]:
    return {vm["name"]: vm["state"] for vm in (await sim(twin, "GET", "/_sim/nodes"))["nodes"]}


async def test_vm_scale_up_learns_the_new_node_from_elasticsearch_and_confirms_after_rebalancing(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=3) as twin:
        policy_file = write_vm_policy(tmp_path / "policies", es_url=twin.es_url)
        async with vm_rig(twin, policy_file, tmp_path / "state") as r:
            op = await r.run(frm=3, to=4)
            assert op.state == "confirmed", op.failure
            fleet = await vms(twin)
            new = sorted(set(fleet) - {"es-vm-0", "es-vm-1", "es-vm-2"})
            assert len(new) == 1
            assert fleet[new[0]] == "joined"
            assert op.joining == tuple(new)  # learnt from ES, never guessed
            assert op.known_before == ("es-vm-0", "es-vm-1", "es-vm-2")
            state = await es_state(twin)
            assert state["relocating"] == 0
            assert state["initializing"] == 0
            held = {n["name"]: n["shards"] for n in state["nodes"]}
            assert held[new[0]] > 0
            assert state["invariants"] == []
            phases = [s.phase for s in op.history]
            assert phases.index("scaling") < phases.index("rebalancing")
            # the run's bounded output is kept per operation
            kept = (tmp_path / "state" / "playbooks" / f"{op.id}-up.log").read_text()
            assert "successful" in kept
            assert "Provision one VM node" in kept


async def test_vm_scale_down_drains_the_least_loaded_node_runs_the_playbook_and_keeps_the_users_exclusion(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=4) as twin:
        policy_file = write_vm_policy(tmp_path / "policies", es_url=twin.es_url)
        async with vm_rig(twin, policy_file, tmp_path / "state") as r:
            await r.es.cluster.put_settings(
                persistent={"cluster.routing.allocation.exclude._name": "retired-node-7"}
            )
            admin = EsAdmin(r.es, server=None)
            nodes = await admin.nodes()
            expected = choose_victims(nodes, tier=[n.name for n in nodes], count=1)
            elected = next(n.name for n in nodes if n.is_elected_master)
            assert expected != (elected,)
            op = await r.run(frm=4, to=3)
            assert op.state == "confirmed", op.failure
            assert op.victims == expected
            phases = [s.phase for s in op.history]
            assert phases.index("draining") < phases.index("scaling") < phases.index("removing")
            fleet = await vms(twin)
            assert fleet[expected[0]] == "stopped"
            state = await es_state(twin)
            assert expected[0] not in {n["name"] for n in state["nodes"]}
            assert state["invariants"] == []  # drained first: scratch (0 replicas) survived
            assert state["settings"]["excluded_names"] == ["retired-node-7"]
            assert state["voting_config_exclusions"] == []


async def test_a_failing_playbook_task_fails_the_operation_with_the_tasks_name_and_message(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=3) as twin:
        policy_file = write_vm_policy(
            tmp_path / "policies", es_url=twin.es_url, scale_up=TEST_PLAYBOOKS / "fail.yml"
        )
        async with vm_rig(twin, policy_file, tmp_path / "state") as r:
            op = await r.run(frm=3, to=4)
            assert op.state == "failed"
            assert op.failure is not None
            assert "task 'Check the node image exists' on localhost" in op.failure
            assert "image es-8.15.0 not found in the template library" in op.failure
            assert sorted(await vms(twin)) == ["es-vm-0", "es-vm-1", "es-vm-2"]


async def test_a_playbook_hanging_past_the_ansible_timeout_is_killed_and_fails_the_operation(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=3) as twin:
        policy_file = write_vm_policy(
            tmp_path / "policies",
            es_url=twin.es_url,
            scale_up=TEST_PLAYBOOKS / "hang.yml",
            timeout="2s",
            extra_vars={"seconds": 777},
        )
        async with vm_rig(twin, policy_file, tmp_path / "state") as r:
            op = await r.run(frm=3, to=4)
            assert op.state == "failed"
            assert op.failure is not None
            assert "killed after its timeout" in op.failure
            result = r.target.results[(op.id, "up")]
            assert result.status == "timeout"
            assert not sleepers(777)  # the task's command did not outlive the kill


async def test_a_node_that_never_joins_rolls_back_by_draining_and_decommissioning_the_ones_that_did(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=3) as twin:
        policy_file = write_vm_policy(
            tmp_path / "policies",
            es_url=twin.es_url,
            scale_up=TEST_PLAYBOOKS / "twin-partial-up.yml",
            safety={"joinTimeout": "3s"},
        )
        async with vm_rig(twin, policy_file, tmp_path / "state") as r:
            op = await r.run(frm=3, to=5)
            assert op.state == "rolled_back", op.failure
            assert op.failure is not None
            assert "1 of 2 new node(s) did not join" in op.failure
            assert op.victims == ("vms-joins",)  # only the node that did appear
            fleet = await vms(twin)
            assert fleet["vms-joins"] == "stopped"
            assert fleet["vms-stuck"] == "provisioning"  # unknown to ES: left to the operator
            state = await es_state(twin)
            assert sorted(n["name"] for n in state["nodes"]) == ["es-vm-0", "es-vm-1", "es-vm-2"]
            assert state["invariants"] == []
            assert state["settings"]["excluded_names"] == []


async def test_a_scale_up_playbook_failing_part_way_rolls_back_the_node_it_already_added(
    tmp_path: Path,
) -> None:
    async with vm_twin(vm_nodes=3) as twin:
        policy_file = write_vm_policy(
            tmp_path / "policies",
            es_url=twin.es_url,
            scale_up=TEST_PLAYBOOKS / "twin-fail-after-one.yml",
        )
        async with vm_rig(twin, policy_file, tmp_path / "state") as r:
            op = await r.run(frm=3, to=5)
            assert op.state == "rolled_back", op.failure
            assert op.failure is not None
            assert "task 'Provision the second node' on localhost" in op.failure
            assert "quota exceeded for instance type r6i.2xlarge" in op.failure
            assert op.victims == ("vms-early",)
            assert (await vms(twin))["vms-early"] == "stopped"
            state = await es_state(twin)
            assert sorted(n["name"] for n in state["nodes"]) == ["es-vm-0", "es-vm-1", "es-vm-2"]
            assert state["invariants"] == []
            assert state["settings"]["excluded_names"] == []
