"""RBAC of the twin's Kubernetes API: rule matching as the apiserver's RBAC authorizer does it,
and the 403 texts of ``responsewriters/errors.go`` (``forbiddenMessage`` + ``NewForbidden``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscaler.sim.clock import VirtualClock
from autoscaler.sim.k8s.rbac import RbacAuthorizer, load_rbac
from autoscaler.sim.k8s.reqinfo import RequestInfo
from autoscaler.sim.k8s.types import ROLEBINDINGS, ROLES
from autoscaler.sim.k8s_model import K8sError, K8sModel

SA = "system:serviceaccount:elastic:es-autoscaler"

MANIFESTS = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: scaler, namespace: elastic}
rules:
  - apiGroups: [apps]
    resources: [statefulsets]
    verbs: [get, list, watch]
  - apiGroups: [apps]
    resources: [statefulsets/scale]
    resourceNames: [es-data]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: scaler, namespace: elastic}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scaler}
subjects:
  - {kind: ServiceAccount, name: es-autoscaler, namespace: elastic}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dangling, namespace: other}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: missing}
subjects:
  - {kind: ServiceAccount, name: es-autoscaler, namespace: elastic}
"""


@pytest.fixture
def authorizer(tmp_path: Path) -> RbacAuthorizer:
    model = K8sModel(clock=VirtualClock())
    path = tmp_path / "rbac.yaml"
    path.write_text(MANIFESTS)
    assert load_rbac(model, [path]) == [("elastic", "es-autoscaler")]
    return RbacAuthorizer(model)


def req(verb: str, resource: str, *, group: str = "apps", namespace: str = "elastic",
        name: str = "", sub: str = "") -> RequestInfo:  # fmt: skip
    return RequestInfo(True, verb, group, "v1", namespace, resource, sub, name)


def denied(authorizer: RbacAuthorizer, info: RequestInfo, path: str = "/x") -> K8sError:
    with pytest.raises(K8sError) as err:
        authorizer.check(info, SA, path)
    assert err.value.code == 403
    assert err.value.reason == "Forbidden"
    return err.value


def test_a_bound_rule_allows_its_verbs_on_its_resource(authorizer: RbacAuthorizer) -> None:
    authorizer.check(req("get", "statefulsets", name="es-data"), SA, "/x")
    authorizer.check(req("list", "statefulsets"), SA, "/x")
    authorizer.check(req("get", "statefulsets", name="es-data", sub="scale"), SA, "/x")


def test_patch_scale_without_a_rule_is_the_real_403_text(authorizer: RbacAuthorizer) -> None:
    err = denied(authorizer, req("patch", "statefulsets", name="es-data", sub="scale"))
    assert err.message == (
        'statefulsets.apps "es-data" is forbidden: User "system:serviceaccount:elastic:'
        'es-autoscaler" cannot patch resource "statefulsets/scale" in API group "apps" in the '
        'namespace "elastic"'
    )
    assert err.details == {"name": "es-data", "group": "apps", "kind": "statefulsets"}


def test_a_rule_on_the_resource_does_not_cover_its_subresource(
    authorizer: RbacAuthorizer,
) -> None:
    denied(authorizer, req("get", "statefulsets", name="es-data", sub="status"))


def test_resource_names_limit_a_rule_to_those_objects(authorizer: RbacAuthorizer) -> None:
    denied(authorizer, req("get", "statefulsets", name="other", sub="scale"))


def test_a_list_has_no_name_in_the_message(authorizer: RbacAuthorizer) -> None:
    err = denied(authorizer, req("list", "pods", group=""))
    assert err.message == (
        f'pods is forbidden: User "{SA}" cannot list resource "pods" in API group "" in the '
        'namespace "elastic"'
    )


def test_a_cluster_scoped_request_says_at_the_cluster_scope(authorizer: RbacAuthorizer) -> None:
    err = denied(authorizer, req("list", "nodes", group="", namespace=""))
    assert err.message == (
        f'nodes is forbidden: User "{SA}" cannot list resource "nodes" in API group "" at the '
        "cluster scope"
    )


def test_a_role_binding_grants_only_in_its_own_namespace(authorizer: RbacAuthorizer) -> None:
    denied(authorizer, req("get", "statefulsets", namespace="default", name="es-data"))


def test_a_binding_to_a_missing_role_gives_the_rbac_reason(authorizer: RbacAuthorizer) -> None:
    err = denied(authorizer, req("get", "configmaps", group="", namespace="other", name="c"))
    assert err.message.endswith(': RBAC: role.rbac.authorization.k8s.io "missing" not found')


def test_a_non_resource_path_says_path(authorizer: RbacAuthorizer) -> None:
    info = RequestInfo(False, "get")
    err = denied(authorizer, info, "/metrics")
    assert err.message == f'forbidden: User "{SA}" cannot get path "/metrics"'
    authorizer.check(info, SA, "/apis")  # discovery is open to everyone (system:discovery)


def test_a_manifest_of_another_kind_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    with pytest.raises(ValueError, match="kind 'Secret' is not one of Role"):
        load_rbac(K8sModel(clock=VirtualClock()), [path])


def test_an_allowed_request_names_the_binding_that_allowed_it(authorizer: RbacAuthorizer) -> None:
    decision = authorizer.authorize(req("get", "statefulsets", name="es-data"), SA, "/x")
    assert decision.allowed
    assert decision.reason == (
        'RBAC: allowed by RoleBinding "scaler/elastic" of Role "scaler" to ServiceAccount '
        '"es-autoscaler/elastic"'
    )


def test_malformed_roles_and_bindings_deny_instead_of_failing(authorizer: RbacAuthorizer) -> None:
    model = authorizer.store
    model.create(ROLES, "elastic", {"metadata": {"name": "odd"}, "rules": "everything"})
    model.create(ROLEBINDINGS, "elastic", {
        "metadata": {"name": "odd"}, "roleRef": {"kind": "Role", "name": "odd"},
        "subjects": [{"kind": "ServiceAccount", "name": "es-autoscaler", "namespace": "elastic"}],
    })  # fmt: skip
    model.create(ROLEBINDINGS, "elastic", {"metadata": {"name": "odd2"}, "roleRef": "x",
                                           "subjects": "all"})  # fmt: skip
    denied(authorizer, req("delete", "statefulsets", name="es-data"))
