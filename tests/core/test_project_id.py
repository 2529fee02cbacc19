"""A project's id: its own name for itself, kept in the file, so a user's
settings of the project (image roots) follow it when it is moved or copied."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.store import ProjectStore
from core.store_schema import CURRENT_VERSION


def _drop_id(path: Path) -> None:
    """The file as HemaLabel wrote it before projects had ids."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("DELETE FROM meta WHERE key = 'project_id'")
    finally:
        connection.close()


def _file_id(path: Path) -> str | None:
    connection = sqlite3.connect(path)
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'project_id'").fetchone()
    finally:
        connection.close()
    return row[0] if row else None


def test_a_new_project_has_an_id_that_a_move_or_a_copy_keeps(tmp_path: Path) -> None:
    first = tmp_path / "ward.hemalabel"
    with ProjectStore.create(first) as store:
        project_id = store.project_id
    assert project_id is not None and str(uuid.UUID(project_id)) == project_id
    with ProjectStore.create(tmp_path / "other.hemalabel") as other:
        assert other.project_id != project_id

    moved = tmp_path / "moved" / "ward.hemalabel"
    moved.parent.mkdir()
    shutil.move(first, moved)
    copied = tmp_path / "copy.hemalabel"
    shutil.copy(moved, copied)
    with ProjectStore.open(moved) as store, ProjectStore.open(copied, read_only=True) as reader:
        assert store.project_id == project_id
        assert reader.project_id == project_id


def test_an_older_file_is_given_an_id_when_first_opened_for_editing_without_a_new_version(tmp_path: Path) -> None:
    path = tmp_path / "old.hemalabel"
    with ProjectStore.create(path) as store:
        store.add_slide("img/a.png", 640, 480)
    _drop_id(path)

    with ProjectStore.open(path, read_only=True) as reader:
        assert reader.project_id is None  # nothing is written to a file opened to read
    assert _file_id(path) is None

    with ProjectStore.open(path) as store:
        given = store.project_id
        assert given is not None
        assert store.schema_version == CURRENT_VERSION
        with ProjectStore.open(path, read_only=True) as reader:
            assert reader.project_id == given
        assert not store.can_undo()  # giving an id is no edit of the technician's
    assert _file_id(path) == given
    with ProjectStore.open(path) as store:
        assert store.project_id == given  # given once, then kept

    # What an older HemaLabel checks before opening: the version number and the meta table's layout.
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
        assert [row[1] for row in connection.execute("PRAGMA table_info(meta)")] == ["key", "value"]
    finally:
        connection.close()


def test_an_older_file_on_a_full_disk_still_opens_and_is_given_its_id_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.store import project_file

    path = tmp_path / "old.hemalabel"
    ProjectStore.create(path).close()
    _drop_id(path)

    @contextmanager
    def disk_full(_connection: sqlite3.Connection) -> Iterator[None]:
        raise sqlite3.OperationalError("database or disk is full")
        yield

    monkeypatch.setattr(project_file, "transaction", disk_full)
    with ProjectStore.open(path) as store:
        assert store.project_id is None  # its settings are kept by path meanwhile
        assert not store.read_only
    monkeypatch.undo()
    with ProjectStore.open(path) as store:
        assert store.project_id is not None
