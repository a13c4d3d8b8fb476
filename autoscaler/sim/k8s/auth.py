"""Authentication for the Kubernetes side: bearer token → user name.

The seam for RBAC and for HTTPS/in-cluster credentials: whoever serves the API decides which
tokens map to which users; authorization reads ``K8S_USER_KEY`` from the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from autoscaler.sim.k8s.errors import unauthorized
from autoscaler.sim.k8s.responses import status_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

K8S_USER_KEY = web.RequestKey("k8s_user", str)


@dataclass
class K8sAuth:
    """Bearer-token check.

    ``token``: the one accepted token (``None`` accepts any). A request without
    ``Authorization`` is ``system:anonymous`` and allowed unless ``require_token`` — kubectl
    sends no credentials over ``http://`` (API-BEHAVIOUR §8.1), so requiring a token locks it out.
    """

    token: str | None = None
    require_token: bool = False
    user: str = "system:serviceaccount:elastic:es-autoscaler"
    #: further tokens → user names (one per ServiceAccount under ``sim --rbac``)
    tokens: dict[str, str] = field(default_factory=dict)

    def user_for(self, token: str) -> str | None:
        """The user a bearer token authenticates as, or ``None`` (401)."""
        if token in self.tokens:
            return self.tokens[token]
        if self.token is None or token == self.token:
            return self.user
        return None


def auth_middleware(auth: K8sAuth) -> Middleware:
    """Authenticate by bearer token; record the user for authorisation faults."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        header = request.headers.get("Authorization")
        if header is None:
            if auth.require_token:
                return status_response(unauthorized())
            request[K8S_USER_KEY] = "system:anonymous"
        else:
            scheme, _, token = header.partition(" ")
            user = auth.user_for(token) if scheme.lower() == "bearer" else None
            if user is None:
                return status_response(unauthorized())
            request[K8S_USER_KEY] = user
        return await handler(request)

    return middleware
