"""The chart's RBAC is enough for high availability, and each Lease verb it grants is needed.

``test_chart_rbac`` proves the Roles against one ``serve``. The chart runs two replicas by
default, both as the same ServiceAccount, electing a leader through a
``coordination.k8s.io/v1`` Lease; what only HA exercises is a follower reading a Lease someone
else holds, a takeover (an ``update`` of a Lease written by another replica), webhook
forwarding, and the new leader acting on the state ConfigMap the dead one wrote.

Here the twin enforces the rendered Roles (``sim --rbac``, the same ``run_twin`` option), two
``serve`` processes run with the Deployment's own arguments and the chart's ServiceAccount
kubeconfig (lease timings shortened through the chart's own values), the leader is
SIGKILLed, and the survivor takes over and scales — with not one 403 in the twin's request
log (``GET /_sim/requests``). Then each Lease verb the chart grants is removed in turn: the
service gets the real apiserver 403 and says so in its log, naming the verb and resource
(like ``security/test_minimal_role`` does for the Elasticsearch role).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from _chart_kit import (
    SA,
    SA_USER,
    container,
    docs_of,
    local_serve_args,
    rbac_manifests,
    render_text,
    webhook_body,
)
from k8s_kit import api_for
from kubernetes_asyncio import client
from serve_proc import ServeProc
from twin_kit import eventually as _eventually
from twin_kit import sim

from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.server import RunningTwin, run_twin

NS_TARGET, STS = "elastic", "es-data"
GIB = 2**30
DATA = (
    IndexSpec("logs", 3, 1, 3 * GIB // 2),
    IndexSpec("scratch", 1, 0, GIB // 4),  # no replica: lost if a node leaves undrained
)
TOKEN = "rbac-ha-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Through the chart's values (rendered into --lease-duration/--renew-deadline/--retry-period).
TIMINGS = ("leaseDuration=3s", "renewDeadline=2s", "retryPeriod=500ms")
LEASE_VERBS = ("create", "get", "update")

eventually = partial(_eventually, deadline_s=60.0)


def _render(helm: Path) -> tuple[list[dict[str, Any]], list[str], str, str]:
    """The chart's defaults (two replicas, Lease, state ConfigMap) with short lease timings:
    its RBAC manifests, the Deployment's args, and the Lease's namespace and name."""
    sets = [a for t in TIMINGS for a in ("--set", f"leaderElection.{t}")]
    text = render_text(helm, "defaults", *sets)
    args: list[str] = container(docs_of(text))["args"]
    (ref,) = [a.partition("=")[2] for a in args if a.startswith("--leader-election=")]
    ns, _, lease = ref.partition("/")
    return rbac_manifests(text), args, ns, lease


def _policy(es_url: str) -> str:
    return yaml.safe_dump(
        {
            "name": "ha-proof",
            "elasticsearch": {"url": es_url, "pollInterval": "300ms", "requestTimeout": "2s"},
            "nodes": {"roles": ["data"]},
            "target": {"statefulSet": {"namespace": NS_TARGET, "name": STS}},
            "replicas": {"min": 3, "max": 4},
            "scaleUp": {"when": {"alert": "HaProofUp"}, "step": 1, "cooldown": "1s"},
            "scaleDown": {"when": {"alert": "HaProofDown"}, "step": 1, "cooldown": "1s"},
            "safety": {"joinTimeout": "60s", "drainTimeout": "60s", "rebalanceTimeout": "60s"},
            "mode": "active",
        },
        sort_keys=False,
    )


class Rig:
    """A twin enforcing ``manifests`` and the files every ``serve`` of the chart needs."""

    def __init__(self, tmp_path: Path, twin: RunningTwin, chart_args: list[str]) -> None:
        self.tmp, self.twin, self.chart_args = tmp_path, twin, chart_args
        self.procs: list[ServeProc] = []

    def serve(self, pod: str) -> ServeProc:
        args = local_serve_args(
            self.chart_args,
            pdir=self.tmp / "policies",
            token=self.tmp / "token",
            tmp_path=self.tmp / pod,
            kubeconfig=self.twin.kubeconfigs[SA],
            pod_name=pod,
        )
        p = ServeProc(self.tmp / f"serve-{pod}.log", args)
        self.procs.append(p)
        return p

    async def requests(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = (await sim(self.twin, "GET", "/_sim/requests"))["requests"]
        return out


@asynccontextmanager
async def chart_twin(
    tmp_path: Path, manifests: list[dict[str, Any]], chart_args: list[str]
) -> AsyncIterator[Rig]:
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(yaml.safe_dump_all(manifests))
    async with run_twin(
        nodes=3,
        speed=20.0,
        pod_ready_delay=5.0,
        pod_termination_delay=5.0,
        indices=DATA,
        rbac_files=(str(rbac),),
        kubeconfig_dir=tmp_path / "kube",
    ) as twin:
        (tmp_path / "policies").mkdir()
        (tmp_path / "policies" / "proof.yaml").write_text(_policy(twin.es_url))
        (tmp_path / "token").write_text(TOKEN)
        rig = Rig(tmp_path, twin, chart_args)
        try:
            yield rig
        finally:
            for p in rig.procs:
                p.stop()


async def _leader(p: ServeProc) -> dict[str, Any]:
    view: dict[str, Any] = await p.get("/api/v1/leader")
    return view


def _operation_records(p: ServeProc) -> list[dict[str, Any]]:
    """The operation transitions this process carried out (its runner logs each one)."""
    return [r for r in p.lines() if r.get("event") == "operation"]


async def _confirmed(p: ServeProc, direction: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        ops = (await p.get("/api/v1/operations"))["operations"]
        mine = [o for o in ops if o["direction"] == direction and o["state"] != "running"]
        return mine[0] if mine else None

    op: dict[str, Any] = await eventually(done, what=f"a finished scale-{direction}")
    assert op["state"] == "confirmed", op
    return op


def _lease_verbs(manifests: list[dict[str, Any]]) -> set[str]:
    return {
        verb
        for doc in manifests
        if doc["kind"] in ("Role", "ClusterRole")
        for rule in doc["rules"]
        if "coordination.k8s.io" in rule["apiGroups"] and "leases" in rule["resources"]
        for verb in rule["verbs"]
    }


async def test_two_replicas_under_the_chart_role_elect_forward_and_take_over_without_a_403(
    helm: Path, tmp_path: Path
) -> None:
    manifests, chart_args, lease_ns, lease = _render(helm)
    assert _lease_verbs(manifests) == set(LEASE_VERBS)  # each one is proven needed below
    async with chart_twin(tmp_path, manifests, chart_args) as rig:
        a = rig.serve("esas-es-autoscaler-0-a")
        await a.started()

        async def a_leads() -> bool:
            return bool((await _leader(a))["leader"])

        await eventually(a_leads, what="the first replica to lead")
        b = rig.serve("esas-es-autoscaler-1-b")
        await b.started()

        async def b_follows() -> dict[str, Any] | None:
            v = await _leader(b)
            return v if v["holder"] == "esas-es-autoscaler-0-a" and not v["leader"] else None

        await eventually(b_follows, what="the second replica to follow the first")

        # the follower forwards: its 200 means the leader applied the alert
        status, body, _ = await b.post(
            "/webhook/alertmanager", webhook_body("HaProofUp", "firing"), AUTH
        )
        assert status == 200, body
        up = await _confirmed(a, "up")
        assert (up["from"], up["to"]) == (3, 4)
        assert {r["id"] for r in _operation_records(a)} == {up["id"]}
        assert _operation_records(b) == []  # the follower stood by

        a.kill()  # no chance to release the Lease

        async def b_leads() -> bool:
            return bool((await _leader(b))["leader"])

        await eventually(b_leads, what="the survivor to take the Lease over")
        for name, status_ in (("HaProofUp", "resolved"), ("HaProofDown", "firing")):
            code, body, _ = await b.post("/webhook/alertmanager", webhook_body(name, status_), AUTH)
            assert code == 200, body
        down = await _confirmed(b, "down")
        assert (down["from"], down["to"]) == (4, 3)
        assert {r["id"] for r in _operation_records(b)} == {down["id"]}

        served = await rig.requests()
        assert [r for r in served if r["code"] == 403] == []
        assert {r["user"] for r in served if r["resource_request"]} == {SA_USER}
        lease_calls = [r for r in served if r["resource"] == "leases"]
        assert {r["verb"] for r in lease_calls} == set(LEASE_VERBS)
        state = (await sim(rig.twin, "GET", "/_sim/state"))["elasticsearch"]
        assert state["invariants"] == []
        assert rig.twin.admin_kubeconfig is not None
        async with await api_for(rig.twin.admin_kubeconfig) as api:
            resp = await client.CoordinationV1Api(api).read_namespaced_lease(
                lease, lease_ns, _preload_content=False
            )
            spec = (await resp.json())["spec"]
        assert spec["holderIdentity"] == "esas-es-autoscaler-1-b"
        assert spec["leaseTransitions"] == 1  # one takeover, written by the survivor


def _without_verb(manifests: list[dict[str, Any]], verb: str) -> list[dict[str, Any]]:
    """``manifests`` with ``verb`` dropped from the Lease rule granting it (an emptied rule
    is dropped)."""
    out = []
    for doc in manifests:
        if doc["kind"] in ("Role", "ClusterRole"):
            rules = []
            for rule in doc["rules"]:
                if "leases" in rule["resources"] and verb in rule["verbs"]:
                    rule = {**rule, "verbs": [v for v in rule["verbs"] if v != verb]}
                    if not rule["verbs"]:
                        continue
                rules.append(rule)
            doc = {**doc, "rules": rules}
        out.append(doc)
    return out


@pytest.mark.parametrize("verb", LEASE_VERBS)
async def test_each_lease_verb_the_chart_grants_is_needed_and_its_403_is_reported(
    helm: Path, tmp_path: Path, verb: str
) -> None:
    manifests, chart_args, lease_ns, lease = _render(helm)
    trimmed = _without_verb(manifests, verb)
    assert _lease_verbs(trimmed) == set(LEASE_VERBS) - {verb}
    async with chart_twin(tmp_path, trimmed, chart_args) as rig:
        p = rig.serve("esas-es-autoscaler-0-a")
        await p.started()
        denial = f'cannot {verb} resource "leases" in API group "coordination.k8s.io"'

        async def reported() -> dict[str, Any] | None:
            for rec in p.lines():
                if rec.get("event") == "lease call failed" and denial in str(rec.get("error")):
                    return rec
            return None

        rec = await eventually(reported, what=f"the service to report the denied lease {verb}")
        # one line an operator can act on: the status and the API server's own message
        assert rec["level"] == "warning"
        assert rec["lease"] == f"{lease_ns}/{lease}"
        assert rec["error"].startswith("HTTP 403 Forbidden: "), rec["error"]
        assert f'User "{SA_USER}" {denial} in the namespace "{lease_ns}"' in rec["error"]
        assert "\n" not in rec["error"]
        denied = [r for r in await rig.requests() if r["code"] == 403]
        assert denied
        assert {(r["verb"], r["resource"]) for r in denied} == {(verb, "leases")}
        if verb == "update":
            # it created the Lease (and led), then could not renew: it must stop leading
            async def stepped_down() -> bool:
                return any(r.get("event") == "lost leadership" for r in p.lines())

            await eventually(stepped_down, what="the replica to step down")
        view = await _leader(p)
        assert view["leader"] is False
        # the status API says why, as long as the calls keep failing
        assert view["lastError"] is not None
        assert denial in view["lastError"]["error"]
