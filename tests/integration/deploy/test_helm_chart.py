"""The Helm chart: lint, valid manifests for Kubernetes 1.27–1.33, a schema that refuses unknown
values, policies that pass the product's own validator, and the pod hardening operators expect.

Everything runs the real helm 3.17 binary; manifests go through the real ``kubernetes-validate``
CLI (strict: unknown fields are errors); the Prometheus Operator kinds, which it does not know,
are checked against the operator's own CRD schemas (fixtures/README.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from _chart_kit import (
    CHART,
    MATRIX,
    NAMESPACE,
    REPO,
    container,
    docs_of,
    find,
    one,
    render_text,
    run_helm,
)

from autoscaler.metrics import Metrics

K8S_VERSIONS = ["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
KUBERNETES_VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
CRD_KINDS = {"ServiceMonitor": "servicemonitors", "PrometheusRule": "prometheusrules"}


# --- lint and schema ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(MATRIX))
def test_chart_passes_helm_lint_strict(helm: Path, case: str) -> None:
    values = MATRIX[case]
    extra = ["-f", str(Path(__file__).parent / "values" / values)] if values else []
    result = run_helm(helm, "lint", "--strict", str(CHART), "--namespace", NAMESPACE, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    "setting",
    [
        "replicas=2",  # top level typo of replicaCount
        "rbac.targetNamespace=elastic",  # nested typo of targetNamespaces
        "metrics.serviceMonitor.intervall=1m",
        "image.pullPolicy=Sometimes",  # wrong enum value
        "replicaCount=two",  # wrong type
    ],
)
def test_schema_refuses_unknown_or_mistyped_values(helm: Path, setting: str) -> None:
    result = run_helm(helm, "template", "x", str(CHART), "--set", setting)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr


def _schema_nodes(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path or "(root)", node)]
    for key, child in node.get("properties", {}).items():
        out += _schema_nodes(child, f"{path}.{key}" if path else key)
    return out


def test_schema_types_every_value_and_closes_every_object() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    for path, node in _schema_nodes(schema):
        assert "type" in node, f"{path}: no type"
        if "properties" in node:
            assert node.get("additionalProperties") is False, f"{path}: accepts unknown keys"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(values)
    assert set(values) == set(schema["properties"]), "values.yaml and the schema disagree"


def test_more_than_one_replica_without_leader_election_is_refused(helm: Path) -> None:
    result = run_helm(
        helm, "template", "x", str(CHART), "--set", "leaderElection.enabled=false"
    )  # with the default two replicas
    assert result.returncode != 0
    assert "needs leaderElection.enabled=true" in result.stderr


def test_values_table_in_chart_readme_is_generated_from_values_comments() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "helm" / "values_table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_an_undocumented_value_fails_the_values_table(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("values_table", REPO / "helm" / "values_table.py")
    assert spec is not None
    assert spec.loader is not None
    values_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(values_table)
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    with (chart / "values.yaml").open("a") as f:
        f.write("\nundocumented: 1\n")
    with pytest.raises(ValueError, match="values without a `# --` comment: undocumented"):
        values_table.render_table(chart)


# --- manifests are valid Kubernetes ---------------------------------------------------------


@pytest.fixture(scope="module")
def rendered_files(
    rendered: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    out = tmp_path_factory.mktemp("rendered")
    files = []
    for case, text in rendered.items():
        f = out / f"{case}.yaml"
        f.write_text(text)
        files.append(f)
    return files


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_matrix_is_valid_strict_kubernetes(
    version: str, rendered_files: list[Path]
) -> None:
    result = subprocess.run(
        [
            str(KUBERNETES_VALIDATE),
            "--strict",
            "--quiet",
            "-k",
            f"{version}.0",
            *map(str, rendered_files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [ln for ln in lines if ln.startswith(("ERROR", "FATAL"))]
    # The only kinds it may not know are the Prometheus Operator ones (checked below).
    unknown = [ln for ln in lines if ln.startswith("WARN")]
    assert all(re.search(r"kind (ServiceMonitor|PrometheusRule) ", ln) for ln in unknown), unknown


def _closed(schema: Any) -> Any:
    """A CRD schema made strict like ``kubectl apply --validate=strict``: unknown fields fail."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def test_kubernetes_validate_strict_refuses_an_unknown_field(helm: Path, tmp_path: Path) -> None:
    # The matrix check above can fail: a misspelt field in a pass-through value is caught.
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"extraVolumes": [{"name": "x", "emptyDirr": {}}]}))
    manifest = tmp_path / "out.yaml"
    manifest.write_text(render_text(helm, None, "-f", str(values)))
    result = subprocess.run(
        [str(KUBERNETES_VALIDATE), "--strict", "--quiet", "-k", "1.33.0", str(manifest)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "emptyDirr" in result.stdout


def test_prometheus_operator_objects_match_their_crd_schemas(rendered: dict[str, str]) -> None:
    docs = docs_of(rendered["monitoring"])
    for kind, plural in CRD_KINDS.items():
        crd = json.loads((FIXTURES / f"crd-{plural}-v1.json").read_text())
        obj = one(docs, kind)
        assert obj["apiVersion"] == f"{crd['group']}/{crd['version']}"
        jsonschema.Draft7Validator(_closed(crd["openAPIV3Schema"])).validate(obj)


def test_a_misspelt_field_fails_the_crd_check() -> None:
    # The CRD check above can fail: a ServiceMonitor endpoint with a typo is refused.
    crd = json.loads((FIXTURES / "crd-servicemonitors-v1.json").read_text())
    bad = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "endpoints": [{"port": "http", "intervall": "30s"}]},
    }
    with pytest.raises(jsonschema.ValidationError, match="intervall"):
        jsonschema.Draft7Validator(_closed(crd["openAPIV3Schema"])).validate(bad)


