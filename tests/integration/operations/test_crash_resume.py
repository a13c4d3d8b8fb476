"""Crash safety: ``es-autoscaler serve`` SIGKILLed in each phase of a scale-up and of a
scale-down, with the file store and with the ConfigMap store; a new process resumes the
stored operation and finishes it with nothing left behind (DESIGN §6).

A fault holds the operation in the phase under test (a hanging scale write, a pod that is
not Ready, a 503 on the one API that phase needs, a pinned shard), so the kill lands there
by construction, not by timing. After the kill the faults are cleared and a second process
is started on the same store. Checked on the twin: the one operation ends ``confirmed``,
replicas end where intended, no invariant violated (no shard copy lost), no exclusion of
ours left. In every case the cooldown survives the kill: once the resumed operation is
confirmed, the process that resumed it meets a fresh sustained breach with a ``cooldown``
hold measured from that confirmation (no new operation); for the last phase of each
direction a third process, started on the same store after the second is killed too, holds
the same way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from _ops_kit import GIB, NS, STS, es_state, eventually, fault, policy_doc, sim, small_twin

from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.server import RunningTwin

TOKEN = "crash-test-token"
DATA = (
    IndexSpec("logs", 3, 1, 3 * GIB // 2),
    IndexSpec("scratch", 1, 0, GIB // 4),  # no replica: lost if a node leaves undrained
)
HOT = "{metric: cpu, aggregate: avg, above: 50, for: 500ms}"
COLD = "{metric: cpu, aggregate: avg, below: 20, for: 500ms}"
SCALE_PATH = rf"/namespaces/{NS}/statefulsets/{STS}/scale$"
# Long enough that no loaded machine outruns it between confirmation and the checks: the
# cooldown hold is then a product fact, not a race against a one-minute wall-clock window.
COOLDOWN_S = 3600.0
FOR_S = 0.5  # the ``for:`` of HOT and COLD


def _hold(phase: str, direction: str, pinned: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Faults that keep a running operation in ``phase`` (until they are cleared)."""
    if phase == "scaling":
        return [{"type": "timeout", "app": "k8s", "method": "PUT", "path": SCALE_PATH,
                 "seconds": 60}]  # fmt: skip
    if phase == "waiting_for_pods":
        return [{"type": "pod_never_ready", "pod": f"{STS}-3"}]
    if phase == "waiting_for_join":
        return [{"type": "error", "app": "es", "status": 503, "path": "^/_cat/nodes"}]
    if phase == "rebalancing":
        # the poller reads health too (a fault there would stop the decision itself)
        return [{"type": "error", "app": "es", "status": 503, "path": "^/_cat/shards"}]
    if phase == "preflight":
        return [{"type": "error", "app": "es", "status": 503, "path": "^/_cluster/state"}]
    if phase == "excluding":
        return [{"type": "error", "app": "es", "status": 503, "method": "PUT",
                 "path": "^/_cluster/settings"}]  # fmt: skip
    if phase == "draining":
        # A pinned copy alone is a verdict (allocation explain: may not remain, no node may
        # take it) and fails the drain at once; with explain failing there is no verdict, so
        # the drain waits for the stall window (drainTimeout / 4) and the kill lands in it.
        assert pinned is not None
        return [pinned, {"type": "error", "app": "es", "status": 500, "path": "allocation/explain"}]
    if phase == "removing":
        return [{"type": "error", "app": "k8s", "status": 503, "method": "GET",
                 "path": f"/namespaces/{NS}/pods/{STS}-3$"}]  # fmt: skip
    if phase == "cleaning_up":
        return [{"type": "error", "app": "es", "status": 503, "method": "DELETE",
                 "path": "^/_cluster/voting_config_exclusions"}]  # fmt: skip
    raise AssertionError(phase)


