"""Every Elasticsearch call the autoscaler makes, with its retries and version differences.

Keeping all calls here means one place decides which client headers each server version
gets, what is retried and how long a call may take; the poller (and later the scale-down
operations: allocation exclusion, voting exclusions, drains) only see plain functions.

Client pin and server versions (DESIGN §8, tests/fixtures/elasticsearch/BEHAVIOUR.md §1.4, §11)
-----------------------------------------------------------------------------------------------
We pin ``elasticsearch[async]>=8.13,<9``. The 8.x client sends
``Accept: application/vnd.elasticsearch+json; compatible-with=8``, which 8.x servers
(accept 7 and 8) and 9.x servers (accept 8 and 9) both take; the 9.x client's
``compatible-with=9`` is refused by every 8.x server with a 400, so it would cut off the
largest installed base. 7.17 servers know only version 7 (they parse ``compatible-with`` since
7.11 but accept only their own major; the exact answer to ``=8`` is not captured, the likely
one is a 400 ``media_type_header_exception``; ≤ 7.10 answer 406). So:

* ``server_info`` probes ``GET /`` with ``Accept: */*`` — what curl sends, answered with plain
  JSON by every version — so we learn the version even from servers the compat header would
  upset, and can say *which* unsupported server it is (OpenSearch, 7.10, 6.8…).
* every later call passes the ``ServerInfo``; ``request_headers`` then sends 7.x
  ``compatible-with=7`` (the server's own major; the py client leaves an already-vendored
  media type alone) and 8.x/9.x the client's usual ``compatible-with=8``.
* ``check_supported`` accepts Elasticsearch 7.17 ≤ version < 10 and nothing else.

Caveat: that 7.17 accepts ``compatible-with=7`` is inferred (BEHAVIOUR §12 lists the exact
7.x rules as a known gap); it is proven against the twin, which encodes the same reading, not
against a real 7.17. The generated API methods set their own ``accept`` per call, which beats
``client.options(headers=…)``, so every call here goes through ``perform_request`` with
``request_headers(server)``; calls added later (drains, exclusions) must do the same.

Retries
-------
The transport's own retries are off (``max_retries=0``): et retries status codes without any
sleep. Here ``tenacity`` retries connection errors, timeouts, 429 and 5xx with jittered
exponential backoff ("full jitter"), never other 4xx (a 404 or 401 will not heal by asking
again) and never TLS errors. A ``RetryPolicy`` bounds both the attempts and the total time
(each attempt's socket timeout is cut to what is left), so a poll never overruns its interval
by much.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, SerializationError, TlsError, TransportError
from elasticsearch import ApiError, AsyncElasticsearch, UnsupportedProductError
from elasticsearch.serializer import OrjsonSerializer
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from autoscaler.core.policy import ElasticsearchConnection

__all__ = [
    "COMPAT_7_ACCEPT",
    "RetryPolicy",
    "ServerInfo",
    "UnsupportedServer",
    "check_supported",
    "connection_key",
    "error_detail",
    "error_reason",
    "get_json",
    "is_retryable",
    "make_client",
    "read_secret_file",
    "request_headers",
    "server_info",
]

T = TypeVar("T")

COMPAT_7_ACCEPT: Final = "application/vnd.elasticsearch+json; compatible-with=7"
MIN_SUPPORTED: Final = (7, 17)
MAX_MAJOR: Final = 9


# ---------------------------------------------------------------------------------------------
# Client construction


def read_secret_file(path: str) -> str:
    """A secret file's content without surrounding whitespace (a trailing newline is usual)."""
    return Path(path).read_text(encoding="utf-8").strip()


def _api_key(raw: str) -> str | tuple[str, str]:
    # Either the base64 "encoded" form (no colon in the base64 alphabet) or "id:api_key".
    if ":" in raw:
        key_id, _, key = raw.partition(":")
        return (key_id, key)
    return raw


def make_client(
    conn: ElasticsearchConnection, *, read_file: Callable[[str], str] = read_secret_file
) -> AsyncElasticsearch:
    """An ``AsyncElasticsearch`` for ``conn``: secrets read from files now, TLS as configured,
    ``request_timeout`` from the policy and no transport-level retries (see module doc).

    JSON goes through orjson, by the client's own serializer hook (``serializers=``; the
    client maps ``application/json`` onto the ``vnd.elasticsearch+json`` compatibility type
    too — elasticsearch-py ``_async/client/__init__.py``, elastic-transport ``_serializer.py``
    ``OrjsonSerializer``): a 1,000-node ``_nodes/stats`` body decodes ~4× faster than with
    ``json.loads``. Caveat: orjson refuses integers beyond 64 bits and ``NaN`` literals, which
    Elasticsearch does not send (its counters are Java longs); such a body is a
    ``SerializationError``, i.e. a ``bad_response`` poll."""
    kwargs: dict[str, Any] = {
        "hosts": list(conn.url),
        "request_timeout": conn.requestTimeout,
        "max_retries": 0,
        "retry_on_timeout": False,
        "serializers": {"application/json": OrjsonSerializer()},
    }
    if conn.apiKeyFile:
        kwargs["api_key"] = _api_key(read_file(conn.apiKeyFile))
    elif conn.username is not None and conn.passwordFile is not None:
        kwargs["basic_auth"] = (conn.username, read_file(conn.passwordFile))
    if any(u.startswith("https://") for u in conn.url):
        kwargs["verify_certs"] = conn.verifyCerts
        if conn.caFile:
            kwargs["ca_certs"] = conn.caFile
        if not conn.verifyCerts:
            kwargs["ssl_show_warn"] = False
    return AsyncElasticsearch(**kwargs)


