"""A leading underscore in the twin means "only this module uses it": a name another module
needs is that module's public API (named without ``_`` and documented), so a reader can tell
what a module offers from what it keeps to itself.

Checked on the source with ``ast`` — ``from autoscaler.sim.x import _y`` anywhere under
``autoscaler/sim`` or ``autoscaler/demo``, and ``x._y`` on an imported sim module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import autoscaler

PACKAGE = Path(autoscaler.__file__).parent
CHECKED = ("sim", "demo")


def private_imports(source: str) -> list[str]:
    """Every private name ``source`` takes from another ``autoscaler`` module."""
    tree = ast.parse(source)
    found: list[str] = []
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").startswith("autoscaler")
        ):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"from {node.module} import {alias.name}")
                elif alias.name[:1].islower():
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(
                a.asname or a.name.split(".")[0]
                for a in node.names
                if a.name.startswith("autoscaler")
            )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_the_checker_finds_private_names_taken_from_another_module() -> None:
    source = (
        "from autoscaler.sim.es.units import _b64id, glob_rx\n"
        "from .config import _Config\n"
        "from autoscaler.sim.es import shards\n"
        "x = shards._ORDER\n"
    )
    assert private_imports(source) == [
        "from autoscaler.sim.es.units import _b64id",
        "from config import _Config",
        "shards._ORDER",
    ]
    assert private_imports("from autoscaler.sim.es.units import b64id\nx = _local\n") == []


def test_no_twin_or_demo_module_uses_a_private_name_of_another_module() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}: {hit}"
        for part in CHECKED
        for path in sorted((PACKAGE / part).rglob("*.py"))
        for hit in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
