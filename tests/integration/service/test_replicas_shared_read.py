"""Replicas are read once per target per poll, whatever the number of policies sizing it.

Issue 10: every policy used to read its StatefulSet's scale on its own, one after another, so
three policies on one StatefulSet cost three Kubernetes GETs per poll. Now the service reads
each target once per poll and gives the answer (or the error) to every policy on it; reads of
different targets run concurrently. Checked against the twin's record of the Kubernetes
requests it served (``GET /_sim/requests``), counting against the service's own poll counter —
no timing involved.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
from service_kit import Running, policy_yaml, serving

from autoscaler.sim.server import RunningTwin

UP = "{metric: cpu, aggregate: max, above: 101, for: 2s}"


async def _scale_reads(twin: RunningTwin, sts: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(twin.es_url + "/_sim/requests") as r:
        assert r.status == 200
        entries: list[dict[str, Any]] = (await r.json())["requests"]
    return sum(
        1
        for e in entries
        if e["verb"] == "get"
        and e["resource"] == "statefulsets"
        and e["subresource"] == "scale"
        and e["name"] == sts
    )


async def _polls(r: Running) -> int:
    async with r.session.get(r.url + "/metrics") as resp:
        text = await resp.text()
    return sum(
        int(float(n)) for n in re.findall(r"esas_poll_duration_seconds_count\{[^}]*\} (\S+)", text)
    )


async def test_three_policies_on_one_statefulset_cost_one_scale_read_per_poll(
    tmp_path: Path, twin: RunningTwin
) -> None:
    pdir = tmp_path / "policies"
    pdir.mkdir()
    for name in ("second", "third"):
        (pdir / f"{name}.yaml").write_text(policy_yaml(name=name, es_url=twin.es_url, when_up=UP))
    (pdir / "elsewhere.yaml").write_text(
        policy_yaml(name="elsewhere", es_url=twin.es_url, when_up=UP, sts="elastic/es-missing")
    )
    async with serving(tmp_path, twin, name="first", when_up=UP) as r:

        async def every_policy_has_its_answer() -> bool:
            views = [await r.get(f"/api/v1/policies/{n}") for n in ("first", "second", "third")]
            missing = await r.get("/api/v1/policies/elsewhere")
            return all(v["replicas"]["current"] == 3 for v in views) and bool(
                missing["replicas"]["error"]
            )

        await r.wait_for(every_policy_has_its_answer, what="replicas of every policy")
        polls_before, reads_before = await _polls(r), await _scale_reads(twin, "es-data")

        async def four_more_polls() -> bool:
            return await _polls(r) >= polls_before + 4

        await r.wait_for(four_more_polls, what="four more polls")
        polls, reads = await _polls(r), await _scale_reads(twin, "es-data")
        # Snapshots may split a poll from its read: one read of slack, not three per poll.
        assert reads - reads_before <= polls - polls_before + 1
        assert reads - reads_before >= 1
        missing = await r.get("/api/v1/policies/elsewhere")
        assert missing["replicas"]["current"] is None
        assert "es-missing" in missing["replicas"]["error"]
