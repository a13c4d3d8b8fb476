"""Wires every Elasticsearch handler and the ES middleware onto an aiohttp app."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiohttp import web

from autoscaler.sim.es.api.allocation import AllocationApi
from autoscaler.sim.es.api.base import (
    COMPAT_KEY,
    PRODUCT_HEADER,
    Handler,
)
from autoscaler.sim.es.api.cat import CatApi
from autoscaler.sim.es.api.cluster import ClusterApi
from autoscaler.sim.es.api.health import HealthApi
from autoscaler.sim.es.api.health_report import HealthReportApi
from autoscaler.sim.es.api.indices import IndicesApi
from autoscaler.sim.es.api.nodes import NodesApi
from autoscaler.sim.es.cluster import Cluster
from autoscaler.sim.es.errors import EsError


class EsApi(CatApi, NodesApi, HealthApi, HealthReportApi, ClusterApi, AllocationApi, IndicesApi):
    """Route handlers bound to one cluster model."""


def add_es_routes(
    app: web.Application, cluster: Cluster, *, passthrough_prefixes: Sequence[str] = ("/_sim",)
) -> None:
    """Register every ES route and the ES middleware on ``app``.

    Paths under ``passthrough_prefixes`` (the twin's control API) are left alone by the
    middleware: no compat check, no ES error rendering, no product header.
    """
    api = EsApi(cluster)
    prefixes = tuple(passthrough_prefixes)
    resources: set[int] = set()

    # actions a node answers from its own state, without a master (TransportNodesAction,
    # MainRestPlugin's GET /, health's own local/master_timeout handling, the health report)
    local_handlers = {api.root, api.nodes_stats, api.nodes_info, api.health, api.health_report}

    def r(method: str, path: str, handler: Handler, params: Iterable[str] = ()) -> None:
        needs_master = handler not in local_handlers
        api.route(app, method, path, handler, params, resources, needs_master=needs_master)

    health_p = (
        "expand_wildcards", "level", "local", "master_timeout", "timeout", "wait_for_active_shards",
        "wait_for_events", "wait_for_nodes", "wait_for_no_initializing_shards",
        "wait_for_no_relocating_shards", "wait_for_status", "wait_for_relocating_shards",
    )  # fmt: skip
    stats_p = (
        "completion_fields", "fielddata_fields", "fields", "groups", "level", "timeout", "types",
        "include_segment_file_sizes", "include_unloaded_segments", "master_timeout",
    )  # fmt: skip
    cat_p = ("h", "help", "s", "v", "bytes", "time", "local", "master_timeout")
    r("GET", "/", api.root)
    r("HEAD", "/", api.root)
    for path in (
        "/_nodes/stats",
        "/_nodes/stats/{metric}",
        "/_nodes/stats/{metric}/{index_metric}",
        "/_nodes/{node_id}/stats",
        "/_nodes/{node_id}/stats/{metric}",
        "/_nodes/{node_id}/stats/{metric}/{index_metric}",
    ):
        r("GET", path, api.nodes_stats, stats_p)
    r("GET", "/_nodes/shutdown", api.get_shutdown, ("master_timeout", "timeout"))
    r("PUT", "/_nodes/{node_id}/shutdown", api.put_shutdown, ("master_timeout", "timeout"))
    r("GET", "/_nodes/{node_id}/shutdown", api.get_shutdown, ("master_timeout", "timeout"))
    r("DELETE", "/_nodes/{node_id}/shutdown", api.delete_shutdown, ("master_timeout", "timeout"))
    for path in ("/_nodes", "/_nodes/{node_id}", "/_nodes/{node_id}/{metric}"):
        r("GET", path, api.nodes_info, ("flat_settings", "master_timeout", "timeout"))
    r("GET", "/_cluster/health", api.health, health_p)
    r("GET", "/_cluster/health/{index}", api.health, health_p)
    settings_p = ("flat_settings", "include_defaults", "local", "master_timeout", "timeout")
    r("GET", "/_cluster/settings", api.get_settings, settings_p)
    r("PUT", "/_cluster/settings", api.put_settings, settings_p)
    r("GET", "/_cat/shards", api.cat_shards, (*cat_p, "index", "expand_wildcards"))
    r("GET", "/_cat/shards/{index}", api.cat_shards, (*cat_p, "expand_wildcards"))
    r("GET", "/_cat/allocation", api.cat_allocation, cat_p)
    r("GET", "/_cat/allocation/{nodes}", api.cat_allocation, cat_p)
    r("GET", "/_cat/nodes", api.cat_nodes, (*cat_p, "full_id", "include_unloaded_segments"))
    rec_p = (*cat_p, "active_only", "detailed", "index", "expand_wildcards")
    r("GET", "/_cat/recovery", api.cat_recovery, rec_p)
    r("GET", "/_cat/recovery/{index}", api.cat_recovery, rec_p)
    vp = ("node_names", "node_ids", "timeout", "master_timeout")
    r("POST", "/_cluster/voting_config_exclusions", api.post_voting_exclusions, vp)
    r(
        "DELETE",
        "/_cluster/voting_config_exclusions",
        api.delete_voting_exclusions,
        ("wait_for_removal", "master_timeout"),
    )
    xp = (
        "include_yes_decisions",
        "include_disk_info",
        "master_timeout",
        "index",
        "shard",
        "primary",
        "current_node",
    )
    r("GET", "/_cluster/allocation/explain", api.allocation_explain, xp)
    r("POST", "/_cluster/allocation/explain", api.allocation_explain, xp)
    sp = ("local", "master_timeout", "flat_settings", "wait_for_metadata_version", "wait_for_timeout",
          "expand_wildcards", "allow_no_indices", "ignore_unavailable")  # fmt: skip
    r("GET", "/_cluster/state", api.cluster_state, sp)
    r("GET", "/_cluster/state/{metric}", api.cluster_state, sp)
    r("GET", "/_cluster/state/{metric}/{index}", api.cluster_state, sp)
    r(
        "GET",
        "/_cat/indices",
        api.cat_indices,
        (*cat_p, "health", "pri", "expand_wildcards", "include_unloaded_segments"),
    )
    r(
        "GET",
        "/_cat/indices/{index}",
        api.cat_indices,
        (*cat_p, "health", "pri", "expand_wildcards", "include_unloaded_segments"),
    )
    r("GET", "/_cat/health", api.cat_health, (*cat_p, "ts"))
    r("GET", "/_health_report", api.health_report, ("verbose", "size", "timeout"))
    r("GET", "/_health_report/{feature}", api.health_report, ("verbose", "size", "timeout"))
    reroute_p = ("dry_run", "explain", "retry_failed", "metric", "master_timeout", "timeout")
    r("POST", "/_cluster/reroute", api.reroute, reroute_p)
    get_settings_p = (
        "flat_settings",
        "include_defaults",
        "local",
        "master_timeout",
        "expand_wildcards",
        "allow_no_indices",
        "ignore_unavailable",
    )
    put_settings_p = (
        "preserve_existing",
        "reopen",
        "flat_settings",
        "master_timeout",
        "timeout",
        "expand_wildcards",
        "allow_no_indices",
        "ignore_unavailable",
    )
    for path in ("/_settings", "/{index}/_settings"):
        r("GET", path, api.get_index_settings, get_settings_p)
        r("PUT", path, api.put_index_settings, put_settings_p)
    for path in ("/_settings/{name}", "/{index}/_settings/{name}"):
        r("GET", path, api.get_index_settings, get_settings_p)
    r(
        "GET",
        "/{index}",
        api.get_index,
        ("expand_wildcards", "include_defaults", "flat_settings", "local"),
    )
    r("HEAD", "/{index}", api.get_index, ("expand_wildcards", "local"))

    @web.middleware
    async def es_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(prefixes):
            return await handler(request)
        try:
            try:
                request[COMPAT_KEY] = api.check_compat(request)
            except EsError:
                request[COMPAT_KEY] = None
                raise
            exc = request.match_info.http_exception
            if exc is not None:
                if isinstance(exc, web.HTTPMethodNotAllowed):
                    allowed = sorted(exc.allowed_methods)
                    err = EsError(
                        405,
                        "",
                        f"Incorrect HTTP method for uri [{request.raw_path}] and method [{request.method}], "
                        f"allowed: [{', '.join(allowed)}]",
                        simple=True,
                        headers={"Allow": ",".join(allowed)},
                    )
                    raise err
                resp: web.StreamResponse = api.respond(
                    request,
                    {
                        "error": f"no handler found for uri [{request.raw_path}] and method [{request.method}]"
                    },
                    status=400,
                )
            elif id(request.match_info.route.resource) in resources:
                resp = await handler(request)
            else:
                return await handler(request)
        except EsError as e:
            resp = api.error(request, e)
        if resp.status not in (401, 403):
            resp.headers[PRODUCT_HEADER] = "Elasticsearch"
        return resp

    app.middlewares.append(es_middleware)


def build_es_app(cluster: Cluster) -> web.Application:
    """A fresh aiohttp app serving the ES wire for ``cluster`` (tests, standalone use)."""
    app = web.Application()
    add_es_routes(app, cluster)
    return app
