"""Stopping the runner mid-operation says which operation is left, at which phase, and that it
resumes — an operator restarting the service during a drain otherwise sees only "stopped"
while the node stays excluded from allocation.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from _ops_kit import eventually, fault, make_policy, rig, small_twin


async def test_stopping_during_a_drain_logs_the_operation_left_running_at_its_phase(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with small_twin(nodes=4) as twin:
        policy = make_policy(es_url=twin.es_url, safety={"drainTimeout": "10m"})
        async with rig(twin, policy, state_dir=tmp_path) as r:
            rows = await r.es.cat.shards(format="json", h="index,shard,node")
            on_victim = next(x for x in rows if x["node"] == "es-data-3")
            pin = {
                "type": "pin_shard",
                "index": on_victim["index"],
                "shard": int(on_victim["shard"]),
            }
            await fault(twin, pin)  # holds the drain ...
            # ... as long as allocation explain gives no verdict: a pinned copy alone is a
            # verdict ("may not remain, no node may take it") that fails the drain at once.
            await fault(
                twin, {"type": "error", "app": "es", "status": 500, "path": "allocation/explain"}
            )
            op = await r.runner.begin(policy="data", from_replicas=4, to_replicas=3)
            assert op is not None

            async def draining() -> bool:
                return any(o.phase == "draining" for o in r.runner.operations() if o.running)

            await eventually(draining, what="the operation to reach draining")
            with caplog.at_level(logging.INFO, logger="autoscaler.operations"):
                await r.runner.stop()
            left = [rec for rec in caplog.records if rec.getMessage() == "operation_left_running"]
            assert [rec.fields["phase"] for rec in left] == ["draining"]  # type: ignore[attr-defined]
            assert left[0].fields["id"] == op.id  # type: ignore[attr-defined]
            assert "resumes" in left[0].fields["detail"]  # type: ignore[attr-defined]
