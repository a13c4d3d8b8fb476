"""High availability: two ``es-autoscaler serve`` processes elect one leader through the
twin's ``coordination.k8s.io/v1`` Lease API (the real kubernetes-asyncio client), each with
its own ServiceAccount (``sim --rbac``), so the twin's request log tells who wrote what.

Checked: exactly one acts (every successful write before the kill comes from the leader's
ServiceAccount); SIGKILL of the leader mid-drain → the follower takes the Lease once it
expired, resumes the stored operation at its phase and finishes it with no shard copy lost;
a webhook sent to the follower reaches the leader's decision (forwarding), and a forwarded
request reaching a follower is not forwarded again (503 + Retry-After).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from serve_proc import ServeProc
from twin_kit import eventually as _eventually
from twin_kit import sim

from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.server import RunningTwin, run_twin

NS, STS, LEASE = "elastic", "es-data", "es-autoscaler"
GIB = 2**30
DATA = (
    IndexSpec("logs", 3, 1, 3 * GIB // 2),
    IndexSpec("scratch", 1, 0, GIB // 4),  # no replica: lost if a node leaves undrained
)
TOKEN = "ha-test-token"
LEASE_S, RENEW_S, RETRY_S = 3.0, 2.0, 0.5
RBAC = f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: esas, namespace: {NS}}}
rules:
  - apiGroups: ["*"]
    resources: ["*"]
    verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: esas, namespace: {NS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: esas}}
subjects:
  - {{kind: ServiceAccount, name: esas-a, namespace: {NS}}}
  - {{kind: ServiceAccount, name: esas-b, namespace: {NS}}}
"""
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# A pinned copy alone is a verdict (allocation explain: it may not remain and no node may take
# it) that fails a drain at once; with explain failing there is no verdict, so the drain is
# held until the pin goes (or the stall window, a quarter of drainTimeout, runs out).
NO_EXPLAIN = {"type": "error", "app": "es", "status": 500, "path": "allocation/explain"}


def user(sa: str) -> str:
    return f"system:serviceaccount:{NS}:{sa}"


eventually = partial(_eventually, deadline_s=40.0)


@asynccontextmanager
async def ha_twin(tmp_path: Path) -> AsyncIterator[RunningTwin]:
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(RBAC)
    async with run_twin(
        nodes=4,
        speed=20.0,
        pod_ready_delay=5.0,
        pod_termination_delay=5.0,
        indices=DATA,
        rbac_files=(str(rbac),),
        kubeconfig_dir=tmp_path / "kube",
    ) as twin:
        yield twin


def write_policy(
    tmp_path: Path, es_url: str, *, when_up: str | None, when_down: str | None
) -> None:
    doc: dict[str, Any] = {
        "name": "data",
        "elasticsearch": {"url": es_url, "pollInterval": "300ms", "requestTimeout": "2s"},
        "nodes": {"roles": ["data"]},
        "target": {"statefulSet": {"namespace": NS, "name": STS}},
        "replicas": {"min": 2, "max": 6},
        "safety": {"joinTimeout": "30s", "drainTimeout": "2m", "rebalanceTimeout": "60s"},
        "mode": "active",
    }
    if when_up:
        doc["scaleUp"] = {"when": yaml.safe_load(when_up), "step": 1, "cooldown": "10m"}
    if when_down:
        doc["scaleDown"] = {"when": yaml.safe_load(when_down), "step": 1, "cooldown": "10m"}
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "data.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (tmp_path / "token").write_text(TOKEN)


def replica(tmp_path: Path, twin: RunningTwin, sa: str) -> ServeProc:
    args = [
        "--policies", str(tmp_path / "policies"),
        "--host", "127.0.0.1", "--port", "0",
        "--kubeconfig", str(twin.kubeconfigs[f"{NS}/{sa}"]),
        "--webhook-token-file", str(tmp_path / "token"),
        "--state-configmap", f"{NS}/esas-state",
        "--leader-election", f"{NS}/{LEASE}",
        "--identity", sa,
        "--lease-duration", f"{LEASE_S}s",
        "--renew-deadline", f"{RENEW_S}s",
        "--retry-period", f"{RETRY_S}s",
    ]  # fmt: skip
    return ServeProc(tmp_path / f"serve-{sa}.log", args)


async def leader_view(p: ServeProc) -> dict[str, Any]:
    view: dict[str, Any] = await p.get("/api/v1/leader")
    return view


async def requests(twin: RunningTwin) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = (await sim(twin, "GET", "/_sim/requests"))["requests"]
    return out


def writers(reqs: list[dict[str, Any]]) -> set[str]:
    """Users that made successful writes (a failed create race answers 409: no write)."""
    return {r["user"] for r in reqs if r["method"] in WRITES and r["code"] < 300}


