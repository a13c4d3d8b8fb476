"""Response filtering with ``filter_path``, the way Elasticsearch applies it to any JSON body.

Clients (the autoscaler among them) ask for ``filter_path=nodes.*.os.cpu,**.available_in_bytes``
to keep node-stats payloads small; the twin must honour the same rules so a filter that works
against the twin also works against a real cluster:

* a comma-separated list of dotted paths; ``*`` matches any characters within one key,
  ``**`` matches any number of levels (including none);
* a leading ``-`` excludes; exclusions are applied first, inclusions to what is left;
* arrays are transparent (their elements are filtered with the array's own path);
* objects/arrays that end up empty are dropped; if nothing matches the body is ``{}``.
"""

from __future__ import annotations

from typing import Any

from autoscaler.sim.es.units import glob_rx

_Pattern = tuple[str, ...]
_MISSING: Any = object()


def parse_filter_path(raw: str | list[str] | None) -> tuple[list[_Pattern], list[_Pattern]]:
    """Split a ``filter_path`` value into (inclusions, exclusions) as segment tuples."""
    if raw is None:
        return [], []
    items = raw if isinstance(raw, list) else [raw]
    inc: list[_Pattern] = []
    exc: list[_Pattern] = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            target = inc
            if part.startswith("-"):
                part = part[1:]
                target = exc
            segs = tuple(s for s in part.split(".") if s)
            if segs:
                target.append(segs)
    return inc, exc


def _seg_match(segment: str, key: str) -> bool:
    if "*" not in segment:
        return segment == key
    return glob_rx(segment).match(key) is not None


def _advance(states: list[_Pattern], key: str) -> tuple[bool, list[_Pattern]]:
    """Feed one key to every pattern state; return (fully matched, remaining states)."""
    full = False
    out: list[_Pattern] = []
    stack = list(states)
    while stack:
        st = stack.pop()
        if not st:
            full = True
            continue
        head = st[0]
        if head == "**":
            rest = st[1:]
            if not rest:
                full = True
                continue
            out.append(st)  # ** swallows this key and stays
            stack.append(rest)  # ** matches zero levels: try the rest on this key
            continue
        if _seg_match(head, key):
            nxt = st[1:]
            if not nxt:
                full = True
            else:
                out.append(nxt)
    return full, out


def _include(value: Any, states: list[_Pattern]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            full, nxt = _advance(states, k)
            if full:
                out[k] = v
            elif nxt:
                r = _include(v, nxt)
                if r is not _MISSING:
                    out[k] = r
        return out if out else _MISSING
    if isinstance(value, list):
        items = [r for r in (_include(v, states) for v in value) if r is not _MISSING]
        return items if items else _MISSING
    return _MISSING


def _exclude(value: Any, states: list[_Pattern]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            full, nxt = _advance(states, k)
            if full:
                continue
            if nxt:
                r = _exclude(v, nxt)
                if r is _MISSING:
                    continue
                out[k] = r
            else:
                out[k] = v
        return out if (out or not value) else _MISSING
    if isinstance(value, list):
        items = [r for r in (_exclude(v, states) for v in value) if r is not _MISSING]
        return items if (items or not value) else _MISSING
    return value


def apply_filter_path(body: Any, raw: str | list[str] | None) -> Any:
    """Return ``body`` filtered by a ``filter_path`` parameter value (``None`` = unfiltered)."""
    inc, exc = parse_filter_path(raw)
    if not inc and not exc:
        return body
    result = body
    if exc:
        result = _exclude(result, exc)
        if result is _MISSING:
            return {}
    if inc:
        result = _include(result, inc)
        if result is _MISSING:
            return {}
    return result
