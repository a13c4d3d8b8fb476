"""Every Elasticsearch call a scale operation makes: exclusions, voting exclusions, health
waits and shard placement.

The operations runner (``autoscaler/operations``) changes a live cluster; keeping each of its
ES calls here, beside ``client.py``'s retries and version headers, means the wire details —
which scope a setting is written to, how a ``_cat/shards`` RELOCATING row reads, what a 408 from
a health long-poll means — are decided once and tested against the twin with the real client.
The merge of our exclusion names with the user's is a pure function (``merge_exclusion`` /
``remove_ours``) so it can be table-tested on its own.

Wire facts used (tests/fixtures/elasticsearch/BEHAVIOUR.md, which cites the ES sources):

* ``cluster.routing.allocation.exclude._name`` is a comma-separated string; a JSON array is
  accepted and echoed but *not honoured as a list* (§3.4; elastic/elasticsearch issues 30946,
  77773), so we always write a string, even when the user had stored an array. Effective value:
  transient > persistent (§3.2); writing ``null`` removes a key from its scope.
* ``_cat/shards``: one row per copy; a RELOCATING row's ``node`` reads
  ``"<src> -> <ip> <id> <dst>"`` and the target is *not* listed separately (§4.2,
  RestShardsAction), so such a row counts for both ends.
* ``_cluster/health`` long-poll: a wait that ends unmet answers **408** with the usual body and
  ``"timed_out": true`` (§2); that is an answer, not an error. The client's request timeout must
  be longer than the server's ``timeout`` or the client gives up first.
* ``_cluster/allocation/explain`` of a copy on a victim (BEHAVIOUR §9, §18): the drain is
  *blocked* only when the copy may not remain (``can_remain_on_current_node: "no"``), may not
  move (``can_move_to_other_node: "no"``) and every other node's ``node_decision`` is ``"no"``.
  ES prints ``can_move_to_other_node: "no"`` for a *throttled* move too (``MoveDecision``
  ``forceMove()`` is YES-only; elastic/elasticsearch server/src/main/java/org/elasticsearch/
  cluster/routing/allocation/MoveDecision.java), so the per-node verdicts decide (``move_block``).
* ``POST /_cluster/voting_config_exclusions?node_names=…&timeout=…`` returns (200, empty body)
  only once the nodes are out of the *committed* voting configuration, else ``timeout_exception``
  (500, 429 on newer versions) — retrying is safe, exclusions are not duplicated (§5.1,
  TransportAddVotingConfigExclusionsAction). ``DELETE …?wait_for_removal=true`` waits (up to an
  internal 30 s) for the excluded nodes to leave (§5.2). Both are read back from
  ``GET /_cluster/state/metadata?filter_path=metadata.cluster_coordination`` (§5.3).

Retries: through ``client._call`` (tenacity: connection errors, timeouts, 429, 5xx; never other
4xx). Every call has a bounded request timeout; long-polls get ``server timeout + margin``.
The settings read-modify-write has no optimistic concurrency in ES (the settings API has no
version to compare); a user editing the exclusion in the same second can lose a name — inferred
risk, documented, not mitigated.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from elastic_transport import SerializationError
from elasticsearch import ApiError, AsyncElasticsearch

from autoscaler.core.preflight import HealthFacts, IndexFacts, NodeFacts, PreflightInput
from autoscaler.elastic.client import (
    RetryPolicy,
    ServerInfo,
    request_headers,
)
from autoscaler.elastic.client import _call as call_with_retry

__all__ = [
    "EXCLUDE_NAME",
    "ClusterHealth",
    "CopyRef",
    "EsAdmin",
    "EsIndex",
    "EsNode",
    "VotingState",
    "count_copies",
    "indices_from",
    "merge_exclusion",
    "move_block",
    "nodes_from_cat",
    "parse_name_list",
    "parse_relocating_node",
    "preflight_input",
    "remove_ours",
    "roles_from_abbrev",
    "started_copies",
]

EXCLUDE_NAME: Final = "cluster.routing.allocation.exclude._name"
CLUSTER_SHARDS_PER_NODE: Final = "cluster.routing.allocation.total_shards_per_node"
EXPLANATION_LIMIT: Final = 1200
"""Characters of deciders' explanations a blocked drain's failure quotes (they can be long)."""
DECIDER_TEXT_LIMIT: Final = 400
"""Characters of one decider's explanation quoted (a ``same_shard`` text holds a routing)."""
LONG_POLL_MARGIN: Final = 5.0
"""Seconds the client waits beyond a long-poll's server-side ``timeout``."""
DEFAULT_CALL_TIMEOUT: Final = 30.0
"""Request timeout of a plain (non-waiting) admin call."""
VOTING_CLEAR_SERVER_WAIT: Final = 30.0
"""``DELETE voting_config_exclusions`` waits up to this long server-side (BEHAVIOUR §5.2)."""