async def elect_a_then_start_b(tmp_path: Path, twin: RunningTwin) -> tuple[ServeProc, ServeProc]:
    a = replica(tmp_path, twin, "esas-a")
    await a.started()

    async def a_leads() -> bool:
        return bool((await leader_view(a))["leader"])

    await eventually(a_leads, what="esas-a to lead")
    b = replica(tmp_path, twin, "esas-b")
    await b.started()

    async def b_follows() -> dict[str, Any] | None:
        v = await leader_view(b)
        return v if v["holder"] == "esas-a" and not v["leader"] else None

    await eventually(b_follows, what="esas-b to see esas-a as the holder")
    return a, b


def _lease_write(r: dict[str, Any], sa: str) -> bool:
    """A successful write of the Lease by ``sa`` (a create or an update)."""
    return (
        r["resource"] == "leases"
        and r["method"] in ("POST", "PUT")
        and r["code"] < 300
        and r["user"] == user(sa)
    )


async def test_of_two_replicas_only_the_leader_acts_and_a_killed_leader_is_replaced_mid_drain(
    tmp_path: Path,
) -> None:
    async with ha_twin(tmp_path) as twin:
        write_policy(
            tmp_path,
            twin.es_url,
            when_up=None,
            when_down="{metric: cpu, aggregate: avg, below: 20, for: 1s}",
        )
        await sim(twin, "PUT", "/_cluster/settings",
                  {"persistent": {"cluster.routing.allocation.exclude._name": "old-node-9"}})  # fmt: skip
        rows = await sim(twin, "GET", "/_cat/shards?format=json&h=index,shard,node")
        row = next(r for r in rows if r["node"] == f"{STS}-3")
        await sim(twin, "POST", "/_sim/faults",
                  {"type": "pin_shard", "index": row["index"], "shard": int(row["shard"])})  # fmt: skip
        await sim(twin, "POST", "/_sim/faults", NO_EXPLAIN)
        procs: list[ServeProc] = []
        try:
            a, b = await elect_a_then_start_b(tmp_path, twin)
            procs += [a, b]
            await sim(twin, "PUT", "/_sim/workload", {"search": 0.0, "index": 0.0})

            async def draining() -> dict[str, Any] | None:
                ops = (await a.get("/api/v1/operations"))["operations"]
                run = [o for o in ops if o["state"] == "running" and o["phase"] == "draining"]
                return run[0] if run else None

            held = await eventually(draining, what="the leader's scale-down to drain")
            assert held["victims"] == [f"{STS}-3"]
            before = await requests(twin)
            assert writers(before) == {user("esas-a")}  # exactly one replica acted

            a.kill()  # mid-drain, no chance to release the Lease
            last = await _lease(twin)  # read after the kill: a's last renewal
            await sim(twin, "DELETE", "/_sim/faults")

            async def b_leads() -> dict[str, Any] | None:
                v = await leader_view(b)
                return v if v["leader"] else None

            view = await eventually(b_leads, what="esas-b to take over")
            assert view == {
                "identity": "esas-b",
                "leader": True,
                "holder": "esas-b",
                "since": view["since"],
                "lastError": None,
            }
            lease_writes = [
                r
                for r in before
                if r["resource"] == "leases" and r["method"] == "PUT" and r["code"] == 200
            ]
            assert lease_writes
            assert all(r["user"] == user("esas-a") for r in lease_writes)
            lease = await _lease(twin)
            assert last["spec"]["holderIdentity"] == "esas-a"
            assert lease["spec"]["holderIdentity"] == "esas-b"
            assert lease["spec"]["leaseTransitions"] == last["spec"]["leaseTransitions"] + 1
            # Taken over once the dead leader's last renewal expired, counted in b's own
            # reads of the Lease rather than in wall seconds: b campaigns once per retry
            # period, and the Lease expires for b LEASE_S of b's clock after the round in which
            # it first read that renewal; so at most LEASE_S / RETRY_S + 1 reads of it precede
            # the takeover write (the last in the takeover round) — fewer when a loaded machine
            # slows b's loop, never more. A replica that waited longer (twice the duration, a
            # full renew cycle, another signal) reads it more often and fails this.
            log = await requests(twin)
            renewal = max(i for i, r in enumerate(log) if _lease_write(r, "esas-a"))
            takeover = min(
                i for i, r in enumerate(log) if i > renewal and _lease_write(r, "esas-b")
            )
            reads = [
                r
                for r in log[renewal + 1 : takeover]
                if r["resource"] == "leases" and r["verb"] == "get" and r["user"] == user("esas-b")
            ]
            assert len(reads) <= LEASE_S / RETRY_S + 1, len(reads)

            async def finished() -> dict[str, Any] | None:
                ops = (await b.get("/api/v1/operations"))["operations"]
                done = [o for o in ops if o["id"] == held["id"] and o["state"] != "running"]
                return done[0] if done else None

            op = await eventually(
                finished, what="b to finish the drained scale-down", deadline_s=60
            )
            assert op["state"] == "confirmed", op["failure"]
            found = [r for r in b.lines() if r.get("event") == "operation_found"]
            assert found
            assert found[-1]["id"] == held["id"]
            assert found[-1]["phase"] in ("draining", "scaling", "removing", "cleaning_up")
            state = (await sim(twin, "GET", "/_sim/state"))["elasticsearch"]
            assert state["invariants"] == []
            assert state["settings"]["excluded_names"] == ["old-node-9"]
            after = (await requests(twin))[len(before) :]
            assert writers(after) == {user("esas-b")}
            metrics = await _text(b.url + "/metrics")
            assert "esas_leader 1.0" in metrics
        finally:
            for p in procs:
                p.stop()


