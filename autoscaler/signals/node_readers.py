"""Fast readers of decoded ``_nodes/stats`` nodes: what a poll of 1,000 nodes spends its time on.

Why a module of its own: ``signals.nodes`` holds the *reference* reading of every version's
fields (``_parse_node``), written to be read by people; this module holds the reader that
gives the same rows faster, for nodes shaped the way a JSON decoder leaves them (plain dicts,
ints, floats). Anything it does not recognise raises ``Unusual`` inside the loop and the node
goes to the reference reader, so values and error messages cannot differ
(``tests/unit/signals/test_nodes_fast_path.py`` holds them equal, on captures and on random
node sets).

``compiled_reader`` learns the *shape* of a node (which of the fields the reference reader
prefers are present) and compiles, once per shape, a loop that reads exactly those fields with
plain subscripts, checks that every field that would change the reading is absent, and hands
any node that does not fit to the caller's per-node reader (``nodes._read_node``: the loop of
that node's own shape, else the reference reader). A poll's body is filtered (``filter_path``)
so every node has the first node's shape; the compiled loop reads 1,000 nodes of every metric
in about 1.7 ms of CPU (issue 10, ``bench/RESULTS.md``).

Pure: no IO, no clock; the compiled loops are cached per shape (a handful per process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

__all__ = ["NodeRow", "Reader", "Unusual", "compiled_reader"]

NodeRow = tuple[
    str,
    str,
    frozenset[str],
    float,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
]
"""A ``NodeSample``'s fields as a plain tuple, in field order (``row_of``)."""


class Unusual(Exception):
    """A node not in the common shape; ``nodes._parse_node`` (the reference reader) takes over."""


# ---------------------------------------------------------------------------------------------
# Shape-compiled reader

_Path = tuple[str, ...]

# Every value a row column is read from: (column, the path the reference reader prefers, the
# paths it reads instead when that one is missing or not a finite number). Same order of
# preference as ``nodes._parse_node``; ``fs_total``/``fs_avail`` make ``disk``.
_LEAVES: Final[tuple[tuple[str, _Path, tuple[_Path, ...]], ...]] = (
    ("ts", ("timestamp",), ()),
    (
        "cpu",
        ("os", "cpu", "percent"),
        (("os", "cpu_percent"), ("process", "cpu", "percent")),
    ),
    ("load1", ("os", "cpu", "load_average", "1m"), ()),
    (
        "heap",
        ("jvm", "mem", "heap_used_percent"),
        (("jvm", "mem", "heap_used_in_bytes"), ("jvm", "mem", "heap_max_in_bytes")),
    ),
    ("up", ("jvm", "uptime_in_millis"), ()),
    ("fs_total", ("fs", "total", "total_in_bytes"), ()),
    ("fs_avail", ("fs", "total", "available_in_bytes"), ()),
    ("sq", ("thread_pool", "search", "queue"), ()),
    ("sr", ("thread_pool", "search", "rejected"), ()),
    (
        "wq",
        ("thread_pool", "write", "queue"),
        (("thread_pool", "bulk", "queue"), ("thread_pool", "index", "queue")),
    ),
    (
        "wr",
        ("thread_pool", "write", "rejected"),
        (("thread_pool", "bulk", "rejected"), ("thread_pool", "index", "rejected")),
    ),
    ("qt", ("indices", "search", "query_total"), ()),
    ("qms", ("indices", "search", "query_time_in_millis"), ()),
    ("it", ("indices", "indexing", "index_total"), ()),
)
_NONNEG: Final = frozenset({"cpu", "load1"})  # Elasticsearch's -1 ("not available") → None

General = Callable[[Any, Any, dict[tuple[str, ...], frozenset[str]]], NodeRow]
"""The per-node reader a compiled loop hands odd nodes to: ``(node_id, node, roles_cache)``."""

Reader = Callable[
    [Iterable[tuple[Any, Any]], dict[tuple[str, ...], frozenset[str]], General], list[NodeRow]
]
"""A compiled loop: ``(nodes.items(), roles_cache, general) → rows`` in body order."""

_COMPILED: dict[frozenset[str], Reader] = {}
_MAX_COMPILED: Final = 64


def _present(node: dict[str, Any], path: _Path) -> bool:
    cur: Any = node
    for seg in path:
        if type(cur) is not dict:
            return False
        cur = cur.get(seg)
    return cur is not None


