"""Finding and reading policy files on disk; one place for the CLI and the service.

The parsing and validation are pure (``core.policy.load_policy_texts``); this module is the
thin IO layer that turns paths (files or directories) into ``(name, text)`` pairs and reports
unreadable or missing paths as ordinary policy errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from autoscaler.core.policy import LoadResult, PolicyError, load_policy_texts

SUFFIXES = frozenset({".yaml", ".yml"})


def policy_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[PolicyError]]:
    """YAML files named directly or found (recursively, sorted) in the given directories."""
    files: list[Path] = []
    problems: list[PolicyError] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix in SUFFIXES and q.is_file())
            if not found:
                problems.append(PolicyError(str(raw), 1, "", "no .yaml/.yml policy files here"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            problems.append(PolicyError(str(raw), 1, "", "no such file or directory"))
    return files, problems


def load_policies(paths: Sequence[str | Path]) -> LoadResult:
    """Read and validate policy files; unreadable paths come back as errors."""
    files, problems = policy_files(paths)
    sources = []
    for f in files:
        try:
            sources.append((str(f), f.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as e:
            problems.append(PolicyError(str(f), 1, "", f"cannot read: {e}"))
    result = load_policy_texts(sources)
    return LoadResult(result.policies, [*problems, *result.errors], result.warnings)


def mtimes(paths: Sequence[str | Path]) -> dict[str, float]:
    """Modification times of the policy files (for change detection)."""
    files, _ = policy_files(paths)
    out = {}
    for f in files:
        with contextlib.suppress(OSError):
            out[str(f)] = f.stat().st_mtime
    return out
