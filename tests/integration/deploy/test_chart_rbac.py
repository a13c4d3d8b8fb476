"""The chart's RBAC grants what the service uses — no more, no less.

Two levels of proof:

1. **Static, today**: every Kubernetes call in the service's code (``autoscaler/`` outside the
   twin) is found by its kubernetes-asyncio method; the method's own generated source gives the
   HTTP method and path, hence the RBAC (verb, group, resource, subresource). That set must
   equal what the rendered Role(s) grant. A new call without a rule, or a rule no call needs,
   fails here.

2. **Behavioural, against the twin** (``test_service_full_cycle_under_the_chart_role``): start
   the twin enforcing the rendered Role/RoleBinding (``sim --rbac FILE…``, per-ServiceAccount
   kubeconfigs, ``GET /_sim/requests``), run the service as the chart's ServiceAccount through a
   scale-up, a drained scale-down and leader election: zero 403s, and the (verb, group,
   resource, subresource) set the twin served equals the granted set; then, for each rule,
   the same run with that rule removed must hit a 403. The twin's RBAC enforcement is being
   built (twin fidelity issue); until ``sim --help`` lists ``--rbac`` this test SKIPS with that
   reason — the behavioural proof is not done while it skips.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _chart_kit import NAMESPACE, REPO, docs_of, find
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


def rbac_manifests(text: str) -> list[dict[str, Any]]:
    """The RBAC objects of a render: what the twin is started with (``sim --rbac FILE``)."""
    kinds = ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "ServiceAccount")
    return [d for d in docs_of(text) if d["kind"] in kinds]


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


def test_service_full_cycle_under_the_chart_role() -> None:
    if not _twin_enforces_rbac():
        pytest.skip(
            "NOT DONE: the twin does not enforce RBAC yet (`sim --rbac`, twin fidelity issue); "
            "the behavioural RBAC proof of the Helm chart issue is still to be written"
        )
    # Reaching here means the twin gained --rbac: write the proof (module docstring, point 2)
    # against its real interface instead of this failure.
    pytest.fail("the twin enforces RBAC now: implement the behavioural RBAC proof here")
