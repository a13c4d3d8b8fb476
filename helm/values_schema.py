"""Embed the product's policy JSON Schema into the chart's values.schema.json.

Why: a policy given as a YAML object in `policies` was only checked when the pod started
(`serve` exits 2, CrashLoopBackOff). With the policy schema inside values.schema.json, Helm
refuses a mistyped policy object at `helm install/upgrade/lint/template` time, naming the path.
The schema is the one `es-autoscaler validate --schema` prints (also kept in
policies/policy.schema.json), rewritten for the validator Helm 3 actually runs:

* Helm 3.17 validates values with github.com/xeipuuv/gojsonschema v1.2.0 (helm/helm
  pkg/chartutil/jsonschema.go at tag v3.17.1: `gojsonschema.Validate(schemaLoader,
  valuesLoader)`; go.mod pins `github.com/xeipuuv/gojsonschema v1.2.0`). Only Helm 4 moved to
  github.com/santhosh-tekuri/jsonschema (helm/helm commit 32a87dff3 "adding support for JSON
  Schema 2020", first in v4.0.0-alpha.1).
* gojsonschema knows drafts 4, 6 and 7, not 2020-12: it parses `definitions` (schema.go,
  `KEY_DEFINITIONS`), not `$defs`, and a `$ref` makes it ignore the keyword's siblings
  (schema.go `parseReference` returns early) as draft 7 says. So `$defs` become
  `definitions/policy.NAME`, `$ref`s are rewritten to match, a `$ref` with validating
  siblings is wrapped in `allOf`, and `$schema` is dropped from the embedded part.
* Every keyword the embedded schema uses must be one gojsonschema v1.2.0 validates in draft 7
  (`SUPPORTED` below, from its keywords in schema.go/validation.go); anything else (e.g. a
  future `prefixItems`, `unevaluatedProperties`, `$defs` or `$dynamicRef`) stops the generator
  rather than being silently ignored by Helm.

Cross-field rules (`replicas.min <= replicas.max`, a scale rule's `above`/`below`, ...) live in
the pydantic validators, not in JSON Schema: Helm cannot check them, the service does at start.

    python helm/values_schema.py           # rewrite helm/es-autoscaler/values.schema.json
    python helm/values_schema.py --check   # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

CHART = Path(__file__).resolve().parent / "es-autoscaler"
PREFIX = "policy."
REF = "#/definitions/"

#: Schema keywords gojsonschema v1.2.0 validates under draft 7 (xeipuuv/gojsonschema@v1.2.0
#: schema.go parseSchema), plus annotations it reads or ignores (title, description, default,
#: examples). `format` is left out on purpose: gojsonschema checks formats pydantic may emit
#: differently from the service.
SUPPORTED = frozenset(
    {
        "$ref", "additionalItems", "additionalProperties", "allOf", "anyOf", "const",
        "contains", "default", "definitions", "dependencies", "description", "else", "enum",
        "examples", "exclusiveMaximum", "exclusiveMinimum", "if", "items", "maxItems",
        "maxLength", "maxProperties", "maximum", "minItems", "minLength", "minProperties",
        "minimum", "multipleOf", "not", "oneOf", "pattern", "patternProperties", "properties",
        "propertyNames", "required", "then", "title", "type", "uniqueItems",
    }
)  # fmt: skip
#: Keywords whose value is a map of name -> schema, or a list of schemas, or a schema.
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "dependencies")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = (
    "additionalProperties", "additionalItems", "items", "contains", "not", "if", "then",
    "else", "propertyNames",
)  # fmt: skip
_VALUE_KEYWORDS = ("enum", "const", "default", "examples", "required")
_ANNOTATIONS = frozenset({"title", "description", "default", "examples"})
#: Regex features Go's RE2 (which gojsonschema compiles `pattern` with) does not have.
_NOT_RE2 = re.compile(r"\(\?[=!<]|\\[1-9]|\(\?P=")

STRING_DESCRIPTION = (
    "YAML text of one policy (keeps its comments). Helm does not parse it: the service "
    "checks it when it loads the policy directory (`serve` exits 2 on an invalid policy at "
    "start); check it first with `es-autoscaler validate FILE`."
)
OBJECT_DESCRIPTION = (
    "One policy as a YAML object, checked here against the policy JSON Schema "
    "(`es-autoscaler validate --schema`): unknown fields, wrong types and enum values are "
    "refused by helm install/upgrade/lint/template. Cross-field rules (replicas.min <= "
    "replicas.max and the like) are not expressible in JSON Schema: the service checks them "
    "at start."
)


def policy_schema() -> dict[str, Any]:
    """The output of `es-autoscaler validate --schema` (run with this interpreter)."""
    out = subprocess.run(
        [sys.executable, "-m", "autoscaler", "validate", "--schema"],
        capture_output=True,
        text=True,
        check=True,
        cwd=CHART.parents[1],
    ).stdout
    schema: dict[str, Any] = json.loads(out)
    return schema


def _rewrite(node: Any, where: str) -> Any:
    """Copy of a schema node with refs moved to `definitions/policy.NAME`, refusing keywords
    gojsonschema would not check."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise ValueError(f"{where}: a schema must be an object or a boolean")
    unknown = sorted(set(node) - SUPPORTED)
    if unknown:
        raise ValueError(
            f"{where}: keyword(s) {unknown} are not validated by Helm 3's gojsonschema "
            "(draft 7); rewrite them in helm/values_schema.py"
        )
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            if not value.startswith("#/$defs/"):
                raise ValueError(f"{where}: $ref {value!r} is not a local #/$defs/ reference")
            out[key] = REF + PREFIX + value.removeprefix("#/$defs/")
        elif key == "pattern":
            if _NOT_RE2.search(value):
                raise ValueError(f"{where}: pattern {value!r} uses a feature RE2 lacks")
            out[key] = value
        elif key in _SCHEMA_MAPS:
            out[key] = {k: _rewrite(v, f"{where}/{key}/{k}") for k, v in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_rewrite(v, f"{where}/{key}/{i}") for i, v in enumerate(value)]
        elif key in _SCHEMA_ONE:
            out[key] = _rewrite(value, f"{where}/{key}")
        else:  # enum, const, default, examples, required, numbers, strings
            out[key] = value
    if "$ref" in out and set(out) - _ANNOTATIONS - {"$ref"}:
        # draft 7: siblings of $ref are ignored; keep them by moving the ref into allOf
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}, *out.get("allOf", [])]
    return out