def connection_key(conn: ElasticsearchConnection) -> tuple[object, ...]:
    """Policies with equal keys talk to the same cluster as the same user and can share one
    client and one poller: the URLs plus the auth identity and TLS settings (file *paths*, not
    secrets, so the key is safe to log)."""
    return (
        tuple(sorted(u.rstrip("/") for u in conn.url)),
        conn.apiKeyFile,
        conn.username,
        conn.passwordFile,
        conn.caFile,
        conn.verifyCerts,
    )


# ---------------------------------------------------------------------------------------------
# Retries


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one logical call tries: at most ``attempts`` tries, backoff drawn uniformly
    from ``[0, min(max_backoff, initial_backoff · 2^n)]``, and never starting an attempt
    (or letting one run) past ``deadline`` seconds after the first began."""

    attempts: int = 3
    initial_backoff: float = 0.2
    max_backoff: float = 2.0
    deadline: float | None = None


def is_retryable(exc: BaseException) -> bool:
    """Connection errors, timeouts, 429 and 5xx are worth another try; other 4xx, TLS and
    serialization errors are not."""
    if isinstance(exc, TlsError | SerializationError | UnsupportedProductError):
        return False
    if isinstance(exc, TransportConnectionError | ConnectionTimeout):
        return True
    if isinstance(exc, ApiError):
        status = exc.meta.status
        return status == 429 or status >= 500
    return False


async def _call(
    client: AsyncElasticsearch,
    fn: Callable[[AsyncElasticsearch], Awaitable[T]],
    retry: RetryPolicy,
) -> T:
    start = time.monotonic()
    stop: stop_base = stop_after_attempt(max(1, retry.attempts))
    if retry.deadline is not None:
        stop = stop | stop_before_delay(retry.deadline)
    retrying = AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        wait=wait_random_exponential(multiplier=retry.initial_backoff, max=retry.max_backoff),
        stop=stop,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            c = client
            if retry.deadline is not None:
                left = retry.deadline - (time.monotonic() - start)
                timeout = _request_timeout(client)
                c = client.options(request_timeout=max(0.05, min(timeout, left)))
            return await fn(c)
    raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover


def _request_timeout(client: AsyncElasticsearch) -> float:
    per_client = getattr(client, "_request_timeout", None)
    if isinstance(per_client, int | float):
        return float(per_client)
    nodes = list(client.transport.node_pool.all())
    return float(nodes[0].config.request_timeout or 10.0) if nodes else 10.0


# ---------------------------------------------------------------------------------------------
# Server version


class UnsupportedServer(Exception):
    """The server is not an Elasticsearch version the autoscaler supports (one clear message)."""


@dataclass(frozen=True)
class ServerInfo:
    """What ``GET /`` says about the server."""

    version: str
    major: int
    minor: int
    distribution: str  # "elasticsearch", "opensearch", …
    build_flavor: str | None = None

    def __str__(self) -> str:
        name = "Elasticsearch" if self.distribution == "elasticsearch" else self.distribution
        return f"{name} {self.version}"


_VERSION_RE: Final = re.compile(r"^(\d+)\.(\d+)")


def _parse_info(body: Any) -> ServerInfo:
    if not isinstance(body, dict) or not isinstance(body.get("version"), dict):
        raise UnsupportedServer(
            "GET / did not return an Elasticsearch root document (no 'version' object); "
            "is the URL pointing at Elasticsearch?"
        )
    version = body["version"]
    number = str(version.get("number", ""))
    m = _VERSION_RE.match(number)
    if not m:
        raise UnsupportedServer(f"GET / reported an unreadable version {number!r}")
    distribution = str(version.get("distribution", "elasticsearch")).lower()
    tagline = str(body.get("tagline", ""))
    if "opensearch" in tagline.lower():
        distribution = "opensearch"
    flavor = version.get("build_flavor")
    return ServerInfo(
        version=number,
        major=int(m.group(1)),
        minor=int(m.group(2)),
        distribution=distribution,
        build_flavor=flavor if isinstance(flavor, str) else None,
    )


async def server_info(
    client: AsyncElasticsearch, *, retry: RetryPolicy | None = None
) -> ServerInfo:
    """``GET /`` with ``Accept: */*``, answered as plain JSON by every version (module doc).

    A 2xx without ``X-Elastic-Product`` (OpenSearch, Elasticsearch < 7.14) is still read, so
    ``check_supported`` can name the product and version it refuses.
    """

    async def call(c: AsyncElasticsearch) -> ServerInfo:
        try:
            resp = await c.perform_request("GET", "/", headers={"accept": "*/*"})
        except UnsupportedProductError as e:
            info = _parse_info(e.body)
            if info.distribution == "elasticsearch":
                info = ServerInfo(
                    info.version, info.major, info.minor, "unverified", info.build_flavor
                )
            return info
        return _parse_info(resp.body)

    return await _call(client, call, retry or RetryPolicy())


