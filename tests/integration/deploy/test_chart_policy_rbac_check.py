"""The chart refuses policies its own RBAC cannot serve: a StatefulSet in a namespace outside
``rbac.targetNamespaces`` (or not named in ``rbac.statefulSetNames``) would get a 403 at the
service's first replicas read, visible only later in ``/api/v1/policies``. ``helm install``
stops with what to add instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _chart_kit import CHART, NAMESPACE, RELEASE, require_helm, run_helm

SEARCH = {
    "name": "search",
    "target": {"statefulSet": {"namespace": "search", "name": "es-search"}},
    "replicas": {"min": 3, "max": 12},
    "scaleUp": {
        "when": {"metric": "cpu", "aggregate": "avg", "above": 80, "for": "5m"},
        "cooldown": "10m",
    },
}


@pytest.fixture(scope="module")
def helm() -> Path:
    return require_helm()


def _template(helm: Path, tmp_path: Path, policy: object, *sets: str) -> tuple[int, str]:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"policies": {"search.yaml": policy}}))
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "-f", str(values)]
    for s in sets:
        args += ["--set", s]
    result = run_helm(helm, *args)
    return result.returncode, result.stderr


@pytest.mark.parametrize("form", ["object", "yaml_text"])
def test_a_policy_in_a_namespace_outside_target_namespaces_is_refused(
    helm: Path, tmp_path: Path, form: str
) -> None:
    policy = SEARCH if form == "object" else yaml.safe_dump(SEARCH)
    code, err = _template(helm, tmp_path, policy)
    assert code != 0
    assert (
        'policies.search.yaml targets StatefulSet search/es-search, but namespace "search" is '
        "not in rbac.targetNamespaces [elastic]: the service would get 403 from the API server. "
        "Add it (e.g. --set rbac.targetNamespaces='{elastic,search}')"
    ) in err
    assert _template(helm, tmp_path, policy, "rbac.targetNamespaces={elastic,search}")[0] == 0
    assert _template(helm, tmp_path, policy, "rbac.clusterWide=true")[0] == 0


def test_a_statefulset_not_named_in_statefulset_names_is_refused(
    helm: Path, tmp_path: Path
) -> None:
    code, err = _template(
        helm, tmp_path, SEARCH, "rbac.targetNamespaces={search}", "rbac.statefulSetNames={es-data}"
    )
    assert code != 0
    assert 'Add "es-search" to rbac.statefulSetNames.' in err
