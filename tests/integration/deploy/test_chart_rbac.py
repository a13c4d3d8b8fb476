"""The chart's RBAC grants what the service uses — no more, no less.

Two levels of proof:

1. **Static**: every Kubernetes call in the service's code (``autoscaler/`` outside the
   twin) is found by its kubernetes-asyncio method; the method's own generated source gives the
   HTTP method and path, hence the RBAC (verb, group, resource, subresource). That set must
   equal what the rendered Role(s) grant. A new call without a rule, or a rule no call needs,
   fails here.

2. **Behavioural, against the twin** (``test_service_full_cycle_under_the_chart_role``): the
   twin enforces the rendered Role/RoleBinding (``sim --rbac FILE``, a kubeconfig per bound
   ServiceAccount, every served request in ``GET /_sim/requests``); ``es-autoscaler serve`` runs
   as the chart's ServiceAccount with the chart's state ConfigMap through a scale-up, a drained
   scale-down and a second scale-up (whose repeated Event is patched): zero 403s, the
   (verb, group, resource/subresource) set served equals the granted set, and each rule is
   the only one allowing some request made (so removing it makes that step fail), judged by
   the twin's own rule matcher. The service runs with the Deployment's own ``serve``
   arguments (leader election on the chart's Lease, the chart's state ConfigMap), only the
   paths, port and kubeconfig swapped for local ones, so the Lease rules are proven too.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _chart_kit import (
    NAMESPACE,
    REPO,
    SA,
    SA_USER,
    container,
    docs_of,
    find,
    local_serve_args,
    rbac_manifests,
    render_text,
    webhook_body,
)
from kubernetes_asyncio import client

Permission = tuple[str, str, str]  # (verb, apiGroup, resource[/subresource])

_CALL = re.compile(r"^(read|list|create|patch|replace|delete|delete_collection)_\w+$")
_PATH = re.compile(r"'(/apis?/[^']+)',\s*'(GET|POST|PUT|PATCH|DELETE)'")
_VERB = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def _permission_of(api_class: str, method: str) -> Permission:
    """(verb, group, resource) of one kubernetes-asyncio method, from its generated source."""
    src = inspect.getsource(getattr(getattr(client, api_class), f"{method}_with_http_info"))
    m = _PATH.search(src)
    assert m is not None, f"{api_class}.{method}: no path in the generated client"
    path, http = m.groups()
    parts = path.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]  # namespaces/{namespace}/<resource>...
    resource = rest[0]
    named = len(rest) > 1 and rest[1] == "{name}"
    sub = rest[2] if named and len(rest) > 2 else None
    if http == "GET":
        verb = "get" if named else "list"
    elif http == "DELETE" and not named:
        verb = "deletecollection"
    else:
        verb = _VERB[http]
    return verb, group, f"{resource}/{sub}" if sub else resource


def used_permissions() -> dict[Permission, list[str]]:
    """Every Kubernetes permission the service's code can use → where it is used."""
    used: dict[Permission, list[str]] = {}
    package = REPO / "autoscaler"
    for path in sorted(package.rglob("*.py")):
        if (package / "sim") in path.parents:
            continue  # the twin serves these calls, it does not make them
        tree = ast.parse(path.read_text(encoding="utf-8"))
        apis = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr.endswith("Api")
            and hasattr(client, node.func.attr)
            and node.func.attr != "ApiClient"
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method = node.func.attr
            if not _CALL.match(method):
                continue
            owners = [a for a in sorted(apis) if hasattr(getattr(client, a), method)]
            if not owners:
                continue
            assert len(owners) == 1, f"{path}:{node.lineno}: {method} on several APIs {owners}"
            perm = _permission_of(owners[0], method)
            used.setdefault(perm, []).append(f"{path.relative_to(REPO)}:{node.lineno}")
    return used


def granted_permissions(docs: list[dict[str, Any]]) -> set[Permission]:
    out: set[Permission] = set()
    for role in find(docs, "Role") + find(docs, "ClusterRole"):
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        out.add((verb, group, resource))
    return out


