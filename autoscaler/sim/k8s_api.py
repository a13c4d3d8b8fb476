"""Stable import path for the Kubernetes wire of the twin (the code lives in ``sim/k8s/``).

The tests import the app builder and the authentication seam from here. Code inside
``autoscaler.sim`` imports from ``autoscaler.sim.k8s`` directly.
"""

from __future__ import annotations

from autoscaler.sim.k8s.api import build_k8s_app
from autoscaler.sim.k8s.auth import K8sAuth

__all__ = ["K8sAuth", "build_k8s_app"]
