"""What the two engines spell differently beyond the adapter's translation:
reading a value out of a JSON column, keeping SQLite's planner off an
index, the errors a connection raises, how a connection learns that
another one committed, and where the project's layout version is kept.
One object per engine; `dialect_of(db)` picks it.

psycopg is imported only once a server project is opened: a file's
commands and windows start without it.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any, Protocol

from core.store.events import StoreEvent, StoreEventKind, announced, announcement

# Rows are read as sqlite3.Row or PostgresRow: by name or by position.
Row = Any

# Every committed change on a PostgreSQL project is announced on this
# channel (a channel belongs to one database, so one name serves every project).
CHANGES_CHANNEL = "hemalabel_changes"


class Cursor(Protocol):
    """The part of sqlite3.Cursor the store uses."""

    row_factory: Any

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Any: ...


class Connection(Protocol):
    """The part of sqlite3.Connection the store uses, which
    PostgresConnection gives too."""

    def execute(self, sql: str, parameters: Any = (), /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


class Dialect(Protocol):
    name: str
    errors: tuple[type[Exception], ...]  # what a failed query raises
    save_hint: str  # what to check when an edit could not be saved

    def json_value(self, column: str, key: str) -> str:
        """SQL for the value under `key` (dots for nesting) of a JSON text
        column, as a number, text, boolean or list."""
        ...

    def json_integer(self, column: str, key: str) -> str:
        """SQL for an integer under `key`, comparable with an integer parameter."""
        ...

    def unindexed(self, column: str) -> str:
        """A column in a WHERE that the planner must not pick an index for."""
        ...

    def announce(self, db: Connection, events: list[StoreEvent]) -> None:
        """Inside a transaction about to commit: let other connections know
        what it changed (its `events`, where the engine can carry them)."""
        ...

    def change_mark(self, db: Connection) -> int:
        """Where this connection stands among other connections' commits:
        what `news` is first asked with."""
        ...

    def news(self, db: Connection, mark: int, *, ask: bool = True) -> tuple[list[StoreEvent], int]:
        """What other connections committed since `mark`, as the events they
        announced (one RELOADED where the engine does not carry them), and
        the mark to ask with next.  `ask` False: what has already reached
        this computer, where learning more would take a round trip."""
        ...

    def clock(self) -> str:
        """SQL for now, in seconds since the epoch, by the clock every
        station shares: the server's, so a station's own clock never
        decides whether another's claim has lapsed."""
        ...

    def schema_version(self, db: Connection) -> int:
        """The project's layout version: 0 where there is no project yet."""
        ...

    def set_schema_version(self, db: Connection, version: int) -> None:
        """Record the layout version, inside the migration's transaction."""
        ...


class _SQLite:
    name = "SQLite"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    save_hint = "Check that the disk has free space and the drive is still there"

    def json_value(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def json_integer(self, column: str, key: str) -> str:
        return self.json_value(column, key)

    def unindexed(self, column: str) -> str:
        return f"+{column}"  # SQLite's unary plus: the same value, no index

    def announce(self, db: Connection, events: list[StoreEvent]) -> None:
        pass  # SQLite tells other connections by itself (PRAGMA data_version), without what changed

    def change_mark(self, db: Connection) -> int:
        # SQLite changes it for a connection whenever another one commits.
        return int(db.execute("PRAGMA data_version").fetchone()[0])

    def news(self, db: Connection, mark: int, *, ask: bool = True) -> tuple[list[StoreEvent], int]:
        now = self.change_mark(db)
        return ([] if now == mark else [StoreEvent(StoreEventKind.RELOADED)]), now

    def clock(self) -> str:
        return "((julianday('now') - 2440587.5) * 86400.0)"  # one computer: its own clock

    def schema_version(self, db: Connection) -> int:
        return int(db.execute("PRAGMA user_version").fetchone()[0])

    def set_schema_version(self, db: Connection, version: int) -> None:
        db.execute(f"PRAGMA user_version = {int(version)}")


class _Postgres:
    name = "PostgreSQL"
    save_hint = "Check that the server is running and can be reached"

    def __init__(self) -> None:
        import psycopg

        from core.store.postgres_connection import ServerGoneError

        self.errors: tuple[type[Exception], ...] = (psycopg.Error, ServerGoneError)

    def json_value(self, column: str, key: str) -> str:
        return f"(({column})::jsonb #> '{{{key.replace('.', ',')}}}')"

    def json_integer(self, column: str, key: str) -> str:
        return f"(({column})::jsonb #>> '{{{key.replace('.', ',')}}}')::bigint"

    def unindexed(self, column: str) -> str:
        return column

    def announce(self, db: Connection, events: list[StoreEvent]) -> None:
        db.execute(f"SELECT pg_notify('{CHANGES_CHANNEL}', ?)", (announcement(events),))

    def change_mark(self, db: Connection) -> int:
        return 0  # the connection keeps what it hears (PostgresConnection.listen): nothing to mark

    def news(self, db: Connection, mark: int, *, ask: bool = True) -> tuple[list[StoreEvent], int]:
        from core.store.errors import StoreError
        from core.store.postgres_connection import PostgresConnection, problem_of

        assert isinstance(db, PostgresConnection)
        try:
            return announced(db.take_heard(ask=ask)), mark
        except StoreError:
            raise  # the connection lost, which names the server already
        except self.errors as error:
            raise StoreError(f"{db.address}: could not ask the server for other stations' edits "
                             f"({problem_of(error)})") from error

    def clock(self) -> str:
        # clock_timestamp(), not now(): now() stands still through a transaction.
        return "extract(epoch from clock_timestamp())::double precision"

    def schema_version(self, db: Connection) -> int:
        # PostgreSQL has no user_version: the meta table's row keeps it.
        # pg_tables, not to_regclass: a table another connection made since this
        # transaction began shows there, and not always in to_regclass's cache.
        laid_out = db.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() AND tablename = 'meta')"
        ).fetchone()[0]
        if not laid_out:
            return 0
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return 0 if row is None else int(row[0])

    def set_schema_version(self, db: Connection, version: int) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )


SQLITE: Dialect = _SQLite()


@functools.cache
def _postgres() -> Dialect:
    return _Postgres()


def dialect_of(db: Connection) -> Dialect:
    """SQLite's for an sqlite3 connection (a file's), else PostgreSQL's."""
    return SQLITE if isinstance(db, sqlite3.Connection) else _postgres()