async def _lease(twin: RunningTwin) -> dict[str, Any]:
    from kubernetes_asyncio import client, config

    # as the twin's admin: the replicas' own request counts stay theirs
    assert twin.admin_kubeconfig is not None
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(twin.admin_kubeconfig), client_configuration=cfg)
    async with client.ApiClient(configuration=cfg) as api:
        resp = await client.CoordinationV1Api(api).read_namespaced_lease(
            LEASE, NS, _preload_content=False
        )
        body: dict[str, Any] = await resp.json()
        return body


async def _text(url: str) -> str:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return await r.text()


def alert_payload(name: str) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "version": "4",
        "status": "firing",
        "receiver": "es-autoscaler",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name},
                "annotations": {},
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }


async def test_a_webhook_sent_to_the_follower_reaches_the_leaders_decision_and_is_not_forwarded_twice(
    tmp_path: Path,
) -> None:
    async with ha_twin(tmp_path) as twin:
        write_policy(tmp_path, twin.es_url, when_up="{alert: EsHot}", when_down=None)
        procs: list[ServeProc] = []
        try:
            a, b = await elect_a_then_start_b(tmp_path, twin)
            procs += [a, b]
            auth = {"Authorization": f"Bearer {TOKEN}"}
            status, body, _ = await b.post("/webhook/alertmanager", alert_payload("EsHot"), auth)
            assert status == 200, body

            async def scaling_up() -> dict[str, Any] | None:
                ops = (await a.get("/api/v1/operations"))["operations"]
                up = [o for o in ops if o["direction"] == "up"]
                return up[0] if up else None

            op = await eventually(scaling_up, what="the leader to act on the forwarded alert")
            assert (op["from"], op["to"]) == (4, 5)
            # the follower applied it too (it knows what fires if it becomes leader)
            assert "EsHot" in str(await b.get("/api/v1/alerts"))
            # a forwarded request that lands on a follower is not forwarded again
            status, body, headers = await b.post(
                "/webhook/alertmanager",
                alert_payload("EsHot"),
                auth | {"X-Esas-Forwarded-By": "esas-a"},
            )
            assert status == 503, body
            assert headers.get("Retry-After")
            # the follower's writes: none (the leader alone acted)
            assert writers(await requests(twin)) == {user("esas-a")}
        finally:
            for p in procs:
                p.stop()


