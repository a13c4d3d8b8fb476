"""Cluster coordination: voting configuration, quorum, the elected master, voting exclusions.

Removing master-eligible nodes is where a careless scale-down loses a cluster without losing a
single shard: Elasticsearch only has a master while a *quorum* (more than half) of the last
committed voting configuration is alive. This module reproduces the rules the autoscaler must
respect when it removes nodes:

* The voting configuration is computed like ``Reconfigurator.reconfigure`` (read in
  ``elastic/elasticsearch`` ``server/src/main/java/org/elasticsearch/cluster/coordination/
  Reconfigurator.java``): candidates are the live, non-retired (not voting-excluded)
  master-eligible nodes, then the non-live members of the current configuration; ordered
  current master first, live first, in-current-config first, then by node id. Target size =
  ``max(roundDownToOdd(live non-retired), 3 if the non-retired part of the current config has
  >= 3 nodes else 1)`` (``cluster.auto_shrink_voting_configuration`` = true). The new
  configuration is adopted only if its live members form a quorum; otherwise the current one
  stays.
* Quorum = ``2 * |config ∩ live| > |config|`` (``VotingConfiguration.hasQuorum``).
* A master that can no longer reach a quorum of the committed configuration stands down: no
  master, every master-routed API answers 503 ``master_not_discovered_exception``, and the
  twin records the invariant violation ``quorum_lost``. If enough of the configuration comes
  back (same node ids), a master is elected again (new term).
* A master that is voting-excluded and dropped from the configuration abdicates to another
  live member (``Coordinator`` abdication; timing inferred: instant in the twin).
* Voting exclusions (``TransportAddVotingConfigExclusionsAction``): ids/names of absent
  nodes are stored with ``_absent_``; non-master-eligible nodes are skipped; capped by
  ``cluster.max_voting_config_exclusions`` (default 10). The POST returns once no excluded id
  is in the *committed* configuration (``waits_committed``).

Inferred (no source read for the timing): elections and reconfigurations happen at once,
within the membership change that triggers them (ES takes a few hundred ms to seconds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from autoscaler.sim.es.allocator import AllocatorMixin
from autoscaler.sim.es.errors import illegal_argument
from autoscaler.sim.es.shards import Node

ABSENT = "_absent_"


def _round_down_to_odd(size: int) -> int:
    return size - (1 if size % 2 == 0 else 0)


def has_quorum(config: Iterable[str], live: Iterable[str]) -> bool:
    """``VotingConfiguration.hasQuorum``: more than half of ``config`` is in ``live``."""
    cfg = set(config)
    return 2 * len(cfg & set(live)) > len(cfg)


def reconfigure(
    *,
    live: Sequence[str],
    retired: set[str],
    master: str | None,
    current: frozenset[str],
    auto_shrink: bool = True,
) -> frozenset[str]:
    """``Reconfigurator.reconfigure`` over node ids (``live``: live master-eligible ids)."""
    live_set = set(live)
    cands: list[tuple[bool, bool, bool, str]] = []  # sort keys: False sorts first
    for nid in live:
        if nid not in retired:
            cands.append((nid != master, False, nid not in current, nid))
    for nid in sorted(current):
        if nid not in live_set and nid not in retired:
            cands.append((True, True, False, nid))
    cands.sort()
    non_retired_in_config = sum(1 for c in cands if not c[2])
    shrink_floor = 1 if non_retired_in_config < 3 else 3
    minimum = shrink_floor if auto_shrink else non_retired_in_config
    live_count = sum(1 for c in cands if not c[1])
    target = max(_round_down_to_odd(live_count), minimum)
    new = frozenset(c[3] for c in cands[:target])
    if new and has_quorum(new, live_set):
        return new
    return current


class CoordinationMixin(AllocatorMixin):
    """Master election, voting configuration and voting configuration exclusions."""

    # ---- reading ---------------------------------------------------------------------------

    def master(self) -> Node | None:
        """The elected master, or ``None`` while the cluster has no quorum (or no masters)."""
        if self._master_id is None:
            return None
        return self._nodes_by_id.get(self._master_id)

    def voting_config(self) -> list[str]:
        """Node ids of the last committed voting configuration (sorted)."""
        return sorted(self._committed_config)

    @property
    def term(self) -> int:
        return self._term

    def _live_masters(self) -> list[str]:
        return [n.id for n in self._nodes.values() if "master" in n.roles]

    # ---- the coordinator -------------------------------------------------------------------

    def _coordinate(self) -> None:
        """Re-evaluate quorum, master and configuration after membership/exclusions changed."""
        live = self._live_masters()
        if not self._committed_config:
            if not live:
                return
            # cluster bootstrap (cluster.initial_master_nodes = the master nodes present now)
            self._committed_config = frozenset(live)
        live_set = set(live)
        retired = {e["node_id"] for e in self.voting_exclusions}
        if self._master_id is not None and self._master_id not in live_set:
            self._master_id = None
        if not has_quorum(self._committed_config, live_set):
            if self._master_id is not None or not self._quorum_lost:
                self._lose_quorum(live)
            return
        if self._master_id is None:
            self._elect(live, retired)
        for _ in range(2):  # reconfigure; once more after an abdication
            new = reconfigure(
                live=live,
                retired=retired,
                master=self._master_id,
                current=self._committed_config,
                auto_shrink=self._eff_str("cluster.auto_shrink_voting_configuration") != "false",
            )
            self._committed_config = new
            if self._master_id in new:
                break
            self._elect(live, retired)  # the excluded master abdicates

    def _elect(self, live: Sequence[str], retired: set[str]) -> None:
        """Pick a master among live configuration members (non-excluded first, by join order)."""
        order = sorted(
            (self._nodes_by_id[nid] for nid in live),
            key=lambda n: (n.id in retired, n.id not in self._committed_config, n.join_seq),
        )
        before = self._master_id
        self._master_id = order[0].id if order else None
        if self._master_id is not None and self._master_id != before:
            self._term += 1
            self._quorum_lost = False
            self._dirty = True

    def _lose_quorum(self, live: Sequence[str]) -> None:
        self._master_id = None
        self._quorum_lost = True
        names = {n.id: n.name for n in self._nodes.values()}
        self._invariants.append(
            {
                "at": self._now(),
                "kind": "quorum_lost",
                "voting_config": sorted(self._committed_config),
                "live_voting_nodes": sorted(names[i] for i in live if i in self._committed_config),
                "missing_voting_nodes": sorted(
                    self._departed_names.get(i, i) for i in self._committed_config if i not in live
                ),
            }
        )

    # ---- voting configuration exclusions ---------------------------------------------------

    def add_voting_exclusions(
        self, *, node_names: Sequence[str] = (), node_ids: Sequence[str] = ()
    ) -> list[dict[str, str]]:
        """Add exclusions (validated as ES does); returns the resolved exclusions of this call."""
        existing = {(e["node_id"], e["node_name"]) for e in self.voting_exclusions}
        new: list[dict[str, str]] = []
        resolved: list[dict[str, str]] = []
        for name in node_names:
            n = self._nodes.get(name)
            if n is not None and "master" not in n.roles:
                continue
            e = {"node_id": n.id if n else ABSENT, "node_name": name}
            resolved.append(e)
            if (e["node_id"], e["node_name"]) not in existing:
                new.append(e)
        for nid in node_ids:
            n = self._nodes_by_id.get(nid)
            if n is not None and "master" not in n.roles:
                continue
            e = {"node_id": nid, "node_name": n.name if n else ABSENT}
            resolved.append(e)
            if (e["node_id"], e["node_name"]) not in existing:
                new.append(e)
        limit = int(self._eff_str("cluster.max_voting_config_exclusions") or "10")
        if len(self.voting_exclusions) + len(new) > limit:
            what = (
                f"nodes named [{', '.join(node_names)}]"
                if node_names
                else f"nodes with ids [{', '.join(node_ids)}]"
            )
            raise illegal_argument(
                f"add voting config exclusions request for {what} would add [{len(new)}] exclusions to "
                f"the existing [{len(self.voting_exclusions)}] which would exceed the maximum of "
                f"[{limit}] set by [cluster.max_voting_config_exclusions]"
            )
        self.voting_exclusions.extend(new)
        if self._master_id is not None:
            self._coordinate()
        return resolved

    def exclusions_committed(self, exclusions: Sequence[dict[str, str]]) -> bool:
        """True once no excluded node id is in the last committed configuration."""
        return not any(e["node_id"] in self._committed_config for e in exclusions)

    def excluded_still_present(self) -> list[dict[str, str]]:
        """Exclusions whose node id is still in the cluster (``nodes().nodeExists(id)``, as
        ``TransportClearVotingConfigExclusionsAction`` checks: ids, not names)."""
        return [e for e in self.voting_exclusions if e["node_id"] in self._nodes_by_id]

    def clear_voting_exclusions(self) -> None:
        self.voting_exclusions = []
        if self._master_id is not None:
            self._coordinate()
