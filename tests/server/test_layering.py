"""The layering the house rules ask for: fleet (inventory and ingest) imports nothing from
compliance (policy and judging); compliance plugs into fleet from its AppConfig instead."""

from __future__ import annotations

import ast
from pathlib import Path

FLEET = Path(__file__).resolve().parents[2] / "server" / "fleet"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_it_finds_no_import_of_compliance_anywhere_in_fleet_even_inside_functions():
    offenders = {
        str(path.relative_to(FLEET)): sorted(name for name in imported_modules(path) if "compliance" in name)
        for path in FLEET.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
    assert len(offenders) > 5  # the walk really read fleet