def test_the_client_method_mapping_reads_the_real_generated_paths() -> None:
    # The mapping the static check relies on, on calls whose RBAC meaning is documented.
    assert _permission_of("AppsV1Api", "replace_namespaced_stateful_set_scale") == (
        "update",
        "apps",
        "statefulsets/scale",
    )
    assert _permission_of("CoreV1Api", "list_namespaced_pod") == ("list", "", "pods")
    assert _permission_of("CoordinationV1Api", "create_namespaced_lease") == (
        "create",
        "coordination.k8s.io",
        "leases",
    )
    assert _permission_of("CoreV1Api", "patch_namespaced_event") == ("patch", "", "events")


def test_role_grants_exactly_what_the_code_calls(rendered: dict[str, str]) -> None:
    # The HA render turns on every optional feature that needs RBAC (state ConfigMap, Lease).
    used = used_permissions()
    granted = granted_permissions(docs_of(rendered["ha"]))
    missing = {p: used[p] for p in set(used) - granted}
    assert not missing, f"the code makes calls the chart's Roles do not allow: {missing}"
    assert granted <= set(used), f"rules no call needs: {granted - set(used)}"


def test_cluster_wide_rbac_grants_the_same_target_permissions(rendered: dict[str, str]) -> None:
    per_namespace = granted_permissions(find(docs_of(rendered["defaults"]), "Role", "-targets"))
    cluster = granted_permissions(find(docs_of(rendered["cluster-wide"]), "ClusterRole"))
    assert per_namespace == cluster


def test_state_and_lease_rules_are_limited_to_their_object_names(rendered: dict[str, str]) -> None:
    (role,) = find(docs_of(rendered["ha"]), "Role", "-self")
    for rule in role["rules"]:
        if rule["verbs"] == ["create"]:
            assert "resourceNames" not in rule  # RBAC cannot restrict create by name
        else:
            assert len(rule["resourceNames"]) == 1, rule


# --- behavioural proof against the twin (scaffolding until the twin enforces RBAC) ---------------


