"""Node shutdown and allocation explain APIs (what a drain needs to watch)."""

from __future__ import annotations

from aiohttp import web

from autoscaler.sim.es.api.base import (
    EsApiBase,
    bool_param,
)
from autoscaler.sim.es.errors import illegal_argument, validation_failed

_NO_UNASSIGNED_OLD = (
    "No shard was specified in the request which means the response should explain a "
    "randomly-chosen unassigned shard, but there are no unassigned shards in this cluster. To "
    "explain the allocation of an assigned shard you must specify the target shard in the request."
)


_NO_UNASSIGNED_NEW = (
    "There are no unassigned shards in this cluster. Specify an assigned shard in the request body "
    "to explain its allocation. See https://www.elastic.co/docs/api/doc/elasticsearch/v9/operation/"
    "operation-cluster-allocation-explain for more information."
)


_NO_SHARD_NOTE = (
    "No shard was specified in the explain API request, so this response explains a randomly "
    "chosen unassigned shard. There may be other unassigned shards in this cluster which cannot be "
    "assigned for different reasons. It may not be possible to assign this shard until one of the "
    "other shards is assigned correctly. To explain the allocation of other shards (whether "
    "assigned or unassigned) you must specify the target shard in the request to this API."
)


class AllocationApi(EsApiBase):
    """``_nodes/{id}/shutdown`` and ``_cluster/allocation/explain``."""

    async def put_shutdown(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_body(request) or {}
        errors = []
        if not body.get("type"):
            errors.append("the type of shutdown must be specified")
        if not body.get("reason"):
            errors.append("the reason for shutdown must be specified")
        if errors:
            raise validation_failed(errors)
        self.cluster.put_shutdown(
            request.match_info["node_id"],
            type_=str(body["type"]),
            reason=str(body["reason"]),
            allocation_delay=body.get("allocation_delay"),
            target_node_name=body.get("target_node_name"),
        )
        return self.respond(request, {"acknowledged": True})

    async def get_shutdown(self, request: web.Request) -> web.StreamResponse:
        cl = self.cluster
        spec = request.match_info.get("node_id")
        ids = (
            list(cl.shutdowns)
            if spec in (None, "_all")
            else [i for i in (spec or "").split(",") if i]
        )
        return self.respond(
            request, {"nodes": [cl.shutdown_status(i) for i in ids if i in cl.shutdowns]}
        )

    async def delete_shutdown(self, request: web.Request) -> web.StreamResponse:
        self.cluster.delete_shutdown(request.match_info["node_id"])
        return self.respond(request, {"acknowledged": True})

    async def allocation_explain(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_body(request) or {}
        q = request.query
        for k in ("index", "shard", "primary", "current_node"):
            if k in q and k not in body:
                body[k] = q[k]
        include_yes = bool_param(request, "include_yes_decisions", False)
        bool_param(request, "include_disk_info", False)
        cl = self.cluster
        if any(k in body for k in ("index", "shard", "primary", "current_node")):
            missing = [m for m in ("index", "shard", "primary") if body.get(m) is None]
            if missing:
                raise validation_failed([f"{m} must be specified" for m in missing])
            primary = body["primary"]
            if isinstance(primary, str):
                primary = primary == "true"
            c = cl.find_copy(
                str(body["index"]), int(body["shard"]), bool(primary), body.get("current_node")
            )
            return self.respond(request, cl.explain(c, include_yes=include_yes))
        c2 = cl.first_unassigned()
        if c2 is None:
            raise illegal_argument(_NO_UNASSIGNED_NEW if self.major >= 9 else _NO_UNASSIGNED_OLD)
        return self.respond(request, cl.explain(c2, include_yes=include_yes, note=_NO_SHARD_NOTE))