def embedded(policy: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(definitions, the `policies.additionalProperties` node) for a policy schema."""
    root = {k: v for k, v in policy.items() if k not in ("$defs", "$schema")}
    definitions = {PREFIX[:-1]: _rewrite(root, "#")}
    for name, sub in sorted(policy.get("$defs", {}).items()):
        definitions[PREFIX + name] = _rewrite(sub, f"#/$defs/{name}")
    item = {
        "type": ["object", "string"],
        "description": "A policy: YAML text (checked by the service at start) or an object "
        "(checked here against the policy JSON Schema, except cross-field rules).",
        "if": {"type": "string"},
        "then": {"type": "string", "description": STRING_DESCRIPTION},
        "else": {"allOf": [{"$ref": REF + PREFIX[:-1]}], "description": OBJECT_DESCRIPTION},
    }
    return definitions, item


def render(values_schema: dict[str, Any], policy: dict[str, Any]) -> str:
    """values.schema.json text with the policy schema embedded (all else kept as it is)."""
    definitions, item = embedded(policy)
    out = dict(values_schema)
    props = dict(out["properties"])
    props["policies"] = {
        **props["policies"],
        "description": "file name -> policy: YAML text (checked by the service at start) or "
        "an object (checked here against the policy JSON Schema, except cross-field rules)",
        "additionalProperties": item,
    }
    out["properties"] = props
    out["definitions"] = definitions
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    path = CHART / "values.schema.json"
    current = path.read_text(encoding="utf-8")
    try:
        updated = render(json.loads(current), policy_schema())
    except ValueError as e:
        print(f"values_schema: {e}", file=sys.stderr)
        return 1
    if args.check:
        if updated != current:
            print(
                "values_schema: helm/es-autoscaler/values.schema.json does not embed the "
                "current `es-autoscaler validate --schema`; run `python helm/values_schema.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