_ROLE_LETTERS: Final = {
    "c": "data_cold",
    "d": "data",
    "f": "data_frozen",
    "h": "data_hot",
    "i": "ingest",
    "l": "ml",
    "m": "master",
    "r": "remote_cluster_client",
    "s": "data_content",
    "t": "transform",
    "v": "voting_only",
    "w": "data_warm",
}
"""``_cat/nodes`` ``node.role`` letters (BEHAVIOUR §4.4, DiscoveryNodeRole abbreviations)."""


# ---------------------------------------------------------------------------------------------
# Pure helpers


def parse_name_list(value: str | list[str] | None) -> list[str]:
    """``"a, b"`` / ``["a", "b"]`` / ``None`` → ``["a", "b"]``: trimmed, empty entries dropped,
    first occurrence kept. A list's entries may themselves hold commas (``["a,b"]``)."""
    if value is None:
        return []
    parts = (
        value.split(",")
        if isinstance(value, str)
        else [p for v in value for p in str(v).split(",")]
    )
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))


def merge_exclusion(current: str | list[str] | None, ours: Iterable[str]) -> str:
    """The exclusion value with ``ours`` added: the user's names first in their order, then ours
    not already present; de-duplicated, comma-separated without spaces."""
    names = parse_name_list(current)
    for name in parse_name_list(list(ours)):
        if name not in names:
            names.append(name)
    return ",".join(names)


def remove_ours(current: str | list[str] | None, ours: Iterable[str]) -> str:
    """The exclusion value without ``ours``: every other name kept in order (``""`` when none
    is left). Names we never added are untouched, so calling it twice changes nothing."""
    drop = set(parse_name_list(list(ours)))
    return ",".join(n for n in parse_name_list(current) if n not in drop)


def parse_relocating_node(cell: str) -> tuple[str, str | None]:
    """A ``_cat/shards`` ``node`` cell → ``(node, relocation target or None)``.

    ``"es-1 -> 10.0.0.3 Ab12Cd es-3"`` → ``("es-1", "es-3")``; the target part is
    ``<ip> <id> <name>`` and a name may contain spaces, so only the first two fields are split off.
    """
    src, arrow, rest = cell.partition(" -> ")
    if not arrow:
        return cell.strip(), None
    fields = rest.strip().split(" ", 2)
    target = fields[2].strip() if len(fields) == 3 else fields[-1].strip()
    return src.strip(), target or None


