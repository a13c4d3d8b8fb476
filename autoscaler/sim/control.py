"""The twin's control plane: HTTP endpoints under ``/_sim`` on the Elasticsearch app.

Tests, the demo and ops rehearsals steer the simulation from outside the process — look at
it, set the load, move virtual time, break things — with plain HTTP, so the same scenario can
be driven by pytest, ``curl`` or a notebook. ``/_sim`` cannot clash with Elasticsearch's own
API (index names may not start with ``_``) and is never subject to fault injection.

Endpoints (JSON in, JSON out; errors are ``{"error": "..."}`` with 400/404/409):

- ``GET /_sim/state`` → ``{"clock": {...}, "elasticsearch": Cluster.state(),
  "kubernetes": {"statefulsets": [...], "pods": [...]}, "faults": [...], "invariants": [...]}``
- ``PUT /_sim/workload`` body ``{"search": units/s, "index": units/s, "profile": [...]?}``;
  a profile step is ``[at_seconds_from_now, search, index]`` or ``{"at", "search", "index"}``
  and holds until the next step (``Cluster.set_workload``).
- ``POST /_sim/advance?seconds=N`` (or body ``{"seconds": N}``) → ``{"advanced": N,
  "clock": {...}}``; 409 when the twin runs in real time.
- ``GET /_sim/faults``, ``POST /_sim/faults`` (see ``faults`` for the JSON),
  ``DELETE /_sim/faults`` (all), ``DELETE /_sim/faults/{id}`` (one).
- ``GET /_sim/invariants`` → a JSON list, empty while the cluster never lost data.
- ``GET /_sim/requests`` → ``{"requests": [{"verb", "group", "version", "resource",
  "subresource", "namespace", "name", "user", "code", "method", "path", "at",
  "resource_request"}, ...]}``: every request the Kubernetes side served, RBAC verbs
  (``k8s/requestlog.py``); ``DELETE /_sim/requests`` returns them and clears the log.
- VM nodes (``vms``; the Ansible target's machines):
  ``GET /_sim/nodes`` → ``{"nodes": [VM, ...]}``; ``GET /_sim/nodes/{name}`` → ``VM``;
  ``POST /_sim/nodes`` body ``{"name": "es-vm-3", "roles": [...]?, "disk_gb": 500?,
  "join_after": "30s"?}`` → 201 ``VM`` (state ``provisioning``; joins after ``join_after``,
  default 30s; 409 when the name exists, 400 on bad input, an injected ``vm_provision_error``
  answers its status); ``DELETE /_sim/nodes/{name}`` → ``VM`` (state ``stopped``; the node
  leaves with whatever it holds). A VM is ``{"name", "state": "provisioning"|"joined"|"stopped",
  "roles", "disk_gb", "provisioned_at", "join_at", "joined_at", "stopped_at"}`` (sim seconds).
- ``PUT /_sim/nodes/{name}/disk`` body ``{"used_percent": 91}`` → ``{"node", "total_bytes",
  "used_bytes", "available_bytes", "used_percent"}``: any ES node's (pod or VM) disk use now;
  watermarks and ``fs`` stats follow (``Cluster.set_disk_used``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from autoscaler.sim.faults import FaultError
from autoscaler.sim.twin import Twin
from autoscaler.sim.vms import VmError, parse_join_after

TWIN_KEY = web.AppKey("sim_twin", Twin)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not JSON: {exc}"}), content_type="application/json"
        ) from exc


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number") from exc
    if number < 0 or math.isnan(number) or math.isinf(number):
        raise ValueError(f"{name} must be a finite number >= 0")
    return number


def _profile(raw: Any) -> list[tuple[float, float, float]] | None:
    """``[[at_s, search, index], ...]`` or ``[{"at": s, "search": x, "index": y}, ...]``."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValueError("profile must be a list of steps")
    steps: list[tuple[float, float, float]] = []
    for step in raw:
        if isinstance(step, dict):
            values = (step.get("at"), step.get("search", 0.0), step.get("index", 0.0))
        elif isinstance(step, list) and len(step) == 3:
            values = (step[0], step[1], step[2])
        else:
            raise ValueError('a profile step is [at_s, search, index] or {"at", "search", "index"}')
        at, search, index = (_number(v, "profile value") for v in values)
        steps.append((at, search, index))
    return steps