def check_supported(info: ServerInfo) -> None:
    """Raise ``UnsupportedServer`` unless ``info`` is Elasticsearch 7.17 – 9.x."""
    supported = "Elasticsearch 7.17 to 9.x"
    if info.distribution == "opensearch":
        raise UnsupportedServer(
            f"the server is OpenSearch {info.version}; only {supported} is supported"
        )
    if info.distribution not in ("elasticsearch", "unverified"):
        raise UnsupportedServer(
            f"the server reports distribution {info.distribution!r} {info.version}; "
            f"only {supported} is supported"
        )
    if (info.major, info.minor) < MIN_SUPPORTED or info.major > MAX_MAJOR:
        raise UnsupportedServer(
            f"Elasticsearch {info.version} is not supported (supported: {supported}); "
            "upgrade the cluster or use a release of the autoscaler that supports it"
        )
    if info.distribution == "unverified":
        raise UnsupportedServer(
            f"the server says it is Elasticsearch {info.version} but does not send "
            "'X-Elastic-Product: Elasticsearch'; it is not a supported Elasticsearch"
        )


def request_headers(server: ServerInfo | None) -> dict[str, str]:
    """Headers for a JSON GET to ``server``: 7.x gets ``compatible-with=7`` (which the client
    leaves alone), everything else ``application/json``, which the 8.x client turns into
    ``compatible-with=8``. (Per-call headers win over ``client.options(headers=…)``, which is
    why every call here goes through ``perform_request`` with these.)"""
    if server is not None and server.major == 7:
        return {"accept": COMPAT_7_ACCEPT}
    return {"accept": "application/json"}


async def get_json(
    client: AsyncElasticsearch,
    path: str,
    *,
    params: dict[str, str] | None,
    server: ServerInfo | None,
    retry: RetryPolicy | None,
) -> dict[str, Any]:
    async def call(c: AsyncElasticsearch) -> dict[str, Any]:
        resp = await c.perform_request(
            "GET", path, params=params or None, headers=request_headers(server)
        )
        body = resp.body
        if not isinstance(body, dict):
            raise SerializationError(f"GET {path} returned {type(body).__name__}, not an object")
        return body

    return await _call(client, call, retry or RetryPolicy())


def error_detail(exc: BaseException) -> str:
    """A human-readable message for ``exc``. Transport errors (TLS, connection, timeout) keep
    their cause in ``.message`` — their ``str()`` is only ``"TLS error"`` — and a failed
    certificate check says which setting to look at."""
    if isinstance(exc, TransportError):
        message = str(exc.message)
        if isinstance(exc, TlsError) and "CERTIFICATE_VERIFY_FAILED" in message:
            # The hint goes first: callers shorten long details, and aiohttp's message alone
            # is ~200 characters, so a trailing hint was cut off where it mattered.
            message = (
                "certificate not trusted: caFile must hold the CA that signed the server's "
                f"HTTP certificate, e.g. Elasticsearch's http_ca.crt; {message}"
            )
        return message
    return str(exc)


def error_reason(exc: BaseException) -> str:
    """A short, low-cardinality reason for metrics and logs (``connection``, ``timeout``,
    ``http_503``, ``auth``, ``tls``, ``unsupported_server``, ``bad_response``, ``error``)."""
    if isinstance(exc, UnsupportedServer):
        return "unsupported_server"
    if isinstance(exc, TlsError):
        return "tls"
    if isinstance(exc, ConnectionTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, TransportConnectionError):
        return "connection"
    if isinstance(exc, UnsupportedProductError):
        return "unsupported_server"
    if isinstance(exc, ApiError):
        status = exc.meta.status
        if status in (401, 403):
            return "auth"
        return f"http_{status}"
    if isinstance(exc, SerializationError | ValueError):
        return "bad_response"
    return "error"
