"""The chart's values.schema.json embeds the policy JSON Schema (`es-autoscaler validate
--schema`) rewritten for Helm 3's draft-7 validator by helm/values_schema.py; these tests keep
the committed file in sync with the product and the rewrite honest."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "helm" / "values_schema.py"
VALUES_SCHEMA = REPO / "helm" / "es-autoscaler" / "values.schema.json"


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("values_schema", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chart_values_schema_embeds_the_validate_schema_output() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        "helm/es-autoscaler/values.schema.json is stale against `es-autoscaler validate "
        f"--schema`: run `python helm/values_schema.py`\n{result.stderr}"
    )


def test_every_ref_of_the_values_schema_resolves_to_its_definitions() -> None:
    text = VALUES_SCHEMA.read_text()
    schema = json.loads(text)
    assert "$defs" not in text  # Helm 3's gojsonschema only knows draft-7 `definitions`
    refs = set(re.findall(r'"\$ref": "#/definitions/([^"]+)"', text))
    assert refs, "no $ref: the policy schema is not embedded"
    assert refs <= set(schema["definitions"])
    assert set(re.findall(r'"\$ref": "([^"]+)"', text)) == {f"#/definitions/{r}" for r in refs}


@pytest.mark.parametrize(
    "keyword", ["prefixItems", "unevaluatedProperties", "$defs", "$dynamicRef", "format"]
)
def test_a_keyword_helm_3_would_not_validate_stops_the_generator(keyword: str) -> None:
    policy = {"type": "object", "properties": {"a": {"type": "string", keyword: {}}}}
    with pytest.raises(ValueError, match=re.escape(keyword)):
        _module().embedded(policy)


def test_a_pattern_re2_cannot_compile_stops_the_generator() -> None:
    policy = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?!x)"}}}
    with pytest.raises(ValueError, match="RE2"):
        _module().embedded(policy)


def test_ref_with_validating_siblings_keeps_them_under_draft_7() -> None:
    policy = {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A", "maxLength": 3, "description": "d"}},
        "$defs": {"A": {"type": "string"}},
    }
    definitions, _ = _module().embedded(policy)
    assert definitions["policy"]["properties"]["a"] == {
        "allOf": [{"$ref": "#/definitions/policy.A"}],
        "maxLength": 3,
        "description": "d",
    }
    assert definitions["policy.A"] == {"type": "string"}
