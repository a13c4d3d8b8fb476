"""Compatibility import path for the Elasticsearch model, which now lives in ``sim/es/``.

Tests and benches import ``autoscaler.sim.cluster``; the model was split along its seams into
``autoscaler.sim.es`` (see that package's docstring) and this module re-exports the names those
callers use, so the split did not ripple through every import. Code inside ``autoscaler.sim``
imports from ``autoscaler.sim.es`` directly.
"""

from __future__ import annotations

from autoscaler.sim.es.cluster import Cluster
from autoscaler.sim.es.config import structured
from autoscaler.sim.es.errors import EsError
from autoscaler.sim.es.shards import INITIALIZING, RELOCATING, STARTED, UNASSIGNED
from autoscaler.sim.es.units import format_bytes, format_time, parse_time_value

__all__ = [
    "INITIALIZING",
    "RELOCATING",
    "STARTED",
    "UNASSIGNED",
    "Cluster",
    "EsError",
    "format_bytes",
    "format_time",
    "parse_time_value",
    "structured",
]
