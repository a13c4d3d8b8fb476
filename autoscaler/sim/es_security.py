"""Elasticsearch security for the twin: users, roles, API keys and per-endpoint privileges.

Elasticsearch 8 starts with security on: every REST request must authenticate (basic auth or
``Authorization: ApiKey base64(id:key)``), and each action needs a cluster or index
privilege. An autoscaler that was only tested against an open cluster would meet its first
401/403 in production, so ``sim --security`` puts this module in front of the ES routes as
an aiohttp middleware (outside the ES wire middleware, so even an unknown path answers 401
first, as ES 8 authenticates on the HTTP headers before routing).

Behaviour and sources (``tests/fixtures/elasticsearch/BEHAVIOUR.md`` §14 has the details):

* 401 bodies and the three ``WWW-Authenticate`` challenges — ``AuthenticationService`` /
  ``DefaultAuthenticationFailureHandler`` in elastic/elasticsearch x-pack/plugin/security, as
  captured from 8.x servers (``missing authentication credentials for REST request [URI]``,
  ``unable to authenticate user [U] for REST request [URI]``, API key failures under
  ``additional_unsuccessful_credentials``).
* 403 text — ``AuthorizationDenialMessages.actionDenied`` (x-pack/plugin/security/src/main/
  java/org/elasticsearch/xpack/security/authz/AuthorizationDenialMessages.java): ``action [A]
  is unauthorized for user [U] with effective roles [R], this action is granted by the
  cluster privileges [monitor,manage,all]``; API keys are ``API key id [ID] of user [U]`` with
  no roles part.
* privileges — ``ClusterPrivilegeResolver`` (x-pack/plugin/core …/authz/privilege): ``monitor``
  = ``cluster:monitor/*``; ``manage`` = ``cluster:*`` except ``cluster:admin/xpack/security/*``
  (so ``manage`` grants everything ``monitor`` does); ``all`` = ``cluster:*``. Index actions
  need *index* privileges (``manage`` = ``indices:monitor/*`` + ``indices:admin/*``); cluster
  ``all`` does not grant them. Only the privileges below are modelled; a users file naming
  another one is refused.

Users file (``sim --es-users FILE``, YAML or JSON)::

    roles:
      es_autoscaler:
        cluster: [manage]
        indices:
          - names: ["*"]
            privileges: [manage]
    users:
      autoscaler:
        password: change-me
        roles: [es_autoscaler]

``roles`` entries follow ES role descriptors (``cluster``, ``indices[].names/privileges``).
The built-in ``superuser`` role (cluster ``all``, every index ``all``) and the reserved
``elastic`` user (role ``superuser``) always exist; ``elastic``'s password is the file's
``users.elastic.password`` if given, else generated and reported by the ``sim`` command.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware

from autoscaler.sim.es.api.base import COMPAT_KEY, PRODUCT_HEADER, EsApiBase
from autoscaler.sim.es.cluster import Cluster
from autoscaler.sim.es.errors import EsError, illegal_argument
from autoscaler.sim.es.units import parse_time_value

__all__ = [
    "CLUSTER_PRIVILEGES",
    "INDEX_PRIVILEGES",
    "ApiKey",
    "EsRole",
    "EsSecurity",
    "EsUser",
    "IndexGrant",
    "Principal",
    "actions_for",
    "load_users_file",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Cluster privileges the twin models, least to most privileged (the order ES lists them in a
#: 403: ``ClusterPrivilegeResolver.sortByAccessLevel``), each as (included, excluded) patterns.
CLUSTER_PRIVILEGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "none": ((), ()),
    "monitor": (("cluster:monitor/*",), ()),
    "manage_own_api_key": (("cluster:admin/xpack/security/api_key/*",), ()),
    "manage_api_key": (("cluster:admin/xpack/security/api_key/*",), ()),
    "manage": (
        ("cluster:*", "indices:admin/template/*", "indices:admin/index_template/*"),
        ("cluster:admin/xpack/security/*",),
    ),
    "manage_security": (("cluster:admin/xpack/security/*",), ()),
    "all": (("cluster:*", "indices:admin/template/*", "indices:admin/index_template/*"), ()),
}

#: Index privileges the twin models (``IndexPrivilege``), least to most privileged.
INDEX_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "none": (),
    "read": ("indices:data/read/*",),
    "view_index_metadata": (
        "indices:admin/get",
        "indices:admin/mappings/get",
        "indices:monitor/settings/get",
        "indices:admin/aliases/get",
    ),
    "monitor": ("indices:monitor/*",),
    "manage": ("indices:monitor/*", "indices:admin/*"),
    "all": ("indices:*",),
}

_SUPERUSER = "superuser"
_AUTHENTICATE = "cluster:admin/xpack/security/user/authenticate"


def _matches(action: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(action, p) for p in patterns)


def cluster_privilege_grants(privilege: str, action: str) -> bool:
    include, exclude = CLUSTER_PRIVILEGES[privilege]
    return _matches(action, include) and not _matches(action, exclude)


def index_privilege_grants(privilege: str, action: str) -> bool:
    return _matches(action, INDEX_PRIVILEGES[privilege])


# ---------------------------------------------------------------------------------------------
# Which action an endpoint is


@dataclass(frozen=True)
class Action:
    """The transport action a REST request runs, and the indices it names (index actions)."""

    name: str
    indices: tuple[str, ...] = ()

    @property
    def is_index_action(self) -> bool:
        return self.name.startswith("indices:") and not self.name.startswith(
            ("indices:admin/template/", "indices:admin/index_template/")
        )


_G, _H, _P, _U, _D = "GET", "HEAD", "POST", "PUT", "DELETE"
_IDX = r"(?P<index>_all|[^_/][^/]*)"

#: (methods, path regex, actions joined by ``+``). First match wins. The names are ES's
#: transport action names (``*Action.NAME``); a REST handler that runs several actions lists
#: them in order (``_cat/shards``: cluster state, then index stats over every index). Where ES
#: would *silently omit* indices the user may not see (wildcards, ``_all``, ``_cat`` rows),
#: the twin refuses with 403 instead, so a role missing the privilege fails loudly in tests
#: rather than hiding shards from a drain check (deliberate difference, BEHAVIOUR.md §14).
_RULES: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = tuple(
    (frozenset(methods), re.compile(pattern + r"/?"), action)
    for methods, pattern, action in (
        ((_G, _H), r"/", "cluster:monitor/main"),
        ((_G, _P), r"/_security/_authenticate", _AUTHENTICATE),
        ((_P, _U), r"/_security/api_key", "cluster:admin/xpack/security/api_key/create"),
        ((_G,), r"/_nodes(/[^/]+)?/shutdown", "cluster:admin/shutdown/get"),
        ((_U,), r"/_nodes/[^/]+/shutdown", "cluster:admin/shutdown/create"),
        ((_D,), r"/_nodes/[^/]+/shutdown", "cluster:admin/shutdown/delete"),
        ((_G,), r"/_nodes/(stats|[^/]+/stats)(/.*)?", "cluster:monitor/nodes/stats"),
        ((_G,), r"/_nodes(/.*)?", "cluster:monitor/nodes/info"),
        ((_G,), r"/_cluster/health(/.*)?", "cluster:monitor/health"),
        ((_G,), r"/_cluster/settings", "cluster:monitor/settings"),
        ((_U,), r"/_cluster/settings", "cluster:admin/settings/update"),
        ((_G,), r"/_cluster/state(/.*)?", "cluster:monitor/state"),
        ((_G, _P), r"/_cluster/allocation/explain", "cluster:monitor/allocation/explain"),
        (
            (_P,),
            r"/_cluster/voting_config_exclusions",
            "cluster:admin/voting_config/add_exclusions",
        ),
        (
            (_D,),
            r"/_cluster/voting_config_exclusions",
            "cluster:admin/voting_config/clear_exclusions",
        ),
        ((_P,), r"/_cluster/reroute", "cluster:admin/reroute"),
        ((_G,), r"/_cat/health", "cluster:monitor/health"),
        ((_G,), r"/_cat/shards(/.*)?", "cluster:monitor/state+indices:monitor/stats"),
        ((_G,), r"/_cat/indices(/.*)?", "cluster:monitor/state+indices:monitor/stats"),
        ((_G,), r"/_cat/recovery(/.*)?", "indices:monitor/recovery"),
        ((_G,), r"/_cat(/.*)?", "cluster:monitor/state"),
        ((_G,), r"/_health_report(/.*)?", "cluster:monitor/health_api"),
        ((_U, _P), r"/_settings", "indices:admin/settings/update"),
        ((_G,), r"/_settings(/.*)?", "indices:monitor/settings/get"),
        ((_U, _P), rf"/{_IDX}/_settings", "indices:admin/settings/update"),
        ((_G,), rf"/{_IDX}/_settings(/.*)?", "indices:monitor/settings/get"),
        ((_G, _H), rf"/{_IDX}", "indices:admin/get"),
    )
)


def actions_for(method: str, path: str) -> tuple[Action, ...]:
    """The actions ``method path`` runs, in order. Paths the table does not know fall back to
    a monitor-level read or a manage-level write (inferred; see BEHAVIOUR.md §14)."""
    for methods, pattern, names in _RULES:
        if method not in methods:
            continue
        m = pattern.fullmatch(path)
        if m is None:
            continue
        expr = m.groupdict().get("index")
        indices = tuple(i for i in expr.split(",") if i) if expr else ()
        return tuple(Action(n, indices) for n in names.split("+"))
    if method in (_G, _H):
        return (Action("cluster:monitor/sim/unclassified"),)
    return (Action("cluster:admin/sim/unclassified"),)


# ---------------------------------------------------------------------------------------------
# Users, roles, keys


@dataclass(frozen=True)
class IndexGrant:
    names: tuple[str, ...]
    privileges: tuple[str, ...]


@dataclass(frozen=True)
class EsRole:
    name: str
    cluster: tuple[str, ...] = ()
    indices: tuple[IndexGrant, ...] = ()

    def grants(self, action: Action) -> bool:
        if action.is_index_action:
            return all(
                any(
                    any(fnmatch.fnmatchcase(index, n) for n in g.names)
                    and any(index_privilege_grants(p, action.name) for p in g.privileges)
                    for g in self.indices
                )
                for index in (action.indices or ("*",))
            )
        return any(cluster_privilege_grants(p, action.name) for p in self.cluster)


SUPERUSER_ROLE = EsRole(_SUPERUSER, ("all",), (IndexGrant(("*",), ("all",)),))


@dataclass(frozen=True)
class EsUser:
    username: str
    password: str
    roles: tuple[str, ...]
    realm: str = "default_file"
    realm_type: str = "file"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    key: str
    owner: str
    #: ``None`` → the owner's privileges; else they are limited by these descriptors too.
    roles: tuple[EsRole, ...] | None = None
    expiration_ms: int | None = None


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as."""

    user: EsUser
    api_key: ApiKey | None = None


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def parse_role(name: str, body: Any) -> EsRole:
    """A role from an ES role descriptor (``{"cluster": [...], "indices": [...]}``)."""
    if not isinstance(body, Mapping):
        raise ValueError(f"role [{name}]: must be an object")
    unknown = set(body) - {"cluster", "indices", "metadata", "description", "run_as"}
    if unknown:
        raise ValueError(f"role [{name}]: unknown field(s) {sorted(unknown)}")
    cluster = _str_list(body.get("cluster", []), f"role [{name}] cluster")
    for p in cluster:
        if p not in CLUSTER_PRIVILEGES:
            raise ValueError(
                f"role [{name}]: unknown cluster privilege [{p}]; the twin models "
                f"[{','.join(CLUSTER_PRIVILEGES)}]"
            )
    grants: list[IndexGrant] = []
    raw_indices = body.get("indices", [])
    if not isinstance(raw_indices, list):
        raise ValueError(f"role [{name}]: indices must be a list")
    for i, g in enumerate(raw_indices):
        if not isinstance(g, Mapping):
            raise ValueError(f"role [{name}] indices[{i}]: must be an object")
        unknown = set(g) - {"names", "privileges", "allow_restricted_indices", "query"}
        if unknown:
            raise ValueError(f"role [{name}] indices[{i}]: unknown field(s) {sorted(unknown)}")
        names = _str_list(g.get("names", []), f"role [{name}] indices[{i}].names")
        privileges = _str_list(g.get("privileges", []), f"role [{name}] indices[{i}].privileges")
        for p in privileges:
            if p not in INDEX_PRIVILEGES:
                raise ValueError(
                    f"role [{name}]: unknown index privilege [{p}]; the twin models "
                    f"[{','.join(INDEX_PRIVILEGES)}]"
                )
        grants.append(IndexGrant(names, privileges))
    return EsRole(name, cluster, tuple(grants))


