"""A throwaway Elasticsearch stand-in on 127.0.0.1:0 serving the real captures, with faults.

Not the digital twin: a few dozen lines that answer ``GET /``, ``_nodes/stats`` and
``_cluster/health`` from the fixture files the way the real server does (product header,
``compatible-with`` rules of BEHAVIOUR §1.4, metric groups and ``filter_path``), and that can
be told to fail the next requests with a status or a dropped connection. Imported by name
(pytest puts this directory on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from autoscaler.sim.filterpath import apply_filter_path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "elasticsearch"


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def root_info(version: str, *, distribution: str | None = None) -> dict[str, Any]:
    body = fixture("es-8.4.2_root_info.json")
    body["version"]["number"] = version
    if distribution:
        body["version"]["distribution"] = distribution
        body["tagline"] = "The OpenSearch Project: https://opensearch.org/"
    return body


_COMPAT = re.compile(r"compatible-with=(\d+)")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeEs:
    """State of the fake: what it serves, what it is told to break, what it saw."""

    info: dict[str, Any] = field(default_factory=lambda: fixture("es-8.4.2_root_info.json"))
    stats: dict[str, Any] = field(default_factory=lambda: fixture("es-8.4.2_nodes_stats.json"))
    health: dict[str, Any] = field(default_factory=lambda: fixture("es-8.4.2_cluster_health.json"))
    faults: list[tuple[str, int | str]] = field(default_factory=list)
    delay: float = 0.0
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""

    @property
    def major_minor(self) -> tuple[int, int]:
        m = re.match(r"(\d+)\.(\d+)", self.info["version"]["number"])
        assert m
        return int(m.group(1)), int(m.group(2))

    @property
    def product_header(self) -> bool:
        return "distribution" not in self.info["version"] and self.major_minor >= (7, 14)

    def fail(self, path_prefix: str, *actions: int | str) -> None:
        """The next requests to ``path_prefix`` get these statuses, or ``"drop"``."""
        self.faults.extend((path_prefix, a) for a in actions)

    def seen(self, path_prefix: str) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -----------------------------------------------------------------------------------------

    def _compat_error(self, accept: str) -> web.Response | None:
        m = _COMPAT.search(accept)
        if not m:
            return None
        major, minor = self.major_minor
        if major < 7 or (major, minor) < (7, 11):
            return self._json(
                {"error": f"Content-Type header [{accept}] is not supported", "status": 406}, 406
            )
        allowed = {7} if major == 7 else {major, major - 1}
        if int(m.group(1)) in allowed:
            return None
        lo, hi = min(allowed), max(allowed)
        reason = (
            f"Accept version must be either version {hi} or {lo}, "
            f"but found {m.group(1)}. Accept={accept}"
        )
        return self._json(
            {
                "error": {
                    "root_cause": [
                        {
                            "type": "media_type_header_exception",
                            "reason": "Invalid media-type value on headers [Accept, Content-Type]",
                        }
                    ],
                    "type": "media_type_header_exception",
                    "reason": "Invalid media-type value on headers [Accept, Content-Type]",
                    "caused_by": {"type": "status_exception", "reason": reason},
                },
                "status": 400,
            },
            400,
        )

    def _json(self, body: Any, status: int = 200) -> web.Response:
        headers = {"X-elastic-product": "Elasticsearch"} if self.product_header else {}
        return web.json_response(body, status=status, headers=headers)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            Request(request.method, request.path, dict(request.query), dict(request.headers))
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            for i, (prefix, action) in enumerate(self.faults):
                if request.path.startswith(prefix):
                    del self.faults[i]
                    if action == "drop":
                        assert request.transport is not None
                        request.transport.close()
                        raise ConnectionResetError("dropped by the test")
                    assert isinstance(action, int)
                    return self._json(
                        {
                            "error": {
                                "root_cause": [{"type": "test_exception", "reason": "injected"}],
                                "type": "test_exception",
                                "reason": "injected",
                            },
                            "status": action,
                        },
                        action,
                    )
            bad = self._compat_error(request.headers.get("Accept", ""))
            if bad is not None:
                return bad
            return self._route(request)
        finally:
            self.in_flight -= 1

    def _route(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/") or "/"
        if path == "/":
            return self._json(self.info)
        if path == "/_cluster/health":
            return self._json(self.health)
        m = re.fullmatch(r"/_nodes/stats(?:/([^/]+))?(?:/([^/]+))?", path)
        if m:
            body = copy.deepcopy(self.stats)
            if m.group(1) and m.group(1) != "_all":
                groups = set(m.group(1).split(","))
                for node in body["nodes"].values():
                    for key in list(node):
                        if (
                            isinstance(node[key], dict)
                            and key not in groups
                            and key != "attributes"
                        ):
                            del node[key]
            if m.group(2):
                wanted = set(m.group(2).split(","))
                for node in body["nodes"].values():
                    for key in list(node.get("indices", {})):
                        if key not in wanted:
                            del node["indices"][key]
            return self._json(apply_filter_path(body, request.query.get("filter_path")))
        return self._json(
            {"error": f"no handler found for uri [{request.path_qs}] and method [GET]"}, 400
        )


@asynccontextmanager
async def serve(fake: FakeEs | None = None, *, port: int = 0) -> AsyncIterator[FakeEs]:
    """Serve ``fake`` on 127.0.0.1 (``port`` 0 = a free one; reuse a port to "restart")."""
    fake = fake or FakeEs()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
