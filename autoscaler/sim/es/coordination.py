"""Cluster coordination: the elected master and voting configuration exclusions."""

from __future__ import annotations

from collections.abc import Sequence

from autoscaler.sim.es.allocator import AllocatorMixin
from autoscaler.sim.es.errors import illegal_argument
from autoscaler.sim.es.shards import (
    Node,
)


class CoordinationMixin(AllocatorMixin):
    """Master election and voting configuration."""

    def master(self) -> Node | None:
        excluded = {e["node_id"] for e in self.voting_exclusions}
        for n in self._nodes.values():
            if "master" in n.roles and n.id not in excluded:
                return n
        for n in self._nodes.values():
            if "master" in n.roles:
                return n
        return None

    def add_voting_exclusions(
        self, *, node_names: Sequence[str] = (), node_ids: Sequence[str] = ()
    ) -> None:
        existing = {(e["node_id"], e["node_name"]) for e in self.voting_exclusions}
        new: list[dict[str, str]] = []
        for name in node_names:
            n = self._nodes.get(name)
            if n is not None and "master" not in n.roles:
                continue
            e = {"node_id": n.id if n else "_absent_", "node_name": name}
            if (e["node_id"], e["node_name"]) not in existing:
                new.append(e)
        for nid in node_ids:
            n = self._nodes_by_id.get(nid)
            if n is not None and "master" not in n.roles:
                continue
            e = {"node_id": nid, "node_name": n.name if n else "_absent_"}
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

    def excluded_still_present(self) -> list[dict[str, str]]:
        return [
            e
            for e in self.voting_exclusions
            if e["node_id"] in self._nodes_by_id or e["node_name"] in self._nodes
        ]

    def clear_voting_exclusions(self) -> None:
        self.voting_exclusions = []

    def voting_config(self) -> list[str]:
        excluded = {e["node_id"] for e in self.voting_exclusions}
        return [n.id for n in self._nodes.values() if "master" in n.roles and n.id not in excluded]