PRINCIPAL_KEY = web.RequestKey("es_principal", Principal)


@dataclass(frozen=True)
class UsersFile:
    users: dict[str, EsUser]
    roles: dict[str, EsRole]


def load_users_file(path: Path | str) -> UsersFile:
    """Read a users file (format in the module doc); ``ValueError`` with a clear message."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"--es-users {path}: {exc}") from None
    data = data or {}
    if not isinstance(data, Mapping) or set(data) - {"users", "roles"}:
        raise ValueError(f"--es-users {path}: expected an object with 'users' and 'roles'")
    roles: dict[str, EsRole] = {}
    raw_roles = data.get("roles") or {}
    if not isinstance(raw_roles, Mapping):
        raise ValueError(f"--es-users {path}: 'roles' must map role names to descriptors")
    for name, body in raw_roles.items():
        roles[str(name)] = parse_role(str(name), body)
    users: dict[str, EsUser] = {}
    raw_users = data.get("users") or {}
    if not isinstance(raw_users, Mapping):
        raise ValueError(f"--es-users {path}: 'users' must map user names to objects")
    for name, body in raw_users.items():
        if not isinstance(body, Mapping) or not isinstance(body.get("password"), str):
            raise ValueError(f"--es-users {path}: user [{name}] needs a string 'password'")
        user_roles = _str_list(body.get("roles", []), f"user [{name}] roles")
        users[str(name)] = EsUser(str(name), body["password"], user_roles)
    return UsersFile(users, roles)


# ---------------------------------------------------------------------------------------------
# The realm


def _challenges(version: tuple[int, int, int]) -> list[str]:
    # 8.17 captures show 'Basic realm="security", charset="UTF-8"'; 8.0–8.7 captures show it
    # without the comma. Where between the two it changed is not sourced (inferred: 8.10).
    basic = (
        'Basic realm="security", charset="UTF-8"'
        if version >= (8, 10, 0)
        else 'Basic realm="security" charset="UTF-8"'
    )
    return [basic, 'Bearer realm="security"', "ApiKey"]


def _new_id(n: int) -> str:
    return secrets.token_urlsafe(n)[:n]


@dataclass
class EsSecurity:
    """The twin's security realm: authenticate, authorize, serve ``/_security`` routes."""

    cluster: Cluster
    users: dict[str, EsUser]
    roles: dict[str, EsRole]
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    passthrough_prefixes: tuple[str, ...] = ("/_sim",)
    #: ES requests seen (including refused ones), and the ones refused with 401 / 403.
    requests_seen: int = 0
    refused_401: int = 0
    refused_403: int = 0

    def __post_init__(self) -> None:
        self._api = EsApiBase(self.cluster)

    @classmethod
    def create(
        cls,
        cluster: Cluster,
        *,
        users_file: Path | str | None = None,
        elastic_password: str | None = None,
    ) -> EsSecurity:
        """Users and roles from ``users_file`` (if any) plus ``superuser`` and ``elastic``."""
        loaded = load_users_file(users_file) if users_file else UsersFile({}, {})
        roles = {_SUPERUSER: SUPERUSER_ROLE, **loaded.roles}
        users = dict(loaded.users)
        given = users.get("elastic")
        password = elastic_password or (given.password if given else secrets.token_urlsafe(15))
        users["elastic"] = EsUser("elastic", password, (_SUPERUSER,), "reserved", "reserved")
        return cls(cluster=cluster, users=users, roles=roles)

    @property
    def elastic_password(self) -> str:
        return self.users["elastic"].password

    # -------------------------------------------------------------------------- errors

    def _render(self, request: web.Request, err: EsError, challenge: bool) -> web.Response:
        try:
            request[COMPAT_KEY] = self._api.check_compat(request)
        except EsError:
            request[COMPAT_KEY] = None
        # ES builds error bodies with filtering disabled (AbstractRestChannel.newErrorBuilder),
        # so ``filter_path`` never empties a 401/403; ``pretty`` still applies.
        pretty = "pretty" in request.query and request.query.get("pretty") != "false"
        text = (
            json.dumps(err.body(), indent=2) + "\n"
            if pretty
            else json.dumps(err.body(), separators=(",", ":"))
        )
        resp = web.Response(
            body=text.encode(),
            status=err.status,
            headers={"Content-Type": self._api.json_content_type(request)},
        )
        if challenge:
            for value in _challenges(self.cluster.version_tuple):
                resp.headers.add("WWW-Authenticate", value)
        return resp

    def _unauthenticated(
        self, request: web.Request, reason: str, extra: str | None = None
    ) -> web.Response:
        self.refused_401 += 1
        meta: dict[str, Any] = {}
        if extra is not None:
            meta["additional_unsuccessful_credentials"] = extra
        meta["header"] = {"WWW-Authenticate": _challenges(self.cluster.version_tuple)}
        return self._render(request, EsError(401, "security_exception", reason, meta=meta), True)

    # -------------------------------------------------------------------------- authn

    def authenticate(self, request: web.Request) -> Principal | web.Response:
        """The principal of ``request``, or the 401 response ES would send."""
        uri = request.raw_path
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        unable = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return self._unauthenticated(
                    request, "invalid basic authentication header encoding"
                )
            username, sep, password = decoded.partition(":")
            if not sep:
                return self._unauthenticated(request, "invalid basic authentication header value")
            user = self.users.get(username)
            if user is None or not secrets.compare_digest(user.password, password):
                return self._unauthenticated(
                    request, f"unable to authenticate user [{username}] for REST request [{uri}]"
                )
            return Principal(user)
        if scheme.lower() == "apikey" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            key_id, sep, key = decoded.partition(":")
            if not sep or not key_id:
                return self._unauthenticated(request, unable, "API key: invalid ApiKey value")
            found = self.api_keys.get(key_id)
            if found is None:
                return self._unauthenticated(
                    request, unable, f"API key: unable to find apikey with id {key_id}"
                )
            if not secrets.compare_digest(found.key, key):
                return self._unauthenticated(
                    request, unable, f"API key: invalid credentials for API key [{key_id}]"
                )
            if (
                found.expiration_ms is not None
                and self.cluster.clock.time() * 1000 >= found.expiration_ms
            ):
                return self._unauthenticated(request, unable, "API key: api key is expired")
            owner = self.users.get(found.owner)
            if owner is None:
                return self._unauthenticated(request, unable)
            return Principal(owner, found)
        if scheme.lower() == "bearer" and value:
            # The twin issues no OAuth2 tokens, so every bearer token is unknown.
            return self._unauthenticated(request, unable, "token: token expired or invalid")
        return self._unauthenticated(
            request, f"missing authentication credentials for REST request [{uri}]"
        )

    # -------------------------------------------------------------------------- authz

    def _effective_roles(self, user: EsUser) -> list[EsRole]:
        return [self.roles[r] for r in user.roles if r in self.roles]

    def is_authorized(self, principal: Principal, action: Action) -> bool:
        if action.name == _AUTHENTICATE:
            return True  # "same user" check: everyone may ask who they are
        owner_ok = any(r.grants(action) for r in self._effective_roles(principal.user))
        key = principal.api_key
        if key is None or key.roles is None:
            return owner_ok
        return owner_ok and any(r.grants(action) for r in key.roles)

    def denial_message(self, principal: Principal, action: Action) -> str:
        """``AuthorizationDenialMessages.actionDenied`` for the twin's principals."""
        user = principal.user
        if principal.api_key is not None:
            who = f"API key id [{principal.api_key.id}] of user [{user.username}]"
        else:
            who = f"user [{user.username}]"
            effective = sorted(r for r in user.roles if r in self.roles)
            who += f" with effective roles [{','.join(effective)}]"
            missing = sorted(set(user.roles) - set(effective))
            if missing:
                who += f" (assigned roles [{','.join(missing)}] were not found)"
        message = f"action [{action.name}] is unauthorized for {who}"
        if action.is_index_action:
            message += f" on indices [{','.join(action.indices or ('*',))}]"
            granting = [p for p in INDEX_PRIVILEGES if index_privilege_grants(p, action.name)]
            kind = "index"
        else:
            granting = [p for p in CLUSTER_PRIVILEGES if cluster_privilege_grants(p, action.name)]
            kind = "cluster"
        if granting:
            message += f", this action is granted by the {kind} privileges [{','.join(granting)}]"
        return message

    # -------------------------------------------------------------------------- wire

    def middleware(self) -> Middleware:
        """Authenticate every ES request, then authorize the action its route runs."""
        prefixes = self.passthrough_prefixes

        @web.middleware
        async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith(prefixes):
                return await handler(request)
            self.requests_seen += 1
            principal = self.authenticate(request)
            if isinstance(principal, web.StreamResponse):
                return principal
            request[PRINCIPAL_KEY] = principal
            if request.match_info.http_exception is None:  # no route: ES answers 400/405
                for action in actions_for(request.method, request.path):
                    if not self.is_authorized(principal, action):
                        self.refused_403 += 1
                        reason = self.denial_message(principal, action)
                        return self._render(
                            request, EsError(403, "security_exception", reason), False
                        )
            return await handler(request)

        return security_middleware

    def add_routes(self, app: web.Application) -> None:
        """``POST|PUT /_security/api_key`` and ``GET|POST /_security/_authenticate``."""
        app.router.add_route("POST", "/_security/api_key", self._create_api_key)
        app.router.add_route("PUT", "/_security/api_key", self._create_api_key)
        app.router.add_route("GET", "/_security/_authenticate", self._authenticate_route)
        app.router.add_route("POST", "/_security/_authenticate", self._authenticate_route)

    def _ok(self, request: web.Request, body: Any) -> web.Response:
        resp = self._api.respond(request, body)
        resp.headers[PRODUCT_HEADER] = "Elasticsearch"
        return resp

    def _error(self, request: web.Request, err: EsError) -> web.Response:
        resp = self._api.error(request, err)
        resp.headers[PRODUCT_HEADER] = "Elasticsearch"
        return resp

    async def _create_api_key(self, request: web.Request) -> web.StreamResponse:
        principal = request[PRINCIPAL_KEY]
        try:
            body = await self._api.read_body(request) or {}
            name = body.get("name")
            if not isinstance(name, str) or not name:
                raise EsError(
                    400,
                    "action_request_validation_exception",
                    "Validation Failed: 1: api key name is required;",
                )
            descriptors = body.get("role_descriptors") or {}
            if not isinstance(descriptors, Mapping):
                raise EsError(400, "parse_exception", "role_descriptors must be an object")
            try:
                key_roles = tuple(parse_role(str(n), d) for n, d in descriptors.items())
            except ValueError as exc:
                raise EsError(400, "parse_exception", str(exc)) from None
        except EsError as err:
            return self._error(request, err)
        expiration_ms: int | None = None
        if "expiration" in body:
            try:
                ttl = parse_time_value(str(body["expiration"]), "expiration")
            except EsError as err:
                return self._error(request, err)
            expiration_ms = int((self.cluster.clock.time() + ttl) * 1000)
        # An API key may only derive a key that can do nothing (ES refuses anything else so a
        # key can never outgrow the one that made it; message wording inferred).
        if principal.api_key is not None and (
            not key_roles or any(r.cluster or r.indices for r in key_roles)
        ):
            return self._error(
                request,
                illegal_argument(
                    "creating derived api keys requires an explicit role descriptor that is "
                    "empty (has no privileges)"
                ),
            )
        key = ApiKey(
            id=_new_id(20),
            name=name,
            key=_new_id(22),
            owner=principal.user.username,
            roles=key_roles or None,
            expiration_ms=expiration_ms,
        )
        self.api_keys[key.id] = key
        encoded = base64.b64encode(f"{key.id}:{key.key}".encode()).decode()
        out: dict[str, Any] = {"id": key.id, "name": key.name}
        if expiration_ms is not None:
            out["expiration"] = expiration_ms
        out.update({"api_key": key.key, "encoded": encoded})
        return self._ok(request, out)

    async def _authenticate_route(self, request: web.Request) -> web.StreamResponse:
        principal = request[PRINCIPAL_KEY]
        user = principal.user
        key = principal.api_key
        realm = (
            {"name": "_es_api_key", "type": "_es_api_key"}
            if key is not None
            else {"name": user.realm, "type": user.realm_type}
        )
        body: dict[str, Any] = {
            "username": user.username,
            "roles": [] if key is not None else list(user.roles),
            "full_name": None,
            "email": None,
            "metadata": {"_reserved": True} if user.realm == "reserved" else {},
            "enabled": True,
            "authentication_realm": realm,
            "lookup_realm": realm,
            "authentication_type": "api_key" if key is not None else "realm",
        }
        if key is not None:
            body["api_key"] = {"id": key.id, "name": key.name}
        return self._ok(request, body)
