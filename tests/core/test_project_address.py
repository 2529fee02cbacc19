"""What names a project: a path or a PostgreSQL address, never one that
carries a password."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.store.address import (
    AddressError,
    ServerAddress,
    describe_location,
    is_server_address,
    locate_project,
    mask_password,
    parse_server_address,
)
from core.store.errors import StoreError
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("text", ["postgresql://lab@db.local/hemalabel", "postgres://db/lab",
                                  "POSTGRESQL://db/lab", "postgresql:///?service=lab"])
def test_addresses_are_told_from_paths(text: str) -> None:
    assert is_server_address(text)


@pytest.mark.parametrize("text", ["p.hemalabel", "/srv/lab/p.hemalabel", r"C:\lab\p.hemalabel",
                                  "postgresql.hemalabel", "//server/share/p.hemalabel"])
def test_paths_are_not_addresses(text: str) -> None:
    assert not is_server_address(text)
    assert not is_server_address(Path(text))


def test_an_address_names_its_database_and_shows_as_given() -> None:
    address = parse_server_address("postgresql://lab@db.local:5433/haematology?sslmode=require")
    assert address.database == "haematology" and address.name == "haematology"
    assert str(address) == "postgresql://lab@db.local:5433/haematology?sslmode=require"
    assert parse_server_address("postgresql:///?service=lab").database == "lab"


@pytest.mark.parametrize("text", ["postgresql://lab:s3cret@db.local/hemalabel",
                                  "postgresql://db.local/hemalabel?user=lab&password=s3cret"])
def test_an_address_with_a_password_is_refused_with_the_password_masked(text: str) -> None:
    with pytest.raises(AddressError) as refused:
        parse_server_address(text)
    message = str(refused.value)
    assert "s3cret" not in message and "***" in message
    assert "db.local" in message and "pgpass" in message and "service" in message
    assert isinstance(refused.value, StoreError)  # every command reports it as any refused project


def test_a_password_is_masked_wherever_it_is_shown() -> None:
    assert mask_password("postgresql://lab:s3cret@db/x") == "postgresql://lab:***@db/x"
    assert describe_location("postgresql://lab:s3cret@db/x") == "postgresql://lab:***@db/x"
    assert describe_location(Path("lab/p.hemalabel")) == str(Path("lab/p.hemalabel"))


def test_locate_takes_a_path_to_the_file_in_a_folder_and_an_address_to_the_server(tmp_path: Path) -> None:
    assert locate_project(str(tmp_path)) == tmp_path / "project.hemalabel"
    located = locate_project("postgresql://db/lab")
    assert isinstance(located, ServerAddress) and located.database == "lab"
    with pytest.raises(AddressError):
        locate_project("postgresql://lab:s3cret@db/x")


def test_a_file_project_never_imports_the_postgresql_driver() -> None:
    """psycopg costs a command's start-up time; only a server project needs it."""
    code = ("import sys, app.cli.main, core.store; from core.store import ProjectStore; "
            "import tempfile, pathlib; d = tempfile.mkdtemp(); "
            "ProjectStore.create(pathlib.Path(d) / 'p.hemalabel').close(); "
            "sys.exit('psycopg' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=False).returncode == 0
