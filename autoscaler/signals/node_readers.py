"""Fast readers of decoded ``_nodes/stats`` nodes: what a poll of 1,000 nodes spends its time on.

Why a module of its own: ``signals.nodes`` holds the *reference* reading of every version's
fields (``_parse_node``), written to be read by people; this module holds the two readers that
give the same rows faster, for nodes shaped the way a JSON decoder leaves them (plain dicts,
ints, floats). Anything they do not recognise raises ``Unusual`` and the reference reader
takes over, so values and error messages cannot differ (``tests/unit/signals/
test_nodes_fast_path.py`` holds all three equal, on captures and on random node sets).

* ``read_node_fast`` reads one node, looking each group up with ``dict.get`` (any shape).
* ``compiled_reader`` reads a whole body: it learns the *shape* of the first node (which of
  the fields the reference reader prefers are present) and compiles, once per shape, a loop
  that reads exactly those fields with plain subscripts, checks that every field that would
  change the reading is absent, and hands any node that does not fit to ``read_node_fast``.
  A poll's body is filtered (``filter_path``) so every node has the same shape; the compiled
  loop then costs about two thirds of ``read_node_fast`` per node (1.7 ms against 2.3–2.5 ms
  of CPU for 1,000 nodes and every metric; issue 10, ``bench/RESULTS.md`` footnote 3).

Pure: no IO, no clock; the compiled loops are cached per shape (a handful per process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

__all__ = ["NodeRow", "Reader", "Unusual", "compiled_reader", "read_node_fast"]

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


_INF: Final = float("inf")


# The fast reader converts the common case inline: ``v + 0.0 if type(v) is int`` is
# ``float(v)`` (both convert with PyLong_AsDouble: same rounding, same OverflowError for an int
# beyond a double) without a call per field; every other value goes through ``_fnum``.


def _fnum(value: Any) -> float | None:
    """``_num`` of a value already looked up: what json.loads/orjson give for a number."""
    if value is None:
        return None
    kind = type(value)
    if kind is float:
        return value if -_INF < value < _INF else None  # NaN and ±inf → missing
    if kind is int:
        return float(value)
    raise Unusual


def _sub(obj: Any, key: str) -> Any:
    """``obj[key]`` of a JSON object (``None`` when ``obj`` is ``None`` or lacks ``key``)."""
    if obj is None:
        return None
    if type(obj) is not dict:
        raise Unusual
    return obj.get(key)


def read_node_fast(
    node_id: str, node: Any, roles_cache: dict[tuple[str, ...], frozenset[str]]
) -> NodeRow:
    """``_parse_node`` for nodes shaped as decoded JSON (plain dicts, ints and floats): the
    same sample as a ``NodeRow``, several times cheaper (a poll of 1,000 nodes parses every
    node). Anything unusual — a missing timestamp, a wrong type, a non-dict mapping — raises
    ``Unusual`` and the reference reader handles the node, so errors read exactly the same."""
    if type(node) is not dict:
        raise Unusual
    get = node.get
    v = get("timestamp")
    ts = v + 0.0 if type(v) is int else _fnum(v)
    name = get("name", node_id)
    raw_roles = get("roles", [])
    if ts is None or type(name) is not str or type(raw_roles) is not list:
        raise Unusual
    role_key = tuple(raw_roles)
    roles = roles_cache.get(role_key)
    if roles is None:
        if not all(type(r) is str for r in raw_roles):
            raise Unusual
        roles = roles_cache[role_key] = frozenset(raw_roles)

    # Each group is looked into only when the body has it (a filtered body has few).
    cpu = load1 = heap = disk = None
    search_queue = search_rejected = write_queue = write_rejected = None
    query_total = query_time_ms = index_total = uptime_ms = None
    os_ = get("os")
    if os_ is not None:
        if type(os_) is not dict:
            raise Unusual
        os_cpu = os_.get("cpu")
        if os_cpu is not None:
            if type(os_cpu) is not dict:
                raise Unusual
            v = os_cpu.get("percent")
            cpu = v + 0.0 if type(v) is int else _fnum(v)
            load_average = os_cpu.get("load_average")
            if load_average is not None:
                if type(load_average) is not dict:
                    raise Unusual
                v = load_average.get("1m")
                load1 = v + 0.0 if type(v) is int else _fnum(v)
                if load1 is not None and load1 < 0:
                    load1 = None
        if cpu is None:
            v = os_.get("cpu_percent")
            cpu = v + 0.0 if type(v) is int else _fnum(v)
    if cpu is None:
        v = _sub(_sub(get("process"), "cpu"), "percent")
        cpu = v + 0.0 if type(v) is int else _fnum(v)
    if cpu is not None and cpu < 0:
        cpu = None

    jvm = get("jvm")
    if jvm is not None:
        if type(jvm) is not dict:
            raise Unusual
        mem = jvm.get("mem")
        if mem is not None:
            if type(mem) is not dict:
                raise Unusual
            v = mem.get("heap_used_percent")
            heap = v + 0.0 if type(v) is int else _fnum(v)
            if heap is None:
                v = mem.get("heap_used_in_bytes")
                used = v + 0.0 if type(v) is int else _fnum(v)
                v = mem.get("heap_max_in_bytes")
                hmax = v + 0.0 if type(v) is int else _fnum(v)
                if used is not None and hmax:
                    heap = 100.0 * used / hmax
        v = jvm.get("uptime_in_millis")
        uptime_ms = v + 0.0 if type(v) is int else _fnum(v)

    fs = get("fs")
    if fs is not None:
        if type(fs) is not dict:
            raise Unusual
        fs_total = fs.get("total")
        if fs_total is not None:
            if type(fs_total) is not dict:
                raise Unusual
            v = fs_total.get("total_in_bytes")
            total = v + 0.0 if type(v) is int else _fnum(v)
            v = fs_total.get("available_in_bytes")
            avail = v + 0.0 if type(v) is int else _fnum(v)
            if total and avail is not None:
                disk = 100.0 * (1.0 - avail / total)

    pools = get("thread_pool")
    if pools is not None:
        if type(pools) is not dict:
            raise Unusual
        search_pool = pools.get("search")
        if search_pool is not None:
            if type(search_pool) is not dict:
                raise Unusual
            v = search_pool.get("queue")
            search_queue = v + 0.0 if type(v) is int else _fnum(v)
            v = search_pool.get("rejected")
            search_rejected = v + 0.0 if type(v) is int else _fnum(v)
        pool = pools.get("write")  # the first of _WRITE_POOLS present
        if pool is None:
            pool = pools.get("bulk")
            if pool is None:
                pool = pools.get("index")
        if pool is not None:
            if type(pool) is not dict:
                raise Unusual
            v = pool.get("queue")
            write_queue = v + 0.0 if type(v) is int else _fnum(v)
            v = pool.get("rejected")
            write_rejected = v + 0.0 if type(v) is int else _fnum(v)

    indices = get("indices")
    if indices is not None:
        if type(indices) is not dict:
            raise Unusual
        search = indices.get("search")
        if search is not None:
            if type(search) is not dict:
                raise Unusual
            v = search.get("query_total")
            query_total = v + 0.0 if type(v) is int else _fnum(v)
            v = search.get("query_time_in_millis")
            query_time_ms = v + 0.0 if type(v) is int else _fnum(v)
        indexing = indices.get("indexing")
        if indexing is not None:
            if type(indexing) is not dict:
                raise Unusual
            v = indexing.get("index_total")
            index_total = v + 0.0 if type(v) is int else _fnum(v)

    return (
        node_id,
        name,
        roles,
        ts / 1000.0,
        cpu,
        heap,
        disk,
        load1,
        search_queue,
        write_queue,
        query_total,
        query_time_ms,
        index_total,
        search_rejected,
        write_rejected,
        uptime_ms,
    )


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
