"""Stable import path for the Kubernetes wire of the twin (the code lives in ``sim/k8s/``).

The tests import the app builder, the authentication seam and the request classification from
here. Code inside ``autoscaler.sim`` imports from ``autoscaler.sim.k8s`` directly.
"""

from __future__ import annotations

from autoscaler.sim.k8s.api import K8sApi, add_k8s_routes, build_k8s_app
from autoscaler.sim.k8s.auth import K8S_USER_KEY, K8sAuth, auth_middleware
from autoscaler.sim.k8s.discovery import K8S_VERSION, SERVED
from autoscaler.sim.k8s.reqinfo import RequestInfo, request_info
from autoscaler.sim.k8s.responses import json_response, status_response

__all__ = [
    "K8S_USER_KEY",
    "K8S_VERSION",
    "SERVED",
    "K8sApi",
    "K8sAuth",
    "RequestInfo",
    "add_k8s_routes",
    "auth_middleware",
    "build_k8s_app",
    "json_response",
    "request_info",
    "status_response",
]
