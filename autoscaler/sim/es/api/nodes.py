"""``_nodes/stats`` and ``_nodes`` (info): per-node documents from the model and the load model."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from autoscaler.sim.es.api.base import (
    EsApiBase,
)
from autoscaler.sim.es.errors import illegal_argument
from autoscaler.sim.loadmodel import ALL_METRICS, node_stats_doc


class NodesApi(EsApiBase):
    """Node stats and node info handlers."""

    def _parse_metrics(self, request: web.Request, raw: str | None) -> frozenset[str]:
        if raw is None:
            return frozenset(ALL_METRICS)
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if "_all" in parts:
            if len(parts) > 1:
                raise illegal_argument(
                    f"request [{request.path}] contains _all and individual metrics [{raw}]"
                )
            return frozenset(ALL_METRICS)
        bad = [p for p in parts if p not in ALL_METRICS]
        if bad:
            what = "metric" if len(bad) == 1 else "metrics"
            raise illegal_argument(
                f"request [{request.path}] contains unrecognized {what}: "
                + ", ".join(f"[{b}]" for b in bad)
            )
        return frozenset(parts)

    def nodes_stats_body(
        self, node_spec: str | None, metrics: frozenset[str], index_metrics: list[str] | None
    ) -> dict[str, Any]:
        cl = self.cluster
        chosen = self.resolve_nodes(node_spec)
        now = cl.clock.time()
        out_nodes: dict[str, Any] = {}
        for n in chosen:
            load = cl.load.nodes.get(n.id)
            if load is None:
                continue
            doc = node_stats_doc(
                cl.node_facts(n), load, model=cl.load, now=now, major=cl.major, metrics=metrics
            )
            if index_metrics and "indices" in doc:
                doc["indices"] = {k: v for k, v in doc["indices"].items() if k in index_metrics}
            out_nodes[n.id] = doc
        return {
            "_nodes": {"total": len(out_nodes), "successful": len(out_nodes), "failed": 0},
            "cluster_name": cl.cluster_name,
            "nodes": out_nodes,
        }

    async def nodes_stats(self, request: web.Request) -> web.StreamResponse:
        mi = request.match_info
        level = request.query.get("level")
        if level is not None and level not in ("node", "indices", "shards"):
            raise illegal_argument(
                f"level parameter must be one of [node] or [indices] or [shards] but was [{level}]"
            )
        metrics = self._parse_metrics(request, mi.get("metric"))
        index_metrics = None
        if mi.get("index_metric"):
            if "indices" not in metrics:
                raise illegal_argument(
                    f"request [{request.path}] contains index metrics [{mi['index_metric']}] but indices stats not requested"
                )
            if mi.get("metric") == "_all":
                raise illegal_argument(
                    f"request [{request.path}] contains index metrics [{mi['index_metric']}] but all stats requested"
                )
            index_metrics = [
                m.strip() for m in mi["index_metric"].split(",") if m.strip() and m != "_all"
            ] or None
        return self.respond(
            request, self.nodes_stats_body(mi.get("node_id"), metrics, index_metrics)
        )

    _INFO_METRICS = frozenset(
        {
            "settings",
            "os",
            "process",
            "jvm",
            "thread_pool",
            "transport",
            "http",
            "plugins",
            "ingest",
            "aggregations",
            "indices",
        }
    )

    async def nodes_info(self, request: web.Request) -> web.StreamResponse:
        mi = request.match_info
        node_spec = mi.get("node_id")
        metric_raw = mi.get("metric")
        if node_spec is not None and metric_raw is None:
            parts = {p.strip() for p in node_spec.split(",")}
            if parts <= (self._INFO_METRICS | {"_all"}) and parts != {"_all"}:
                metric_raw, node_spec = node_spec, None
        metrics = set(self._INFO_METRICS)
        if metric_raw and metric_raw != "_all":
            metrics = {m.strip() for m in metric_raw.split(",")}
        cl = self.cluster
        out: dict[str, Any] = {}
        for n in self.resolve_nodes(node_spec):
            doc: dict[str, Any] = {
                "name": n.name,
                "transport_address": f"{n.ip}:9300",
                "host": n.host,
                "ip": n.ip,
                "version": cl.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": self.version_info()["build_hash"],
                "total_indexing_buffer": n.heap_bytes // 10,
                "roles": list(n.roles),
                "attributes": dict(n.attributes),
            }
            if "settings" in metrics:
                doc["settings"] = {
                    "cluster": {"name": cl.cluster_name},
                    "node": {"name": n.name, "attr": dict(n.attributes)},
                }
            if "os" in metrics:
                p = cl.load.capacity.processors
                doc["os"] = {
                    "refresh_interval_in_millis": 1000,
                    "name": "Linux",
                    "pretty_name": "Ubuntu 22.04.4 LTS",
                    "arch": "amd64",
                    "version": "5.15.0",
                    "available_processors": p,
                    "allocated_processors": p,
                }
            if "process" in metrics:
                doc["process"] = {"refresh_interval_in_millis": 1000, "id": 7, "mlockall": False}
            if "jvm" in metrics:
                doc["jvm"] = {
                    "pid": 7,
                    "version": "21.0.2",
                    "vm_name": "OpenJDK 64-Bit Server VM",
                    "start_time_in_millis": int(n.joined_at * 1000),
                    "mem": {
                        "heap_init_in_bytes": n.heap_bytes,
                        "heap_max_in_bytes": n.heap_bytes,
                        "non_heap_init_in_bytes": 7667712,
                        "non_heap_max_in_bytes": 0,
                        "direct_max_in_bytes": 0,
                    },
                }
            if "transport" in metrics:
                doc["transport"] = {
                    "bound_address": [f"{n.ip}:9300"],
                    "publish_address": f"{n.ip}:9300",
                    "profiles": {},
                }
            if "http" in metrics:
                doc["http"] = {
                    "bound_address": [f"{n.ip}:9200"],
                    "publish_address": f"{n.ip}:9200",
                    "max_content_length_in_bytes": 104857600,
                }
            out[n.id] = doc
        return self.respond(
            request,
            {
                "_nodes": {"total": len(out), "successful": len(out), "failed": 0},
                "cluster_name": cl.cluster_name,
                "nodes": out,
            },
        )
