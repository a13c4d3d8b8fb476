"""Compatibility import path for the Elasticsearch REST wire, which now lives in ``sim/es/api/``.

Benches and tests import ``autoscaler.sim.es_api``; the handlers were split into one module
per API family (``autoscaler.sim.es.api``) and this module re-exports the entry points. Code
inside ``autoscaler.sim`` imports from ``autoscaler.sim.es.api`` directly.
"""

from __future__ import annotations

from autoscaler.sim.es.api.routes import build_es_app

__all__ = ["build_es_app"]
