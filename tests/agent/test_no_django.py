"""The agent runs on workstations without Django, and its tests prove it: no agent module and
no agent test may import Django or the server."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import readyfloor_agent

AGENT_TESTS = Path(__file__).resolve().parent


def test_every_agent_module_imports_without_django() -> None:
    # __main__ runs the CLI when imported; it only imports cli, which is covered.
    modules = [
        info.name
        for info in pkgutil.walk_packages(readyfloor_agent.__path__, "readyfloor_agent.")
        if not info.name.endswith("__main__")
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'server'})\n"
        "assert not leaked, leaked\n"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert len(modules) > 20


def test_no_agent_test_imports_django_or_the_server() -> None:
    offenders = []
    for path in AGENT_TESTS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            forbidden = [name for name in names if name.split(".")[0] in {"django", "server"}]
            offenders += [f"{path.name}: {name}" for name in forbidden]

    assert offenders == []
