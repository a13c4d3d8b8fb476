"""What `helm install` prints (NOTES.txt) matches what the chart deployed.

helm renders NOTES only at install time (``helm template`` skips it, and ``--dry-run`` needs a
cluster), so the test renders it the way helm does — the same template engine and values —
from a scratch copy of the chart where NOTES.txt is wrapped in a named template.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from _chart_kit import CHART, NAMESPACE, RELEASE, require_helm, run_helm


@pytest.fixture(scope="module")
def helm() -> Path:
    return require_helm()


def _notes(helm: Path, tmp_path: Path, *extra: str) -> str:
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_zz_notes.tpl").write_text(
        '{{- define "test.notes" -}}\n' + notes + "\n{{- end }}\n"
    )
    (chart / "templates" / "zz-notes.yaml").write_text(
        'notes: {{ include "test.notes" . | toJson }}\n'
    )
    result = run_helm(
        helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE,
        "--show-only", "templates/zz-notes.yaml", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text: str = yaml.safe_load(result.stdout)["notes"]
    return text


def test_notes_say_only_the_example_policy_runs_until_policies_are_given(
    helm: Path, tmp_path: Path
) -> None:
    notes = _notes(helm, tmp_path)
    assert "3. Policies: only the chart's dry-run example (es-data.yaml" in notes


def test_notes_count_the_policy_files_given_in_values(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    policy = {"name": "a", "replicas": {"min": 1, "max": 2}, "mode": "dry-run"}
    values.write_text(yaml.safe_dump({"policies": {"a.yaml": policy, "b.yaml": policy}}))
    notes = _notes(helm, tmp_path, "-f", str(values))
    assert (
        "3. Policies: 2 file(s) from values.policies in ConfigMap esas-es-autoscaler-policies"
        in notes
    )
