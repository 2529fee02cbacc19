"""A PostgreSQL database seen through the part of sqlite3.Connection that
the store uses, so every query in core/store runs on either engine.

The store writes its SQL once, in SQLite's spelling, portable where it
matters (`INSERT ... RETURNING id`, explicit ORDER BY); this adapter only
translates what is spelled differently everywhere:
  `?` and `:name` parameters      -> `%s` and `%(name)s` (every `%` -> `%%`)
  `BEGIN IMMEDIATE`               -> `BEGIN` (a row lock, not a file lock, orders writers)
  Python bools sent                -> integers (the flag columns are INTEGER, as in SQLite)
  numeric results (sum, avg)       -> float, not Decimal
and gives rows readable by column name and by position, as sqlite3.Row.
psycopg runs in autocommit mode, so the store's own BEGIN / COMMIT /
ROLLBACK delimit its transactions exactly as they do on SQLite.
What differs beyond spelling (JSON, the schema version, change
notification) is core.store.dialect's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import FloatLoader

from core.store.errors import StoreError

_MOST_KEPT = 1000  # commits heard and not yet taken, before they are kept as one "anything changed"
# A token of SQL: a quoted literal or identifier (kept whole), a `?`, a
# `:name` (not the `::` of a cast), or a `%`.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|(?<![:\w]):([A-Za-z_]\w*)|%")


@functools.lru_cache(maxsize=512)
def translate(sql: str, with_parameters: bool = True) -> str:
    """SQLite's spelling of a statement as psycopg takes it.  Without
    parameters psycopg sends the text as it is: nothing to translate."""
    if sql.strip().upper() == "BEGIN IMMEDIATE":
        return "BEGIN"
    if not with_parameters:
        return sql

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        if match.group(1) is not None:
            return f"%({match.group(1)})s"
        return text.replace("%", "%%")  # psycopg reads a % inside a literal as a placeholder too

    return _TOKEN.sub(token, sql)


class ServerGoneError(StoreError):
    """The connection to the server broke (the server stopped, the network
    went): whatever was in flight was not saved."""


def problem_of(error: BaseException) -> str:
    """psycopg's message in one line (libpq's run over several)."""
    return " ".join(str(error).split()) or type(error).__name__


def _value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _parameters(parameters: Any) -> Any:
    if isinstance(parameters, Mapping):
        return {key: _value(value) for key, value in parameters.items()}
    return [_value(value) for value in parameters]


class PostgresRow:
    """A row readable as sqlite3.Row: row["name"], row[0], keys(), dict(row)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key] if isinstance(key, str) else key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PostgresRow) and tuple(self._values) == tuple(other._values)

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        return f"PostgresRow({dict(zip(self._index, self._values, strict=True))})"


class PostgresCursor:
    """The results of one statement.  `row_factory = None` before fetching
    gives plain tuples, as on an sqlite3 cursor (cells are read so)."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor
        self.row_factory: object | None = PostgresRow
        description = cursor.description or []
        self._index = {column.name: position for position, column in enumerate(description)}

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> None:
        """Never known on PostgreSQL: the store asks `INSERT ... RETURNING id`."""
        return None

    def _row(self, values: Any) -> Any:
        if values is None or self.row_factory is None:
            return values
        return PostgresRow(self._index, values)

    def fetchone(self) -> Any:
        return self._row(self._cursor.fetchone()) if self._index else None

    def fetchall(self) -> list[Any]:
        if not self._index:
            return []
        rows = self._cursor.fetchall()
        return rows if self.row_factory is None else [PostgresRow(self._index, row) for row in rows]

    def fetchmany(self, size: int = 1) -> list[Any]:
        return [self._row(row) for row in self._cursor.fetchmany(size)] if self._index else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PostgresConnection:
    """A PostgreSQL connection with sqlite3.Connection's methods the store
    calls.  `address` names it in messages (never with a password)."""

    def __init__(self, connection: psycopg.Connection[Any], address: str) -> None:
        self._connection = connection
        self.address = address
        self._payloads: list[str] = []  # what the commits heard of announced, until taken
        # sum() and avg() of integers are numeric on PostgreSQL: read as float, as SQLite gives them.
        connection.adapters.register_loader("numeric", FloatLoader)

    @property
    def raw(self) -> psycopg.Connection[Any]:
        """The psycopg connection, for what only PostgreSQL has (notifications)."""
        return self._connection

    def execute(self, sql: str, parameters: Any = (), /) -> PostgresCursor:
        try:
            cursor = self._connection.cursor()
            if parameters:
                cursor.execute(translate(sql), _parameters(parameters))
            else:
                cursor.execute(translate(sql, with_parameters=False))
        except psycopg.OperationalError as error:
            self._raise_if_gone(error)
            raise
        return PostgresCursor(cursor)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PostgresCursor:
        try:
            cursor = self._connection.cursor()
            cursor.executemany(translate(sql), [_parameters(row) for row in parameters])
        except psycopg.OperationalError as error:
            self._raise_if_gone(error)
            raise
        return PostgresCursor(cursor)

    def _raise_if_gone(self, error: psycopg.OperationalError) -> None:
        if self._connection.broken or self._connection.closed:
            raise ServerGoneError(
                f"{self.address}: lost the connection to the PostgreSQL server ({problem_of(error)})"
            ) from error

    def listen(self, channel: str) -> None:
        """Keep the notifications on `channel` that other connections send
        (`take_heard`); this connection's own are not kept."""
        self._connection.add_notify_handler(self._heard)
        self._connection.execute(f"LISTEN {channel}")

    def _heard(self, notification: psycopg.Notify) -> None:
        if notification.pid != self._connection.info.backend_pid:
            if len(self._payloads) < _MOST_KEPT:
                self._payloads.append(notification.payload)
            else:
                # A connection nobody takes them from (a window's reader)
                # keeps one "anything changed" in place of the rest.
                self._payloads[-1] = ""

    def take_heard(self, *, ask: bool = True) -> list[str]:
        """The payloads of the other connections' commits heard since the
        last call, oldest first.  `ask`: one round trip brings them up to
        date with every commit made before it.  Without, only what has
        reached the socket is read: a window's timer looks four times a
        second on its own thread, where a round trip to a server gone silent
        would hold it for the network's timeout.  A connection lost raises
        ServerGoneError."""
        if ask:
            self.execute("SELECT 1")
        else:
            self._read_arrived()
        payloads, self._payloads = self._payloads, []
        return payloads

    def _read_arrived(self) -> None:
        """Hear the notifications that have reached the socket, never waiting."""
        with self._connection.lock:
            pgconn = self._connection.pgconn
            try:
                # A server that ends the connection sends its reason, then
                # closes: the second read meets the close when it came with the reason.
                pgconn.consume_input()
                pgconn.consume_input()
            except psycopg.OperationalError as error:
                raise ServerGoneError(
                    f"{self.address}: lost the connection to the PostgreSQL server ({problem_of(error)})"
                ) from error
            while (notification := pgconn.notifies()) is not None:
                self._heard(psycopg.Notify(notification.relname.decode(), notification.extra.decode(),
                                           notification.be_pid))

    @property
    def in_transaction(self) -> bool:
        return self._connection.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR)

    def close(self) -> None:
        self._connection.close()
