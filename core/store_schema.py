"""The SQLite layout of a project file, numbered, with its migrations.

Each entry of MIGRATIONS takes a file from version N-1 to N.  A migration is
never edited once released: old project files on technicians' disks depend
on replaying exactly these statements.  tests/core/test_store_migrations.py
builds a file of every earlier version and opens it with the current store.
"""

from __future__ import annotations

import sqlite3

# Version 1: slides, cells, undo history and the correction queue.
# Cell ids use AUTOINCREMENT so an id is never reused: undo history and the
# correction queue must always point at one and the same cell.
_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE slides (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'new',
    added_at TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE cells (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slide_id INTEGER NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    kind TEXT NOT NULL,
    label TEXT,
    source TEXT NOT NULL,
    probabilities TEXT NOT NULL DEFAULT '{}',
    model_version TEXT,
    score REAL,
    reviewed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cells_by_slide ON cells(slide_id);
CREATE TABLE edits (
    id INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE changes (
    id INTEGER PRIMARY KEY,
    edit_id INTEGER NOT NULL REFERENCES edits(id) ON DELETE CASCADE,
    cell_id INTEGER NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX changes_by_edit ON changes(edit_id);
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    edit_id INTEGER REFERENCES edits(id) ON DELETE SET NULL,
    slide_id INTEGER NOT NULL,
    cell_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    old_label TEXT,
    new_label TEXT,
    old_box TEXT,
    new_box TEXT,
    model_version TEXT,
    retracted INTEGER NOT NULL DEFAULT 0
);
"""

# Version 2: sign-off (who and when) on slides, and an audit trail of
# sign-offs and unlocks, which must outlive undo and never be edited.
_V2 = """
ALTER TABLE slides ADD COLUMN signed_off_by TEXT;
ALTER TABLE slides ADD COLUMN signed_off_at TEXT;
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    slide_id INTEGER,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX corrections_by_cell ON corrections(cell_id);
"""

# Version 3: the lymphoid screen's verdict on each cell (issue 31): P(blast),
# the likeliest B-ALL subtype, the flag's state (suspected, confirmed,
# dismissed, none: screened and not suspected) and the screen model's version.
# NULL blast_flag: the cell was never screened.
_V3 = """
ALTER TABLE cells ADD COLUMN blast_p REAL;
ALTER TABLE cells ADD COLUMN blast_subtype TEXT;
ALTER TABLE cells ADD COLUMN blast_flag TEXT;
ALTER TABLE cells ADD COLUMN screen_model TEXT;
"""

# Version 4: who made each edit, on which workstation, and who undid it and
# when (the audit trail, issue 32); a sign-off or unlock's workstation.
# NULL: an edit saved before version 4, shown as "unknown (before v4)".
# An edit's `undone` is 2 once a new edit replaced the redo branch it was
# on: kept for the trail, never played again.
_V4 = """
ALTER TABLE edits ADD COLUMN who TEXT;
ALTER TABLE edits ADD COLUMN workstation TEXT;
ALTER TABLE edits ADD COLUMN undone_by TEXT;
ALTER TABLE edits ADD COLUMN undone_at TEXT;
ALTER TABLE audit ADD COLUMN workstation TEXT;
"""

MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3, 4: _V4}
CURRENT_VERSION = max(MIGRATIONS)

# Indexes that change no layout: made when a file is opened for editing
# rather than by a migration, so the file stays one that the HemaLabel
# before them opens (it refuses any newer version number).  Every edit sets
# aside the undone edits of the redo branch and drops their retracted corrections, and
# an undo marks an edit's corrections; without these each of those scanned
# the whole history, which grows by one edit per key press.  The project's
# differential (ProjectStore.cell_groups over every slide) is counted again
# after each edit while it is on show: from cells_by_group alone SQLite counts
# 150,000 cells in 11 ms, against 73 ms reading the table.
_INDEXES = """
CREATE INDEX IF NOT EXISTS edits_undone ON edits(id) WHERE undone = 1;
CREATE INDEX IF NOT EXISTS corrections_by_edit ON corrections(edit_id);
CREATE INDEX IF NOT EXISTS cells_by_group ON cells(kind, label, reviewed);
"""


def ensure_indexes(connection: sqlite3.Connection) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(_INDEXES):
            connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def schema_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection, target: int = CURRENT_VERSION) -> list[int]:
    """Apply every migration above the file's version up to `target`, each in
    its own transaction so a crash leaves the file at a whole version."""
    applied = []
    current = schema_version(connection)
    for version in range(current + 1, target + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {version}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
