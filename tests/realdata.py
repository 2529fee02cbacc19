"""The realdata rule, shared by the conftest files of each test tier:
tests marked realdata are skipped only when ../shared/data is absent, and
CI (HEMALABEL_REQUIRE_REAL_DATA) refuses to skip them."""

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def skip_realdata_without_data(items: list[pytest.Item]) -> None:
    if DATA.is_dir():
        return
    if os.environ.get("HEMALABEL_REQUIRE_REAL_DATA"):
        raise pytest.UsageError(f"{DATA} is missing but HEMALABEL_REQUIRE_REAL_DATA is set")
    skip = pytest.mark.skip(reason=f"{DATA} not present")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)
