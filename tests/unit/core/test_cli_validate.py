"""``es-autoscaler validate`` through ``autoscaler.cli.main``: exit codes, exact error lines,
the JSON Schema (printed == committed, and the shipped policies satisfy it), ``policies/``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from autoscaler.cli import main

ROOT = Path(__file__).resolve().parents[3]
POLICIES = ROOT / "policies"
SHIPPED = sorted(p for p in POLICIES.iterdir() if p.suffix in {".yaml", ".yml"})

FOUR_ERRORS = """\
name: four
replicas:
  min: 5
  max: 3
scaleUp:
  when: {metric: cpu, aggregate: avg, above: "80", for: 5m}
  cooldown: 10mins
  stepp: 1
"""


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_acceptance_invalid_policy_exits_2_naming_all_four(tmp_path: Path, capsys) -> None:
    f = tmp_path / "four.yaml"
    f.write_text(FOUR_ERRORS)
    code, out, err = cli(capsys, "validate", str(f))
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[:4] == [
        f"{f}:2: replicas: min (5) is greater than max (3)",
        f"{f}:6: scaleUp.when.above: Input should be a valid number, got str '80'",
        f"{f}:7: scaleUp.cooldown: invalid duration '10mins': use a number with a unit, "
        "e.g. 30s, 5m, 2h or 1h30m",
        f"{f}:8: scaleUp.stepp: unknown field 'stepp' (did you mean 'step'?)",
    ]
    assert "4 error(s)" in lines[-1]


def test_backtest_refuses_an_invalid_policy_with_the_same_errors(tmp_path: Path, capsys) -> None:
    f = tmp_path / "four.yaml"
    f.write_text(FOUR_ERRORS)
    csv = tmp_path / "m.csv"
    csv.write_text("timestamp,cpu.avg\n0,85\n")
    code, out, err = cli(capsys, "backtest", "--policy", str(f), "--metrics", str(csv))
    assert code == 2
    assert out == ""
    assert sum(line.startswith(f"{f}:") for line in err.splitlines()) == 4


def test_every_shipped_policy_validates(capsys) -> None:
    assert SHIPPED, "policies/ holds no policy files"
    code, out, err = cli(capsys, "validate", str(POLICIES))
    assert code == 0, err
    assert "error" not in err
    for f in SHIPPED:
        for doc in yaml.safe_load_all(f.read_text()):
            if doc:
                assert any(line.startswith(f"{doc['name']}: ") for line in out.splitlines())
    assert re.search(r"^\d+ polic(y|ies) valid$", out.splitlines()[-1])


def test_strict_validate_passes_on_the_shipped_policies(capsys) -> None:
    """What ops copy must pass the CI check they are told to run: no warning either."""
    code, out, err = cli(capsys, "validate", "--strict", str(POLICIES))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == f"{len(out.splitlines()) - 1} policies valid"


def test_valid_policy_prints_summary_and_exits_0(tmp_path: Path, capsys) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text(
        "name: ok\ntarget: {statefulSet: {namespace: n, name: s}}\nreplicas: {min: 2, max: 6}\n"
        "scaleUp: {when: {metric: cpu, aggregate: avg, above: 80, for: 5m}, cooldown: 10m}\n"
    )
    code, out, err = cli(capsys, "validate", str(f))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "ok: +1 node when avg cpu > 80% for 5m; cooldown 10m; bounds 2–6",
        "1 policy valid",
    ]


def test_overlap_warning_is_printed_but_valid(tmp_path: Path, capsys) -> None:
    f = tmp_path / "overlap.yaml"
    f.write_text(
        "name: o\ntarget: {statefulSet: {namespace: n, name: s}}\nreplicas: {min: 2, max: 6}\n"
        "scaleUp: {when: {metric: cpu, aggregate: avg, above: 60}, cooldown: 10m}\n"
        "scaleDown: {when: {metric: cpu, aggregate: avg, below: 70}, cooldown: 10m}\n"
    )
    code, _, err = cli(capsys, "validate", str(f))
    assert code == 0
    assert err.splitlines() == [
        f"warning: {f}:5: scaleDown: scale-up and scale-down conditions overlap "
        "(avg cpu between 60 and 70); when both hold, scale-up wins"
    ]


def test_duplicate_policy_names_across_files(tmp_path: Path, capsys) -> None:
    body = "name: same\nreplicas: {min: 1, max: 2}\nscaleUp: {when: {alert: A}, cooldown: 1m}\n"
    (tmp_path / "a.yaml").write_text(body)
    (tmp_path / "b.yml").write_text("# copy\n" + body)
    code, _, err = cli(capsys, "validate", str(tmp_path))
    assert code == 2
    assert f"{tmp_path / 'b.yml'}:2: name: policy name 'same' is already used in " in err
    assert f"{tmp_path / 'a.yaml'}:1" in err


def test_multiple_documents_report_file_absolute_lines(tmp_path: Path, capsys) -> None:
    f = tmp_path / "multi.yaml"
    f.write_text(
        "name: one\nreplicas: {min: 1, max: 2}\nscaleUp: {when: {alert: A}, cooldown: 1m}\n"
        "---\n"
        "name: two\nreplicas: {min: 1, max: 2}\nscaleUp: {when: {alert: A}, cooldown: soon}\n"
    )
    code, _, err = cli(capsys, "validate", str(f))
    assert code == 2
    assert err.splitlines()[0] == (
        f"{f}:7: scaleUp.cooldown: invalid duration 'soon': use a number with a unit, "
        "e.g. 30s, 5m, 2h or 1h30m"
    )


@pytest.mark.parametrize("what", ["missing", "empty_dir"])
def test_unusable_paths_exit_2(tmp_path: Path, capsys, what: str) -> None:
    path = tmp_path / "nope.yaml" if what == "missing" else tmp_path
    code, _, err = cli(capsys, "validate", str(path))
    assert code == 2
    assert err.startswith(str(path))


# --- the JSON Schema ----------------------------------------------------------------------


def schema_from_cli(capsys) -> dict[str, Any]:
    code, out, err = cli(capsys, "validate", "--schema")
    assert (code, err) == (0, "")
    data: dict[str, Any] = json.loads(out)
    return data


def test_committed_schema_equals_validate_schema_output(capsys) -> None:
    """If this fails: ``es-autoscaler validate --schema > policies/policy.schema.json``."""
    main(["validate", "--schema"])
    out = capsys.readouterr().out
    assert (POLICIES / "policy.schema.json").read_text(encoding="utf-8") == out


def check(schema: dict[str, Any], value: Any, root: dict[str, Any]) -> None:
    """Validate ``value`` against ``schema`` (whose ``$ref``s point into ``root``) with the
    real jsonschema library, as an editor's yaml-language-server would."""
    resolved = schema if schema is root else {**schema, "$defs": root["$defs"]}
    Draft202012Validator(resolved).validate(value)


