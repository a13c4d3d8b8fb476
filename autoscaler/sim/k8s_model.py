"""Stable import path for the Kubernetes model of the twin (the code lives in ``sim/k8s/``).

The tests import the model's public names from here, so the package can keep its
one-concept-per-module layout without churning importers. Code inside ``autoscaler.sim``
imports from ``autoscaler.sim.k8s`` directly.
"""

from __future__ import annotations

from autoscaler.sim.k8s.errors import K8sError
from autoscaler.sim.k8s.model import K8sModel
from autoscaler.sim.k8s.patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from autoscaler.sim.k8s.selectors import parse_label_selector, selector_string
from autoscaler.sim.k8s.timefmt import human_duration, parse_micro_time
from autoscaler.sim.k8s.types import CONFIGMAPS, LEASES, PODS, STATEFULSETS

__all__ = [
    "CONFIGMAPS",
    "LEASES",
    "PODS",
    "STATEFULSETS",
    "K8sError",
    "K8sModel",
    "PatchError",
    "human_duration",
    "json_patch",
    "merge_patch",
    "parse_label_selector",
    "parse_micro_time",
    "selector_string",
    "strategic_merge_patch",
]