# --- policies in values pass the product's validator --------------------------------------------


def _validate_rendered_policies(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    cm = one(docs_of(text), "ConfigMap", "-policies")
    pdir = tmp_path / "policies"
    pdir.mkdir()
    for name, body in cm["data"].items():
        (pdir / name).write_text(body)
    return subprocess.run(
        [sys.executable, "-m", "autoscaler", "validate", str(pdir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_default_policies_in_values_pass_es_autoscaler_validate(
    rendered: dict[str, str], tmp_path: Path
) -> None:
    result = _validate_rendered_policies(rendered["defaults"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("es-data: ")


def test_policy_given_as_yaml_text_keeps_its_comments_and_validates(
    helm: Path, tmp_path: Path
) -> None:
    text = (REPO / "policies" / "prod-data-cpu-heap.yaml").read_text()
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"policies": {"prod-data.yaml": text}}))
    out = render_text(helm, None, "-f", str(values))
    cm = one(docs_of(out), "ConfigMap", "-policies")
    assert cm["data"]["prod-data.yaml"].strip() == text.strip()
    result = _validate_rendered_policies(out, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_user_policies_replace_the_example_policy_instead_of_running_next_to_it(
    helm: Path, tmp_path: Path
) -> None:
    # Helm merges a user's `policies` map into the chart's default one; an example kept there
    # would keep polling and deciding next to the user's own policies.
    text = (REPO / "policies" / "prod-data-cpu-heap.yaml").read_text()
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"policies": {"prod-data.yaml": text}}))
    cm = one(docs_of(render_text(helm, None, "-f", str(values))), "ConfigMap", "-policies")
    assert list(cm["data"]) == ["prod-data.yaml"]


def test_invalid_policy_in_values_is_caught_by_validate(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    policy = {"name": "bad", "replicas": {"min": 5, "max": 3}, "mode": "dry-run"}
    values.write_text(yaml.safe_dump({"policies": {"bad.yaml": policy}}))
    result = _validate_rendered_policies(render_text(helm, None, "-f", str(values)), tmp_path)
    assert result.returncode == 2
    assert "min (5) is greater than max (3)" in result.stdout + result.stderr


# --- what the pods look like ------------------------------------------------------------------


@pytest.mark.parametrize("case", list(MATRIX))
def test_pod_runs_non_root_read_only_without_capabilities(
    rendered: dict[str, str], case: str
) -> None:
    docs = docs_of(rendered[case])
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    c = container(docs)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    # The writable places are emptyDirs: /tmp and the state/HOME/ANSIBLE_HOME directory.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in c["env"]}
    for path in ("/tmp", "/var/lib/es-autoscaler"):
        assert "emptyDir" in volumes[mounts[path]], path
    assert env["ANSIBLE_HOME"].startswith("/var/lib/es-autoscaler/")
    assert env["HOME"] == "/var/lib/es-autoscaler"


@pytest.mark.parametrize("case", list(MATRIX))
def test_probes_use_healthz_and_readyz(rendered: dict[str, str], case: str) -> None:
    c = container(docs_of(rendered[case]))
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


@pytest.mark.parametrize("case", list(MATRIX))
def test_every_object_carries_the_recommended_labels(rendered: dict[str, str], case: str) -> None:
    for doc in docs_of(rendered[case]):
        labels = doc["metadata"]["labels"]
        for key in ("name", "instance", "version", "managed-by"):
            assert f"app.kubernetes.io/{key}" in labels, (doc["kind"], key)


def _serve_args(text: str) -> list[str]:
    args: list[str] = container(docs_of(text))["args"]
    assert args[0] == "serve"
    return args


@pytest.mark.parametrize("case", list(MATRIX))
def test_deployment_args_are_accepted_by_the_serve_parser(
    rendered: dict[str, str], case: str
) -> None:
    from autoscaler.cli import build_parser

    args = build_parser().parse_args(_serve_args(rendered[case]))
    assert args.policies == "/etc/es-autoscaler/policies"
    assert args.webhook_token_file == "/etc/es-autoscaler/webhook/token"


def test_single_replica_recreates_and_ha_rolls_with_a_leader(rendered: dict[str, str]) -> None:
    single = one(docs_of(rendered["single"]), "Deployment")["spec"]
    assert single["replicas"] == 1
    assert single["strategy"]["type"] == "Recreate"
    assert not [a for a in _serve_args(rendered["single"]) if a.startswith("--leader-election")]
    default = one(docs_of(rendered["defaults"]), "Deployment")["spec"]
    assert default["replicas"] == 2
    assert default["strategy"]["type"] == "RollingUpdate"
    args = _serve_args(rendered["defaults"])
    assert f"--leader-election={NAMESPACE}/esas-es-autoscaler" in args
    assert "--identity=$(POD_NAME)" in args
    tuned = _serve_args(rendered["ha"])
    assert f"--leader-election={NAMESPACE}/es-autoscaler-leader" in tuned
    assert {"--lease-duration=20s", "--renew-deadline=15s", "--retry-period=3s"} <= set(tuned)
    # followers forward webhooks to http://POD_IP:PORT, which serve derives from POD_IP
    env = {e["name"]: e for e in container(docs_of(rendered["defaults"]))["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_alertmanager_resync_adds_its_flags_and_egress(rendered: dict[str, str]) -> None:
    docs = docs_of(rendered["networkpolicy"])
    args = _serve_args(rendered["networkpolicy"])
    assert "--alertmanager-url=http://alertmanager-operated.monitoring.svc:9093" in args
    assert "--alertmanager-sync=2m" in args
    egress = one(docs, "NetworkPolicy")["spec"]["egress"]
    assert any({"port": 9093, "protocol": "TCP"} in rule.get("ports", []) for rule in egress)
    assert not [a for a in _serve_args(rendered["defaults"]) if a.startswith("--alertmanager")]


def test_state_configmap_flag_names_the_configmap_the_role_allows(rendered: dict[str, str]) -> None:
    docs = docs_of(rendered["defaults"])
    flag = next(a for a in _serve_args(rendered["defaults"]) if a.startswith("--state-configmap="))
    ns, name = flag.split("=", 1)[1].split("/")
    role = one(docs, "Role", "-self")
    assert role["metadata"]["namespace"] == ns
    named = [r for r in role["rules"] if r["resources"] == ["configmaps"] and "resourceNames" in r]
    assert named
    assert all(r["resourceNames"] == [name] for r in named)
    assert not find(docs_of(rendered["cluster-wide"]), "ConfigMap", "-state")  # never rendered


def test_without_a_state_configmap_the_pod_gets_no_namespace_to_default_to_one(
    rendered: dict[str, str],
) -> None:
    # serve picks $POD_NAMESPACE/es-autoscaler-state in-cluster when POD_NAMESPACE is set; with
    # state.configMap.enabled=false the Role does not allow that ConfigMap, so no variable.
    c = container(docs_of(rendered["cluster-wide"]))
    assert "POD_NAMESPACE" not in {e["name"] for e in c["env"]}
    assert not [a for a in c["args"] if a.startswith("--state-configmap")]


def test_existing_secrets_are_referenced_not_created(rendered: dict[str, str]) -> None:
    docs = docs_of(rendered["existing-secrets"])
    assert not find(docs, "Secret")
    assert not find(docs, "ConfigMap", "-policies")
    assert not find(docs, "ServiceAccount")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["webhook-token"]["secret"]["secretName"] == "alertmanager-to-autoscaler"
    assert volumes["webhook-token"]["secret"]["items"] == [{"key": "bearer", "path": "token"}]
    assert (
        volumes["elasticsearch-credentials"]["secret"]["secretName"]
        == "es-autoscaler-es-credentials"
    )
    assert volumes["policies"]["configMap"]["name"] == "my-autoscaler-policies"
    assert pod["serviceAccountName"] == "es-autoscaler-preexisting"


def test_policies_are_mounted_as_a_directory_so_updates_reach_the_pod(
    rendered: dict[str, str],
) -> None:
    # A subPath mount would freeze the file: the kubelet only updates directory mounts.
    for text in rendered.values():
        for m in container(docs_of(text))["volumeMounts"]:
            assert "subPath" not in m, m


def test_network_policy_lets_followers_forward_webhooks_to_the_leader(
    rendered: dict[str, str],
) -> None:
    spec = one(docs_of(rendered["networkpolicy"]), "NetworkPolicy")["spec"]
    own = {"podSelector": {"matchLabels": spec["podSelector"]["matchLabels"]}}
    assert any(own in rule.get("from", []) for rule in spec["ingress"])
    assert any(own in rule.get("to", []) for rule in spec["egress"])
    # and everything else is closed to what the values name
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert all("from" in rule for rule in spec["ingress"])


# --- RBAC shape (the behavioural proof is test_chart_rbac.py) ------------------------------------


def test_target_roles_live_in_each_target_namespace_and_self_role_in_the_release_namespace(
    rendered: dict[str, str],
) -> None:
    docs = docs_of(rendered["defaults"])
    targets = find(docs, "Role", "-targets")
    assert [r["metadata"]["namespace"] for r in targets] == ["elastic"]
    assert one(docs, "Role", "-self")["metadata"]["namespace"] == NAMESPACE
    assert not find(docs, "ClusterRole")
    for binding in find(docs, "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "esas-es-autoscaler", "namespace": NAMESPACE}
        ]


def test_cluster_wide_rbac_replaces_the_target_roles(rendered: dict[str, str]) -> None:
    docs = docs_of(rendered["cluster-wide"])
    assert not find(docs, "Role", "-targets")
    rules = one(docs, "ClusterRole")["rules"]
    sts_rules = [r for r in rules if r["apiGroups"] == ["apps"]]
    assert all(r["resourceNames"] == ["es-data", "es-logs-hot"] for r in sts_rules)
    # no state ConfigMap: the release-namespace Role holds only the Lease rules
    (own,) = find(docs, "Role", "-self")
    assert {res for r in own["rules"] for res in r["resources"]} == {"leases"}


def test_lease_rules_only_with_leader_election(rendered: dict[str, str]) -> None:
    def lease_rules(case: str) -> list[dict[str, Any]]:
        role = one(docs_of(rendered[case]), "Role", "-self")
        return [r for r in role["rules"] if r["resources"] == ["leases"]]

    assert lease_rules("single") == []
    ha = lease_rules("ha")
    assert {v for r in ha for v in r["verbs"]} == {"create", "get", "update"}
    assert [r["resourceNames"] for r in ha if "get" in r["verbs"]] == [["es-autoscaler-leader"]]


# --- monitoring files ---------------------------------------------------------------------------


def _exported_metric_names() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def test_dashboard_and_rules_use_only_metrics_the_service_exports() -> None:
    exported = _exported_metric_names()
    dashboard = (CHART / "files" / "dashboard.json").read_text()
    rules = (CHART / "files" / "prometheus-rules.yaml").read_text()
    used = set(re.findall(r"\besas_[a-z_]+", dashboard + rules))
    assert used, "the dashboard should chart the service's metrics"
    assert used <= exported, used - exported


def test_dashboard_is_grafana_json_with_a_datasource_variable() -> None:
    dash = json.loads((CHART / "files" / "dashboard.json").read_text())
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]


def test_dashboard_configmap_has_the_sidecar_label(rendered: dict[str, str]) -> None:
    cm = one(docs_of(rendered["monitoring"]), "ConfigMap", "-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == "monitoring"
    assert json.loads(cm["data"]["es-autoscaler.json"])["uid"] == "es-autoscaler"


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool (Debian package prometheus) is missing, and CI installs it")
        pytest.skip("promtool not installed (Debian package prometheus)")
    return promtool


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    # promtool parses every dashboard query, each wrapped as a recording rule, with Grafana's
    # variables replaced by what they expand to.
    promtool = _promtool()
    dash = json.loads((CHART / "files" / "dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    rules = [
        {
            "record": f"dashboard:query_{i}",
            "expr": e.replace("$__rate_interval", "5m").replace("$policy", ".*"),
        }
        for i, e in enumerate(exprs)
    ]
    rules_file = tmp_path / "dashboard-queries.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_prometheus_rules_pass_promtool(tmp_path: Path, rendered: dict[str, str]) -> None:
    promtool = _promtool()
    rule = one(docs_of(rendered["monitoring"]), "PrometheusRule")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
