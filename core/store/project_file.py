"""A project file opened: its connection and lock, its transactions (one
edit, one undo step), and the callbacks that hear of each committed change.
ProjectReader and ProjectStore build on it.

Every change is announced to subscribers through plain callbacks after it
has been committed, so the GUI can follow the store without core knowing Qt.
Callbacks run on the thread that made the change; the GUI adapter hands them
to its own thread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from core.identity import Identity
from core.project_lock import ProjectLock
from core.schema import Cell
from core.store import history
from core.store.address import ProjectLocation, ServerAddress, locate_project
from core.store.connection import (
    connect,
    file_is_writable,
    folder_is_writable,
    lock_for_editing,
    open_connection,
    refuse_what_cannot_be_a_project,
    transaction,
)
from core.store.dialect import Connection, Row, dialect_of
from core.store.errors import DamagedProjectError, ProjectInUseError, ReadOnlyProjectError, SaveFailedError, StoreError
from core.store.events import StoreEvent, StoreEventKind
from core.store.rows import now_iso
from core.store_integrity import back_up
from core.store_schema import TABLE_KEYS, TABLE_NAMES, ensure_indexes, migrate, schema_version
from core.taxonomy import Taxonomy, default_taxonomy

if TYPE_CHECKING:
    from core.store.server import ServerFacts


def project_exists(target: ProjectLocation) -> bool:
    """Whether a project is there: a file, or a server database holding one."""
    if isinstance(target, ServerAddress):
        from core.store.server import connect_server  # psycopg only where a server is named

        connection = connect_server(target)
        try:
            return schema_version(connection) != 0
        finally:
            connection.close()
    return target.exists()


DEFAULT_EDITOR = "HemaLabel"  # who holds a project's lock, in words, where the caller does not say


@dataclass(slots=True)
class _Pending:
    """State of the outermost open edit: its history record and the events to
    announce once it commits."""

    description: str
    record_history: bool
    edit_id: int | None = None
    events: list[StoreEvent] = field(default_factory=list)
    nudge: bool = False  # a key press's box move, which the next press on that box may join


class ProjectFile:
    """A project opened, a file or a database on a PostgreSQL server.  Use
    `ProjectStore.open` or `ProjectStore.create`; close it (or use it as a
    context manager) when done."""

    def __init__(
        self,
        path: ProjectLocation,
        connection: Connection,
        read_only: bool,
        lock: ProjectLock | None = None,
        identity: Identity | None = None,
    ) -> None:
        self.path = path
        # Whom the edits, sign-offs and unlocks are recorded under; a window
        # changes it when the technician sets other initials.
        self.identity = identity or Identity.of_this_computer()
        # Where images are stored relative to; a server project has no
        # folder and keeps them absolute, so its folder is only where files
        # about it (reports, exports) are first suggested.
        self.folder = Path.home() if isinstance(path, ServerAddress) else path.parent
        self.read_only = read_only
        self._db = connection
        self._dialect = dialect_of(connection)
        self._editing_lock = lock
        self.edited_elsewhere_by: str | None = None  # set by open_to_read when another holds the lock
        self._lock = threading.RLock()
        self._listeners: list[Callable[[StoreEvent], None]] = []
        self._batch_listeners: list[Callable[[list[StoreEvent]], None]] = []
        self._failure_listeners: list[Callable[[SaveFailedError], None]] = []
        self._pending: _Pending | None = None
        self._depth = 0
        # The history's latest step when it is a nudge, which the next press
        # on the same box joins; an id rather than a description to match.
        self._joinable_nudge: int | None = None
        self.taxonomy = self._load_taxonomy()
        # The project's own name for itself, which a move or a copy keeps: what
        # a user's settings of the project (its image roots) are kept under.
        # None only for a file from before it was given one, opened read-only.
        self.project_id = self._read_project_id() if read_only else self._give_project_id()
        self._change_mark = self._dialect.change_mark(self._db)

    # ----------------------------------------------------------- lifecycle
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str] | ServerAddress,
        taxonomy: Taxonomy | None = None,
        *,
        editor: str = DEFAULT_EDITOR,
        identity: Identity | None = None,
    ) -> Self:
        """Make a new project and open it for editing: a file, or, named by a
        `postgresql://` address, in an empty database that exists.  `editor`
        names, in words, what edits it, for anyone else who tries to edit the
        file meanwhile; `identity`, whom its edits are recorded under
        (default: the system login on this computer)."""
        target = locate_project(path)
        if isinstance(target, ServerAddress):
            from core.store.server import create_server_project

            server = create_server_project(target)
            try:
                cls._write_new_meta(server, taxonomy)
            except BaseException:
                server.close()
                raise
            return cls(target, server, read_only=False, identity=identity)
        if target.exists():
            raise StoreError(f"{target}: a project already exists here; open it instead")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not folder_is_writable(target.parent):
            raise ReadOnlyProjectError(f"{target.parent}: folder is not writable, cannot create a project there")
        lock = lock_for_editing(target, editor)
        try:
            if target.exists():  # made by someone else between our check and our lock
                raise StoreError(f"{target}: a project already exists here; open it instead")
            connection = connect(target, read_only=False)
            migrate(connection)
            ensure_indexes(connection)
            cls._write_new_meta(connection, taxonomy)
        except BaseException:
            lock.release()
            raise
        return cls(target, connection, read_only=False, lock=lock, identity=identity)

    @staticmethod
    def _write_new_meta(connection: Connection, taxonomy: Taxonomy | None) -> None:
        with transaction(connection):
            connection.execute(
                "INSERT INTO meta(key, value) VALUES ('taxonomy', ?), ('created_at', ?), ('project_id', ?)",
                ((taxonomy or default_taxonomy()).to_json(), now_iso(), str(uuid.uuid4())),
            )

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | ServerAddress,
        read_only: bool | None = None,
        *,
        editor: str = DEFAULT_EDITOR,
        identity: Identity | None = None,
    ) -> Self:
        """Open an existing project, a file or a server's (a `postgresql://`
        address).  With read_only=None the store opens read-only by itself
        when the file or its folder cannot be written, or the server's user
        may not write.  Opening a file for editing takes its lock: while
        another window or command edits it, ProjectInUseError names who
        (reading needs no lock); a server project has none, several
        workstations edit it at once.  `identity`: as for `create`."""
        target = locate_project(path)
        if isinstance(target, ServerAddress):
            from core.store.server import open_server_project

            server, read_only = open_server_project(target, read_only)
            return cls(target, server, read_only=read_only, identity=identity)
        if not target.is_file():
            raise StoreError(f"{target}: no project file here")
        refuse_what_cannot_be_a_project(target)
        if read_only is None:
            read_only = not (file_is_writable(target) and folder_is_writable(target.parent))
        lock = None if read_only else lock_for_editing(target, editor)
        try:
            connection = open_connection(target, read_only)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls(target, connection, read_only=read_only, lock=lock, identity=identity)

    @classmethod
    def open_or_create(
        cls,
        path: str | os.PathLike[str] | ServerAddress,
        *,
        editor: str = DEFAULT_EDITOR,
        identity: Identity | None = None,
    ) -> Self:
        target = locate_project(path)
        if project_exists(target):
            return cls.open(target, editor=editor, identity=identity)
        return cls.create(target, editor=editor, identity=identity)

    @staticmethod
    def drop_new_project(path: str | os.PathLike[str] | ServerAddress) -> None:
        """Remove a project just made that holds no slide (an import or a
        copy into it failed): its file, or its tables on the server, so no
        empty project is left behind.  Refused where it holds slides."""
        target = locate_project(path)
        if isinstance(target, ServerAddress):
            from core.store.server import connect_server

            connection = connect_server(target)
            try:
                if schema_version(connection) == 0:
                    return
                if connection.execute("SELECT EXISTS (SELECT 1 FROM slides)").fetchone()[0]:
                    raise StoreError(f"{target}: holds slides, so it is not a new project to remove")
                with transaction(connection):
                    connection.execute(f"DROP TABLE IF EXISTS {', '.join(TABLE_NAMES)} CASCADE")
            finally:
                connection.close()
            return
        for part in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            part.unlink(missing_ok=True)

    @classmethod
    def open_to_read(cls, path: str | os.PathLike[str] | ServerAddress) -> Self:
        """Open a project to read it (a report, a summary): for editing where
        nobody else is, so an old project is upgraded as before, and
        read-only while another window or command edits it."""
        try:
            return cls.open(path)
        except ProjectInUseError as error:
            store = cls.open(path, read_only=True)
            store.edited_elsewhere_by = error.holder.describe() if error.holder else "another program"
            return store

    def close(self) -> None:
        with self._lock:
            try:
                if not self.read_only and self.is_file:
                    # Fold the WAL back into the main file so a copied project is whole.
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except DamagedProjectError:
                pass
            except self._dialect.errors:
                pass  # a full disk, say: the saved edits stay in the WAL beside the file, which SQLite reads next time
            finally:
                self._db.close()
                if self._editing_lock is not None:
                    self._editing_lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema_version(self._db)

    def server_facts(self) -> ServerFacts | None:
        """The server's version, the user and whether they may write; None
        for a file."""
        if self.is_file:
            return None
        from core.store.postgres_connection import PostgresConnection
        from core.store.server import server_facts

        assert isinstance(self._db, PostgresConnection)  # a server's
        with self._lock:
            return server_facts(self._db)

    @property
    def is_file(self) -> bool:
        """An SQLite file, rather than a database on a PostgreSQL server."""
        return not isinstance(self.path, ServerAddress)

    # ----------------------------------------------------------- listening
    def subscribe(self, callback: Callable[[StoreEvent], None]) -> Callable[[], None]:
        """Call `callback(event)` after every committed change.  Returns a
        function that unsubscribes."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def subscribe_batches(self, callback: Callable[[list[StoreEvent]], None]) -> Callable[[], None]:
        """Call `callback(events)` once per committed transaction with all of
        its events, so a listener that redraws can do so once per gesture (an
        undo of a 100-cell step announces 100 cells).  Returns a function that
        unsubscribes."""
        self._batch_listeners.append(callback)
        return lambda: self._batch_listeners.remove(callback) if callback in self._batch_listeners else None

    def subscribe_failures(self, callback: Callable[[SaveFailedError], None]) -> Callable[[], None]:
        """Call `callback(error)` whenever an edit cannot be saved, on the
        thread that tried it, before the error is raised there; a window
        shows it however deep in a worker the edit was.  Returns a function
        that unsubscribes."""
        self._failure_listeners.append(callback)
        return lambda: self._failure_listeners.remove(callback) if callback in self._failure_listeners else None

    def changed_elsewhere(self) -> bool:
        """Whether another connection has saved an edit since the last call
        (or since opening); as `changes_elsewhere`."""
        return bool(self.changes_elsewhere())

    def changes_elsewhere(self, *, wait: bool = True) -> list[StoreEvent]:
        """What other connections have saved since the last call (or since
        opening), as the events they announced: a server's stations name
        their changes; a file's other windows do not, so any change of a
        file is one RELOADED.  A window polls this to follow the project;
        the taxonomy is read again when it may have changed.  `wait` False
        (a window's timer): none while this store is busy saving (a worker's
        edit), rather than wait for it, and on a server only what has
        reached this computer, without a round trip.  A server gone raises
        ServerGoneError, naming it."""
        if not self._lock.acquire(blocking=wait):
            return []
        try:
            events, self._change_mark = self._dialect.news(self._db, self._change_mark, ask=wait)
            if any(event.kind is StoreEventKind.RELOADED for event in events):
                self.taxonomy = self._load_taxonomy()
            return events
        finally:
            self._lock.release()

    def _announce(self, events: Iterable[StoreEvent]) -> None:
        events = list(events)
        for event in events:
            for listener in list(self._listeners):
                listener(event)
        if events:
            for batch_listener in list(self._batch_listeners):
                batch_listener(events)

    # ----------------------------------------------------------- transactions
    @contextmanager
    def edit(self, description: str, record_history: bool = True) -> Iterator[None]:
        """Group every change made inside into one transaction and one undo
        step (one gesture = one step).  Nested groups join the outer one."""
        with self._lock:
            if self.read_only:
                raise ReadOnlyProjectError(f"{self.path}: project is open read-only; {description} was not saved")
            outermost = self._depth == 0
            if outermost:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                except self._dialect.errors as error:  # a server gone, a file locked past the timeout
                    raise self._not_saved(description, error) from error
                self._pending = _Pending(description, record_history)
            self._depth += 1
            try:
                yield
            except BaseException as error:
                self._depth -= 1
                if outermost:
                    self._pending = None
                    self._roll_back()
                    if isinstance(error, self._dialect.errors):
                        raise self._not_saved(description, error) from error
                    if isinstance(error, SaveFailedError):  # refused whole: another station changed a cell
                        self._tell_failure(error)
                raise
            self._depth -= 1
            if not outermost:
                return
            pending = self._pending
            assert pending is not None  # set when the outermost edit began
            self._pending = None
            try:
                self._dialect.announce(self._db, pending.events)
                self._db.execute("COMMIT")
            except DamagedProjectError:
                self._roll_back()
                raise
            except self._dialect.errors as error:
                self._roll_back()
                raise self._not_saved(description, error) from error
            if pending.edit_id is not None:
                # Known only once committed: a rolled-back step's id is given to the next one.
                self._joinable_nudge = pending.edit_id if pending.nudge else None
        if pending.edit_id is not None:
            pending.events.append(StoreEvent(StoreEventKind.HISTORY_CHANGED))
        self._announce(pending.events)

    def _roll_back(self) -> None:
        # SQLite has already rolled back by itself after some failures (a full
        # disk does), and a second ROLLBACK would hide the first error.
        if self._db.in_transaction:
            # Should this fail, the connection ends the transaction when it
            # can; the edit is not committed either way.
            with contextlib.suppress(*self._dialect.errors, DamagedProjectError):
                self._db.execute("ROLLBACK")

    def _not_saved(self, description: str, error: BaseException) -> SaveFailedError:
        failure = SaveFailedError(
            f"{self.path}: the edit \"{description}\" was not saved ({' '.join(str(error).split())}); the project is "
            "as it was before it. "
            f"{self._dialect.save_hint}, then do it again"
        )
        self._tell_failure(failure)
        return failure

    def _tell_failure(self, failure: SaveFailedError) -> None:
        for listener in list(self._failure_listeners):
            listener(failure)

    def _record(self, cell_id: int, before: Cell | None, after: Cell | None) -> int | None:
        """Enter a cell's change into the open edit's undo step, made by its
        first change; returns the step's id (None: an edit kept out of the history)."""
        pending = self._pending
        assert pending is not None, "store changes must happen inside edit()"
        if not pending.record_history:
            return None
        if pending.edit_id is None:
            pending.edit_id = history.begin_step(self._db, pending.description, self.identity,
                                                 own_branch_only=not self.is_file)
        history.record_change(self._db, pending.edit_id, cell_id, before, after)
        return pending.edit_id

    def _emit(self, event: StoreEvent) -> None:
        assert self._pending is not None
        self._pending.events.append(event)

    # ----------------------------------------------------------- backup
    def back_up(self) -> Path | None:
        """Copy the project file, as saved, beside itself
        (`<name>.hemalabel.bak`), replacing the previous copy; an import
        takes one first.  None for a server project: it has no file to copy
        beside, and the server's own back-ups are the lab's to keep."""
        with self._lock:
            if isinstance(self.path, ServerAddress):
                return None
            assert isinstance(self._db, sqlite3.Connection)  # a file's
            return back_up(self._db, self.path)

    # ----------------------------------------------------------- whole-project copy
    # What core.store.project_copy (`hemalabel migrate`) needs of either
    # engine: rows table by table, ids kept, in one transaction.
    @property
    def display_name(self) -> str:
        """The project for a message: its file's path or its server address."""
        return str(self.path)

    def engine_meta_keys(self) -> frozenset[str]:
        """Meta rows the engine keeps for itself (the schema version on a
        server), which a copy leaves to the target's own."""
        return frozenset() if self.is_file else frozenset({"schema_version"})

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Every read inside sees the project as of one moment, whatever
        other connections commit meanwhile."""
        with self._lock:
            self._db.execute("BEGIN" if self.is_file else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    def raw_rows(self, table: str) -> list[Row]:
        """Every row of one of the project's tables, in key order."""
        if table not in TABLE_NAMES:
            raise StoreError(f"{self.path}: no table {table!r} in a project")
        with self._lock:
            return list(self._db.execute(f"SELECT * FROM {table} ORDER BY {TABLE_KEYS.get(table, 'id')}"))

    def raw_execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        """A statement in SQLite's spelling, inside an open `edit`."""
        assert self._pending is not None, "raw writes happen inside edit()"
        self._db.execute(sql, parameters)

    def raw_executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        assert self._pending is not None, "raw writes happen inside edit()"
        self._db.executemany(sql, rows)

    def after_explicit_ids(self, tables: Iterable[str]) -> None:
        """After rows were written with their ids: new ids start above them.
        SQLite moves its counters by itself; PostgreSQL's identities do not."""
        if self.is_file:
            return
        for table in tables:
            if table != "meta":
                self._db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )

    def reload_after_copy(self) -> None:
        """Read again what the store keeps in memory of the meta table."""
        with self._lock:
            self.taxonomy = self._load_taxonomy()
            self.project_id = self._read_project_id()

    # ----------------------------------------------------------- taxonomy
    def _load_taxonomy(self) -> Taxonomy:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'taxonomy'").fetchone()
        if row is None:
            return default_taxonomy()
        return Taxonomy.from_json(row["value"], where=f"{self.path} taxonomy")

    def set_taxonomy(self, taxonomy: Taxonomy) -> None:
        with self.edit("Change taxonomy", record_history=False):
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('taxonomy', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (taxonomy.to_json(),),
            )
            self.taxonomy = taxonomy
            self._emit(StoreEvent(StoreEventKind.RELOADED))

    # ----------------------------------------------------------- identity
    def _read_project_id(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'project_id'").fetchone()
        return str(row["value"]) if row else None

    def _give_project_id(self) -> str | None:
        """The project's id, given to a file made before projects had one.
        A meta row, not a layout change: an older HemaLabel still opens the
        file and reads past it."""
        known = self._read_project_id()
        if known is not None:
            return known
        try:
            with transaction(self._db):
                # Another window may have given it one since we looked: its id stands.
                self._db.execute(
                    "INSERT INTO meta(key, value) VALUES ('project_id', ?) ON CONFLICT(key) DO NOTHING",
                    (str(uuid.uuid4()),),
                )
        except self._dialect.errors:
            # A full disk: the project still opens, its settings kept by path until a later opening.
            return None
        return self._read_project_id()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.edit(f"Set {key}", record_history=False):
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
