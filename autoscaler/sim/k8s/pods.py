"""Pods as the kubelet would report them: lifecycle bookkeeping and the rendered status.

The controller decides *when* a pod starts, becomes Ready or goes away; this module turns that
bookkeeping into the ``status`` block clients read (phase, conditions, container states, IPs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from autoscaler.sim.k8s.timefmt import format_time
from autoscaler.sim.k8s.types import Obj


@dataclass
class PodState:
    """Controller-side bookkeeping for a pod (what a kubelet would know)."""

    sts: str
    ordinal: int
    created_at: float
    ready_at: float | None
    started_at: float
    ready: bool = False
    terminating_since: float | None = None
    gone_at: float | None = None
    restart_count: int = 0
    ever_ready: bool = False
    #: the pod IP (a new pod gets a new IP; the twin hands it to the ES node it runs)
    ip: str = ""
    #: ``controller-revision-hash`` the pod was created from
    revision: str = ""
    #: seconds the kubelet waits after SIGTERM (``terminationGracePeriodSeconds``)
    grace_seconds: float = 30.0


def pod_status(pod: Obj, ps: PodState, now: float) -> Obj:
    terminating = ps.terminating_since is not None
    started = now >= ps.started_at
    running = started or ps.ever_ready
    containers = (pod.get("spec") or {}).get("containers") or []
    when = format_time(now)
    prev: dict[str, str] = {
        c["type"]: c.get("lastTransitionTime", when)
        for c in (pod.get("status") or {}).get("conditions", [])
    }
    prev_status = {
        c["type"]: c.get("status") for c in (pod.get("status") or {}).get("conditions", [])
    }

    def cond(kind: str, ok: bool) -> Obj:
        status = "True" if ok else "False"
        ts = prev.get(kind, when) if prev_status.get(kind) == status else when
        return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": ts}

    statuses = []
    for c in containers:
        entry: Obj = {
            "name": c.get("name", ""),
            "image": c.get("image", ""),
            "imageID": f"{c.get('image', '')}@sha256:{'0' * 64}",
            "ready": ps.ready,
            "restartCount": ps.restart_count,
            "started": started and not terminating,
        }
        if started and not terminating:
            entry["state"] = {"running": {"startedAt": format_time(ps.started_at)}}
            entry["containerID"] = (
                f"containerd://{hashlib.sha1(pod['metadata']['uid'].encode()).hexdigest()}"
            )
        else:
            reason = "CrashLoopBackOff" if ps.restart_count else "ContainerCreating"
            entry["state"] = {"waiting": {"reason": reason}}
        statuses.append(entry)
    ordinal = ps.ordinal
    return {
        "phase": "Running" if running else "Pending",
        "conditions": [
            cond("Initialized", True),
            cond("Ready", ps.ready),
            cond("ContainersReady", ps.ready),
            cond("PodScheduled", True),
        ],
        "hostIP": f"192.168.0.{ordinal % 3 + 11}",
        "podIP": ps.ip,
        "podIPs": [{"ip": ps.ip}],
        "startTime": format_time(ps.created_at),
        "containerStatuses": statuses,
        "qosClass": "Burstable",
    }