def compiled_reader(first_node: Any) -> Reader | None:
    """The compiled loop for bodies shaped like ``first_node`` (``None`` when that node is
    not a plain dict with ``timestamp``, ``name`` and ``roles``: the caller reads node by
    node)."""
    if type(first_node) is not dict or not all(
        first_node.get(k) is not None for k in ("timestamp", "name", "roles")
    ):
        return None
    shape = frozenset(col for col, path, _ in _LEAVES if _present(first_node, path))
    reader = _COMPILED.get(shape)
    if reader is None:
        if len(_COMPILED) >= _MAX_COMPILED:  # odd bodies (fuzzing) must not grow it forever
            _COMPILED.clear()
        reader = _COMPILED[shape] = _compile(shape)
    return reader


def _compile(shape: frozenset[str]) -> Reader:
    """The source of the loop for one shape, compiled. The source is built from the constant
    tables above only (never from a body), so what it reads is fixed by the shape."""
    walked: dict[_Path, str] = {(): "node"}
    walk: list[str] = []
    for col, path, _ in _LEAVES:
        if col in shape:
            for i in range(1, len(path)):
                if path[:i] not in walked:
                    var = walked[path[:i]] = f"d{len(walked)}"
                    walk.append(f"{var} = {walked[path[: i - 1]]}[{path[i - 1]!r}]")
    # A field the reference reader would read instead of (or besides) what this shape reads:
    # a node that has it, where this shape has nothing, is not of this shape.
    absent: list[str] = []
    for col, path, others in _LEAVES:
        if col in shape:
            continue
        for p in (path, *others):
            k = max(i for i in range(len(p)) if p[:i] in walked)
            check = f"if {p[k]!r} in {walked[p[:k]]}:\n    raise Unusual"
            if check not in absent:
                absent.append(check)
    read: list[str] = []
    for col, path, _ in _LEAVES:
        if col not in shape:
            continue
        read.append(
            f"v = {walked[path[:-1]]}[{path[-1]!r}]\n"
            f"if type(v) is int:\n    {col} = v + 0.0\n"  # = float(v), OverflowError beyond
            f"elif type(v) is float and v - v == 0.0:\n    {col} = v\n"  # finite (not NaN/inf)
            f"else:\n    raise Unusual"
        )
        if col in _NONNEG:
            read.append(f"if {col} < 0:\n    {col} = None")
    has_disk = {"fs_total", "fs_avail"} <= shape
    if has_disk:
        read.append("disk = 100.0 * (1.0 - fs_avail / fs_total) if fs_total else None")
    row = ["nid", "name", "roles", "ts / 1000.0"]  # then NodeRow's metric columns, in order
    for col in ("cpu", "heap", "disk", "load1", "sq", "wq", "qt", "qms", "it", "sr", "wr", "up"):
        row.append(col if col in shape or (col == "disk" and has_disk) else "None")
    columns = ", ".join(row)
    body = "\n".join(
        [
            "if type(nid) is not str:\n    raise Unusual",
            'name = node["name"]',
            'raw = node["roles"]',
            "if type(name) is not str or type(raw) is not list:\n    raise Unusual",
            # Neighbours mostly share roles: comparing lists is cheaper than hashing a tuple
            # of new strings. A miss in the cache: the general reader validates and fills it.
            "if raw == last_raw:\n    roles = last_roles\n"
            "else:\n    roles = roles_cache[tuple(raw)]\n    last_raw, last_roles = raw, roles",
            *walk,
            *absent,
            *read,
        ]
    )
    source = (
        "def read(items, roles_cache, general):\n"
        "    out = []\n"
        "    append = out.append\n"
        "    last_raw = last_roles = None\n"
        "    for nid, node in items:\n"
        "        try:\n"
        + _indent(body, 12)
        + "\n        except (LookupError, TypeError, OverflowError, Unusual):\n"
        "            pass\n"
        "        else:\n"
        f"            append(({columns}))\n"
        "            continue\n"
        "        append(general(nid, node, roles_cache))\n"
        "    return out\n"
    )
    namespace: dict[str, Any] = {"Unusual": Unusual}
    exec(compile(source, f"<node reader {sorted(shape)}>", "exec"), namespace)
    reader: Reader = namespace["read"]
    reader.__doc__ = source  # what it runs, for whoever debugs it
    return reader


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in text.split("\n"))