def without_rule(manifests: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    """The manifests with the ``index``-th rule (counting over every Role in order) removed."""
    out, seen = [], 0
    for doc in manifests:
        if doc["kind"] in ("Role", "ClusterRole"):
            rules = []
            for rule in doc["rules"]:
                if seen != index:
                    rules.append(rule)
                seen += 1
            doc = {**doc, "rules": rules}
        out.append(doc)
    return out


def rule_count(manifests: list[dict[str, Any]]) -> int:
    return sum(len(d["rules"]) for d in manifests if d["kind"] in ("Role", "ClusterRole"))


def test_rbac_manifests_for_the_twin_bind_the_service_account(
    rendered: dict[str, str], tmp_path: Path
) -> None:
    manifests = rbac_manifests(rendered["ha"])
    path = tmp_path / "rbac.yaml"
    path.write_text(yaml.safe_dump_all(manifests))
    assert [d["kind"] for d in yaml.safe_load_all(path.read_text())].count("RoleBinding") == 2
    subjects = {
        (s["kind"], s["namespace"], s["name"])
        for d in manifests
        if d["kind"] == "RoleBinding"
        for s in d["subjects"]
    }
    assert subjects == {("ServiceAccount", NAMESPACE, "esas-es-autoscaler")}
    n = rule_count(manifests)
    assert n == 8
    variants = [without_rule(manifests, i) for i in range(n)]
    assert all(rule_count(v) == n - 1 for v in variants)


def _twin_enforces_rbac() -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "autoscaler", "sim", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "--rbac" in result.stdout


SMALL_DATA = "logs:3x1:6gb,metrics:2x1:2gb,scratch:1x0:1gb"  # scratch has no replica
TOKEN = "rbac-proof-token"


def _policy(es_url: str) -> str:
    return yaml.safe_dump(
        {
            "name": "rbac-proof",
            "elasticsearch": {"url": es_url, "pollInterval": "300ms", "requestTimeout": "2s"},
            "nodes": {"roles": ["data"]},
            "target": {"statefulSet": {"namespace": "elastic", "name": "es-data"}},
            "replicas": {"min": 3, "max": 4},
            "scaleUp": {"when": {"alert": "RbacProofUp"}, "step": 1, "cooldown": "1s"},
            "scaleDown": {"when": {"alert": "RbacProofDown"}, "step": 1, "cooldown": "1s"},
            "safety": {"joinTimeout": "60s", "drainTimeout": "60s", "rebalanceTimeout": "60s"},
            "mode": "active",
        },
        sort_keys=False,
    )


def _webhook(name: str, status: str) -> bytes:
    return json.dumps(webhook_body(name, status)).encode()


def _http(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, (e.read() or b"").decode()


def _wait(check: Any, *, what: str, deadline_s: float = 90.0) -> Any:
    """Poll until ``check()`` is truthy; a generous bound on a condition, not a timing assert."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}; last value: {last!r}")


@contextlib.contextmanager
def _process(
    argv: list[str], log: Path, *, stdout: int = subprocess.PIPE, **kw: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` with stderr to ``log``; SIGTERM (then SIGKILL) on exit."""
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, stdout=stdout, stderr=err, stdin=subprocess.DEVNULL, **kw)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _first_json(stream: Any, key: str, *, log: Path) -> dict[str, Any]:
    for raw in iter(stream.readline, b""):
        with contextlib.suppress(ValueError):
            rec = json.loads(raw)
            if isinstance(rec, dict) and (key in rec or rec.get("event") == key):
                return rec
    pytest.fail(f"no {key!r} line; log:\n{log.read_text()[-3000:]}")


def _operations(base: str) -> list[dict[str, Any]]:
    status, body = _http("GET", base + "/api/v1/operations")
    assert status == 200, body
    ops: list[dict[str, Any]] = body["operations"]
    return ops


def _full_cycle(rbac_file: Path, tmp_path: Path, chart_args: list[str]) -> list[dict[str, Any]]:
    """Scale 3 → 4 → 3 (drained) → 4 as the chart's ServiceAccount; the twin's request log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESAS_", "KUBE"))}
    sim_argv = [
        sys.executable, "-m", "autoscaler", "sim", "--rbac", str(rbac_file), "--speed", "50",
        "--indices", SMALL_DATA, "--pod-ready-delay", "20", "--kubeconfig-dir", str(tmp_path),
    ]  # fmt: skip
    with _process(sim_argv, tmp_path / "sim.log", env=env) as sim:
        urls = _first_json(sim.stdout, "elasticsearch", log=tmp_path / "sim.log")
        es = urls["elasticsearch"]
        pdir = tmp_path / "policies"
        pdir.mkdir()
        (pdir / "proof.yaml").write_text(_policy(es))
        token = tmp_path / "token"
        token.write_text(TOKEN)
        local = local_serve_args(
            chart_args,
            pdir=pdir,
            token=token,
            tmp_path=tmp_path,
            kubeconfig=urls["kubeconfigs"][SA],
        )
        serve_argv = [sys.executable, "-m", "autoscaler", "serve", *local]
        with _process(serve_argv, tmp_path / "serve.log", stdout=subprocess.DEVNULL, env=env):
            log = tmp_path / "serve.log"
            port = _wait(
                lambda: next(
                    (
                        json.loads(ln)["port"]
                        for ln in log.read_text().splitlines()
                        if '"listening"' in ln
                    ),
                    None,
                ),
                what="serve listening",
                deadline_s=30,
            )
            base = f"http://127.0.0.1:{port}"
            hook = base + "/webhook/alertmanager"

            def replicas() -> int:
                _, state = _http("GET", es + "/_sim/state")
                (sts,) = [s for s in state["kubernetes"]["statefulsets"] if s["name"] == "es-data"]
                return int(sts["replicas"])

            def settled(n: int) -> bool:
                ops = _operations(base)
                return (
                    replicas() == n
                    and bool(ops)
                    and ops[0]["state"] in ("confirmed", "failed", "rolled_back")
                )

            _wait(lambda: _http("GET", base + "/readyz")[0] == 200, what="ready", deadline_s=30)
            assert _http("POST", hook, _webhook("RbacProofUp", "firing"))[0] == 200
            _wait(lambda: settled(4), what="scale-up to 4 settled")
            assert _operations(base)[0]["state"] == "confirmed", _operations(base)[0]
            assert _http("POST", hook, _webhook("RbacProofUp", "resolved"))[0] == 200
            assert _http("POST", hook, _webhook("RbacProofDown", "firing"))[0] == 200
            _wait(
                lambda: (
                    replicas() == 3
                    and _operations(base)[0]["state"] != "running"
                    and len(_operations(base)) >= 2
                ),
                what="drained scale-down to 3",
            )
            down = _operations(base)[0]
            assert down["state"] == "confirmed", down
            # 3 → 4 again: the same "ScalingUp" Event repeats, which the service patches
            # (count + 1) instead of creating a new one.
            assert _http("POST", hook, _webhook("RbacProofDown", "resolved"))[0] == 200
            assert _http("POST", hook, _webhook("RbacProofUp", "firing"))[0] == 200
            _wait(
                lambda: len(_operations(base)) >= 3 and settled(4),
                what="second scale-up to 4 settled",
            )
            assert _operations(base)[0]["state"] == "confirmed", _operations(base)[0]
            _, invariants = _http("GET", es + "/_sim/invariants")
            assert invariants == [], invariants
        _, log_body = _http("GET", es + "/_sim/requests")
    requests: list[dict[str, Any]] = log_body["requests"]
    return requests


def _checks(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The authorization checks kube-apiserver makes for one served request: its verb, plus
    ``create`` when a PUT created the object (201): the update handler authorizes a
    create-on-update as a create too (kubernetes/kubernetes
    staging/src/k8s.io/apiserver/pkg/endpoints/handlers/update.go, ``withAuthorization`` with
    ``createAuthorizerAttributes``). The twin logs such a PUT as one ``update``."""
    out = [r]
    if r["verb"] == "update" and r["code"] == 201:
        out.append({**r, "verb": "create"})
    return out


def _perm(r: dict[str, Any]) -> Permission:
    resource = f"{r['resource']}/{r['subresource']}" if r["subresource"] else r["resource"]
    return str(r["verb"]), str(r["group"]), resource


def test_service_full_cycle_under_the_chart_role(helm: Path, tmp_path: Path) -> None:
    if not _twin_enforces_rbac():
        pytest.fail("the twin has no `sim --rbac`: the RBAC proof cannot run")
    text = render_text(helm, "defaults")  # two replicas, leader election, state ConfigMap
    manifests = rbac_manifests(text)
    chart_args = container(docs_of(text))["args"]
    assert any(a.startswith("--leader-election=") for a in chart_args)
    rbac_file = tmp_path / "rbac.yaml"
    rbac_file.write_text(yaml.safe_dump_all(manifests))
    served = [r for r in _full_cycle(rbac_file, tmp_path, chart_args) if r["user"] == SA_USER]
    denied = [r for r in served if r["code"] == 403]
    assert denied == [], denied
    checks = [c for r in served if r["resource_request"] for c in _checks(r)]
    used = {_perm(c) for c in checks}
    assert used == granted_permissions(manifests)
    # No rule is superfluous: each one is the only rule allowing some request the service made
    # (evaluated with the twin's own rule matcher, the one that produced the zero 403s above).
    from autoscaler.sim.k8s.rbac import rule_allows
    from autoscaler.sim.k8s.reqinfo import RequestInfo

    rules = [
        (role["metadata"].get("namespace", ""), rule)
        for role in manifests
        if role["kind"] in ("Role", "ClusterRole")
        for rule in role["rules"]
    ]
    infos = [
        (r["namespace"], r["path"], RequestInfo(True, r["verb"], r["group"], r["version"],
         r["namespace"], r["resource"], r["subresource"], r["name"]))
        for r in checks
    ]  # fmt: skip

    def allowed(ns: str, path: str, info: RequestInfo, skip: int) -> bool:
        return any(
            rule_allows(rule, info, path)
            for i, (rule_ns, rule) in enumerate(rules)
            if i != skip and rule_ns in ("", ns)
        )

    for index, (_, rule) in enumerate(rules):
        assert any(not allowed(ns, p, info, index) for ns, p, info in infos), (
            f"rule {rule} is not needed by any request the service made"
        )
