"""Opening a project file: where it is, refusing what cannot be one, taking
its lock, and a connection that reports damage by the file's name.

Why WAL mode with synchronous=FULL: every edit is its own transaction, so a
crash or power cut loses at most the edit in flight, and readers
(thumbnails, reports) never block the writer.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.project_lock import LockHeld, ProjectLock
from core.store.dialect import Connection
from core.store.errors import DamagedProjectError, ProjectInUseError, ReadOnlyProjectError, StoreError
from core.store_integrity import integrity_problem, is_damage
from core.store_schema import CURRENT_VERSION, ensure_indexes, migrate, schema_version

PROJECT_SUFFIX = ".hemalabel"
DEFAULT_PROJECT_NAME = "project" + PROJECT_SUFFIX

_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100  # an SQLite file begins with this header; user_version is at offset 60


def resolve_project_path(path: str | os.PathLike[str]) -> Path:
    """A project path may name the file or the folder that holds it."""
    candidate = Path(path)
    if candidate.is_dir():
        existing = sorted(candidate.glob("*" + PROJECT_SUFFIX))
        return existing[0] if len(existing) == 1 else candidate / DEFAULT_PROJECT_NAME
    return candidate


def folder_is_writable(folder: Path) -> bool:
    """Try to write, rather than trust permission bits: root ignores them and
    read-only media report writable modes."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".hemalabel-probe-"):
            pass
    except OSError:
        return False
    return True


def file_is_writable(path: Path) -> bool:
    try:
        with open(path, "r+b"):
            pass
    except OSError:
        return False
    return True


def refuse_what_cannot_be_a_project(target: Path) -> None:
    """Refuse, before SQLite touches it, a file that cannot be a project.
    SQLite takes an empty or tiny file for a new database and writes one
    over it, and would add a project's tables to another program's
    database; either would destroy a file the user chose by mistake."""
    wal = target.with_name(target.name + "-wal")
    if wal.is_file() and wal.stat().st_size > 0:
        return  # not checkpointed yet (a crash): the header on disk may be stale; SQLite reads the WAL
    try:
        with open(target, "rb") as stream:
            header = stream.read(_HEADER_SIZE)
    except OSError as error:
        raise StoreError(f"{target}: cannot read the project file ({error.strerror})") from None
    if not header:
        raise StoreError(f"{target}: not a HemaLabel project file (the file is empty)")
    if len(header) < _HEADER_SIZE or not header.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{target}: not a HemaLabel project file (not an SQLite database)")
    if int.from_bytes(header[60:64], "big") == 0 and _holds_tables(target):
        raise StoreError(f"{target}: not a HemaLabel project file (another program's SQLite database)")


def _holds_tables(path: Path) -> bool:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return bool(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.DatabaseError:
        return True  # unreadable: certainly not an empty database to build a project in
    finally:
        connection.close()


def lock_for_editing(target: Path, editor: str) -> ProjectLock:
    try:
        return ProjectLock.acquire(target, editor)
    except LockHeld as held:
        raise ProjectInUseError(target, held) from None
    except OSError as error:
        raise ReadOnlyProjectError(
            f"{target}: cannot create its lock file {error.filename} ({error.strerror}), so it cannot be edited"
        ) from None


def open_connection(target: Path, read_only: bool) -> sqlite3.Connection:
    """Connect to an existing project, refusing one from a newer HemaLabel and
    upgrading an older one where it may be written."""
    try:
        connection = connect(target, read_only=read_only)
        version = schema_version(connection)
    except sqlite3.OperationalError as error:  # the file may be fine: the disk or the drive is not
        raise StoreError(
            f"{target}: cannot open the project ({error}); check that the disk has free space and the drive "
            "is still there"
        ) from None
    except DamagedProjectError:
        raise
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{target}: not a HemaLabel project file ({error})") from None
    try:
        problem = integrity_problem(connection)
    except sqlite3.Error as error:  # the check could not read the file at all: the disk, not the file
        connection.close()
        raise StoreError(f"{target}: cannot read the project ({error}); check that the drive is still there") from None
    if problem is not None:
        connection.close()
        raise DamagedProjectError(target, problem)
    if version > CURRENT_VERSION:
        connection.close()
        raise StoreError(
            f"{target}: made by a newer HemaLabel (project version {version}, this one reads up to "
            f"{CURRENT_VERSION}); update HemaLabel to open it"
        )
    if version < CURRENT_VERSION:
        if read_only:
            connection.close()
            raise ReadOnlyProjectError(
                f"{target}: project version {version} needs upgrading to {CURRENT_VERSION}, "
                "but the file is read-only"
            )
        migrate(connection)
    if not read_only:
        ensure_indexes(connection)
    return connection


def connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """A connection whose rows are read by column name (sqlite3.Row)."""
    if read_only:
        # On read-only media SQLite cannot create the WAL index, so the file is
        # opened as immutable (nobody can be writing there).  Where the folder is
        # writable another process may be, so the WAL must be read normally.
        immutable = "&immutable=1" if not folder_is_writable(path.parent) else ""
        uri = f"{path.resolve().as_uri()}?mode=ro{immutable}"
        connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, factory=_ProjectConnection
        )
    else:
        connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=10.0, factory=_ProjectConnection
        )
        connection.project_path = path
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
    connection.project_path = path
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


@contextmanager
def transaction(connection: Connection) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class _ProjectConnection(sqlite3.Connection):
    """A project's connection: SQLite's "database disk image is malformed",
    from whichever query first meets a damaged page, arrives as one
    DamagedProjectError naming the file, never as a raw sqlite3 error."""

    project_path: Path

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor(_ProjectCursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor(_ProjectCursor).executemany(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        return self.cursor(_ProjectCursor).executescript(script)


class _ProjectCursor(sqlite3.Cursor):
    def _raise_if_damage(self, error: sqlite3.DatabaseError) -> None:
        if is_damage(error):
            project = getattr(self.connection, "project_path", Path("project"))
            raise DamagedProjectError(project, str(error)) from error

    def execute(self, sql: str, parameters: Any = (), /) -> _ProjectCursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.DatabaseError as error:
            self._raise_if_damage(error)
            raise

    def executemany(self, sql: str, parameters: Any, /) -> _ProjectCursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.DatabaseError as error:
            self._raise_if_damage(error)
            raise

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(script)
        except sqlite3.DatabaseError as error:
            self._raise_if_damage(error)
            raise

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.DatabaseError as error:
            self._raise_if_damage(error)
            raise

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as error:
            self._raise_if_damage(error)
            raise

    def fetchmany(self, size: int | None = None) -> list[Any]:
        try:
            return super().fetchmany(self.arraysize if size is None else size)
        except sqlite3.DatabaseError as error:
            self._raise_if_damage(error)
            raise

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as error:
            self._raise_if_damage(error)
            raise
