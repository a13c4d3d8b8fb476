"""JSON responses and ``Status`` error responses, shared by every handler of the Kubernetes side."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from autoscaler.sim.k8s.errors import K8sError


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(body), status=status, content_type="application/json", headers=headers
    )


def status_response(err: K8sError) -> web.Response:
    return json_response(err.to_status(), status=err.code)
