"""Index data sets for the twin: a realistic default and a parser for ``--indices`` specs.

An empty cluster rebalances in no time and never exercises the drain logic, so out of the
box the twin holds a production-like mix: a dozen-odd indices with one replica, a few
hundred GB of primary data, and one index without replicas spread over every node (losing
any node undrained turns the cluster red, which is exactly the mistake the autoscaler must
never make).

Spec format (``parse_indices_spec``): comma-separated entries ``name:PxR:size`` where
``P`` = primary shards, ``R`` = replicas per primary and ``size`` = total *primary* size
with a unit ``b|kb|mb|gb|tb`` (binary multiples, case-insensitive, decimals allowed), e.g.
``logs:5x1:40gb,metrics:3x1:12.5gb,scratch:2x0:8gb``. Each shard copy is ``size / P``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_UNITS = {"b": 1, "kb": 2**10, "mb": 2**20, "gb": 2**30, "tb": 2**40, "pb": 2**50}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?b)\s*$", re.IGNORECASE)
_ENTRY_RE = re.compile(r"^([^:\s,]+):(\d+)x(\d+):(.+)$")


DEFAULT_ROLES: tuple[str, ...] = ("data", "master", "ingest")
"""Roles of the StatefulSet's nodes unless told otherwise (classic all-round data nodes)."""


@dataclass(frozen=True)
class IndexSpec:
    """One index: ``size_bytes`` is the total primary size (replicas add copies of it)."""

    name: str
    primaries: int
    replicas: int
    size_bytes: int

    def __post_init__(self) -> None:
        if self.primaries < 1:
            raise ValueError(f"index [{self.name}] needs at least one primary shard")
        if self.replicas < 0:
            raise ValueError(f"index [{self.name}] cannot have negative replicas")
        if self.size_bytes < 0:
            raise ValueError(f"index [{self.name}] cannot have a negative size")

    @property
    def shard_bytes(self) -> int:
        return self.size_bytes // self.primaries


def parse_size(text: str) -> int:
    """``"40gb"`` → bytes (binary units, as Elasticsearch reads byte sizes)."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"bad size [{text}]: expected a number with a unit b|kb|mb|gb|tb")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_indices_spec(spec: str) -> list[IndexSpec]:
    """Parse ``name:PxR:size[,name:PxR:size...]`` (see the module docstring)."""
    out: list[IndexSpec] = []
    seen: set[str] = set()
    for raw in spec.split(","):
        entry = raw.strip()
        if not entry:
            continue
        m = _ENTRY_RE.match(entry)
        if not m:
            raise ValueError(
                f"bad index spec [{entry}]: expected name:PxR:size, e.g. logs:5x1:40gb"
            )
        name = m.group(1)
        if name in seen:
            raise ValueError(f"index [{name}] given twice")
        seen.add(name)
        out.append(IndexSpec(name, int(m.group(2)), int(m.group(3)), parse_size(m.group(4))))
    if not out:
        raise ValueError("empty index spec")
    return out


DEFAULT_INDICES_SPEC = ",".join(
    [
        "logs-app-000001:5x1:45gb",
        "logs-app-000002:5x1:45gb",
        "logs-app-000003:5x1:40gb",
        "logs-web-000001:3x1:30gb",
        "metrics-host-000001:3x1:24gb",
        "metrics-host-000002:3x1:20gb",
        "traces-apm-000001:4x1:36gb",
        "orders:6x1:60gb",
        "customers:2x1:10gb",
        "products:1x1:3gb",
        "sessions:3x1:18gb",
        "audit-2025:2x1:25gb",
        "search-catalog:4x1:32gb",
        ".kibana_1:1x1:64mb",
        # 10 primaries, no replica: primaries are laid out round-robin, so 10 consecutive ones
        # land on every node at 2-10 nodes and the highest ordinal always holds one
        "scratch-reindex:10x0:10gb",
    ]
)


def default_indices() -> list[IndexSpec]:
    """The default data set: 15 indices, ~396 GB of primaries (~782 GB stored), one with 0 replicas.

    The replica-less ``scratch-reindex`` has a primary on every node for 2-10 nodes (any seed),
    so removing any node — in particular the highest StatefulSet ordinal — without draining it
    first turns the cluster red (``primary_unassigned``).
    """
    return parse_indices_spec(DEFAULT_INDICES_SPEC)


def total_stored_bytes(indices: Sequence[IndexSpec]) -> int:
    """Bytes on disk across all copies (primaries × (1 + replicas))."""
    return sum(i.shard_bytes * i.primaries * (1 + i.replicas) for i in indices)
