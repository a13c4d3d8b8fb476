"""Fixtures of the deploy tests: the helm binary and the chart rendered over the values matrix."""

from __future__ import annotations

from pathlib import Path

import pytest
from _chart_kit import MATRIX, render_text, require_helm


@pytest.fixture(scope="session")
def helm() -> Path:
    return require_helm()


@pytest.fixture(scope="session")
def rendered(helm: Path) -> dict[str, str]:
    """``helm template`` output of every matrix case, rendered once per session."""
    return {case: render_text(helm, case) for case in MATRIX}
