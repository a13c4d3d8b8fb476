"""RBAC for the twin's Kubernetes API: who may do what, decided as kube-apiserver decides it.

A Helm chart's Role that lacks ``patch`` on ``statefulsets/scale`` works against a permissive
test server and fails in production with a 403. With RBAC enforced (``sim --rbac FILE...``)
the twin evaluates the Role/ClusterRole + RoleBinding/ClusterRoleBinding objects in its own
store for every request and answers a denial with the real Status body.

Sources (kubernetes/kubernetes):

* ``plugin/pkg/auth/authorizer/rbac/rbac.go`` — ``Authorize``: allowed when any rule of any
  role bound to the user (ClusterRoleBindings everywhere, RoleBindings in their namespace)
  matches; otherwise no opinion with reason ``RBAC: <errors>`` when a referenced role is
  missing;
* ``pkg/apis/rbac/v1/evaluation_helpers.go`` — ``VerbMatches``, ``APIGroupMatches``,
  ``ResourceMatches`` (``*``, ``resource/subresource``, ``*/subresource``),
  ``ResourceNameMatches``, ``NonResourceURLMatches`` (trailing ``*`` prefix);
* ``pkg/registry/rbac/validation/rule.go`` — ``appliesToUser``: ``User`` by name, ``Group``
  by the user's groups, ``ServiceAccount`` as ``system:serviceaccount:NS:NAME``;
* ``staging/src/k8s.io/apiserver/pkg/authentication/serviceaccount/util.go`` — a service
  account's groups: ``system:serviceaccounts``, ``system:serviceaccounts:NS``; every
  authenticated user is also in ``system:authenticated``;
* ``plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`` — ``system:discovery`` and
  ``system:public-info-viewer`` let everyone read discovery, ``/version`` and health paths,
  so those are always allowed here;
* ``staging/src/k8s.io/apiserver/pkg/authorization/authorizerfactory/builtin.go`` —
  ``NewPrivilegedGroups(user.SystemPrivilegedGroup)``, first in kube-apiserver's authorizer
  union: a member of ``system:masters`` may do anything. The twin's admin identity
  (``ADMIN_USER``, the kubeadm ``kubernetes-admin``) is in that group, so an operator can
  inspect an RBAC rehearsal with ``kubectl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from autoscaler.sim.k8s.errors import K8sError, forbidden, forbidden_path
from autoscaler.sim.k8s.reqinfo import RequestInfo
from autoscaler.sim.k8s.store import ApiStore
from autoscaler.sim.k8s.types import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    ROLEBINDINGS,
    ROLES,
    SERVICEACCOUNTS,
    Obj,
    ResourceType,
)

SA_PREFIX = "system:serviceaccount:"
ADMIN_USER = "kubernetes-admin"
PRIVILEGED_GROUP = "system:masters"
#: ``system:basic-user`` (bootstrap policy) lets every authenticated user review itself.
SELF_REVIEWS = ("selfsubjectaccessreviews", "selfsubjectrulesreviews")
BASIC_USER_REASON = (
    'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" '
    'to Group "system:authenticated"'
)
#: non-resource paths the bootstrap policy opens to everyone (system:discovery et al.).
PUBLIC_PATHS = ("/api", "/apis", "/version", "/healthz", "/livez", "/readyz", "/openapi")


def groups_of(user: str) -> tuple[str, ...]:
    """The groups the token authenticator gives a user (service accounts get theirs)."""
    if user == "system:anonymous":
        return ("system:unauthenticated",)
    if user == ADMIN_USER:
        return (PRIVILEGED_GROUP, "system:authenticated")
    if user.startswith(SA_PREFIX):
        namespace = user[len(SA_PREFIX) :].split(":", 1)[0]
        return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                "system:authenticated")  # fmt: skip
    return ("system:authenticated",)


def _subject_matches(subject: Mapping[str, Any], user: str, groups: Iterable[str],
                     binding_namespace: str) -> bool:  # fmt: skip
    kind = subject.get("kind")
    name = subject.get("name", "")
    if kind == "User":
        return bool(user == name)
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(user == f"{SA_PREFIX}{namespace}:{name}")
    return False


def _first_match(
    binding: Mapping[str, Any], user: str, groups: Iterable[str], namespace: str
) -> Mapping[str, Any] | None:
    subjects = binding.get("subjects")
    if not isinstance(subjects, list) or not isinstance(binding.get("roleRef"), Mapping):
        return None
    for subject in subjects:
        if isinstance(subject, Mapping) and _subject_matches(subject, user, groups, namespace):
            return subject
    return None


def _describe(binding: Mapping[str, Any], subject: Mapping[str, Any], namespace: str) -> str:
    """``clusterRoleBindingDescriber`` / ``roleBindingDescriber`` + ``describeSubject``
    (``pkg/registry/rbac/validation/rule.go``)."""
    ref = binding.get("roleRef") or {}
    meta = binding.get("metadata") or {}
    if subject.get("kind") == "ServiceAccount":
        who = f'ServiceAccount "{subject.get("name", "")}/{subject.get("namespace") or namespace}"'
    else:
        who = f'{subject.get("kind", "")} "{subject.get("name", "")}"'
    if namespace:
        name = f'RoleBinding "{meta.get("name", "")}/{namespace}"'
    else:
        name = f'ClusterRoleBinding "{meta.get("name", "")}"'
    return f'{name} of {ref.get("kind", "")} "{ref.get("name", "")}" to {who}'


def _has(values: Any, wanted: str) -> bool:
    if not isinstance(values, list):
        return False
    return "*" in values or wanted in values


def rule_allows(rule: Mapping[str, Any], info: RequestInfo, path: str) -> bool:
    """``RuleAllows``: one PolicyRule against one request."""
    verbs = rule.get("verbs") or []
    if not _has(verbs, info.verb):
        return False
    if not info.is_resource_request:
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1])):
                return True
        return False
    if not _has(rule.get("apiGroups") or [], info.group):
        return False
    combined = info.rbac_resource
    resources = rule.get("resources") or []
    ok = any(
        r == "*" or r == combined or (info.subresource and r == f"*/{info.subresource}")
        for r in resources
    )
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    return not names or info.name in names


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class RbacAuthorizer:
    """Evaluates the RBAC objects stored in ``store`` (so ``kubectl apply`` of a Role counts)."""

    def __init__(self, store: ApiStore) -> None:
        self.store = store

    def _objects(self, rt: ResourceType, namespace: str | None) -> Sequence[Obj]:
        """Bindings as stored (read-only: no copy per request)."""
        return self.store.peek(rt, namespace)

    def authorize(self, info: RequestInfo, user: str, path: str) -> Decision:
        """Allowed with ``RBAC: allowed by <binding>`` (``authorizingVisitor``), or denied with
        the reason of ``rbac.go`` (empty unless a bound role is missing)."""
        if PRIVILEGED_GROUP in groups_of(user):
            return Decision(True)  # the privileged-group authorizer: no reason given
        if not info.is_resource_request and (
            path == "/" or any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS)
        ):
            return Decision(True)
        if (
            info.is_resource_request
            and info.group == "authorization.k8s.io"
            and info.resource in SELF_REVIEWS
            and info.verb == "create"
            and user != "system:anonymous"
        ):
            return Decision(True, BASIC_USER_REASON)
        groups = groups_of(user)
        errors: list[str] = []
        for binding in self._objects(CLUSTERROLEBINDINGS, None):
            subject = _first_match(binding, user, groups, "")
            if subject is None:
                continue
            ref = binding.get("roleRef") or {}
            rules = self._role_rules(ref, "", errors)
            if any(rule_allows(r, info, path) for r in rules):
                return Decision(True, "RBAC: allowed by " + _describe(binding, subject, ""))
        if info.is_resource_request and info.namespace:
            for binding in self._objects(ROLEBINDINGS, info.namespace):
                subject = _first_match(binding, user, groups, info.namespace)
                if subject is None:
                    continue
                ref = binding.get("roleRef") or {}
                rules = self._role_rules(ref, info.namespace, errors)
                if any(rule_allows(r, info, path) for r in rules):
                    reason = "RBAC: allowed by " + _describe(binding, subject, info.namespace)
                    return Decision(True, reason)
        reason = f"RBAC: {', '.join(errors)}" if errors else ""
        if len(errors) > 1:
            reason = f"RBAC: [{', '.join(errors)}]"
        return Decision(False, reason)

    def _role_rules(self, ref: Mapping[str, Any], namespace: str, errors: list[str]) -> list[Obj]:
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        if kind == "ClusterRole":
            role = self.store.peek_one(CLUSTERROLES, "", name)
        elif kind == "Role" and namespace:
            role = self.store.peek_one(ROLES, namespace, name)
        else:
            return []
        if role is None:
            # the authorizer reads through listers: NewNotFound(v1.Resource("role"), name)
            singular = "clusterrole" if kind == "ClusterRole" else "role"
            errors.append(f'{singular}.rbac.authorization.k8s.io "{name}" not found')
            return []
        rules = role.get("rules")
        return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []

    def check(self, info: RequestInfo, user: str, path: str) -> None:
        """Raise the apiserver's 403 when ``user`` may not make this request."""
        decision = self.authorize(info, user, path)
        if decision.allowed:
            return
        if not info.is_resource_request:
            raise forbidden_path(user=user, verb=info.verb, path=path, reason=decision.reason)
        raise forbidden(
            info.resource_type,
            name=info.name,
            user=user,
            verb=info.verb,
            resource=info.rbac_resource,
            group=info.group,
            namespace=info.namespace,
            reason=decision.reason,
        )


