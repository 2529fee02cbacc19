"""A project's layout, numbered, with its migrations, for both engines.

Each entry of MIGRATIONS takes an SQLite file from version N-1 to N, and its
version is the file's PRAGMA user_version.  A migration is never edited once
released: old project files on technicians' disks depend on replaying
exactly these statements.  tests/core/test_store_migrations.py builds a file
of every earlier version and opens it with the current store.

PostgreSQL projects began at version 4: POSTGRES_MIGRATIONS[4] is that
layout whole, written for PostgreSQL (the same tables, columns and indexes;
identity ids that are never reused; DOUBLE PRECISION for SQLite's REAL),
and the version is the meta table's 'schema_version' row (PostgreSQL has
no user_version).  A new version is written for both engines: an entry in
MIGRATIONS and one in POSTGRES_MIGRATIONS, each taking the layout from
N-1 to N; `migrate` applies whichever the connection's engine needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.store.dialect import Dialect

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

# Version 5: several workstations on one project (issue 32).  A cell's
# row_version grows with every change to it, so an edit made on what a
# station showed is refused once another station changed the cell since.
# A claim marks a slide in review by one station (a window's session, not a
# person: the same technician may have two windows); `heartbeat` is seconds
# since the epoch, by the database's clock where there is a server, and a
# claim whose heartbeat stopped is free again.  A refused edit names the
# cell's latest change, looked up by cell (changes_by_cell), on histories
# of a lab's months.  Written once for both
# engines: only the id's and the heartbeat's types are spelled differently.
_V5_BOTH = """
ALTER TABLE cells ADD COLUMN row_version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE claims (
    slide_id {id_type} PRIMARY KEY REFERENCES slides(id) ON DELETE CASCADE,
    station TEXT NOT NULL,
    who TEXT NOT NULL,
    workstation TEXT NOT NULL,
    since TEXT NOT NULL,
    heartbeat {real_type} NOT NULL
);
CREATE INDEX changes_by_cell ON changes(cell_id);
"""
_V5 = _V5_BOTH.format(id_type="INTEGER", real_type="REAL")

MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5}
CURRENT_VERSION = max(MIGRATIONS)

# Version 4 on PostgreSQL, the first layout there: SQLite's after its four
# migrations, column for column in the same order (a copy between engines
# reads and writes the same rows).  Ids are identities GENERATED BY DEFAULT,
# so an undo can put a cell back under its own id, and never reused, as
# SQLite's AUTOINCREMENT keeps cell ids.
_PG_ID = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
_PG_V4 = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE slides (
    id {_PG_ID},
    path TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'new',
    added_at TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{{}}',
    signed_off_by TEXT,
    signed_off_at TEXT
);
CREATE TABLE cells (
    id {_PG_ID},
    slide_id BIGINT NOT NULL REFERENCES slides(id) ON DELETE CASCADE,
    x0 DOUBLE PRECISION NOT NULL, y0 DOUBLE PRECISION NOT NULL,
    x1 DOUBLE PRECISION NOT NULL, y1 DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    label TEXT,
    source TEXT NOT NULL,
    probabilities TEXT NOT NULL DEFAULT '{{}}',
    model_version TEXT,
    score DOUBLE PRECISION,
    reviewed INTEGER NOT NULL DEFAULT 0,
    blast_p DOUBLE PRECISION,
    blast_subtype TEXT,
    blast_flag TEXT,
    screen_model TEXT
);
CREATE INDEX cells_by_slide ON cells(slide_id);
CREATE TABLE edits (
    id {_PG_ID},
    description TEXT NOT NULL,
    at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    who TEXT,
    workstation TEXT,
    undone_by TEXT,
    undone_at TEXT
);
CREATE TABLE changes (
    id {_PG_ID},
    edit_id BIGINT NOT NULL REFERENCES edits(id) ON DELETE CASCADE,
    cell_id BIGINT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX changes_by_edit ON changes(edit_id);
CREATE TABLE corrections (
    id {_PG_ID},
    at TEXT NOT NULL,
    edit_id BIGINT REFERENCES edits(id) ON DELETE SET NULL,
    slide_id BIGINT NOT NULL,
    cell_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    old_label TEXT,
    new_label TEXT,
    old_box TEXT,
    new_box TEXT,
    model_version TEXT,
    retracted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE audit (
    id {_PG_ID},
    at TEXT NOT NULL,
    slide_id BIGINT,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    workstation TEXT
);
CREATE INDEX corrections_by_cell ON corrections(cell_id);
"""

_PG_V5 = _V5_BOTH.format(id_type="BIGINT", real_type="DOUBLE PRECISION")

POSTGRES_MIGRATIONS: dict[int, str] = {4: _PG_V4, 5: _PG_V5}
POSTGRES_FIRST_VERSION = min(POSTGRES_MIGRATIONS)
_UPGRADE_LOCK = 0x48454D41  # a PostgreSQL advisory lock's key: "HEMA"
TABLE_NAMES = ("meta", "slides", "cells", "edits", "changes", "corrections", "audit", "claims")
TABLE_KEYS = {"meta": "key", "claims": "slide_id"}  # the primary key of the tables not keyed by `id`

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


def ensure_indexes(connection: Any) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(_INDEXES):
            connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def schema_version(connection: Any) -> int:
    """The layout's version: 0 for a file or database with no project yet."""
    return _dialect(connection).schema_version(connection)


def migrate(connection: Any, target: int = CURRENT_VERSION) -> list[int]:
    """Apply every migration above the project's version up to `target`, each
    in its own transaction so a crash leaves it at a whole version.  A new
    PostgreSQL project starts at POSTGRES_FIRST_VERSION."""
    from core.store.dialect import SQLITE

    applied = []
    dialect = _dialect(connection)
    on_sqlite = dialect is SQLITE
    migrations = MIGRATIONS if on_sqlite else POSTGRES_MIGRATIONS
    current = dialect.schema_version(connection)
    if not on_sqlite and current == 0:
        current = POSTGRES_FIRST_VERSION - 1
    for version in range(current + 1, target + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            if not on_sqlite:
                # Several stations may open an old project at once: one
                # upgrades it, the others find it done (SQLite's file lock
                # does this for a file).
                connection.execute("SELECT pg_advisory_xact_lock(?)", (_UPGRADE_LOCK,))
                if dialect.schema_version(connection) >= version:
                    connection.execute("COMMIT")
                    continue
            for statement in _statements(migrations[version]):
                connection.execute(statement)
            dialect.set_schema_version(connection, version)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def _dialect(connection: Any) -> Dialect:
    # Imported here: core.store's modules import this one.
    from core.store.dialect import dialect_of

    return dialect_of(connection)


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
