"""Index-level APIs: ``GET/HEAD /{index}``, ``GET/PUT /{index}/_settings``.

The settings semantics (validation, replica changes, filters) live in the model
(``sim/es/indices.py``); this module parses the REST request and renders the answers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from autoscaler.sim.es.api.base import (
    EsApiBase,
    bool_param,
    index_not_found,
)
from autoscaler.sim.es.config import structured
from autoscaler.sim.es.errors import EsError
from autoscaler.sim.es.units import glob_rx


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
            raise index_not_found(missing[0] if missing else name)
        if request.method == "HEAD":
            return web.Response(
                status=200, headers={"Content-Type": self.json_content_type(request)}
            )
        out = {}
        for i in self.cluster.indices():
            if i.name in found:
                # the same explicit settings GET /{index}/_settings shows, dynamic ones
                # (routing.allocation.*) included, as ES's GET /{index} does
                out[i.name] = {
                    "aliases": {},
                    "mappings": {},
                    "settings": structured(self.cluster.index_settings(i)),
                }
        return self.respond(request, out)

    # ---- /{index}/_settings ----------------------------------------------------------------

    def _target_indices(self, request: web.Request) -> list[str]:
        expr = request.match_info.get("index")
        found, missing = self._resolve_indices(expr)
        if missing:
            raise index_not_found(missing[0])
        wildcard_only = expr not in (None, "_all", "*")
        if not found and wildcard_only and not bool_param(request, "allow_no_indices", True):
            raise index_not_found(expr or "_all")
        return found

    async def get_index_settings(self, request: web.Request) -> web.StreamResponse:
        """``GET /{index}/_settings[/{name}]`` (flat_settings, include_defaults, name globs)."""
        flat = bool_param(request, "flat_settings", False)
        include_defaults = bool_param(request, "include_defaults", False)
        bool_param(request, "local", False)
        names = request.match_info.get("name")
        patterns = [glob_rx(n) for n in (names or "").split(",") if n and n != "_all"]
        cl = self.cluster
        out: dict[str, Any] = {}
        for name in self._target_indices(request):
            idx = cl.index(name)

            def keep(key: str) -> bool:
                return not patterns or any(p.match(key) for p in patterns)

            settings = {k: v for k, v in cl.index_settings(idx).items() if keep(k)}
            entry: dict[str, Any] = {"settings": settings if flat else structured(settings)}
            if include_defaults:
                defaults = {k: v for k, v in cl.index_defaults(idx).items() if keep(k)}
                entry["defaults"] = defaults if flat else structured(defaults)
            if settings or include_defaults:
                out[name] = entry
        return self.respond(request, out)

    async def put_index_settings(self, request: web.Request) -> web.StreamResponse:
        """``PUT /{index}/_settings``: a body wrapped in ``settings`` is unwrapped
        (``RestUpdateSettingsAction``); keys may be flat, nested, with or without ``index.``."""
        preserve = bool_param(request, "preserve_existing", False)
        bool_param(request, "reopen", False)
        body = await self.read_body(request)
        if body is None:
            raise EsError(400, "parse_exception", "request body is required")
        inner = body.get("settings")
        settings = inner if isinstance(inner, dict) else body
        names = self._target_indices(request)
        self.cluster.update_index_settings(names, settings, preserve_existing=preserve)
        return self.respond(request, {"acknowledged": True})
