"""Watch streams over the store's change history, as the apiserver's cacher serves them.

``kubectl get -w``, ``kubectl rollout status`` and informers list, then watch from the list's
``resourceVersion``. The stream is one JSON event per line: ``ADDED``/``MODIFIED``/``DELETED``
with the object, ``BOOKMARK`` (``allowWatchBookmarks=true``) carrying only a newer
``resourceVersion``, and ``ERROR`` with a ``Status`` — notably 410 ``Expired`` ``too old
resource version`` when the requested version left the watch cache; the client must re-list.

Sources: ``staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go`` (``Watch``: an error
from the watch cache becomes a single ERROR event on an otherwise successful stream,
``newErrWatcher``; bookmarks only for clients that allow them, object = the kind with only
``metadata.resourceVersion``), ``cache_watcher.go`` (filtering: an object that stops matching
the selector is sent as DELETED, one that starts matching as ADDED),
``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go`` (``timeoutSeconds``; with
``as=Table`` each event object is a Table). Bookmarks are sent every ``bookmark_interval``
wall seconds (real servers: about once a minute; shortened so tests need not wait — inferred
choice).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
from aiohttp import web

from autoscaler.sim.k8s.errors import K8sError, bad_request
from autoscaler.sim.k8s.history import WatchEvent
from autoscaler.sim.k8s.selectors import field_value, parse_field_selector, parse_label_selector
from autoscaler.sim.k8s.store import ApiStore
from autoscaler.sim.k8s.strategies import event_to_events_v1
from autoscaler.sim.k8s.types import EVENTS_V1, Obj, ResourceType

POLL_SECONDS = 0.05


def _matcher(rt: ResourceType, namespace: str | None, label_selector: str,
             field_selector: str) -> Callable[[Obj], bool]:  # fmt: skip
    labels = parse_label_selector(label_selector) if label_selector else []
    fields = parse_field_selector(rt.resource, field_selector) if field_selector else []

    def matches(obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        if rt.namespaced and namespace is not None and meta.get("namespace", "") != namespace:
            return False
        obj_labels = meta.get("labels") or {}
        if not all(r.matches(obj_labels) for r in labels):
            return False
        return all((field_value(obj, k) == v) == (op == "=") for k, op, v in fields)

    return matches


async def serve_watch(
    request: web.Request,
    store: ApiStore,
    rt: ResourceType,
    namespace: str | None,
    *,
    render: Callable[[Obj], Obj],
    bookmark_interval: float,
) -> web.StreamResponse:
    """Serve one watch request; ``render`` turns a stored object into what the client wants
    (the object itself, or a one-row Table)."""
    query = request.query
    label_selector = query.get("labelSelector", "")
    field_selector = query.get("fieldSelector", "")
    matches = _matcher(rt, namespace, label_selector, field_selector)
    since = query.get("resourceVersion", "")
    if since not in ("", "0") and not since.isdigit():
        raise bad_request(f'resourceVersion: Invalid value: "{since}": invalid value')
    try:
        timeout = float(query.get("timeoutSeconds", "1800"))
    except ValueError as exc:
        raise bad_request(f"invalid timeoutSeconds: {exc}") from exc
    bookmarks = query.get("allowWatchBookmarks", "").lower() not in ("", "0", "false")
    history = store.history(rt)
    initial: list[Obj] = []
    error: K8sError | None = None
    if since in ("", "0"):
        initial, rv_text = store.list(
            rt, namespace, label_selector=label_selector, field_selector=field_selector
        )
        position = int(rv_text)
        pending: list[WatchEvent] = []
    else:
        position = int(since)
        try:
            pending = history.since(position, store.clock.time())
        except K8sError as err:
            pending, error = [], err
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)

    def view(obj: Obj) -> Obj:
        return render(event_to_events_v1(obj) if rt is EVENTS_V1 else obj)

    async def send(kind: str, obj: Obj) -> None:
        line = json.dumps({"type": kind, "object": obj}) + "\n"
        await response.write(line.encode())

    try:
        if error is not None:
            await send("ERROR", error.to_status())
            await response.write_eof()
            return response
        for obj in initial:
            await send("ADDED", render(obj))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_bookmark = loop.time()
        while True:
            for event in pending:
                position = max(position, event.rv)
                if event.type == "DELETED":
                    if matches(event.object):
                        await send("DELETED", view(event.object))
                    continue
                now_matches = matches(event.object)
                was_matching = event.prev is not None and matches(event.prev)
                if now_matches:
                    await send("MODIFIED" if was_matching else "ADDED", view(event.object))
                elif was_matching:  # left the selection: DELETED with the new state
                    await send("DELETED", view(event.object))
            if loop.time() >= deadline:
                break
            if bookmarks and loop.time() - last_bookmark >= bookmark_interval:
                last_bookmark = loop.time()
                position = max(position, int(store.resource_version))
                await send(
                    "BOOKMARK",
                    {
                        "kind": rt.kind,
                        "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(position), "creationTimestamp": None},
                    },
                )
            await asyncio.sleep(POLL_SECONDS)
            if request.transport is None or request.transport.is_closing():
                return response  # the client went away
            try:
                pending = history.since(position, store.clock.time())
            except K8sError as err:  # fell out of the window while we slept
                await send("ERROR", err.to_status())
                break
    except (ConnectionResetError, aiohttp.ClientConnectionResetError):
        return response
    await response.write_eof()
    return response