def all_messages(schema: dict[str, Any], value: Any) -> str:
    """Every error message, including those inside anyOf/oneOf branches."""

    def walk(errors: Any) -> list[str]:
        out = []
        for e in errors:
            out.append(e.message)
            out.extend(walk(e.context))
        return out

    return "\n".join(walk(Draft202012Validator(schema).iter_errors(value)))


def test_schema_is_a_2020_12_json_schema_with_resolvable_refs(capsys) -> None:
    schema = schema_from_cli(capsys)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "replicas"}
    refs = set(re.findall(r'"\$ref": "#/\$defs/(\w+)"', json.dumps(schema)))
    assert refs <= set(schema["$defs"])
    for field in (
        "elasticsearch",
        "nodes",
        "target",
        "replicas",
        "scaleUp",
        "scaleDown",
        "safety",
        "mode",
    ):
        assert field in schema["properties"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_policies_satisfy_the_schema(capsys, path: Path) -> None:
    schema = schema_from_cli(capsys)
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            check(schema, doc, schema)


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ({"colour": "red"}, "('colour' was unexpected)"),
        ({"mode": "on"}, "'on' is not one of"),
        ({"replicas": {"min": 0, "max": 3}}, "0 is less than the minimum of 1"),
        (
            {
                "scaleUp": {
                    "when": {"metric": "cpu", "aggregate": "avg", "above": 1},
                    "cooldown": "5",
                }
            },
            "'5' does not match",
        ),
        (
            {
                "scaleUp": {
                    "when": {"metric": "ram", "aggregate": "avg", "above": 1},
                    "cooldown": "5m",
                }
            },
            "'ram' is not one of",
        ),
    ],
)
def test_schema_rejects_what_validate_rejects(capsys, patch: dict[str, Any], problem: str) -> None:
    schema = schema_from_cli(capsys)
    doc = {
        "name": "x",
        "replicas": {"min": 1, "max": 3},
        "scaleUp": {"when": {"alert": "A"}, "cooldown": "1m"},
    }
    check(schema, doc, schema)
    assert problem in all_messages(schema, doc | patch)


def test_schema_defaults_are_spelled_as_in_a_file(capsys) -> None:
    """Editors offer these defaults; each must be valid where it is offered."""
    schema = schema_from_cli(capsys)
    seen = 0
    for definition in [schema, *schema["$defs"].values()]:
        for prop in definition.get("properties", {}).values():
            if "default" in prop:
                sub = {k: v for k, v in prop.items() if k != "default"}
                check(sub, prop["default"], schema)
                seen += 1
    assert seen > 10
    rule = schema["$defs"]["ScaleRule"]["properties"]
    assert rule["step"]["default"] == 1
    assert schema["$defs"]["ElasticsearchConnection"]["properties"]["pollInterval"]["default"] == (
        "10s"
    )
