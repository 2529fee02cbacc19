"""Shared test set-up: the real-data rule, the offscreen Qt platform and a
private user models folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before any test imports Qt: tests never need a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = REPO_ROOT.parent / "shared" / "data"
REQUIRE_VARIABLE = "HEMALABEL_REQUIRE_REAL_DATA"


def require_real_data() -> None:
    """The one rule for tests and benchmarks that read ../shared/data: skip
    only on a machine without it (a new user's); where
    HEMALABEL_REQUIRE_REAL_DATA is set (.ci/run sets it), fail instead.
    Every test marked realdata passes here before its fixtures run."""
    if REAL_DATA.is_dir():
        return
    if os.environ.get(REQUIRE_VARIABLE):
        pytest.fail(f"{REAL_DATA} is missing but {REQUIRE_VARIABLE} is set", pytrace=False)
    pytest.skip(f"real data not found at {REAL_DATA}")


def real_data_path(*parts: str) -> Path:
    """A path under ../shared/data, behind the same rule."""
    require_real_data()
    return REAL_DATA.joinpath(*parts)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("realdata"):
        require_real_data()


@pytest.fixture(autouse=True)
def _private_user_models(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets an empty user models folder: a promoted model in the
    developer's own data folder must not change what a test loads, and no
    test may write there."""
    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(tmp_path_factory.mktemp("user-models")))


POSTGRES_VARIABLE = "HEMALABEL_TEST_POSTGRES"  # a server address; .ci/run starts a throwaway cluster
REQUIRE_POSTGRES_VARIABLE = "HEMALABEL_REQUIRE_POSTGRES"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The address of a new, empty database on the test server, dropped
    after the test.  Skipped where no server is given (a new user's
    machine); where HEMALABEL_REQUIRE_POSTGRES is set (.ci/run), failed."""
    server = os.environ.get(POSTGRES_VARIABLE)
    if not server:
        if os.environ.get(REQUIRE_POSTGRES_VARIABLE):
            pytest.fail(f"{REQUIRE_POSTGRES_VARIABLE} is set but {POSTGRES_VARIABLE} names no server", pytrace=False)
        pytest.skip(f"no PostgreSQL server ({POSTGRES_VARIABLE} is not set)")
    import uuid

    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def project_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test makes its project, once on each engine: a file in the
    test's folder, or a new empty database on the test server."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "p.hemalabel")
