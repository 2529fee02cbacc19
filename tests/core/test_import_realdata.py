"""BCCD, the real dataset, imports to its published counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, real_data_path


@pytest.mark.realdata
@pytest.mark.slow
def test_bccd_imports_with_its_counts_from_the_command_line(tmp_path: Path) -> None:
    bccd = real_data_path("bccd")
    project = tmp_path / "bccd.hemalabel"
    hemalabel = [sys.executable, "-m", "app.cli.main"]
    result = subprocess.run([*hemalabel, "import", str(bccd), "--project", str(project)], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    info = subprocess.run([*hemalabel, "info", "--project", str(project), "--json"], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert summary["slides"] == 364
    assert summary["cells"] == {"white": 372, "red": 4155, "platelet": 361}
    assert summary["slides_with_white_cell_type"] == 341
    assert sum(summary["classes"]["white"].values()) == 372