async def test_a_leader_that_cannot_renew_stops_acting_and_resumes_when_it_can_again(
    tmp_path: Path,
) -> None:
    async with ha_twin(tmp_path) as twin:
        write_policy(
            tmp_path,
            twin.es_url,
            when_up=None,
            when_down="{metric: cpu, aggregate: avg, below: 20, for: 1s}",
        )
        rows = await sim(twin, "GET", "/_cat/shards?format=json&h=index,shard,node")
        row = next(r for r in rows if r["node"] == f"{STS}-3")
        pin = await sim(twin, "POST", "/_sim/faults",
                        {"type": "pin_shard", "index": row["index"], "shard": int(row["shard"])})  # fmt: skip
        await sim(twin, "POST", "/_sim/faults", NO_EXPLAIN)
        a = replica(tmp_path, twin, "esas-a")
        try:
            await a.started()
            await sim(twin, "PUT", "/_sim/workload", {"search": 0.0, "index": 0.0})

            async def draining() -> dict[str, Any] | None:
                ops = (await a.get("/api/v1/operations"))["operations"]
                run = [o for o in ops if o["state"] == "running" and o["phase"] == "draining"]
                return run[0] if run else None

            held = await eventually(draining, what="the leader's scale-down to drain")
            # the Lease API fails from now on: the leader cannot renew
            await sim(twin, "POST", "/_sim/faults",
                      {"type": "error", "app": "k8s", "status": 503, "path": "/leases"})  # fmt: skip

            async def stepped_down() -> bool:
                return not (await leader_view(a))["leader"]

            await eventually(stepped_down, what="the leader to step down")
            mark = len(await requests(twin))
            # the drain can now complete: an acting replica would scale right after
            await sim(twin, "DELETE", f"/_sim/faults/{pin['added'][0]['id']}")

            async def drained() -> bool:
                rows = await sim(twin, "GET", "/_cat/shards?format=json&h=index,shard,node")
                return not [r for r in rows if f"{STS}-3" in (r["node"] or "")]

            await eventually(drained, what="the victim to hold no shard copy")
            # a bounded window of several poll intervals and runner ticks: still nothing. The
            # window is counted in a's own lease retries (one per RETRY_S, 4 span >= 1.5 s of
            # a's life, 5 poll intervals), not in a sleep of this process, so a starved `a`
            # cannot pass by having done nothing yet.
            since = len(await requests(twin))

            async def a_retried() -> bool:
                rows = (await requests(twin))[since:]
                return (
                    sum(r["resource"] == "leases" and r["user"] == user("esas-a") for r in rows)
                    >= 4
                )

            await eventually(a_retried, what="four more lease retries by esas-a")
            assert writers((await requests(twin))[mark:]) == set()
            assert [o["phase"] for o in (await a.get("/api/v1/operations"))["operations"]] == [
                "draining"
            ]
            assert [r for r in a.lines() if r.get("event") == "stopped_acting"]

            await sim(twin, "DELETE", "/_sim/faults")  # the Lease API is back

            async def finished() -> dict[str, Any] | None:
                ops = (await a.get("/api/v1/operations"))["operations"]
                done = [o for o in ops if o["id"] == held["id"] and o["state"] != "running"]
                return done[0] if done else None

            op = await eventually(finished, what="the re-elected leader to finish", deadline_s=60)
            assert op["state"] == "confirmed", op["failure"]
            state = (await sim(twin, "GET", "/_sim/state"))["elasticsearch"]
            assert state["invariants"] == []
        finally:
            a.stop()


async def test_a_follower_that_knows_no_leader_url_answers_503_with_retry_after(
    tmp_path: Path,
) -> None:
    async with ha_twin(tmp_path) as twin:
        write_policy(tmp_path, twin.es_url, when_up="{alert: EsHot}", when_down=None)
        from kubernetes_asyncio import client, config

        cfg = client.Configuration()
        await config.load_kube_config(
            config_file=str(twin.kubeconfigs[f"{NS}/esas-a"]), client_configuration=cfg
        )
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        async with client.ApiClient(configuration=cfg) as api:
            # a holder that advertises no URL (another version, or one without POD_IP)
            await client.CoordinationV1Api(api).create_namespaced_lease(
                NS,
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": LEASE, "namespace": NS},
                    "spec": {
                        "holderIdentity": "ghost",
                        "leaseDurationSeconds": 3600,
                        "acquireTime": now,
                        "renewTime": now,
                    },
                },
            )
        b = replica(tmp_path, twin, "esas-b")
        try:
            await b.started()

            async def sees_ghost() -> dict[str, Any] | None:
                v = await leader_view(b)
                return v if v["holder"] == "ghost" else None

            view = await eventually(sees_ghost, what="the follower to read the Lease")
            assert view == {
                "identity": "esas-b",
                "leader": False,
                "holder": "ghost",
                "since": None,
                "lastError": None,
            }
            auth = {"Authorization": f"Bearer {TOKEN}"}
            status, body, headers = await b.post(
                "/webhook/alertmanager", alert_payload("EsHot"), auth
            )
            assert status == 503, body
            assert headers.get("Retry-After")
            assert "EsHot" in str(await b.get("/api/v1/alerts"))  # applied locally all the same
            assert "esas_leader 0.0" in await _text(b.url + "/metrics")
        finally:
            b.stop()


async def test_without_leader_election_the_single_instance_acts_and_says_so(
    tmp_path: Path,
) -> None:
    write_policy(tmp_path, "http://127.0.0.1:9", when_up="{alert: EsHot}", when_down=None)
    args = [
        "--policies", str(tmp_path / "policies"),
        "--host", "127.0.0.1", "--port", "0",
        "--webhook-token-file", str(tmp_path / "token"),
        "--state-dir", str(tmp_path / "state"),
        "--identity", "solo",
    ]  # fmt: skip
    # ESAS_LEADER_ELECTION is set (and no Kubernetes configuration exists): the flag wins
    p = ServeProc(
        tmp_path / "serve.log",
        [*args, "--no-leader-election"],
        env={"ESAS_LEADER_ELECTION": "ns/lease", "HOME": str(tmp_path)},
    )
    try:
        await p.started()
        view = await leader_view(p)
        assert view["identity"] == "solo"
        assert view["leader"] is True
        assert view["holder"] == "solo"
        assert view["since"] is not None
        assert "esas_leader 1.0" in await _text(p.url + "/metrics")
    finally:
        p.stop()