class Control:
    """Handlers bound to one twin."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(self.twin.state())

    async def invariants(self, request: web.Request) -> web.Response:
        return web.json_response(self.twin.invariants)

    async def k8s_requests(self, request: web.Request) -> web.Response:
        """Every request the Kubernetes side served; ``DELETE`` answers and then clears."""
        entries = self.twin.requests.entries()
        if request.method == "DELETE":
            self.twin.requests.clear()
        return web.json_response({"requests": entries})

    async def workload(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            return _error(400, 'expected {"search": units_per_s, "index": units_per_s}')
        try:
            search = _number(body.get("search", 0.0), "search")
            index = _number(body.get("index", 0.0), "index")
        except ValueError as exc:
            return _error(400, str(exc))
        try:
            profile = _profile(body.get("profile"))
            self.twin.cluster.set_workload(search_per_s=search, index_per_s=index, profile=profile)
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response({"acknowledged": True, "workload": body})

    async def advance(self, request: web.Request) -> web.Response:
        raw = request.query.get("seconds")
        if raw is None:
            body = await _json_body(request)
            raw = body.get("seconds") if isinstance(body, dict) else None
        if raw is None:
            return _error(400, "give ?seconds=N")
        try:
            seconds = _number(raw, "seconds")
        except ValueError as exc:
            return _error(400, str(exc))
        if not self.twin.virtual:
            return _error(
                409, "the twin runs in real time (ScaledClock); start it with --virtual to advance"
            )
        self.twin.advance(seconds)
        return web.json_response({"advanced": seconds, "clock": self.twin.state()["clock"]})

    async def list_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": self.twin.faults.active()})

    async def add_faults(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            added = self.twin.faults.add_many(body)
        except FaultError as exc:
            return _error(400, str(exc))
        except (KeyError, ValueError) as exc:  # e.g. unknown index/node in the cluster model
            return _error(404, f"cannot apply fault: {exc}")
        return web.json_response({"added": added, "faults": self.twin.faults.active()})

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.twin.faults.clear()
        return web.json_response({"acknowledged": True, "faults": []})

    async def remove_fault(self, request: web.Request) -> web.Response:
        try:
            fault_id = int(request.match_info["fault_id"])
        except ValueError:
            return _error(400, "fault id must be an integer")
        if not self.twin.faults.remove(fault_id):
            return _error(404, f"no active fault with id {fault_id}")
        return web.json_response({"acknowledged": True, "faults": self.twin.faults.active()})

    # ---- VM nodes and disks ------------------------------------------------------------------

    async def list_nodes(self, request: web.Request) -> web.Response:
        return web.json_response({"nodes": self.twin.vms.list()})

    async def get_node(self, request: web.Request) -> web.Response:
        try:
            vm = self.twin.vms.get(request.match_info["name"])
        except VmError as exc:
            return _error(exc.status, exc.message)
        return web.json_response(vm.to_json())

    async def provision_node(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or "name" not in body:
            return _error(
                400,
                'expected {"name": "es-vm-3", "roles": [...], "disk_gb": 500, "join_after": "30s"}',
            )
        unknown = sorted(set(body) - {"name", "roles", "disk_gb", "join_after"})
        if unknown:
            return _error(400, f"unknown field(s) {unknown}")
        roles = body.get("roles")
        if roles is not None and (
            not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)
        ):
            return _error(400, "roles must be a list of role names")
        try:
            join_after = parse_join_after(body.get("join_after", "30s"))
            vm = self.twin.vms.provision(
                body["name"], roles=roles, disk_gb=body.get("disk_gb"), join_after=join_after
            )
        except VmError as exc:
            return _error(exc.status, exc.message)
        return web.json_response(vm.to_json(), status=201)

    async def stop_node(self, request: web.Request) -> web.Response:
        try:
            vm = self.twin.vms.stop(request.match_info["name"])
        except VmError as exc:
            return _error(exc.status, exc.message)
        return web.json_response(vm.to_json())

    async def set_disk(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or "used_percent" not in body:
            return _error(400, 'expected {"used_percent": 0-100}')
        try:
            percent = _number(body["used_percent"], "used_percent")
            disk = self.twin.cluster.set_disk_used(request.match_info["name"], percent)
        except ValueError as exc:
            return _error(400, str(exc))
        except KeyError as exc:
            return _error(404, str(exc.args[0]))
        return web.json_response(disk)


def add_control_routes(app: web.Application, twin: Twin) -> None:
    """Register ``/_sim/*``; call before adding catch-all Elasticsearch routes."""
    control = Control(twin)
    app[TWIN_KEY] = twin
    router = app.router
    router.add_get("/_sim/state", control.state)
    router.add_get("/_sim/invariants", control.invariants)
    router.add_get("/_sim/requests", control.k8s_requests)
    router.add_delete("/_sim/requests", control.k8s_requests)
    router.add_put("/_sim/workload", control.workload)
    router.add_post("/_sim/workload", control.workload)
    router.add_post("/_sim/advance", control.advance)
    router.add_get("/_sim/faults", control.list_faults)
    router.add_post("/_sim/faults", control.add_faults)
    router.add_delete("/_sim/faults", control.clear_faults)
    router.add_delete("/_sim/faults/{fault_id}", control.remove_fault)
    router.add_get("/_sim/nodes", control.list_nodes)
    router.add_post("/_sim/nodes", control.provision_node)
    router.add_get("/_sim/nodes/{name}", control.get_node)
    router.add_delete("/_sim/nodes/{name}", control.stop_node)
    router.add_put("/_sim/nodes/{name}/disk", control.set_disk)
