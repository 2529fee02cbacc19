"""Shared test set-up: real-data location and the offscreen Qt platform."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before any test imports Qt: tests never need a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = REPO_ROOT.parent / "shared" / "data"


def real_data_path(*parts: str) -> Path:
    """A path under ../shared/data.  Real-data tests skip only on a machine
    without the data (a new user's); CI sets HEMALABEL_REQUIRE_REAL_DATA so a
    missing folder fails there instead of silently skipping."""
    if not REAL_DATA.is_dir():
        if os.environ.get("HEMALABEL_REQUIRE_REAL_DATA"):
            pytest.fail(f"{REAL_DATA} is missing but HEMALABEL_REQUIRE_REAL_DATA is set")
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA.joinpath(*parts)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked realdata follow the same rule as real_data_path()."""
    if REAL_DATA.is_dir():
        return
    if os.environ.get("HEMALABEL_REQUIRE_REAL_DATA"):
        raise pytest.UsageError(f"{REAL_DATA} is missing but HEMALABEL_REQUIRE_REAL_DATA is set")
    skip = pytest.mark.skip(reason=f"real data not found at {REAL_DATA}")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _private_user_models(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets an empty user models folder: a promoted model in the
    developer's own data folder must not change what a test loads, and no
    test may write there."""
    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(tmp_path_factory.mktemp("user-models")))
