"""Compatibility import path for the Elasticsearch model, which now lives in ``sim/es/``.

Tests and benches import ``autoscaler.sim.cluster``; the model was split along its seams into
``autoscaler.sim.es`` (see that package's docstring) and this module re-exports the names those
callers use, so the split did not ripple through every import. Code inside ``autoscaler.sim``
imports from ``autoscaler.sim.es`` directly.
"""

from __future__ import annotations

from autoscaler.sim.datasets import IndexSpec
from autoscaler.sim.es.cluster import Cluster
from autoscaler.sim.es.config import flatten_settings, structured
from autoscaler.sim.es.errors import EsError, illegal_argument, validation_failed
from autoscaler.sim.es.shards import (
    DATA_ROLES,
    INITIALIZING,
    RELOCATING,
    STARTED,
    UNASSIGNED,
    IndexState,
    Node,
    Recovery,
    ShardCopy,
)
from autoscaler.sim.es.units import format_bytes, format_time, iso_ms, parse_time_value

__all__ = [
    "DATA_ROLES",
    "INITIALIZING",
    "RELOCATING",
    "STARTED",
    "UNASSIGNED",
    "Cluster",
    "EsError",
    "IndexSpec",
    "IndexState",
    "Node",
    "Recovery",
    "ShardCopy",
    "flatten_settings",
    "format_bytes",
    "format_time",
    "illegal_argument",
    "iso_ms",
    "parse_time_value",
    "structured",
    "validation_failed",
]
