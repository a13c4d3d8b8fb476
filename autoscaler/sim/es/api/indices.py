"""Index-level APIs (``GET/HEAD /{index}``)."""

from __future__ import annotations

from aiohttp import web

from autoscaler.sim.es.api.base import (
    EsApiBase,
    _index_not_found,
)


class IndicesApi(EsApiBase):
    """Index handlers."""

    async def get_index(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["index"]
        found, missing = self._resolve_indices(name)
        if missing or not found:
            if request.method == "HEAD":
                return web.Response(
                    status=404, headers={"Content-Type": self.json_content_type(request)}
                )
            raise _index_not_found(missing[0] if missing else name)
        if request.method == "HEAD":
            return web.Response(
                status=200, headers={"Content-Type": self.json_content_type(request)}
            )
        out = {}
        for i in self.cluster.indices():
            if i.name in found:
                out[i.name] = {
                    "aliases": {},
                    "mappings": {},
                    "settings": {
                        "index": {
                            "number_of_shards": str(i.primaries),
                            "number_of_replicas": str(i.replicas),
                            "uuid": i.uuid,
                            "provided_name": i.name,
                            "creation_date": str(int(i.created_at * 1000)),
                            "version": {"created": "8500000"},
                        }
                    },
                }
        return self.respond(request, out)
