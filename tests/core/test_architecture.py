"""core/ is the domain: it must never import the GUI (PySide6, pyqtgraph) or
app/.  Two checks: import-linter's contract from pyproject.toml, and a scan of
every import statement (including ones inside functions) under core/."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

FORBIDDEN = ("PySide6", "pyqtgraph", "app", "shiboken6")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def test_no_module_under_core_imports_the_gui_or_app() -> None:
    offenders = []
    for path in sorted((REPO_ROOT / "core").rglob("*.py")):
        for line, module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_import_linter_contract_holds() -> None:
    lint_imports = shutil.which("lint-imports")
    assert lint_imports, "import-linter is a dev dependency; run the tests with 'uv run pytest'"
    result = subprocess.run([lint_imports, "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_scan_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from PySide6 import QtCore\n    import app.cli\n")
    assert [m for _, m in imported_modules(sample)] == ["PySide6", "app.cli"]
