"""An edit the file refuses (a full disk, a drive gone) is rolled back
whole, named in a StoreError that says what was not saved, announced to
the window, and the project goes on working once the cause is gone."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from core.schema import Box, CellKind
from core.store import ProjectStore, SaveFailedError


@pytest.fixture
def store(tmp_path: Path):  # noqa: ANN201
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    store.add_slide(tmp_path / "a.png", 100, 80)
    yield store
    store.close()


def _fill_the_disk(store: ProjectStore) -> None:
    """SQLite's page limit stands in for a full disk: it fails writes with
    the same error ("database or disk is full") at the same point."""
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")


def _free_the_disk(store: ProjectStore) -> None:
    store._db.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_disk_refuses_the_edit_whole_and_says_so(store: ProjectStore) -> None:
    slide = store.slides()[0]
    kept = store.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE, label="monocyte")
    heard: list[SaveFailedError] = []
    store.subscribe_failures(heard.append)
    _fill_the_disk(store)
    with pytest.raises(SaveFailedError) as refused:
        for n in range(500):  # the page limit is met within a few boxes
            store.add_cell(slide.id, Box(1, 1, 10 + n, 9), CellKind.WHITE, label="lymphocyte")
    message = str(refused.value)
    assert str(store.path) in message and 'the edit "Draw box" was not saved' in message
    assert "database or disk is full" in message and "free space" in message
    assert heard == [refused.value]
    saved = store.cells()
    with pytest.raises(SaveFailedError, match='"Set class" was not saved'):
        store.set_label([kept.id], "lymphocyte")
    assert store.cells() == saved and store.cell(kept.id).label == "monocyte"

    _free_the_disk(store)
    store.set_label([kept.id], "lymphocyte")
    assert store.cell(kept.id).label == "lymphocyte"
    assert store.undo() == "Set class" and store.cell(kept.id).label == "monocyte"


class _CommitFails:
    """The project's connection, except that COMMIT fails once, as when the
    drive goes away as the edit is being written."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self.failed = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return self._connection.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._connection, name)


def test_a_failed_commit_rolls_the_edit_back_and_the_next_one_saves(store: ProjectStore) -> None:
    slide = store.slides()[0]
    real = store._db
    assert isinstance(real, sqlite3.Connection)  # a file's
    store._db = _CommitFails(real)  # type: ignore[assignment]  # a stand-in connection
    try:
        with pytest.raises(SaveFailedError, match=r'"Draw box" was not saved \(disk I/O error\)'):
            store.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE)
        assert not real.in_transaction
        assert store.cells() == [] and store.undo_description() is None
        cell = store.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE)
        assert store.cells() == [cell] and store.undo_description() == "Draw box"
    finally:
        store._db = real
