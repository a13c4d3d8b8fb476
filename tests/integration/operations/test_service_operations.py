"""The service acting: engine decision → operation → API, metrics, pause/resume.

A real ``Service`` (in-process, HTTP on 127.0.0.1:0) against a fast twin; the engine decides
from polled load and the runner carries the decision out on the twin's StatefulSet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _ops_kit import es_state, eventually, fault, sim, small_twin
from service_kit import TOKEN, serving

OP_FIELDS = {
    "id", "policy", "target", "direction", "from", "to", "state", "phase", "victims",
    "startedAt", "updatedAt", "confirmedAt", "failure", "failureReason", "history",
}  # fmt: skip
HOT = "{metric: cpu, aggregate: avg, above: 50, for: 1s}"


async def test_sustained_load_scales_up_through_an_operation_shown_in_the_api_and_metrics(
    tmp_path: Path,
) -> None:
    async with small_twin() as twin:
        await sim(twin, "PUT", "/_sim/workload", {"search": 5000, "index": 5000})
        async with serving(tmp_path, twin, name="hot", when_up=HOT) as r:

            async def running_in_policy_view() -> Any:
                view = await r.get("/api/v1/policies/hot")
                return view["operation"]

            running = await eventually(running_in_policy_view, what="a running operation")
            assert running["state"] == "running"
            assert set(running) == OP_FIELDS

            async def confirmed() -> Any:
                ops = (await r.get("/api/v1/operations"))["operations"]
                return ops[0] if ops and ops[0]["state"] == "confirmed" else None

            op = await eventually(confirmed, what="a confirmed operation")
            assert set(op) == OP_FIELDS
            assert (op["direction"], op["from"], op["to"]) == ("up", 3, 4)
            assert op["target"] == "statefulset/elastic/es-data"
            assert [h["phase"] for h in op["history"]] == [
                "scaling", "waiting_for_pods", "waiting_for_join", "rebalancing", "done",
            ]  # fmt: skip
            assert op["confirmedAt"] >= op["startedAt"]
            state = await es_state(twin)
            assert len(state["nodes"]) == 4

            async def cooling() -> Any:
                view = await r.get("/api/v1/policies/hot")
                d = view["lastDecision"]
                return view if d and "cooldown" in [x["code"] for x in d["reasons"]] else None

            view = await eventually(cooling, what="the next decision held by cooldown")
            assert view["operation"] is None
            assert view["lastOperation"]["id"] == op["id"]
            assert view["replicas"]["current"] == 4
            text = await (await r.session.get(r.url + "/metrics")).text()
            assert (
                'esas_operations_total{direction="up",outcome="confirmed",policy="hot"} 1.0' in text
            )
            assert 'esas_operation_duration_seconds_count{direction="up",policy="hot"} 1.0' in text
            assert 'esas_operation_phase{phase="rebalancing",policy="hot"} 0.0' in text


async def test_a_paused_policy_starts_no_operation_until_resumed(tmp_path: Path) -> None:
    async with small_twin() as twin, serving(tmp_path, twin, name="hot", when_up=HOT) as r:
        pause = r.url + "/api/v1/policies/hot/pause"
        async with r.session.post(pause) as resp:
            assert resp.status == 401  # authenticated like the webhook
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with r.session.post(pause, headers=auth) as resp:
            assert resp.status == 200
            assert (await resp.json())["effectiveMode"] == "paused"
        async with r.session.post(r.url + "/api/v1/policies/nope/pause", headers=auth) as resp:
            assert resp.status == 404
        await sim(twin, "PUT", "/_sim/workload", {"search": 5000, "index": 5000})

        async def held_paused_while_hot() -> Any:
            view = await r.get("/api/v1/policies/hot")
            d = view["lastDecision"]
            hot = any(c["holds"] for c in view["conditions"])
            return hot and d and [x["code"] for x in d["reasons"]] == ["paused"]

        await eventually(held_paused_while_hot, what="a paused hold while the load is high")
        assert (await r.get("/api/v1/operations"))["operations"] == []
        # The decision log keeps what the paused policy would have done, not only "paused".
        logged = (await r.get("/api/v1/decisions?policy=hot"))["decisions"]
        would = [
            d["reasons"][0].get("detail", "")
            for d in logged
            if [x["code"] for x in d["reasons"]] == ["paused"]
        ]
        assert any(w.startswith("would scale up 3 → 4") for w in would), would
        async with r.session.post(r.url + "/api/v1/policies/hot/resume", headers=auth) as resp:
            assert resp.status == 200

        async def started() -> Any:
            return (await r.get("/api/v1/operations"))["operations"]

        ops = await eventually(started, what="an operation after resume")
        assert ops[0]["direction"] == "up"


async def test_a_forbidden_scale_shows_as_the_policys_last_operation_failure(
    tmp_path: Path,
) -> None:
    async with small_twin() as twin:
        await fault(twin, {"type": "forbidden", "verb": "update", "resource": "statefulsets/scale"})
        await sim(twin, "PUT", "/_sim/workload", {"search": 5000, "index": 5000})
        async with serving(tmp_path, twin, name="hot", when_up=HOT) as r:

            async def failed() -> Any:
                view = await r.get("/api/v1/policies/hot")
                last = view["lastOperation"]
                return last if last and last["state"] == "failed" else None

            last = await eventually(failed, what="a failed operation")
            assert "forbidden (HTTP 403)" in last["failure"]
            assert last["failureReason"] == "failed"
            assert "statefulsets/scale" in last["failure"]
            state = (await sim(twin, "GET", "/_sim/state"))["kubernetes"]
            (sts,) = state["statefulsets"]
            assert sts["replicas"] == 3


async def test_a_pause_survives_a_restart_of_the_service(tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with small_twin() as twin:
        async with (
            serving(tmp_path, twin, name="hot", when_up=HOT) as r,
            r.session.post(r.url + "/api/v1/policies/hot/pause", headers=auth) as resp,
        ):
            assert resp.status == 200
        async with serving(tmp_path, twin, name="hot", when_up=HOT) as r:
            view = await r.get("/api/v1/policies/hot")
            assert (view["paused"], view["effectiveMode"]) == (True, "paused")
            async with r.session.post(r.url + "/api/v1/policies/hot/resume", headers=auth) as resp:
                assert resp.status == 200
        async with serving(tmp_path, twin, name="hot", when_up=HOT) as r:
            view = await r.get("/api/v1/policies/hot")
            assert (view["paused"], view["effectiveMode"]) == (False, "active")
