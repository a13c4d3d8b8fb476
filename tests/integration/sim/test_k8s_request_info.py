"""The twin's Kubernetes API classifies each request once, as the apiserver's ``WithRequestInfo``
filter does (``k8s.io/apiserver/pkg/endpoints/filters/requestinfo.go``): the request log, RBAC,
fault injection and the handler read the same ``RequestInfo`` from the request instead of each
parsing the path again.

The second test serves a real app on 127.0.0.1 with RBAC and the request log on, plus a probe
middleware of the test's own (innermost, just before the handler) that looks at what is stored
on the request before and after the handler ran.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from k8s_kit import reader_role

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.k8s.api import build_k8s_app
from autoscaler.sim.k8s.auth import Handler, K8sAuth
from autoscaler.sim.k8s.model import K8sModel
from autoscaler.sim.k8s.rbac import load_rbac
from autoscaler.sim.k8s.reqinfo import REQUEST_INFO_KEY, RequestInfo, request_info
from autoscaler.sim.k8s.requestlog import RequestLog

SCALE = "/apis/apps/v1/namespaces/elastic/statefulsets/es-data/scale"


def test_request_info_is_resolved_once_and_kept_on_the_request() -> None:
    request = make_mocked_request("GET", SCALE)
    first = request_info(request)
    assert first == RequestInfo(
        True, "get", "apps", "v1", "elastic", "statefulsets", "scale", "es-data"
    )
    assert request[REQUEST_INFO_KEY] is first
    assert request_info(request) is first
    other = make_mocked_request("GET", "/api/v1/namespaces/elastic/pods?watch=1")
    assert request_info(other).verb == "watch"
    assert request_info(request) is first


@pytest.fixture
async def served(
    tmp_path: Path,
) -> AsyncIterator[tuple[str, RequestLog, list[tuple[object, object]]]]:
    model = K8sModel(clock=VirtualClock())
    model.create_statefulset("elastic", "es-data", replicas=3)
    (tmp_path / "rbac.yaml").write_text(reader_role("statefulsets"))
    load_rbac(model, [tmp_path / "rbac.yaml"])
    seen: list[tuple[object, object]] = []

    @web.middleware
    async def probe(request: web.Request, handler: Handler) -> web.StreamResponse:
        before = request.get(REQUEST_INFO_KEY)
        response = await handler(request)
        seen.append((before, request.get(REQUEST_INFO_KEY)))
        return response

    log = RequestLog()
    auth = K8sAuth(token="none-shared", tokens={"t": "system:serviceaccount:elastic:scaler"})
    app = build_k8s_app(model, auth=auth, rbac=True, request_log=log, middlewares=[probe])
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", log, seen
    finally:
        await runner.cleanup()


async def test_rbac_the_handler_and_the_request_log_share_one_request_info(
    served: tuple[str, RequestLog, list[tuple[object, object]]],
) -> None:
    url, log, seen = served
    headers = {"Authorization": "Bearer t"}
    path = "/apis/apps/v1/namespaces/elastic/statefulsets/es-data"
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url + path) as r:
        assert r.status == 200
        assert (await r.json())["metadata"]["name"] == "es-data"
    assert len(seen) == 1
    before, after = seen[0]
    # RBAC (outside the probe) resolved it; the handler read that one instead of its own
    assert isinstance(before, RequestInfo)
    assert after is before
    assert (before.verb, before.resource, before.name) == ("get", "statefulsets", "es-data")
    (record,) = log.entries()
    assert (record["verb"], record["resource"], record["name"], record["code"]) == (
        "get",
        "statefulsets",
        "es-data",
        200,
    )
