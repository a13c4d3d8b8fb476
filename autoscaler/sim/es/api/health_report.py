"""``GET /_health_report[/{feature}]`` (8.7+): indicators with status, symptom, details, impacts.

Shape from the real 8.x capture ``tests/fixtures/elasticsearch/es-8.7.0_health_report.json``
(indicator order, keys, green symptoms, ``shards_capacity``/``ilm``/``slm`` details); the
values come from the model: ``master_is_stable`` (elected master), ``shards_availability``
(copy states as ``ShardsAvailabilityHealthIndicatorService`` counts them), ``disk`` (watermarks
and ``read_only_allow_delete`` blocks as ``DiskHealthIndicatorService``). Non-green symptom and
impact wordings are modelled on those services and marked inferred in BEHAVIOUR.md §15.
The report is computed on the coordinating node, so it answers without a master (then
``master_is_stable`` is red).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from autoscaler.sim.es.api.base import EsApiBase, bool_param
from autoscaler.sim.es.errors import illegal_argument
from autoscaler.sim.es.shards import INITIALIZING, UNASSIGNED

_RANK = {"green": 0, "unknown": 1, "yellow": 2, "red": 3}
_ORDER = (
    "master_is_stable",
    "repository_integrity",
    "shards_capacity",
    "shards_availability",
    "disk",
    "data_stream_lifecycle",
    "ilm",
    "slm",
)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


class HealthReportApi(EsApiBase):
    """The health report handler."""

    def _master_indicator(self) -> dict[str, Any]:
        master = self.cluster.master()
        if master is None:
            return {
                "status": "red",
                "symptom": "No master node observed in the last 30s, and the cause has not been "
                "determined.",  # StableMasterHealthIndicatorService wording: inferred
                "details": {
                    "current_master": {"node_id": None, "name": None},
                    "recent_masters": [],
                },
                "impacts": [
                    {
                        "id": "elasticsearch:health:master_is_stable:impact:ingest_disabled",
                        "severity": 1,
                        "description": "The cluster cannot create, delete, or rebalance indices, "
                        "and cannot insert or update documents.",
                        "impact_areas": ["ingest"],
                    }
                ],
            }
        ref = {"node_id": master.id, "name": master.name}
        return {
            "status": "green",
            "symptom": "The cluster has a stable master node",
            "details": {"current_master": ref, "recent_masters": [ref]},
        }

    def _shards_indicator(self) -> dict[str, Any]:
        cl = self.cluster
        now = cl.clock.time()
        counts = dict.fromkeys(
            (
                "restarting_replicas", "creating_primaries", "initializing_replicas",
                "unassigned_replicas", "started_primaries", "restarting_primaries",
                "initializing_primaries", "creating_replicas", "started_replicas",
                "unassigned_primaries",
            ),
            0,
        )  # fmt: skip
        red_indices: set[str] = set()
        yellow_indices: set[str] = set()
        for c in cl.copies():
            kind = "primaries" if c.primary else "replicas"
            if c.active:
                counts[f"started_{kind}"] += 1
            elif c.state == INITIALIZING:
                counts[f"initializing_{kind}"] += 1
            elif c.state == UNASSIGNED:
                if c.unassigned_reason == "INDEX_CREATED":
                    counts[f"creating_{kind}"] += 1
                elif c.unassigned_reason == "NODE_RESTARTING" and c.delayed_until > now:
                    counts[f"restarting_{kind}"] += 1
                else:
                    counts[f"unassigned_{kind}"] += 1
                    (red_indices if c.primary else yellow_indices).add(c.index)
        out: dict[str, Any] = {}
        primaries, replicas = counts["unassigned_primaries"], counts["unassigned_replicas"]
        if primaries or replicas:
            parts = []
            if primaries:
                parts.append(
                    _plural(primaries, "unavailable primary shard", "unavailable primary shards")
                )
            if replicas:
                parts.append(
                    _plural(replicas, "unavailable replica shard", "unavailable replica shards")
                )
            out["status"] = "red" if primaries else "yellow"
            out["symptom"] = "This cluster has " + ", ".join(parts) + "."
        else:
            out["status"] = "green"
            out["symptom"] = "This cluster has all shards available."
        out["details"] = counts
        impacts = []
        if red_indices:
            names = sorted(red_indices)
            impacts.append(
                {
                    "id": "elasticsearch:health:shards_availability:impact:primary_unassigned",
                    "severity": 1,
                    "description": f"Cannot add data to {_plural(len(names), 'index', 'indices')} "
                    f"[{', '.join(names)}]. Searches might return incomplete results.",
                    "impact_areas": ["ingest", "search"],
                }
            )
        if yellow_indices:
            names = sorted(yellow_indices)
            impacts.append(
                {
                    "id": "elasticsearch:health:shards_availability:impact:replica_unassigned",
                    "severity": 2,
                    "description": "Searches might be slower than usual. Fewer redundant copies "
                    f"of the data exist on {_plural(len(names), 'index', 'indices')} "
                    f"[{', '.join(names)}].",
                    "impact_areas": ["search"],
                }
            )
        if impacts:
            out["impacts"] = impacts
        return out

    def _disk_indicator(self) -> dict[str, Any]:
        cl = self.cluster
        cfg = cl._cfg
        flood = high = ok = 0
        for node in cl.nodes():
            if not node.is_data:
                continue
            free = node.disk_bytes - node.used_bytes()
            if free < cfg.flood.required_free(node.disk_bytes):
                flood += 1
            elif free < cfg.high.required_free(node.disk_bytes):
                high += 1
            else:
                ok += 1
        blocked = sorted(i.name for i in cl.indices() if i.read_only_allow_delete)
        details = {
            "indices_with_readonly_block": len(blocked),
            "nodes_with_enough_disk_space": ok,
            "nodes_with_unknown_disk_status": 0,
            "nodes_over_high_watermark": high,
            "nodes_over_flood_stage_watermark": flood,
        }
        if blocked or flood:
            parts = []
            if blocked:
                parts.append(
                    f"{_plural(len(blocked), 'index is', 'indices are')} not allowed to be updated."
                )
            if flood:
                parts.append(
                    f"{_plural(flood, 'node is', 'nodes are')} out of disk or running low on disk space."
                )
            out: dict[str, Any] = {"status": "red", "symptom": " ".join(parts), "details": details}
            if blocked:
                out["impacts"] = [
                    {
                        "id": "elasticsearch:health:disk:impact:ingest_capability_unavailable",
                        "severity": 1,
                        "description": "Cannot insert or update documents in the affected indices "
                        f"[{', '.join(blocked)}].",
                        "impact_areas": ["ingest"],
                    }
                ]
            return out
        if high:
            return {
                "status": "yellow",
                "symptom": f"{_plural(high, 'node is', 'nodes are')} increasing their disk usage "
                "past the high watermark.",
                "details": details,
            }
        return {
            "status": "green",
            "symptom": "The cluster has enough available disk space.",
            "details": details,
        }

    def health_report_body(self, feature: str | None, verbose: bool) -> dict[str, Any]:
        cl = self.cluster
        max_shards = int(cl._eff_str("cluster.max_shards_per_node") or "1000")
        data_nodes = sum(1 for n in cl.nodes() if n.is_data)
        indicators: dict[str, dict[str, Any]] = {
            "master_is_stable": self._master_indicator(),
            "repository_integrity": {
                "status": "green",
                "symptom": "No snapshot repositories configured.",
            },
            "shards_capacity": {
                "status": "green",
                "symptom": "The cluster has enough room to add new shards.",
                "details": {
                    "data": {"max_shards_in_cluster": max_shards * data_nodes},
                    "frozen": {"max_shards_in_cluster": 0},
                },
            },
            "shards_availability": self._shards_indicator(),
            "disk": self._disk_indicator(),
            "data_stream_lifecycle": {
                "status": "green",
                "symptom": "No data stream lifecycle health data available yet. Health "
                "information will be reported after the first run.",
            },
            "ilm": {
                "status": "green",
                "symptom": "Index Lifecycle Management is running",
                "details": {"policies": 0, "ilm_status": "RUNNING"},
            },
            "slm": {
                "status": "green",
                "symptom": "No Snapshot Lifecycle Management policies configured",
                "details": {"slm_status": "RUNNING", "policies": 0},
            },
        }
        if feature is not None:
            if feature not in indicators:
                raise illegal_argument(f"Did not find indicator {feature}")
            indicators = {feature: indicators[feature]}
        if not verbose:
            for ind in indicators.values():
                ind.pop("details", None)
        body: dict[str, Any] = {}
        if feature is None:
            worst = max((i["status"] for i in indicators.values()), key=_RANK.__getitem__)
            body["status"] = worst
        body["cluster_name"] = cl.cluster_name
        body["indicators"] = {k: indicators[k] for k in _ORDER if k in indicators}
        return body

    async def health_report(self, request: web.Request) -> web.StreamResponse:
        verbose = bool_param(request, "verbose", True)
        size = request.query.get("size")
        if size is not None and (not size.isdigit()):
            raise illegal_argument(f"The size parameter must be a positive integer, got [{size}]")
        feature = request.match_info.get("feature")
        return self.respond(request, self.health_report_body(feature, verbose))
