"""The commands on a project kept on a PostgreSQL server: --project takes a
postgresql:// address as it takes a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from core.store import ProjectStore, StoreError
from core.store_schema import CURRENT_VERSION
from tests.core.images import write_image


def test_import_then_info_on_a_server_project(postgres_url: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a.png", "b.png"):
        write_image(tmp_path / "smears" / name)
    assert main(["import", str(tmp_path / "smears"), "--project", postgres_url, "--format", "folder"]) == 0
    out = capsys.readouterr().out
    assert "2 new slides" in out and "before this import" not in out  # no back-up file beside a database
    assert main(["info", "--project", postgres_url]) == 0
    out = capsys.readouterr().out
    assert f"Project {postgres_url} (schema v{CURRENT_VERSION})" in out
    assert "Server: PostgreSQL " in out and "may write" in out and "Slides: 2" in out
    assert main(["info", "--project", postgres_url, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["server"]["may_write"] is True and summary["schema_version"] == CURRENT_VERSION
    with ProjectStore.open(postgres_url) as store:
        assert {Path(slide.path).name for slide in store.slides()} == {"a.png", "b.png"}
        assert all(Path(slide.path).is_absolute() for slide in store.slides())


def test_an_import_that_brings_nothing_leaves_no_project_in_the_database(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "smears").mkdir()
    (tmp_path / "smears" / "broken.png").write_bytes(b"not an image")
    assert main(["import", str(tmp_path / "smears"), "--project", postgres_url, "--format", "folder"]) != 0
    capsys.readouterr()
    with pytest.raises(StoreError, match="no HemaLabel project in this database"):
        ProjectStore.open(postgres_url)


def test_an_address_with_a_password_is_refused_and_the_password_never_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["info", "--project", "postgresql://lab:s3cret@127.0.0.1:1/lab"]) == 2
    error = capsys.readouterr().err
    assert "s3cret" not in error and "postgresql://lab:***@127.0.0.1:1/lab" in error and "pgpass" in error


def test_recover_says_a_server_project_is_the_servers_to_restore(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    assert main(["recover", "--project", "postgresql://db/lab", "--out", str(tmp_path / "new.hemalabel")]) == 2
    assert "restored from the server's own back-ups" in capsys.readouterr().err
