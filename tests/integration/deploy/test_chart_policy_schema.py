"""A policy given as a YAML object in the chart's ``policies`` is checked by Helm itself against
the policy JSON Schema embedded in values.schema.json (``helm/values_schema.py``): a typo fails
``helm lint/template/install`` naming the path, instead of a pod in CrashLoopBackOff. A policy
given as YAML text is not parsed by Helm (the service checks it at start), and cross-field rules
(``replicas.min <= replicas.max``) are beyond JSON Schema: both still pass Helm, by design.

Everything runs the real helm 3.17 binary (its validator is xeipuuv/gojsonschema, draft 7).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _chart_kit import CHART, NAMESPACE, REPO, VALUES_DIR, docs_of, one, render_text, run_helm

SCHEMA_ERROR = "values don't meet the specifications of the schema"
EXAMPLE = CHART / "files" / "example-policy.yaml"


def _example() -> dict[str, Any]:
    policy: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return policy


def _values(tmp_path: Path, policies: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"policies": policies}))
    return path


def _helm(helm: Path, command: str, values: Path) -> subprocess.CompletedProcess[str]:
    args = [command] + (["x"] if command == "template" else ["--strict"])
    # rbac.clusterWide: the shipped policies target several namespaces; the chart's RBAC
    # coverage check (test_chart_policy_rbac_check.py) is not what is tested here.
    return run_helm(
        helm, *args, str(CHART), "--namespace", NAMESPACE, "-f", str(values),
        "--set", "rbac.clusterWide=true",
    )  # fmt: skip


@pytest.mark.parametrize("command", ["lint", "template"])
def test_shipped_policies_given_as_objects_pass_the_chart_schema(
    helm: Path, tmp_path: Path, command: str
) -> None:
    policies = {"es-data.yaml": _example()} | {
        p.name: yaml.safe_load(p.read_text()) for p in sorted((REPO / "policies").glob("*.yaml"))
    }
    assert len(policies) >= 5  # the example and the four commented examples of policies/
    result = _helm(helm, command, _values(tmp_path, policies))
    assert result.returncode == 0, result.stdout + result.stderr


def _typo_top_level(p: dict[str, Any]) -> None:
    p["replica"] = p.pop("replicas")


def _typo_nested(p: dict[str, Any]) -> None:
    cond = p["scaleUp"]["when"]["all"][0]
    cond["abov"] = cond.pop("above")


def _typo_target(p: dict[str, Any]) -> None:
    p["target"]["statefulSet"]["nmae"] = p["target"]["statefulSet"].pop("name")


@pytest.mark.parametrize("command", ["lint", "template"])
@pytest.mark.parametrize(
    ("typo", "message"),
    [
        (_typo_top_level, "policies.bad.yaml: Additional property replica is not allowed"),
        (
            _typo_nested,
            "policies.bad.yaml.scaleUp.when.all.0: Additional property abov is not allowed",
        ),
        (
            _typo_target,
            "policies.bad.yaml.target.statefulSet: Additional property nmae is not allowed",
        ),
    ],
    ids=["replica", "scaleUp.when.all[0].abov", "target.statefulSet.nmae"],
)
def test_unknown_field_in_a_policy_object_fails_helm_naming_its_path(
    helm: Path, tmp_path: Path, command: str, typo: Any, message: str
) -> None:
    policy = _example()
    typo(policy)
    result = _helm(helm, command, _values(tmp_path, {"bad.yaml": policy}))
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert SCHEMA_ERROR in out
    assert message in out, out


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "mode",
            "actve",
            'policies.bad.yaml.mode must be one of the following: "active", "dry-run", "paused"',
        ),
        ("replicas", {"min": "three", "max": 6}, "policies.bad.yaml.replicas.min: Invalid type"),
    ],
    ids=["mode-enum", "replicas.min-type"],
)
def test_wrong_enum_or_type_in_a_policy_object_fails_helm(
    helm: Path, tmp_path: Path, field: str, value: Any, message: str
) -> None:
    policy = _example() | {field: value}
    result = _helm(helm, "template", _values(tmp_path, {"bad.yaml": policy}))
    assert result.returncode != 0
    assert SCHEMA_ERROR in result.stderr
    assert message in result.stderr, result.stderr


def test_policy_given_as_yaml_text_is_left_to_the_service_to_check(
    helm: Path, tmp_path: Path
) -> None:
    garbage = "replica: [unclosed\nmode: actve\n"
    values = _values(tmp_path, {"bad.yaml": garbage})
    lint = _helm(helm, "lint", values)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    cm = one(docs_of(render_text(helm, None, "-f", str(values))), "ConfigMap", "-policies")
    assert cm["data"]["bad.yaml"] == garbage
    # ... and it is the service's validator (what `serve` runs at start) that refuses it.
    pdir = tmp_path / "pdir"
    pdir.mkdir()
    (pdir / "bad.yaml").write_text(cm["data"]["bad.yaml"])
    result = subprocess.run(
        [sys.executable, "-m", "autoscaler", "validate", str(pdir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr


def test_cross_field_rule_is_beyond_the_chart_schema_and_left_to_the_service(
    helm: Path, tmp_path: Path
) -> None:
    # min > max is a pydantic validator, not JSON Schema: Helm passes it (the chart README and
    # the schema description say so); test_helm_chart.py shows `validate` refusing it.
    policy = _example() | {"replicas": {"min": 5, "max": 3}}
    result = _helm(helm, "template", _values(tmp_path, {"bad.yaml": policy}))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("values", sorted(p.name for p in VALUES_DIR.glob("*.yaml")))
def test_every_deploy_test_values_file_still_passes_the_chart_schema(
    helm: Path, values: str
) -> None:
    result = run_helm(
        helm, "template", "x", str(CHART), "--namespace", NAMESPACE, "-f", str(VALUES_DIR / values)
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("field", "value", "service_accepts"),
    [
        ("step", "2", True),  # a quoted count
        ("step", " 25 % ", True),
        ("step", "0", False),
        ("step", "two", False),
        ("for", " 5m", True),  # spaces around a duration are trimmed
        ("for", "1h30m", True),
        ("for", "5 m", False),
        ("for", "5", False),
    ],
)
def test_the_chart_schema_accepts_a_step_or_duration_exactly_when_the_service_does(
    helm: Path, tmp_path: Path, field: str, value: str, service_accepts: bool
) -> None:
    policy = _example()
    if field == "step":
        policy["scaleUp"]["step"] = value
    else:
        policy["scaleUp"]["when"] = {
            "all": [{"metric": "cpu", "aggregate": "avg", "above": 80, "for": value}]
        }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(policy))
    validate = subprocess.run(
        [sys.executable, "-m", "autoscaler", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (validate.returncode == 0) is service_accepts, validate.stderr
    result = _helm(helm, "template", _values(tmp_path, {"p.yaml": policy}))
    assert (result.returncode == 0) is service_accepts, result.stderr