class Serve:
    """One ``es-autoscaler serve`` process; its JSON log goes to a file."""

    def __init__(self, tmp: Path, twin: RunningTwin, store: str, n: int) -> None:
        self.log_path = tmp / f"serve-{n}.log"
        args = [
            sys.executable, "-m", "autoscaler", "serve",
            "--policies", str(tmp / "policies"),
            "--host", "127.0.0.1", "--port", "0",
            "--kubeconfig", str(twin.kubeconfig_path),
            "--webhook-token-file", str(tmp / "token"),
        ]  # fmt: skip
        if store == "file":
            args += ["--state-dir", str(tmp / "state")]
        else:
            args += ["--state-configmap", f"{NS}/esas-state"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ESAS_")}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self._log, env=env)
        self.url = ""

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    async def started(self) -> str:
        async def listening() -> str | None:
            if self.proc.poll() is not None:
                pytest.fail(f"serve exited {self.proc.returncode}: {self.log_path.read_text()}")
            for rec in self.lines():
                if rec.get("event") == "listening":
                    return f"http://{rec['host']}:{rec['port']}"
            return None

        self.url = await eventually(listening, what="serve to listen")
        return self.url

    async def get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as s, s.get(self.url + path) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        """Teardown: a kill is as good as a clean stop here (and the point of the test)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@contextmanager
def serving(tmp: Path, twin: RunningTwin, store: str) -> Iterator[list[Serve]]:
    procs: list[Serve] = []
    try:
        yield procs
    finally:
        for p in procs:
            p.stop()


async def _operations(p: Serve) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = (await p.get("/api/v1/operations"))["operations"]
    return ops


def _policy(es_url: str, *, up: bool) -> str:
    doc = yaml.safe_load(
        policy_doc(
            es_url=es_url,
            name="data",
            bounds=(2, 6),
            up=HOT,
            down=None if up else COLD,
            safety={"drainTimeout": "2m"},  # a 30 s stall window holds ``draining``
        )
    )
    for rule in ("scaleUp", "scaleDown"):
        if rule in doc:
            doc[rule]["cooldown"] = f"{int(COOLDOWN_S)}s"
    return yaml.safe_dump(doc, sort_keys=False)


async def _held_by_cooldown(p: Serve, direction: str, op: dict[str, Any]) -> None:
    """``p`` meets a fresh sustained breach (the load that started ``op`` still runs) with a
    ``cooldown`` hold measured from ``op``'s confirmation, and starts nothing.

    No clock is read here: every time compared is one the service reported (the operation's
    ``confirmedAt``, the decision's ``at``), so a slow machine only delays the hold."""
    confirmed_at = op["confirmedAt"]
    assert confirmed_at is not None, op

    async def hold() -> dict[str, Any] | None:
        d = (await p.get("/api/v1/policies/data"))["lastDecision"]
        codes = [(r["code"], r.get("direction")) for r in d["reasons"]] if d else []
        return d if ("cooldown", direction) in codes else None

    d = await eventually(hold, what=f"a {direction} breach held by cooldown")
    reasons = {r["code"]: r for r in d["reasons"]}
    # the breach is sustained and fresh: its window cannot reach back before confirmation
    assert reasons["sustained"]["direction"] == direction
    assert d["at"] - confirmed_at >= FOR_S
    assert (d["action"], d["act"], d["from"], d["to"]) == ("none", False, op["to"], op["to"])
    # measured from the resumed operation's confirmation, not from a start or a restart
    assert reasons["cooldown"]["remaining"] == pytest.approx(
        confirmed_at + COOLDOWN_S - d["at"], abs=1e-6
    )
    # the decision log holds the same hold, and no decision since confirmation acted
    log = (await p.get("/api/v1/decisions?policy=data&limit=1000"))["decisions"]
    since = [x for x in log if x["at"] > confirmed_at]
    assert any(
        any(r["code"] == "cooldown" and r.get("direction") == direction for r in x["reasons"])
        for x in since
    ), since
    assert [x for x in since if x["act"] or x["action"] != "none"] == []
    view = await p.get("/api/v1/policies/data")
    assert 0 < view["cooldownRemainingSeconds"][direction] <= COOLDOWN_S - FOR_S
    assert [o["id"] for o in await _operations(p)] == [op["id"]]


UP_PHASES = ["scaling", "waiting_for_pods", "waiting_for_join", "rebalancing"]
DOWN_PHASES = ["preflight", "excluding", "draining", "scaling", "removing", "cleaning_up"]
CASES = [("up", p) for p in UP_PHASES] + [("down", p) for p in DOWN_PHASES]


@pytest.mark.parametrize("store", ["file", "configmap"])
@pytest.mark.parametrize(("direction", "phase"), CASES, ids=[f"{d}-{p}" for d, p in CASES])
async def test_killed_in_a_phase_the_operation_resumes_completes_safely_and_keeps_its_cooldown(
    tmp_path: Path, store: str, direction: str, phase: str
) -> None:
    up = direction == "up"
    start, goal = (3, 4) if up else (4, 3)
    async with small_twin(nodes=start, indices=DATA, speed=20.0, pod_ready_delay=5.0) as twin:
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "p.yaml").write_text(_policy(twin.es_url, up=up))
        (tmp_path / "token").write_text(TOKEN)
        load = 5000.0 if up else 0.0
        await sim(twin, "PUT", "/_sim/workload", {"search": load, "index": load})
        await sim(twin, "PUT", "/_cluster/settings",
                  {"persistent": {"cluster.routing.allocation.exclude._name": "old-node-9"}})  # fmt: skip
        pinned = None
        if phase == "draining":
            rows = await sim(twin, "GET", "/_cat/shards?format=json&h=index,shard,node")
            row = next(r for r in rows if r["node"] == f"{STS}-3")
            pinned = {"type": "pin_shard", "index": row["index"], "shard": int(row["shard"])}
        for spec in _hold(phase, direction, pinned):
            await fault(twin, spec)

        with serving(tmp_path, twin, store) as procs:
            first = Serve(tmp_path, twin, store, 1)
            procs.append(first)
            await first.started()

            async def in_phase() -> dict[str, Any] | None:
                ops = await _operations(first)
                running = [o for o in ops if o["state"] == "running"]
                return running[0] if running and running[0]["phase"] == phase else None

            held = await eventually(in_phase, what=f"the operation to reach {phase}")
            first.kill()
            await sim(twin, "DELETE", "/_sim/faults")

            second = Serve(tmp_path, twin, store, 2)
            procs.append(second)
            await second.started()

            async def finished() -> list[dict[str, Any]] | None:
                ops = await _operations(second)
                return ops if ops and all(o["state"] != "running" for o in ops) else None

            ops = await eventually(finished, what="the resumed operation to finish", deadline_s=60)
            assert [o["id"] for o in ops] == [held["id"]]  # resumed, not started anew
            op = ops[0]
            assert op["state"] == "confirmed", op["failure"]
            assert (op["from"], op["to"]) == (start, goal)
            resumed = [r for r in second.lines() if r.get("event") == "operation_found"]
            assert [r["phase"] for r in resumed] == [phase]

            state = await es_state(twin)
            assert state["invariants"] == []
            assert state["settings"]["excluded_names"] == ["old-node-9"]  # the user's stays
            assert state["voting_config_exclusions"] == []
            sts = (await sim(twin, "GET", "/_sim/state"))["kubernetes"]
            assert _replicas(sts) == goal
            # the cooldown survived the kill: the resumed process holds a fresh breach ...
            await _held_by_cooldown(second, direction, op)
            if phase != (UP_PHASES if up else DOWN_PHASES)[-1]:
                return
            # ... and (once per direction and store: the stored confirmation is the same
            # whatever the phase of the kill) so does a process started after it is killed
            second.kill()
            third = Serve(tmp_path, twin, store, 3)
            procs.append(third)
            await third.started()
            await _held_by_cooldown(third, direction, op)


def _replicas(k8s_state: dict[str, Any]) -> int:
    (sts,) = [s for s in k8s_state["statefulsets"] if (s["namespace"], s["name"]) == (NS, STS)]
    return int(sts["replicas"])


def test_a_state_configmap_reference_must_be_namespace_slash_name() -> None:
    from autoscaler.operations.store import parse_configmap_ref

    assert parse_configmap_ref("elastic/esas-state") == ("elastic", "esas-state")
    for bad in ("esas-state", "/x", "a/", "a/b/c"):
        with pytest.raises(ValueError, match="NAMESPACE/NAME"):
            parse_configmap_ref(bad)