def roles_from_abbrev(abbrev: str | None) -> tuple[str, ...]:
    """``"dim"`` → ``("data", "ingest", "master")``; ``"-"``/empty → ``()``. Unknown letters are
    kept as themselves so a new role is visible rather than silently dropped."""
    if not abbrev or abbrev == "-":
        return ()
    return tuple(sorted(_ROLE_LETTERS.get(ch, ch) for ch in abbrev))


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ClusterHealth:
    """``_cluster/health``; ``timed_out`` = a ``wait_for_*`` was not met within ``timeout``."""

    status: str
    number_of_nodes: int
    number_of_data_nodes: int
    relocating_shards: int
    initializing_shards: int
    unassigned_shards: int
    timed_out: bool

    @staticmethod
    def from_body(body: dict[str, Any]) -> ClusterHealth:
        try:
            return ClusterHealth(
                status=str(body["status"]),
                number_of_nodes=int(body["number_of_nodes"]),
                number_of_data_nodes=int(body["number_of_data_nodes"]),
                relocating_shards=int(body["relocating_shards"]),
                initializing_shards=int(body["initializing_shards"]),
                unassigned_shards=int(body["unassigned_shards"]),
                timed_out=bool(body.get("timed_out", False)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SerializationError(f"_cluster/health body lacks {e}") from None


@dataclass(frozen=True)
class EsNode:
    """One node: ``_cat/nodes`` (identity, roles, disk) + ``_cat/allocation`` (shard count; a
    RELOCATING copy counts on its source only there — use ``shard_copies_on`` for drains)."""

    id: str
    name: str
    ip: str
    roles: tuple[str, ...]
    master_eligible: bool
    is_elected_master: bool
    disk_used_bytes: int | None
    disk_total_bytes: int | None
    shards: int


@dataclass(frozen=True)
class EsIndex:
    """One index: shape, ``index.routing.allocation.total_shards_per_node`` (None = unbounded)
    and the bytes all its copies store."""

    name: str
    primaries: int
    replicas: int
    total_shards_per_node: int | None
    store_bytes: int
    require_names: tuple[str, ...] = ()
    """``index.routing.allocation.require._name`` patterns (other attributes are not read)."""
    include_names: tuple[str, ...] = ()
    exclude_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class VotingState:
    """The committed voting configuration (node ids) and the exclusions (id, name) in force."""

    committed_config: frozenset[str]
    exclusions: tuple[tuple[str, str], ...]

    def excluded_names(self) -> list[str]:
        return [name for _, name in self.exclusions]


def preflight_input(
    *,
    health: ClusterHealth,
    nodes: Iterable[EsNode],
    indices: Iterable[EsIndex],
    victims: Iterable[str],
    voting: VotingState | None,
    max_disk_percent: float | None,
    pvc_retention: str | None,
    tier: Iterable[str] | None = None,
    require_pvc_retention: bool = True,
    cluster_shards_per_node: int | None = None,
) -> PreflightInput:
    """The ``core.preflight`` input from what ``EsAdmin`` fetched (one place maps them)."""
    return PreflightInput(
        health=HealthFacts(health.status, health.relocating_shards, health.initializing_shards),
        nodes=tuple(
            NodeFacts(
                name=n.name,
                roles=n.roles,
                master_eligible=n.master_eligible,
                node_id=n.id,
                disk_used_bytes=n.disk_used_bytes,
                disk_total_bytes=n.disk_total_bytes,
            )
            for n in nodes
        ),
        indices=tuple(
            IndexFacts(
                i.name,
                i.primaries,
                i.replicas,
                i.total_shards_per_node,
                require_names=i.require_names,
                include_names=i.include_names,
                exclude_names=i.exclude_names,
            )
            for i in indices
        ),
        victims=tuple(victims),
        tier=None if tier is None else frozenset(tier),
        voting_config=None if voting is None else voting.committed_config,
        max_disk_percent=max_disk_percent,
        pvc_retention=pvc_retention,
        require_pvc_retention=require_pvc_retention,
        cluster_shards_per_node=cluster_shards_per_node,
    )


def nodes_from_cat(
    rows: Iterable[dict[str, Any]], allocation: Iterable[dict[str, Any]]
) -> list[EsNode]:
    """``_cat/nodes`` rows (``h=id,name,ip,node.role,master,disk.used,disk.total``, ``bytes=b``)
    joined with ``_cat/allocation`` rows (``h=node,shards``) by node name."""
    shards = {str(r.get("node")): _int(r.get("shards")) or 0 for r in allocation}
    out = []
    for r in rows:
        roles = roles_from_abbrev(r.get("node.role"))
        name = str(r.get("name") or "")
        out.append(
            EsNode(
                id=str(r.get("id") or ""),
                name=name,
                ip=str(r.get("ip") or ""),
                roles=roles,
                master_eligible="master" in roles,
                is_elected_master=r.get("master") == "*",
                disk_used_bytes=_int(r.get("disk.used")),
                disk_total_bytes=_int(r.get("disk.total")),
                shards=shards.get(name, 0),
            )
        )
    return out


def indices_from(settings: dict[str, Any], shard_rows: Iterable[dict[str, Any]]) -> list[EsIndex]:
    """``GET /_all`` settings (``{index: {"settings": {"index": {...}}}}``, values as strings)
    and ``_cat/shards`` rows (``store`` in bytes) → one ``EsIndex`` per index, by name.
    ``total_shards_per_node`` ``-1`` (ES's "unbounded") becomes ``None``; the ``_name``
    allocation filters are read as name lists (``"a,b"``)."""
    store: dict[str, int] = {}
    for row in shard_rows:
        name = str(row.get("index"))
        store[name] = store.get(name, 0) + (_int(row.get("store")) or 0)
    out = []
    for name, doc in sorted(settings.items()):
        idx = ((doc or {}).get("settings") or {}).get("index") or {}
        alloc = (idx.get("routing") or {}).get("allocation") or {}
        per_node = _int(alloc.get("total_shards_per_node"))

        def names(kind: str, alloc: dict[str, Any] = alloc) -> tuple[str, ...]:
            group = alloc.get(kind)
            raw = group.get("_name") if isinstance(group, dict) else None
            return tuple(parse_name_list(raw if isinstance(raw, str | list) else None))

        out.append(
            EsIndex(
                name=name,
                primaries=_int(idx.get("number_of_shards")) or 0,
                replicas=_int(idx.get("number_of_replicas")) or 0,
                total_shards_per_node=None if per_node is None or per_node < 0 else per_node,
                store_bytes=store.get(name, 0),
                require_names=names("require"),
                include_names=names("include"),
                exclude_names=names("exclude"),
            )
        )
    return out


def count_copies(shard_rows: Iterable[dict[str, Any]], names: Iterable[str]) -> dict[str, int]:
    """Copies per named node from ``_cat/shards`` rows: STARTED and INITIALIZING rows count for
    their node, a RELOCATING row (``"src -> ip id dst"``) for both ends, UNASSIGNED for none."""
    counts = dict.fromkeys(dict.fromkeys(names), 0)
    for row in shard_rows:
        cell = row.get("node")
        if not cell or row.get("state") == "UNASSIGNED":
            continue
        for node in parse_relocating_node(str(cell)):
            if node is not None and node in counts:
                counts[node] += 1
    return counts


@dataclass(frozen=True)
class CopyRef:
    """One shard copy on a node: what ``_cluster/allocation/explain`` needs to name it."""

    index: str
    shard: int
    primary: bool
    node: str

    def label(self) -> str:
        """``[logs][1] replica on es-data-3`` (ES's ``[index][shard]`` plus who and where)."""
        kind = "primary" if self.primary else "replica"
        return f"[{self.index}][{self.shard}] {kind} on {self.node}"


def started_copies(shard_rows: Iterable[dict[str, Any]], names: Iterable[str]) -> list[CopyRef]:
    """The STARTED copies on the named nodes (not RELOCATING — those are leaving — nor
    INITIALIZING, which explain does not judge for a move), in ``_cat/shards`` order."""
    wanted = set(names)
    out = []
    for row in shard_rows:
        node, shard = row.get("node"), _int(row.get("shard"))
        if row.get("state") != "STARTED" or node not in wanted or shard is None:
            continue
        out.append(CopyRef(str(row.get("index")), shard, row.get("prirep") == "p", str(node)))
    return out


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def move_block(body: dict[str, Any], *, limit: int = EXPLANATION_LIMIT) -> str | None:
    """Why the explained copy can never leave its node, or None when it can (or may later).

    Blocked = it may not remain, ``can_move_to_other_node`` is ``"no"`` and *every* other
    node said ``"no"``: a ``throttled`` node (ES prints ``can_move_to_other_node: "no"`` then
    too, with the "busy ... Please wait" explanation), ``yes`` or ``worse_balance`` is not a
    block, nor is an answer without the per-node list. The text lists the NO deciders'
    explanations, nodes with the same words grouped (``es-0, es-1: shards_limit: too many
    shards …``), in ES's node order; each explanation is cut at ``DECIDER_TEXT_LIMIT`` and
    the whole at ``limit`` characters."""
    if body.get("can_remain_on_current_node") != "no":
        return None
    if body.get("can_move_to_other_node") != "no":
        return None
    entries = body.get("node_allocation_decisions")
    if not isinstance(entries, list):
        return None
    reasons: dict[str, list[str]] = {}
    for e in entries:
        if not isinstance(e, dict) or e.get("node_decision") != "no":
            return None
        node = str(e.get("node_name") or e.get("node_id") or "?")
        listed = e.get("deciders")
        deciders: list[Any] = listed if isinstance(listed, list) else []
        texts = [
            _shorten(f"{d.get('decider')}: {d.get('explanation')}", DECIDER_TEXT_LIMIT)
            for d in deciders
            if isinstance(d, dict) and d.get("decision") == "NO"
        ] or ["no"]
        reasons.setdefault("; ".join(texts), []).append(node)
    if not reasons:
        text = "no other node can hold it"
    else:
        text = " | ".join(f"{', '.join(sorted(nodes))}: {why}" for why, nodes in reasons.items())
    return _shorten(text, limit)


# ---------------------------------------------------------------------------------------------
# The calls


def _seconds(value: float) -> str:
    """An ES time value: whole milliseconds (``"1500ms"``); never negative."""
    return f"{max(0, math.ceil(value * 1000))}ms"


class EsAdmin:
    """The admin calls of one cluster. ``server`` (from ``client.server_info``) picks the
    compatibility headers; ``retry`` bounds attempts (its ``deadline`` is ignored for
    long-polls, whose own timeout bounds them)."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        *,
        server: ServerInfo | None,
        retry: RetryPolicy | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        self._client = client
        self._server = server
        self._retry = retry or RetryPolicy()
        self._call_timeout = call_timeout

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        request_timeout: float | None = None,
        long_poll: bool = False,
        retry: bool = True,
    ) -> Any:
        headers = request_headers(self._server)
        if body is not None:
            headers["content-type"] = headers["accept"]
        client = self._client.options(request_timeout=request_timeout or self._call_timeout)
        policy = dataclasses.replace(self._retry, deadline=None) if long_poll else self._retry
        if not retry:
            policy = dataclasses.replace(policy, attempts=1)

        async def call(c: AsyncElasticsearch) -> Any:
            resp = await c.perform_request(
                method, path, params=params or None, headers=headers, body=body
            )
            return resp.body

        return await call_with_retry(client, call, policy)

    async def _get_object(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        body = await self._request("GET", path, params=params)
        if not isinstance(body, dict):
            raise SerializationError(f"GET {path} returned {type(body).__name__}, not an object")
        return body

    async def _get_rows(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        body = await self._request("GET", path, params={"format": "json", **params})
        if not isinstance(body, list):
            raise SerializationError(f"GET {path} returned {type(body).__name__}, not a list")
        return [row for row in body if isinstance(row, dict)]

    # ------------------------------------------------------------------ health

    async def health(
        self,
        *,
        wait_for_status: str | None = None,
        wait_for_no_relocating_shards: bool = False,
        wait_for_no_initializing_shards: bool = False,
        wait_for_nodes: str | None = None,
        wait_for_events: str | None = None,
        timeout: float = 0,  # noqa: ASYNC109 (ES's server-side wait, sent as a parameter)
    ) -> ClusterHealth:
        """``_cluster/health``, long-polling while a ``wait_for_*`` is unmet for up to
        ``timeout`` s. An unmet wait answers ``timed_out=True`` (the server's 408), not an
        exception; the client waits ``timeout + 5 s`` so the server answers first."""
        params: dict[str, str] = {"timeout": _seconds(timeout)}
        if wait_for_status:
            params["wait_for_status"] = wait_for_status
        if wait_for_no_relocating_shards:
            params["wait_for_no_relocating_shards"] = "true"
        if wait_for_no_initializing_shards:
            params["wait_for_no_initializing_shards"] = "true"
        if wait_for_nodes:
            params["wait_for_nodes"] = wait_for_nodes
        if wait_for_events:
            params["wait_for_events"] = wait_for_events
        try:
            body = await self._request(
                "GET",
                "/_cluster/health",
                params=params,
                request_timeout=max(timeout, 0) + LONG_POLL_MARGIN,
                long_poll=True,
            )
        except ApiError as e:
            if e.meta.status == 408 and isinstance(e.body, dict) and "status" in e.body:
                return ClusterHealth.from_body({**e.body, "timed_out": True})
            raise
        if not isinstance(body, dict):
            raise SerializationError("_cluster/health did not return an object")
        return ClusterHealth.from_body(body)

    # ------------------------------------------------------------------ nodes, indices, shards

    async def nodes(self) -> list[EsNode]:
        """Every node (``_cat/nodes``) with its shard count (``_cat/allocation``, data nodes)."""
        rows = await self._get_rows(
            "/_cat/nodes",
            {
                "full_id": "true",
                "bytes": "b",
                "h": "id,name,ip,node.role,master,disk.used,disk.total",
            },
        )
        alloc = await self._get_rows("/_cat/allocation", {"bytes": "b", "h": "node,shards"})
        return nodes_from_cat(rows, alloc)

    async def _shard_rows(self) -> list[dict[str, Any]]:
        return await self._get_rows(
            "/_cat/shards", {"bytes": "b", "h": "index,shard,prirep,state,store,node"}
        )

    async def indices(self) -> list[EsIndex]:
        """Every index (hidden ones too): shards, replicas, the per-node limit and the ``_name``
        allocation filters from ``GET /_all`` (filtered to those settings), stored bytes
        summed from ``_cat/shards``.

        (``GET /_all`` is ``indices:admin/get``, granted by ``view_index_metadata`` in the
        README's minimal role, which tests/integration/security proves call by call;
        ``/_all/_settings`` would need only ``monitor`` — a role change, not made here.)"""
        prefix = "*.settings.index."
        fields = (
            "number_of_shards",
            "number_of_replicas",
            "routing.allocation.total_shards_per_node",
            "routing.allocation.require._name",
            "routing.allocation.include._name",
            "routing.allocation.exclude._name",
        )
        try:
            settings = await self._get_object(
                "/_all",
                {"expand_wildcards": "all", "filter_path": ",".join(prefix + f for f in fields)},
            )
        except ApiError as e:
            if e.meta.status != 404:
                raise
            settings = {}  # no index at all
        return indices_from(settings, await self._shard_rows())

    async def shard_copies_on(self, names: Iterable[str]) -> dict[str, int]:
        """Shard copies each named node holds or is receiving (``_cat/shards``): STARTED and
        INITIALIZING rows count for their node, a RELOCATING row for its source *and* target.
        Zero for every name means the nodes are drained."""
        return count_copies(await self._shard_rows(), names)

    async def drain_view(self, names: Iterable[str]) -> tuple[dict[str, int], list[CopyRef]]:
        """One ``_cat/shards`` read for a drain check: the copies per named node (as
        ``shard_copies_on``) and the STARTED copies still sitting on them (``started_copies``)."""
        wanted = list(names)
        rows = await self._shard_rows()
        return count_copies(rows, wanted), started_copies(rows, wanted)

    async def allocation_explain(
        self, *, index: str, shard: int, primary: bool, current_node: str | None = None
    ) -> dict[str, Any]:
        """``_cluster/allocation/explain`` for one copy (why it stays where it is).

        8.x/9.x servers get the client's own ``cluster.allocation_explain`` (POST, the copy in
        the body); a 7.x server the same request with the ``compatible-with=7`` header, which
        the API method cannot send (its per-call ``accept`` wins, ``client.request_headers``).
        No retry: a failed explain only means "no verdict" to the caller."""
        if self._server is not None and self._server.major == 7:
            body = {"index": index, "shard": shard, "primary": primary}
            if current_node is not None:
                body["current_node"] = current_node
            answer = await self._request(
                "POST", "/_cluster/allocation/explain", body=body, retry=False
            )
        else:
            c = self._client.options(request_timeout=self._call_timeout)
            resp = await c.cluster.allocation_explain(
                index=index, shard=shard, primary=primary, current_node=current_node
            )
            answer = resp.body
        if not isinstance(answer, dict):
            raise SerializationError("allocation explain did not return an object")
        return answer

    async def cluster_shards_per_node(self) -> int | None:
        """The effective ``cluster.routing.allocation.total_shards_per_node`` (transient wins
        over persistent); None when unset or negative (ES: unbounded)."""
        body = await self._get_object("/_cluster/settings", {"flat_settings": "true"})
        value: int | None = None
        for scope in ("persistent", "transient"):
            scoped = (body.get(scope) or {}).get(CLUSTER_SHARDS_PER_NODE)
            if scoped is not None:
                value = _int(scoped)
        return None if value is None or value < 0 else value

    # ------------------------------------------------------------------ allocation exclusion

    async def _exclusion_scopes(self) -> dict[str, str | list[str] | None]:
        body = await self._get_object("/_cluster/settings", {"flat_settings": "true"})
        out: dict[str, str | list[str] | None] = {}
        for scope in ("persistent", "transient"):
            values = body.get(scope) or {}
            if EXCLUDE_NAME in values:
                raw = values[EXCLUDE_NAME]
                out[scope] = raw if isinstance(raw, str | list) else str(raw)
        return out

    async def excluded_names(self) -> list[str]:
        """The effective ``exclude._name`` names (transient wins over persistent)."""
        scopes = await self._exclusion_scopes()
        if "transient" in scopes:
            return parse_name_list(scopes["transient"])
        return parse_name_list(scopes.get("persistent"))

    async def exclude(self, names: Iterable[str]) -> None:
        """Add ``names`` to the exclusion, keeping the user's: written to the scope that is in
        effect (transient when the user set it there, else persistent). No write when every
        name is already excluded."""
        ours = list(names)
        scopes = await self._exclusion_scopes()
        scope = "transient" if "transient" in scopes else "persistent"
        current = scopes.get(scope)
        merged = merge_exclusion(current, ours)
        if isinstance(current, str) and merged == current:
            return
        await self._put_settings({scope: {EXCLUDE_NAME: merged}})

    async def unexclude(self, names: Iterable[str]) -> None:
        """Remove ``names`` from the exclusion in every scope that holds them; the user's names
        stay, an emptied setting is reset (``null``). Idempotent."""
        ours = list(names)
        scopes = await self._exclusion_scopes()
        body: dict[str, dict[str, str | None]] = {}
        for scope, current in scopes.items():
            left = remove_ours(current, ours)
            if parse_name_list(current) != parse_name_list(left):
                body[scope] = {EXCLUDE_NAME: left or None}
        if body:
            await self._put_settings(body)

    async def _put_settings(self, body: dict[str, Any]) -> None:
        await self._request("PUT", "/_cluster/settings", body=body)

    # ------------------------------------------------------------------ voting exclusions

    async def voting_state(self) -> VotingState:
        """The committed voting configuration and the exclusions, from the cluster state."""
        body = await self._get_object(
            "/_cluster/state/metadata", {"filter_path": "metadata.cluster_coordination"}
        )
        coord = (body.get("metadata") or {}).get("cluster_coordination") or {}
        committed = frozenset(str(i) for i in coord.get("last_committed_config") or ())
        exclusions = tuple(
            (str(e.get("node_id")), str(e.get("node_name")))
            for e in coord.get("voting_config_exclusions") or ()
            if isinstance(e, dict)
        )
        return VotingState(committed, exclusions)

    async def add_voting_exclusions(
        self,
        names: Iterable[str],
        *,
        timeout: float = 30,  # noqa: ASYNC109 (ES's server-side wait, sent as a parameter)
    ) -> None:
        """Exclude ``names`` from the voting configuration; returns once they are out of the
        committed configuration (ES waits up to ``timeout``; a timeout is a retried 5xx/429)."""
        wanted = parse_name_list(list(names))
        if not wanted:
            return
        await self._request(
            "POST",
            "/_cluster/voting_config_exclusions",
            params={"node_names": ",".join(wanted), "timeout": _seconds(timeout)},
            request_timeout=timeout + LONG_POLL_MARGIN,
            long_poll=True,
        )

    async def clear_voting_exclusions(
        self,
        *,
        wait_for_removal: bool = True,
        timeout: float = 30,  # noqa: ASYNC109 (ES's master timeout, sent as a parameter)
    ) -> None:
        """Clear every voting exclusion; with ``wait_for_removal`` ES first waits (up to its
        internal 30 s) for the excluded nodes to leave. ``timeout`` is the master timeout."""
        await self._request(
            "DELETE",
            "/_cluster/voting_config_exclusions",
            params={
                "wait_for_removal": "true" if wait_for_removal else "false",
                "master_timeout": _seconds(timeout),
            },
            request_timeout=max(timeout, VOTING_CLEAR_SERVER_WAIT) + LONG_POLL_MARGIN,
            long_poll=True,
        )
