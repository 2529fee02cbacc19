"""Opening a project kept in a PostgreSQL database: connecting (every
failure one StoreError naming the address), refusing a database that holds
no project or a newer one, upgrading an older one, and making a new one in
an empty database the administrator created.

A server project has no lock file (several workstations edit it at once; the
server orders their transactions), no back-up copy beside it (the server's
own back-ups keep it) and no quick_check (the server keeps its pages sound).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import psycopg.conninfo

from core.store.address import PASSWORD_HELP, ServerAddress
from core.store.dialect import CHANGES_CHANNEL
from core.store.errors import ReadOnlyProjectError, StoreError
from core.store.postgres_connection import PostgresConnection, problem_of
from core.store_schema import CURRENT_VERSION, TABLE_NAMES, ensure_indexes, migrate, schema_version

CONNECT_TIMEOUT_S = 10  # a server that does not answer is said so, not waited on forever
# A network that goes silent mid-statement (a cable pulled, a VPN dropped)
# fails the statement after about 10 s rather than holding the window for
# TCP's minutes; the address may set its own.
NETWORK_TIMEOUTS = {"connect_timeout": CONNECT_TIMEOUT_S, "keepalives": 1, "keepalives_idle": 5,
                    "keepalives_interval": 2, "keepalives_count": 3, "tcp_user_timeout": CONNECT_TIMEOUT_S * 1000}


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What `hemalabel info` says of a server project beyond its counts."""

    server_version: str
    user: str
    may_write: bool


def connect_server(address: ServerAddress) -> PostgresConnection:
    """A connection to the database `address` names, hearing of other
    connections' commits (PostgresConnection.take_heard)."""
    try:
        conninfo = psycopg.conninfo.make_conninfo(address.conninfo, **_unless_given(address, NETWORK_TIMEOUTS))
        raw = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as error:
        problem = problem_of(error)
        hint = f"; {PASSWORD_HELP}" if _about_the_password(problem) else ""
        raise StoreError(f"{address}: cannot connect to the PostgreSQL server ({problem}){hint}") from None
    connection = PostgresConnection(raw, str(address))
    try:
        connection.listen(CHANGES_CHANNEL)
    except BaseException:
        connection.close()
        raise
    return connection


def _unless_given(address: ServerAddress, defaults: dict[str, int]) -> dict[str, int]:
    given = psycopg.conninfo.conninfo_to_dict(address.conninfo)
    return {key: value for key, value in defaults.items() if key not in given}


def _about_the_password(problem: str) -> bool:
    """libpq's words when the password was wrong or not found."""
    return "password authentication failed" in problem or "no password supplied" in problem


def open_server_project(address: ServerAddress, read_only: bool | None) -> tuple[PostgresConnection, bool]:
    """Connect to an existing project; returns the connection and whether
    it is read-only (with read_only=None: where the user may not write)."""
    connection = connect_server(address)
    try:
        version = schema_version(connection)
        if version == 0:
            raise StoreError(f"{address}: no HemaLabel project in this database; create one there first")
        if version > CURRENT_VERSION:
            raise StoreError(
                f"{address}: made by a newer HemaLabel (project version {version}, this one reads up to "
                f"{CURRENT_VERSION}); update HemaLabel to open it"
            )
        if read_only is None:
            read_only = not may_write(connection)
        if version < CURRENT_VERSION:
            if read_only:
                raise ReadOnlyProjectError(
                    f"{address}: project version {version} needs upgrading to {CURRENT_VERSION}, "
                    "but it is open read-only"
                )
            migrate(connection)
        if read_only:
            # The server refuses any write, whatever a caller tries.
            connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        # No ensure_indexes here, unlike a file: a server project was made
        # with them, and CREATE INDEX IF NOT EXISTS would hold back every
        # other station's edits while it looks.
    except BaseException:
        connection.close()
        raise
    return connection, read_only


# A PostgreSQL advisory lock's key ("HEMC"), held while a project is laid
# out: stations creating one in the same database at once take turns, so
# one lays it out and the others find it made.  Without it a station could
# read the empty database, then find another's fresh tables and call them
# foreign, or lay out the later versions itself and write the meta twice.
_CREATE_LOCK = 0x48454D43


def create_server_project(address: ServerAddress) -> PostgresConnection:
    """Lay a new project out in an empty database (which must exist: the
    administrator creates it and grants the rights)."""
    connection = connect_server(address)
    try:
        connection.execute("SELECT pg_advisory_lock(?)", (_CREATE_LOCK,))
        try:
            if schema_version(connection) != 0:
                raise StoreError(f"{address}: a project already exists here; open it instead")
            present = _tables_present(connection)
            if present:
                raise StoreError(
                    f"{address}: the database already holds tables named {', '.join(present)}; "
                    "a HemaLabel project needs a database of its own"
                )
            if not migrate(connection):  # laid out meanwhile by a HemaLabel that takes no lock
                raise StoreError(f"{address}: a project already exists here; open it instead")
            ensure_indexes(connection)
        finally:
            connection.execute("SELECT pg_advisory_unlock(?)", (_CREATE_LOCK,))
    except psycopg.Error as error:
        connection.close()
        raise StoreError(f"{address}: cannot create the project ({problem_of(error)})") from None
    except BaseException:
        connection.close()
        raise
    return connection


def may_write(connection: PostgresConnection) -> bool:
    """Whether the user may insert, update and delete in every table."""
    row = connection.execute(
        "SELECT bool_and(has_table_privilege(t, 'INSERT, UPDATE, DELETE')) FROM unnest(?::text[]) AS t",
        (list(TABLE_NAMES),),
    ).fetchone()
    return bool(row[0])


def server_facts(connection: PostgresConnection) -> ServerFacts:
    row = connection.execute("SELECT current_setting('server_version') AS version, current_user AS who").fetchone()
    return ServerFacts(server_version=str(row["version"]), user=str(row["who"]), may_write=may_write(connection))


def _tables_present(connection: PostgresConnection) -> list[str]:
    rows = connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_name = ANY(?::text[]) ORDER BY table_name",
        (list(TABLE_NAMES),),
    ).fetchall()
    return [str(row[0]) for row in rows]
