"""Fuzzing the receiver: whatever a client sends, the answer is a documented code, never a 5xx.

The server runs on its own event loop in a thread so hypothesis can drive it from a plain
(synchronous) test with ``http.client``, which sends exactly the bytes and headers we ask for.
A loop-lag probe runs on that loop for the whole fuzz: no request may hold it > 100 ms.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from _webhook_kit import CAPTURES, TOKEN, Server, capture, serve_webhook
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from loop_lag import loop_lag_probe

LIMIT = 4096
DOCUMENTED = {200, 400, 401, 405, 413, 415, 422}
REAL_BODIES = [capture(name)[0] for name in CAPTURES]


@contextmanager
def threaded_server() -> Iterator[Server]:
    """A webhook server on its own loop in a thread, with a loop-lag probe on that loop; on
    exit, fails if any request held the loop longer than 100 ms."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    holder: list[Server] = []
    errors: list[BaseException] = []

    async def main() -> None:
        try:
            async with loop_lag_probe(), serve_webhook(max_bytes=LIMIT) as srv:
                holder.append(srv)
                ready.set()
                await stop.wait()
        except BaseException as e:  # the probe's verdict, reported in the test's thread
            errors.append(e)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10), "webhook server did not start"
    try:
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with threaded_server() as srv:
        yield srv


# ---- strategies ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def mutated_payload(draw: st.DrawFn) -> bytes:
    """A real payload with one field replaced, removed or a value of the wrong type."""
    doc: dict[str, Any] = json.loads(draw(st.sampled_from(REAL_BODIES)))
    alert: dict[str, Any] = doc["alerts"][0]
    target = draw(st.sampled_from([doc, alert, alert["labels"]]))
    key = draw(st.sampled_from(sorted(target)))
    action = draw(st.sampled_from(["replace", "delete", "version"]))
    if action == "delete":
        del target[key]
    elif action == "version":
        doc["version"] = draw(st.sampled_from(["3", "5", 4, None, ""]))
    else:
        target[key] = draw(json_values)
    return json.dumps(doc).encode()


@st.composite
def flipped_bytes(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(REAL_BODIES)))
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(body) - 1))
        body[i] = draw(st.integers(0, 255))
    return bytes(body)


@st.composite
def padded_to_size(draw: st.DrawFn) -> bytes:
    """Valid JSON padded with whitespace to a size around the limit (200 below, 413 above)."""
    body = draw(st.sampled_from(REAL_BODIES))
    size = draw(st.integers(LIMIT - 64, 3 * LIMIT))
    return body + b" " * max(0, size - len(body))


bodies = st.one_of(
    st.sampled_from(REAL_BODIES),
    st.binary(max_size=512),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated_payload(),
    flipped_bytes(),
    padded_to_size(),
)


def mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``common`` about 4 times in 5: most requests should get past the early checks."""
    return st.integers(0, 4).flatmap(lambda n: rare if n == 2 else common)  # 2: not an edge


# printable ASCII: what http.client can put in a header
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
content_types = mostly(
    st.sampled_from(["application/json", "application/json; charset=utf-8"]),
    st.sampled_from(
        [
            "application/json; charset=latin-1",
            "APPLICATION/JSON",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ]
    )
    | header_text
    | st.none(),
)
authorizations = mostly(
    st.just(f"Bearer {TOKEN}"),
    st.sampled_from([f"Bearer {TOKEN}x", "Basic dXNlcjpwYXNz", TOKEN]) | header_text | st.none(),
)
methods = mostly(st.just("POST"), st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]))


def send(
    srv: Server,
    *,
    method: str,
    body: bytes,
    headers: dict[str, str],
    chunked: bool,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        if chunked:
            pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
            conn.request(
                method,
                "/webhook/alertmanager",
                body=iter(pieces),
                headers=headers,
                encode_chunked=True,
            )
        else:
            conn.request(method, "/webhook/alertmanager", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    method=methods,
    body=bodies,
    content_type=content_types,
    authorization=authorizations,
    chunked=st.booleans(),
    gzipped=st.integers(0, 9).map(lambda n: n == 5),  # rarely: it is always a 415
)
def test_no_request_ever_gets_a_5xx_or_an_undocumented_code(
    server: Server,
    method: str,
    body: bytes,
    content_type: str | None,
    authorization: str | None,
    chunked: bool,
    gzipped: bool,
) -> None:
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if authorization is not None:
        headers["Authorization"] = authorization
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body)
    status, answer = send(server, method=method, body=body, headers=headers, chunked=chunked)
    event(f"status {status}")
    assert status in DOCUMENTED
    decoded = json.loads(answer)
    if status == 200:
        assert decoded["status"] == "ok"
    else:
        assert isinstance(decoded["error"], str)
        assert isinstance(decoded["problems"], list)


def test_every_fuzzed_request_is_counted_and_none_as_a_5xx() -> None:
    # Self-contained: its own server and its own (smaller) fuzz, whatever ran before it.
    answered: list[int] = []
    with threaded_server() as srv:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies, content_type=content_types, chunked=st.booleans())
        def fuzz(body: bytes, content_type: str | None, chunked: bool) -> None:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            if content_type is not None:
                headers["Content-Type"] = content_type
            status, _ = send(srv, method="POST", body=body, headers=headers, chunked=chunked)
            answered.append(status)

        fuzz()
        counted: dict[str, float] = {}
        for metric in srv.metrics.registry.collect():
            for s in metric.samples:
                if s.name == "esas_webhook_requests_total":
                    counted[s.labels["code"]] = counted.get(s.labels["code"], 0) + s.value
    assert sum(counted.values()) == len(answered) > 0
    assert not {c for c in counted if c.startswith("5")}
    assert {int(c) for c in counted} == set(answered)