# ---- loading ``sim --rbac FILE...`` ---------------------------------------------------------

_RBAC_KINDS = {rt.kind: rt for rt in (ROLES, ROLEBINDINGS, CLUSTERROLES, CLUSTERROLEBINDINGS)}


def _documents(path: Path) -> list[Obj]:
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"--rbac {path}: {exc}") from exc
    out: list[Obj] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"--rbac {path}: a document is not a mapping")
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            out.extend(d for d in doc["items"] if isinstance(d, dict))
        else:
            out.append(doc)
    return out


def load_rbac(model: ApiStore, paths: Iterable[str | Path]) -> list[tuple[str, str]]:
    """Create the Role/ClusterRole/RoleBinding/ClusterRoleBinding (and ServiceAccount) objects
    of ``paths`` in the store; return the ``(namespace, name)`` of every ServiceAccount a
    binding names, in order (those get a token and a kubeconfig). Other kinds are refused
    with ``ValueError`` (clear CLI error)."""
    accounts: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw)
        for doc in _documents(path):
            kind = str(doc.get("kind", ""))
            meta = doc.get("metadata") or {}
            name = meta.get("name", "") if isinstance(meta, dict) else ""
            namespace = str(meta.get("namespace") or "default") if isinstance(meta, dict) else ""
            if kind == "ServiceAccount":
                model.ensure_namespace(namespace)
                if (namespace, name) not in accounts:
                    accounts.append((namespace, str(name)))
                continue
            rt = _RBAC_KINDS.get(kind)
            if rt is None:
                raise ValueError(
                    f"--rbac {path}: kind {kind!r} is not one of Role, ClusterRole, RoleBinding, "
                    "ClusterRoleBinding, ServiceAccount"
                )
            if rt.namespaced:
                model.ensure_namespace(namespace)
            try:
                model.create(rt, namespace if rt.namespaced else "", doc)
            except K8sError as exc:
                raise ValueError(f"--rbac {path}: {kind} {name!r}: {exc.message}") from exc
            for subject in doc.get("subjects") or []:
                if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount":
                    sa_ns = str(subject.get("namespace") or namespace)
                    key = (sa_ns, str(subject.get("name", "")))
                    if key not in accounts:
                        accounts.append(key)
    for namespace, name in accounts:
        model.ensure_namespace(namespace)
        body = {"metadata": {"name": name}}
        try:
            model.create(SERVICEACCOUNTS, namespace, body)
        except K8sError as exc:
            if exc.code != 409:
                raise ValueError(
                    f"--rbac: ServiceAccount {namespace}/{name}: {exc.message}"
                ) from exc
    return accounts


def service_account_user(namespace: str, name: str) -> str:
    return f"{SA_PREFIX}{namespace}:{name}"
