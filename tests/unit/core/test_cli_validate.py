"""``es-autoscaler validate`` through ``autoscaler.cli.main``: exit codes, exact error lines,
the JSON Schema (printed == committed, and the shipped policies satisfy it), ``policies/``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

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


class SchemaError(AssertionError):
    pass


def check(schema: dict[str, Any], value: Any, root: dict[str, Any], path: str = "$") -> None:
    """A small JSON Schema (2020-12) checker for exactly the keywords pydantic emits here.

    Not a general validator: unknown keywords fail loudly so a schema change cannot slip by.
    """
    known = {
        "$ref", "$defs", "$schema", "title", "description", "default", "type", "properties",
        "required", "additionalProperties", "items", "minItems", "anyOf", "oneOf", "enum",
        "pattern", "minLength", "minimum", "maximum", "exclusiveMinimum",
    }  # fmt: skip
    unknown = set(schema) - known
    if unknown:
        raise AssertionError(f"checker does not know {sorted(unknown)} at {path}")
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        check(root["$defs"][name], value, root, path)
    types = {
        "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
        "integer": int, "number": (int, float),
    }  # fmt: skip
    if "type" in schema:
        want = schema["type"]
        ok = isinstance(value, types[want]) and not (
            want in {"integer", "number"} and isinstance(value, bool)
        )
        if not ok:
            raise SchemaError(f"{path}: {value!r} is not {want}")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passed, why = 0, []
            for sub in schema[key]:
                try:
                    check(sub, value, root, path)
                    passed += 1
                except SchemaError as e:
                    why.append(str(e))
            if passed == 0 or (key == "oneOf" and passed > 1):
                raise SchemaError(f"{path}: matches {passed} of {key} ({'; '.join(why)})")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            raise SchemaError(f"{path}: too short")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{path}: {value} > {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise SchemaError(f"{path}: {value} <= {schema['exclusiveMinimum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise SchemaError(f"{path}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            if "items" in schema:
                check(schema["items"], item, root, f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaError(f"{path}: {name} is required")
        for name, item in value.items():
            if name in props:
                check(props[name], item, root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                raise SchemaError(f"{path}: {name} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                check(schema["additionalProperties"], item, root, f"{path}.{name}")


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
        ({"colour": "red"}, "colour is not allowed"),
        ({"mode": "on"}, "not in"),
        ({"replicas": {"min": 0, "max": 3}}, "0 < 1"),
        (
            {
                "scaleUp": {
                    "when": {"metric": "cpu", "aggregate": "avg", "above": 1},
                    "cooldown": "5",
                }
            },
            "does not match",
        ),
        (
            {
                "scaleUp": {
                    "when": {"metric": "ram", "aggregate": "avg", "above": 1},
                    "cooldown": "5m",
                }
            },
            "'ram' not in",
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
    with pytest.raises(SchemaError, match=problem):
        check(schema, doc | patch, schema)


def test_schema_defaults_are_spelled_as_in_a_file(capsys) -> None:
    """Editors offer these defaults; each must be valid where it is offered."""
    schema = schema_from_cli(capsys)
    seen = 0
    for definition in [schema, *schema["$defs"].values()]:
        for name, prop in definition.get("properties", {}).items():
            if "default" in prop:
                sub = {k: v for k, v in prop.items() if k != "default"}
                check(sub, prop["default"], schema, name)
                seen += 1
    assert seen > 10
    rule = schema["$defs"]["ScaleRule"]["properties"]
    assert rule["step"]["default"] == 1
    assert schema["$defs"]["ElasticsearchConnection"]["properties"]["pollInterval"]["default"] == (
        "10s"
    )
