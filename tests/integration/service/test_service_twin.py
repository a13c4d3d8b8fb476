"""The service against the twin: real ES and k8s clients, real HTTP, 127.0.0.1 only.

The twin runs in real time (speed 1) and policies poll every 500 ms, so each test takes a few
seconds of wall time; waits poll with a deadline, nothing asserts on timing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from service_kit import TOKEN, serving

from autoscaler.sim.server import RunningTwin

FIXTURES = Path(__file__).parents[2] / "fixtures" / "alertmanager"


async def _set_load(twin: RunningTwin, *, search: float, index: float) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.put(f"{twin.es_url}/_sim/workload", json={"search": search, "index": index}) as r,
    ):
        assert r.status == 200, await r.text()


async def test_policy_status_shows_the_tier_k8s_replicas_and_a_live_cpu_value(
    tmp_path: Path, twin: RunningTwin
) -> None:
    async with serving(
        tmp_path,
        twin,
        name="data",
        when_up="{metric: cpu, aggregate: max, above: 101, for: 2s}",
    ) as r:

        async def polled() -> Any:
            view = await r.get("/api/v1/policies/data")
            conds = view["conditions"]
            if conds and conds[0]["value"] is not None and view["replicas"]["current"]:
                return view
            return None

        view = await r.wait_for(polled, what="a successful poll")
        assert view["replicas"]["current"] == 3  # read from the twin's StatefulSet via k8s
        assert sorted(view["tierNodes"]) == ["es-data-0", "es-data-1", "es-data-2"]
        # equality with values computed from the twin's own stats is proven at the poller
        # (tests/integration/signals/test_poller_twin.py, on a virtual clock); here: it flows
        assert 0 <= view["conditions"][0]["value"] <= 100
        assert view["lastPoll"]["ok"] is True
        ready = await r.session.get(r.url + "/readyz")
        assert ready.status == 200


async def test_a_dry_run_policy_records_a_scale_up_decision_without_acting(
    tmp_path: Path, twin: RunningTwin
) -> None:
    await _set_load(twin, search=5000, index=5000)
    async with serving(
        tmp_path,
        twin,
        name="hot",
        when_up="{metric: cpu, aggregate: avg, above: 50, for: 2s}",
        mode="dry-run",
    ) as r:

        async def scale_up() -> Any:
            body = await r.get("/api/v1/decisions?policy=hot")
            ups = [d for d in body["decisions"] if d["action"] == "scale_up"]
            return ups[0] if ups else None

        d = await r.wait_for(scale_up, what="a scale_up decision")
        assert (d["from"], d["to"]) == (3, 4)
        assert d["act"] is False  # mode: dry-run decides and records, never acts
        assert "dry_run" in [x["code"] for x in d["reasons"]]
        assert any(x["code"] == "sustained" for x in d["reasons"])
        # nothing was scaled
        state = await (await r.session.get(f"{twin.es_url}/_sim/state")).json()
        sts = json.dumps(state)
        assert "es-data-3" not in sts


async def test_es_down_makes_policy_stale_within_three_polls_and_recovers(
    tmp_path: Path, twin: RunningTwin
) -> None:
    async with serving(
        tmp_path,
        twin,
        name="data",
        when_up="{metric: cpu, aggregate: avg, above: 101, for: 1s}",
    ) as r:

        async def codes() -> list[str]:
            view = await r.get("/api/v1/policies/data")
            d = view["lastDecision"]
            return [x["code"] for x in d["reasons"]] if d else []

        async def fresh() -> bool:
            c = await codes()
            return bool(c) and "stale_data" not in c

        await r.wait_for(fresh, what="fresh data")
        async with r.session.post(
            f"{twin.es_url}/_sim/faults", json={"type": "drop", "app": "es"}
        ) as resp:
            assert resp.status == 200, await resp.text()

        async def stale() -> bool:
            return "stale_data" in await codes()

        await r.wait_for(stale, deadline_s=15, what="stale_data while ES is down")
        view = await r.get("/api/v1/policies/data")
        assert view["lastPoll"]["ok"] is False
        assert view["lastPoll"]["stale"] is True
        metrics = await (await r.session.get(r.url + "/metrics")).text()
        assert 'esas_data_stale{policy="data"} 1.0' in metrics
        assert "esas_poll_errors_total{" in metrics

        async with r.session.delete(f"{twin.es_url}/_sim/faults") as resp:
            assert resp.status == 200
        await r.wait_for(fresh, deadline_s=15, what="recovery after ES returns")


async def test_real_alertmanager_payloads_update_policy_alert_conditions(
    tmp_path: Path, twin: RunningTwin
) -> None:
    headers = json.loads((FIXTURES / "webhook-headers.json").read_text())
    async with serving(
        tmp_path,
        twin,
        name="alerts",
        when_up="{alert: EsHighCpu, labels: {cluster: staging-es}}",
    ) as r:

        async def post(name: str) -> None:
            body = (FIXTURES / name).read_bytes()
            h = {
                k: v
                for k, v in headers[name]["headers"].items()
                if k not in ("Host", "Content-Length")
            }
            async with r.session.post(
                r.url + "/webhook/alertmanager", data=body, headers=h
            ) as resp:
                assert resp.status == 200, await resp.text()

        async def alert_holds() -> bool | None:
            view = await r.get("/api/v1/policies/alerts")
            conds = view["conditions"]
            return conds[0]["holds"] if conds else None

        await post("api-group-two-firing.json")
        assert await alert_holds() is True
        await post("api-group-mixed-one-resolved.json")  # es-data-0 still firing
        assert await alert_holds() is True
        await post("api-group-last-resolved.json")
        assert await alert_holds() is False
        alerts = (await r.get("/api/v1/alerts"))["alerts"]
        assert {(a["labels"]["node"], a["state"]) for a in alerts} == {
            ("es-data-0", "resolved"),
            ("es-data-1", "resolved"),
        }
        async with r.session.post(
            r.url + "/webhook/alertmanager",
            data=b"{}",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 400
        async with r.session.post(
            r.url + "/webhook/alertmanager",
            data=(FIXTURES / "api-firing.json").read_bytes(),
            headers={"Authorization": "Bearer wrong", "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 401
        # the service still serves
        assert (await r.get("/healthz"))["status"] == "alive"


async def test_scale_down_is_held_as_unsafe_while_a_tier_node_is_missing(
    tmp_path: Path, twin: RunningTwin
) -> None:
    async with serving(
        tmp_path,
        twin,
        name="shrink",
        when_up="{metric: cpu, aggregate: avg, above: 101}",
        when_down="{metric: cpu, aggregate: max, below: 101, for: 1s}",
        bounds=(1, 6),
    ) as r:

        async def last_codes() -> list[str]:
            d = (await r.get("/api/v1/policies/shrink"))["lastDecision"]
            return [x["code"] for x in d["reasons"]] if d else []

        async def would_shrink() -> bool:
            d = (await r.get("/api/v1/policies/shrink"))["lastDecision"]
            return bool(d) and d["action"] == "scale_down" and (d["from"], d["to"]) == (3, 2)

        await r.wait_for(would_shrink, what="a scale_down 3→2 decision")
        async with r.session.post(
            f"{twin.es_url}/_sim/faults",
            json={"type": "node_crash", "node": "es-data-1", "restart": False},
        ) as resp:
            assert resp.status == 200, await resp.text()

        async def unsafe() -> bool:
            return "unsafe" in await last_codes()

        await r.wait_for(unsafe, what="unsafe while es-data-1 is missing")
        view = await r.get("/api/v1/policies/shrink")
        assert view["lastDecision"]["action"] == "none"
        assert view["replicas"]["current"] == 3
        assert "only 2 of 3 nodes observed" in " ".join(view["lastDecision"]["reasonText"])


async def test_reload_keeps_an_unchanged_poller_and_restarts_a_changed_one(
    tmp_path: Path, twin: RunningTwin
) -> None:
    async with serving(
        tmp_path, twin, name="keep", when_up="{metric: cpu, aggregate: avg, above: 90, for: 1m}"
    ) as r:
        before = [g.poller for g in r.service._groups.values()]
        policy = r.policies / "p.yaml"
        # a new threshold: same connection, same metric keys -> same poller keeps its history
        policy.write_text(policy.read_text().replace("above: 90", "above: 95"))
        assert await r.service.reload(why="test")
        assert [g.poller for g in r.service._groups.values()] == before
        # another metric: the poller must fetch other fields -> a new poller
        policy.write_text(policy.read_text().replace("metric: cpu", "metric: heap"))
        assert await r.service.reload(why="test")
        after = [g.poller for g in r.service._groups.values()]
        assert len(after) == 1
        assert after[0] is not before[0]
