"""The service's HTTP surface: health, readiness, metrics, the status API and the webhook.

Shapes of ``/api/v1/*`` are documented in the README; they are what ops and dashboards read
to see *why* the autoscaler did or did not act.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from autoscaler.service.runtime import Runtime, decision_view
from autoscaler.signals.webhook import UNAUTHORIZED, WebhookAuth

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)
READY: web.AppKey[Callable[[], tuple[bool, list[str]]]] = web.AppKey("ready")
CONTROL_AUTH: web.AppKey[WebhookAuth] = web.AppKey("control_auth", WebhookAuth)
LEADER: web.AppKey[Callable[[], dict[str, Any]]] = web.AppKey("leader")


def _json(data: Any, *, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, default=str)


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    ok, waiting = request.app[READY]()
    return _json({"ready": ok, "waitingFor": waiting}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[RUNTIME].metrics.registry)
    resp = web.Response(body=body)
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    resp.charset = "utf-8"
    return resp


def _limit(request: web.Request, *, default: int, maximum: int) -> int | web.Response:
    """The ``limit`` query parameter (1..maximum), or the 400 answer explaining it."""
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
        if not 1 <= limit <= maximum:
            raise ValueError
    except ValueError:
        return _json(
            {"error": f"limit must be an integer from 1 to {maximum}, got {raw[:50]!r}"},
            status=400,
        )
    return limit


async def list_policies(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    return _json(
        {
            "policies": [rt.policy_view(name) for name in sorted(rt.policies)],
            "lastReload": rt.last_reload,
        }
    )


async def get_policy(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    name = request.match_info["name"]
    if name not in rt.policies:
        return _json({"error": f"no policy named {name!r}"}, status=404)
    return _json(rt.policy_view(name))


async def list_decisions(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    policy = request.query.get("policy")
    limit = _limit(request, default=50, maximum=10_000)
    if isinstance(limit, web.Response):
        return limit
    out = []
    for d in rt.decisions:
        if policy and d.policy != policy:
            continue
        out.append(decision_view(d))
        if len(out) >= limit:
            break
    if policy and not out and policy not in rt.policies:
        return _unknown_filter(policy, "decisions")
    return _json({"decisions": out})


def _unknown_filter(policy: str, what: str) -> web.Response:
    # A typo in ?policy= used to read as "nothing happened"; a removed policy whose records
    # remain still lists them.
    return _json(
        {"error": f"no policy named {policy[:100]!r} and no {what} recorded for one"},
        status=404,
    )


ALERT_STATES = ("firing", "resolved", "expired")


async def list_alerts(request: web.Request) -> web.Response:
    """One page of remembered alerts: ``limit`` (1–10000, default 1000), ``after`` (the
    previous page's ``next``), ``state`` (firing, resolved, expired), ``policy``."""
    rt = request.app[RUNTIME]
    limit = _limit(request, default=1000, maximum=10_000)
    if isinstance(limit, web.Response):
        return limit
    state = request.query.get("state")
    if state is not None and state not in ALERT_STATES:
        return _json(
            {"error": f"state must be one of {', '.join(ALERT_STATES)}, got {state[:50]!r}"},
            status=400,
        )
    policy = request.query.get("policy")
    if policy is not None and policy not in rt.policies:
        return _json({"error": f"no policy named {policy[:100]!r}"}, status=404)
    return _json(
        rt.alerts_view(limit=limit, after=request.query.get("after"), state=state, policy=policy)
    )


async def list_operations(request: web.Request) -> web.Response:
    """Operations, newest first (running ones first): ``policy`` filters, ``limit`` 1–1000."""
    rt = request.app[RUNTIME]
    limit = _limit(request, default=100, maximum=1000)
    if isinstance(limit, web.Response):
        return limit
    policy = request.query.get("policy")
    ops = rt.actuator.operations_view() if rt.actuator is not None else []
    out = [o for o in ops if policy is None or o["policy"] == policy][:limit]
    if policy and not out and policy not in rt.policies:
        return _unknown_filter(policy, "operations")
    return _json({"operations": out})


async def _set_paused(request: web.Request, paused: bool) -> web.Response:
    """``POST /api/v1/policies/{name}/pause|resume``, authenticated like the webhook. A paused
    policy finishes its running operation safely but starts none."""
    auth = request.app.get(CONTROL_AUTH)
    if auth is None or not auth.check(authorization=request.headers.get(hdrs.AUTHORIZATION)):
        # the webhook's 401 (signals/webhook.py): same words, same challenges
        resp = _json({"error": UNAUTHORIZED}, status=401)
        for challenge in auth.challenges() if auth is not None else ():
            resp.headers.add(hdrs.WWW_AUTHENTICATE, challenge)
        return resp
    rt = request.app[RUNTIME]
    name = request.match_info["name"]
    if name not in rt.policies:
        return _json({"error": f"no policy named {name[:100]!r}"}, status=404)
    if rt.actuator is not None:
        try:
            await rt.actuator.set_paused(name, paused)
        except Exception as e:  # the store is down: say so rather than pause only in memory
            return _json({"error": f"could not persist the pause: {e}"}, status=503)
    if paused:
        rt.paused.add(name)
    else:
        rt.paused.discard(name)
    rt.evaluate(name)
    return _json(
        {"name": name, "paused": paused, "effectiveMode": rt.policy_view(name)["effectiveMode"]}
    )


async def get_leader(request: web.Request) -> web.Response:
    """``{"identity", "leader", "holder", "since", "lastError"}`` (service/leader.py)."""
    status = request.app.get(LEADER)
    if status is None:
        return _json({"error": "no leader information"}, status=404)
    return _json(status())


async def pause_policy(request: web.Request) -> web.Response:
    return await _set_paused(request, True)


async def resume_policy(request: web.Request) -> web.Response:
    return await _set_paused(request, False)


def build_app(
    *,
    runtime: Runtime,
    ready: Callable[[], tuple[bool, list[str]]],
    webhook: Handler | None,
    control_auth: WebhookAuth | None = None,
    leader: Callable[[], dict[str, Any]] | None = None,
) -> web.Application:
    """The aiohttp application; ``webhook`` is mounted at ``/webhook/alertmanager``.
    ``control_auth``: the credentials pause and resume require (the webhook's); without
    it they answer 401."""
    app = web.Application(client_max_size=1 << 20)
    app[RUNTIME] = runtime
    app[READY] = ready
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/policies", list_policies)
    app.router.add_get("/api/v1/policies/{name}", get_policy)
    app.router.add_get("/api/v1/decisions", list_decisions)
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/operations", list_operations)
    app.router.add_post("/api/v1/policies/{name}/pause", pause_policy)
    app.router.add_post("/api/v1/policies/{name}/resume", resume_policy)
    if control_auth is not None:
        app[CONTROL_AUTH] = control_auth
    if leader is not None:
        app[LEADER] = leader
    app.router.add_get("/api/v1/leader", get_leader)
    if webhook is not None:
        app.router.add_route("*", "/webhook/alertmanager", webhook)
    return app
