"""The project store: one SQLite file holding slides, cells, undo history and
the correction queue.

Why SQLite in WAL mode with synchronous=FULL: every edit is its own
transaction, so a crash or power cut loses at most the edit in flight, and
readers (thumbnails, reports) never block the writer.

Every change is announced to subscribers through plain callbacks after it
has been committed, so the GUI can follow the store without core knowing Qt.
Callbacks run on the thread that made the change; the GUI adapter hands them
to its own thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from core.differential import (
    DEFAULT_TARGET,
    CellGroup,
    CountsAs,
    Differential,
    awaits_review,
    class_refusal,
    counts_as,
    differential_of_groups,
)
from core.project_lock import LockHeld, ProjectLock
from core.schema import (
    BELOW_TARGET_KEY,
    COMMENT_KEY,
    SAMPLE_ID_KEY,
    SIGNED_TARGET_KEY,
    Box,
    Cell,
    CellKind,
    Correction,
    CorrectionAction,
    LabelSource,
    NewCell,
    Slide,
    SlideStatus,
)
from core.store_integrity import back_up, damage_message, integrity_problem, is_damage
from core.store_schema import CURRENT_VERSION, ensure_indexes, migrate, schema_version
from core.taxonomy import Taxonomy, default_taxonomy

PROJECT_SUFFIX = ".hemalabel"
DEFAULT_PROJECT_NAME = "project" + PROJECT_SUFFIX
NUDGE_DESCRIPTION = "Nudge box"
NUDGES_JOIN_WITHIN_S = 2.0  # key presses on one box closer than this are one undo step
# Long enough for any accession or sample number a lab prints; short enough for a report's heading.
MAX_SAMPLE_ID = 64
DEFAULT_EDITOR = "HemaLabel"  # who holds a project's lock, in words, where the caller does not say


class StoreError(Exception):
    """A project file that cannot be opened or an edit that is refused."""


class ReadOnlyProjectError(StoreError):
    pass


class ProjectInUseError(StoreError):
    """Another window or command has the project open for editing."""

    def __init__(self, project: Path, held: LockHeld) -> None:
        self.holder = held.holder
        super().__init__(f"{project}: {held}; close it there first, or open it read-only")


class DamagedProjectError(StoreError):
    """The project file is damaged (pages that no longer parse): named with
    the problem and how to recover what is readable, never a traceback."""

    def __init__(self, project: Path, problem: str) -> None:
        self.project = project
        self.problem = problem
        super().__init__(damage_message(project, problem))


class SaveFailedError(StoreError):
    """The file refused an edit (a full disk, a drive gone): the edit was
    rolled back whole and the project is as it was before it."""


class ClassKindError(StoreError):
    """A class given to a cell of a kind it is not a class for (a white-cell
    class for a red cell): refused, as a class never changes a kind."""


class SlideLockedError(StoreError):
    pass


class SignOffRefusedError(StoreError):
    pass


class StoreEventKind(StrEnum):
    """What kind of change a StoreEvent announces.  A StrEnum so a logged
    event reads as its value; views compare against the members."""

    SLIDE_ADDED = "slide_added"
    SLIDE_CHANGED = "slide_changed"
    CELLS_ADDED = "cells_added"
    CELLS_CHANGED = "cells_changed"
    CELLS_REMOVED = "cells_removed"
    HISTORY_CHANGED = "history_changed"  # what undo and redo would do has changed
    RELOADED = "reloaded"  # anything may have changed (the taxonomy, an edit in another window)

    @property
    def about_cells(self) -> bool:
        return self in (StoreEventKind.CELLS_ADDED, StoreEventKind.CELLS_CHANGED, StoreEventKind.CELLS_REMOVED)

    @property
    def about_a_slide(self) -> bool:
        return self in (StoreEventKind.SLIDE_ADDED, StoreEventKind.SLIDE_CHANGED)


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """What changed: cells and slide for the cell kinds, the slide for the
    slide kinds, neither for the others."""

    kind: StoreEventKind
    slide_id: int | None = None
    cell_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One undo or redo that was done: its edit's description and the cells
    it changed, as (slide id, cell id) in the order they were changed, so a
    window can show the technician where the change landed."""

    description: str
    cells: tuple[tuple[int, int], ...] = ()

    @property
    def slide_ids(self) -> tuple[int, ...]:
        """The slides it changed, in the order first changed."""
        return tuple(dict.fromkeys(slide_id for slide_id, _cell_id in self.cells))


class CellTally(NamedTuple):
    """A slide's cells counted (`ProjectStore.cell_tallies`)."""

    white: int = 0
    red: int = 0
    platelet: int = 0
    unreviewed: int = 0
    unidentified: int = 0
    unreviewed_white: int = 0  # of `unreviewed`: what stands between the slide and its sign-off


@dataclass(slots=True)
class _Pending:
    """State of the outermost open edit: its history record and the events to
    announce once it commits."""

    description: str
    record_history: bool
    edit_id: int | None = None
    events: list[StoreEvent] = field(default_factory=list)
    nudge: bool = False  # a key press's box move, which the next press on that box may join


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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


def _file_is_writable(path: Path) -> bool:
    try:
        with open(path, "r+b"):
            pass
    except OSError:
        return False
    return True


class ProjectStore:
    """A project opened for reading and editing.  Use `ProjectStore.open` or
    `ProjectStore.create`; close it (or use it as a context manager) when done."""

    def __init__(
        self, path: Path, connection: sqlite3.Connection, read_only: bool, lock: ProjectLock | None = None
    ) -> None:
        self.path = path
        self.folder = path.parent
        self.read_only = read_only
        self._db = connection
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
        self._data_version = self._read_data_version()

    # ----------------------------------------------------------- lifecycle
    @classmethod
    def create(
        cls, path: str | os.PathLike[str], taxonomy: Taxonomy | None = None, *, editor: str = DEFAULT_EDITOR
    ) -> ProjectStore:
        """Make a new project and open it for editing.  `editor` names, in
        words, what edits it, for anyone else who tries to edit it meanwhile."""
        target = resolve_project_path(path)
        if target.exists():
            raise StoreError(f"{target}: a project already exists here; open it instead")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not folder_is_writable(target.parent):
            raise ReadOnlyProjectError(f"{target.parent}: folder is not writable, cannot create a project there")
        lock = _lock_for_editing(target, editor)
        try:
            if target.exists():  # made by someone else between our check and our lock
                raise StoreError(f"{target}: a project already exists here; open it instead")
            connection = _connect(target, read_only=False)
            migrate(connection)
            ensure_indexes(connection)
            with _transaction(connection):
                connection.execute(
                    "INSERT INTO meta(key, value) VALUES ('taxonomy', ?), ('created_at', ?)",
                    ((taxonomy or default_taxonomy()).to_json(), now_iso()),
                )
        except BaseException:
            lock.release()
            raise
        return cls(target, connection, read_only=False, lock=lock)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], read_only: bool | None = None, *, editor: str = DEFAULT_EDITOR
    ) -> ProjectStore:
        """Open an existing project.  With read_only=None the store opens
        read-only by itself when the file or its folder cannot be written.
        Opening for editing takes the project's lock: while another window
        or command edits it, ProjectInUseError names who (reading needs no
        lock)."""
        target = resolve_project_path(path)
        if not target.is_file():
            raise StoreError(f"{target}: no project file here")
        _refuse_what_cannot_be_a_project(target)
        if read_only is None:
            read_only = not (_file_is_writable(target) and folder_is_writable(target.parent))
        lock = None if read_only else _lock_for_editing(target, editor)
        try:
            connection = _open_connection(target, read_only)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls(target, connection, read_only=read_only, lock=lock)

    @classmethod
    def open_or_create(cls, path: str | os.PathLike[str], *, editor: str = DEFAULT_EDITOR) -> ProjectStore:
        target = resolve_project_path(path)
        return cls.open(target, editor=editor) if target.exists() else cls.create(target, editor=editor)

    @classmethod
    def open_to_read(cls, path: str | os.PathLike[str]) -> ProjectStore:
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
                if not self.read_only:
                    # Fold the WAL back into the main file so a copied project is whole.
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except (sqlite3.Error, DamagedProjectError):
                pass  # a full disk, say: the saved edits stay in the WAL beside the file, which SQLite reads next time
            finally:
                self._db.close()
                if self._editing_lock is not None:
                    self._editing_lock.release()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema_version(self._db)

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
        (or since opening).  A read-only window polls this to follow a
        project that another window edits; the taxonomy is read again."""
        with self._lock:
            version = self._read_data_version()
            if version == self._data_version:
                return False
            self._data_version = version
            self.taxonomy = self._load_taxonomy()
        return True

    def _read_data_version(self) -> int:
        # SQLite changes it for a connection whenever another one commits.
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

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
                self._pending = _Pending(description, record_history)
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException as error:
                self._depth -= 1
                if outermost:
                    self._pending = None
                    self._roll_back()
                    if isinstance(error, sqlite3.Error):
                        raise self._not_saved(description, error) from error
                raise
            self._depth -= 1
            if not outermost:
                return
            pending = self._pending
            assert pending is not None  # set when the outermost edit began
            self._pending = None
            try:
                self._db.execute("COMMIT")
            except DamagedProjectError:
                self._roll_back()
                raise
            except sqlite3.Error as error:
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
            with contextlib.suppress(sqlite3.Error, DamagedProjectError):
                self._db.execute("ROLLBACK")

    def _not_saved(self, description: str, error: sqlite3.Error) -> SaveFailedError:
        failure = SaveFailedError(
            f"{self.path}: the edit \"{description}\" was not saved ({error}); the project is as it was before it. "
            "Check that the disk has free space and the drive is still there, then do it again"
        )
        for listener in list(self._failure_listeners):
            listener(failure)
        return failure

    def _record(self, cell_id: int, before: dict[str, Any] | None, after: dict[str, Any] | None) -> int | None:
        pending = self._pending
        assert pending is not None, "store changes must happen inside edit()"
        if not pending.record_history:
            return None
        if pending.edit_id is None:
            # A new gesture ends the redo branch: drop undone edits and the
            # corrections they had retracted.
            self._db.execute(
                "DELETE FROM corrections WHERE retracted = 1 AND edit_id IN (SELECT id FROM edits WHERE undone = 1)"
            )
            self._db.execute("DELETE FROM edits WHERE undone = 1")
            cursor = self._db.execute(
                "INSERT INTO edits(description, at) VALUES (?, ?)", (pending.description, now_iso())
            )
            pending.edit_id = cursor.lastrowid
        self._db.execute(
            "INSERT INTO changes(edit_id, cell_id, before, after) VALUES (?, ?, ?, ?)",
            (pending.edit_id, cell_id, _dump(before), _dump(after)),
        )
        return pending.edit_id

    def _emit(self, event: StoreEvent) -> None:
        assert self._pending is not None
        self._pending.events.append(event)

    # ----------------------------------------------------------- backup
    def back_up(self) -> Path:
        """Copy the project, as saved, beside itself (`<name>.hemalabel.bak`),
        replacing the previous copy; an import takes one first."""
        with self._lock:
            return back_up(self._db, self.path)

    # ----------------------------------------------------------- taxonomy
    def _load_taxonomy(self) -> Taxonomy:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'taxonomy'").fetchone()
        if row is None:
            return default_taxonomy()
        return Taxonomy.from_json(row[0], where=f"{self.path} taxonomy")

    def set_taxonomy(self, taxonomy: Taxonomy) -> None:
        with self.edit("Change taxonomy", record_history=False):
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('taxonomy', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (taxonomy.to_json(),),
            )
            self.taxonomy = taxonomy
            self._emit(StoreEvent(StoreEventKind.RELOADED))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.edit(f"Set {key}", record_history=False):
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # ----------------------------------------------------------- slides
    def relative_path(self, image_path: str | os.PathLike[str]) -> str:
        """How an image is stored: relative to the project folder, with forward
        slashes, so the whole folder can be moved or shared across systems."""
        absolute = Path(os.path.abspath(image_path))
        try:
            relative = os.path.relpath(absolute, os.path.abspath(self.folder))
        except ValueError:  # another drive on Windows: nothing relative exists
            return absolute.as_posix()
        return Path(relative).as_posix()

    def image_path(self, slide: Slide) -> Path:
        stored = Path(slide.path)
        return stored if stored.is_absolute() else (self.folder / stored)

    def add_slide(
        self, image_path: str | os.PathLike[str], width: int, height: int, attributes: dict[str, Any] | None = None
    ) -> Slide:
        """Add an image, or return the slide that already refers to it."""
        relative = self.relative_path(image_path)
        with self.edit("Add slide", record_history=False):
            existing = self._slide_row_by_path(relative)
            if existing is not None:
                return existing
            cursor = self._db.execute(
                "INSERT INTO slides(path, width, height, status, added_at, attributes) VALUES (?, ?, ?, ?, ?, ?)",
                (relative, int(width), int(height), SlideStatus.NEW.value, now_iso(), json.dumps(attributes or {})),
            )
            assert cursor.lastrowid is not None  # an INSERT's row
            slide = self._slide(cursor.lastrowid)
            self._emit(StoreEvent(StoreEventKind.SLIDE_ADDED, slide.id))
            return slide

    def slide_by_path(self, image_path: str | os.PathLike[str]) -> Slide | None:
        with self._lock:
            return self._slide_row_by_path(self.relative_path(image_path))

    def _slide_row_by_path(self, relative: str) -> Slide | None:
        row = self._db.execute(f"SELECT {_SLIDE_COLUMNS} FROM slides WHERE path = ?", (relative,)).fetchone()
        return _slide_from_row(row) if row else None

    def slides(self) -> list[Slide]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_SLIDE_COLUMNS} FROM slides ORDER BY id").fetchall()
        return [_slide_from_row(row) for row in rows]

    def slide(self, slide_id: int) -> Slide:
        with self._lock:
            return self._slide(slide_id)

    def _slide(self, slide_id: int) -> Slide:
        row = self._db.execute(f"SELECT {_SLIDE_COLUMNS} FROM slides WHERE id = ?", (slide_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no slide with id {slide_id}")
        return _slide_from_row(row)

    def update_slide_attributes(self, slide_id: int, **attributes: Any) -> Slide:
        with self.edit("Update slide", record_history=False):
            slide = self._slide(slide_id)
            merged = {**slide.attributes, **attributes}
            self._db.execute("UPDATE slides SET attributes = ? WHERE id = ?", (json.dumps(merged), slide_id))
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def set_sample_id(self, slide_id: int, sample_id: str) -> Slide:
        """Name the sample a slide is of (what the report is headed with).
        Blank goes back to the image's file stem.  Refused on a signed slide,
        as any other edit: the signed report names its sample.  Not an undo
        step: the history holds cell edits, and Ctrl+Z is for those."""
        text = sample_id.strip()
        if len(text) > MAX_SAMPLE_ID:
            raise StoreError(f"a sample identifier is at most {MAX_SAMPLE_ID} characters, not {len(text)}")
        if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text):
            raise StoreError("a sample identifier is one line of printable characters")
        with self.edit("Set sample identifier", record_history=False):
            self._check_unlocked(slide_id)
            slide = self._slide(slide_id)
            attributes = {key: value for key, value in slide.attributes.items() if key != SAMPLE_ID_KEY}
            if text:
                attributes[SAMPLE_ID_KEY] = text
            if attributes != slide.attributes:
                self._db.execute("UPDATE slides SET attributes = ? WHERE id = ?", (json.dumps(attributes), slide_id))
                self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def relocate_slide(self, slide_id: int, image_path: str | os.PathLike[str], width: int, height: int) -> Slide:
        """Point a slide at its image's new place (the technician used Locate
        after the file was moved).  Cells are kept; the caller checks that the
        image is the same size so the boxes still fit."""
        relative = self.relative_path(image_path)
        with self.edit("Locate image", record_history=False):
            slide = self._slide(slide_id)
            other = self._slide_row_by_path(relative)
            if other is not None and other.id != slide_id:
                raise StoreError(f"{image_path}: already in this project as another slide")
            if (int(width), int(height)) != (slide.width, slide.height):
                raise StoreError(
                    f"{image_path}: is {width}x{height} pixels but {slide.path} was {slide.width}x{slide.height}; "
                    "choose the same image"
                )
            self._db.execute("UPDATE slides SET path = ? WHERE id = ?", (relative, slide_id))
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def mark_detected(self, slide_id: int, detector_version: str) -> Slide:
        """The detector has looked at this slide.  A new slide becomes
        proposed even when nothing was found, so that the slide list tells a
        field without cells from a field nobody has run the detector on."""
        with self.edit("Detect cells", record_history=False):
            self._set_status_if(slide_id, SlideStatus.NEW, SlideStatus.PROPOSED)
            return self.update_slide_attributes(slide_id, detector_version=detector_version)

    def set_slide_status(self, slide_id: int, status: SlideStatus) -> None:
        with self.edit("Set slide status", record_history=False):
            self._set_status(slide_id, status)

    def _set_status(self, slide_id: int, status: SlideStatus) -> None:
        current = self._db.execute("SELECT status FROM slides WHERE id = ?", (slide_id,)).fetchone()
        if current is None or current[0] == status.value:
            return
        self._db.execute("UPDATE slides SET status = ? WHERE id = ?", (status.value, slide_id))
        self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))

    def _touch_for_review(self, slide_id: int) -> None:
        """A human edit moves a slide into review."""
        self._set_status(slide_id, SlideStatus.IN_REVIEW)

    def _check_unlocked(self, slide_id: int) -> None:
        row = self._db.execute("SELECT status, path FROM slides WHERE id = ?", (slide_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no slide with id {slide_id}")
        if row[0] == SlideStatus.SIGNED_OFF.value:
            raise SlideLockedError(f"{row[1]} is signed off; unlock it with a reason before editing")

    # ----------------------------------------------------------- sign-off
    def sign_off(
        self,
        slide_id: int,
        who: str,
        comment: str = "",
        *,
        target: int = DEFAULT_TARGET,
        below_target_reason: str = "",
    ) -> Slide:
        """Sign a slide off: refused while any white cell is Unidentified
        (without a class, too) or unreviewed, so a signed count is always final.
        `comment`: what the reviewer adds to the count for the report (red
        cell and platelet morphology, say), kept in the slide's attributes
        (through an unlock, for the next sign-off) and in the audit trail.
        `target`: the white cells the count should reach.  A count short of it
        (and a count of none, always) is signed only with a
        `below_target_reason`, which the slide, the audit trail and the
        report keep beside the count."""
        if not who.strip():
            raise StoreError("sign-off needs the reviewer's name or initials")
        if target < 1:
            raise StoreError(f"a sign-off's target is at least 1 white cell, not {target}")
        with self.edit("Sign off slide", record_history=False):
            self._check_unlocked(slide_id)
            slide = self._slide(slide_id)
            count = self.differential(slide_id)
            blockers = count.blockers()
            if blockers:
                raise SignOffRefusedError(f"{slide.path} cannot be signed off: " + "; ".join(blockers))
            # A reason given for a count that reaches its target is not recorded: nothing needed one.
            reason = below_target_reason.strip() if count.below_target(target) else ""
            if count.below_target(target) and not reason:
                raise SignOffRefusedError(
                    f"{slide.path} cannot be signed off: {count.counted} of the {target} white cells targeted "
                    "are counted; give the reason for signing a count short of its target"
                )
            at = now_iso()
            attributes = {key: value for key, value in slide.attributes.items() if key not in _SIGN_OFF_KEYS}
            if comment.strip():
                attributes[COMMENT_KEY] = comment.strip()
            attributes[SIGNED_TARGET_KEY] = target
            if reason:
                attributes[BELOW_TARGET_KEY] = reason
            self._db.execute(
                "UPDATE slides SET status = ?, signed_off_by = ?, signed_off_at = ?, attributes = ? WHERE id = ?",
                (SlideStatus.SIGNED_OFF.value, who.strip(), at, json.dumps(attributes), slide_id),
            )
            self._db.execute(
                "INSERT INTO audit(at, slide_id, who, action, reason) VALUES (?, ?, ?, 'sign_off', ?)",
                (at, slide_id, who.strip(), comment.strip()),
            )
            if reason:
                # Its own row, so the trail says plainly which sign-offs were short and why.
                self._db.execute(
                    "INSERT INTO audit(at, slide_id, who, action, reason) VALUES (?, ?, ?, 'below_target', ?)",
                    (at, slide_id, who.strip(), f"{count.counted} of {target} white cells counted: {reason}"),
                )
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def unlock(self, slide_id: int, who: str, reason: str) -> Slide:
        """Reopen a signed slide for editing.  The comment stays for the next
        sign-off; the target and any below-target reason go with the count
        they were given for (the audit trail keeps them)."""
        if not reason.strip():
            raise StoreError("unlocking a signed-off slide needs a reason")
        with self.edit("Unlock slide", record_history=False):
            slide = self._slide(slide_id)
            attributes = {key: value for key, value in slide.attributes.items()
                          if key not in (SIGNED_TARGET_KEY, BELOW_TARGET_KEY)}
            self._db.execute(
                "UPDATE slides SET status = ?, signed_off_by = NULL, signed_off_at = NULL, attributes = ? WHERE id = ?",
                (SlideStatus.IN_REVIEW.value, json.dumps(attributes), slide_id),
            )
            self._db.execute(
                "INSERT INTO audit(at, slide_id, who, action, reason) VALUES (?, ?, ?, 'unlock', ?)",
                (now_iso(), slide_id, who, reason.strip()),
            )
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def audit_trail(self, slide_id: int | None = None) -> list[dict[str, Any]]:
        """Sign-offs and unlocks, oldest first; `reason` is an unlock's
        reason or a sign-off's comment.  A sign-off short of its target is
        followed by a 'below_target' entry: the count, the target and why."""
        where, params = _of_slide(slide_id)
        with self._lock:
            query = f"SELECT at, slide_id, who, action, reason FROM audit{where} ORDER BY id"
            rows = self._db.execute(query, params).fetchall()
        return [dict(zip(("at", "slide_id", "who", "action", "reason"), row)) for row in rows]

    # ----------------------------------------------------------- reading cells
    def cells(self, slide_id: int | None = None, kind: CellKind | None = None) -> list[Cell]:
        clauses: list[str] = []
        params: list[int | str] = []
        if slide_id is not None:
            clauses.append("slide_id = ?")
            params.append(slide_id)
        if kind is not None:
            # "+kind": not through cells_by_group, which SQLite would pick for
            # a whole project's cells of one kind, then sort them by id: 125 ms
            # for 50,000 white cells of 150,000, against 92 ms reading the table.
            clauses.append("+kind = ?")
            params.append(kind.value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT {_CELL_COLUMNS} FROM cells{where} ORDER BY id", params).fetchall()
        return [_cell_from_row(row) for row in rows]

    def cell_tallies(self, slide_id: int | None = None) -> dict[int, CellTally]:
        """Per slide (or for one): how many cells of each kind, how many not
        reviewed, how many Unidentified; Unidentified and unreviewed white
        cells by the differential's own rule (`core.differential.counts_as`,
        `awaits_review`), so the slide list says what the panel says."""
        tallies = {}
        for slide, groups in self.cell_groups_by_slide(slide_id).items():
            kinds: Counter[CellKind] = Counter()
            unreviewed = unidentified = unreviewed_white = 0
            for (kind, label, reviewed), n in groups.items():
                kinds[kind] += n
                unreviewed += 0 if reviewed else n
                unidentified += n if counts_as(kind, label, self.taxonomy) is CountsAs.UNIDENTIFIED else 0
                unreviewed_white += n if awaits_review(kind, reviewed) else 0
            tallies[slide] = CellTally(kinds[CellKind.WHITE], kinds[CellKind.RED], kinds[CellKind.PLATELET],
                                       unreviewed, unidentified, unreviewed_white)
        return tallies

    def cell_groups_by_slide(self, slide_id: int | None = None) -> dict[int, dict[CellGroup, int]]:
        """`cell_groups` for every slide with cells (or for one), in one query:
        counted by SQLite, as a 500-slide project holds 150,000 cells and
        reading them all as Cells to count them takes seconds."""
        where, params = _of_slide(slide_id)
        query = (
            f"SELECT slide_id, kind, label, reviewed, COUNT(*) FROM cells{where} "
            "GROUP BY slide_id, kind, label, reviewed"
        )
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        groups: dict[int, dict[CellGroup, int]] = {}
        for slide, kind, label, reviewed, n in rows:
            groups.setdefault(slide, {})[(_KIND_OF[kind], label, bool(reviewed))] = int(n)
        return groups

    def cell_groups(self, slide_id: int | None = None) -> dict[CellGroup, int]:
        """How many cells of one slide, or of the whole project, there are of
        each (kind, label, reviewed): all a differential count needs, counted
        by SQLite (a 500-slide project's 150,000 cells are not read)."""
        where, params = _of_slide(slide_id)
        query = f"SELECT kind, label, reviewed, COUNT(*) FROM cells{where} GROUP BY kind, label, reviewed"
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return {(_KIND_OF[kind], label, bool(reviewed)): int(n) for kind, label, reviewed, n in rows}

    def differential(self, slide_id: int | None = None) -> Differential:
        """The differential count of one slide, or of the whole project."""
        return differential_of_groups(self.cell_groups(slide_id), self.taxonomy)

    def cell(self, cell_id: int) -> Cell:
        with self._lock:
            cell = self._cell_or_none(cell_id)
        if cell is None:
            raise StoreError(f"{self.path}: no cell with id {cell_id}")
        return cell

    def _cell_or_none(self, cell_id: int) -> Cell | None:
        row = self._db.execute(f"SELECT {_CELL_COLUMNS} FROM cells WHERE id = ?", (cell_id,)).fetchone()
        return _cell_from_row(row) if row else None

    # ----------------------------------------------------------- model and import writes
    def add_cells(self, slide_id: int, cells: Sequence[NewCell], description: str = "Add cells") -> list[Cell]:
        """Add cells in one step.  Human-made cells enter the correction queue
        as 'add'; model proposals and imported cells do not."""
        with self.edit(description, record_history=not _all_imported(cells)):
            self._check_unlocked(slide_id)
            added = [self._insert_cell(slide_id, new) for new in cells]
            if any(new.source is LabelSource.MODEL for new in cells):
                self._set_status_if(slide_id, SlideStatus.NEW, SlideStatus.PROPOSED)
            if any(new.source is LabelSource.HUMAN for new in cells):
                self._touch_for_review(slide_id)
            self._emit(StoreEvent(StoreEventKind.CELLS_ADDED, slide_id, tuple(c.id for c in added)))
            return added

    def add_cell(self, slide_id: int, box: Box, kind: CellKind, label: str | None = None) -> Cell:
        """A cell the technician drew."""
        new = NewCell(box=box, kind=kind, label=label, source=LabelSource.HUMAN, reviewed=True)
        return self.add_cells(slide_id, [new], description="Draw box")[0]

    def _insert_cell(self, slide_id: int, new: NewCell) -> Cell:
        self._check_label(new.label)
        cursor = self._db.execute(
            f"INSERT INTO cells(slide_id, {_CELL_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (slide_id, *_cell_values(new)),
        )
        assert cursor.lastrowid is not None  # an INSERT's row
        cell = self._cell_or_none(cursor.lastrowid)
        assert cell is not None
        edit_id = self._record(cell.id, None, _cell_state(cell))
        if new.source is LabelSource.HUMAN:
            self._queue(edit_id, cell, CorrectionAction.ADD, old=None, new=cell)
        return cell

    def _set_status_if(self, slide_id: int, expected: SlideStatus, status: SlideStatus) -> None:
        row = self._db.execute("SELECT status FROM slides WHERE id = ?", (slide_id,)).fetchone()
        if row and row[0] == expected.value:
            self._set_status(slide_id, status)

    def set_predictions(
        self,
        predictions: Sequence[tuple[int, str, dict[str, float]]],
        model_version: str,
        description: str = "Classify",
    ) -> None:
        """Write a model's (cell_id, label, probabilities).  Cells a human has
        already decided keep their label; the model's view is still stored so
        the queue can tell what it thought."""
        with self.edit(description):
            touched: dict[int, list[int]] = {}
            for cell_id, label, probabilities in predictions:
                before = self._cell_or_none(cell_id)
                if before is None:
                    continue
                self._check_unlocked(before.slide_id)
                self._check_label(label)
                human_owned = before.source is not LabelSource.MODEL
                after = before.with_changes(
                    label=before.label if human_owned else label,
                    probabilities=dict(probabilities),
                    model_version=model_version,
                )
                self._write_cell(before, after)
                touched.setdefault(before.slide_id, []).append(cell_id)
            for slide_id, ids in touched.items():
                self._set_status_if(slide_id, SlideStatus.NEW, SlideStatus.PROPOSED)
                self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, slide_id, tuple(ids)))

    def set_taught_predictions(
        self, predictions: Sequence[tuple[int, str, dict[str, float]]], model_version: str
    ) -> int:
        """Write what the project taught (core.project_learning) onto model
        proposals nobody reviewed.  No undo step: the predictions follow
        from the reviewed cells, whose own edits undo them.  Cells a person
        decided since, and signed slides, are left alone; returns how many
        cells were written."""
        written: dict[int, list[int]] = {}
        signed: dict[int, bool] = {}  # by slide, asked once per slide
        with self.edit("Update predictions", record_history=False):
            for cell_id, label, probabilities in predictions:
                before = self._cell_or_none(cell_id)
                if before is None or before.reviewed or before.source is not LabelSource.MODEL:
                    continue
                if before.slide_id not in signed:
                    signed[before.slide_id] = self.slide(before.slide_id).status is SlideStatus.SIGNED_OFF
                if signed[before.slide_id]:
                    continue
                self._check_label(label)
                self._write_cell(before, before.with_changes(label=label, probabilities=dict(probabilities),
                                                             model_version=model_version))
                written.setdefault(before.slide_id, []).append(cell_id)
            for slide_id, ids in written.items():
                self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, slide_id, tuple(ids)))
        return sum(len(ids) for ids in written.values())

    def remove_model_proposals(self, cell_ids: Sequence[int]) -> None:
        """Drop unreviewed model proposals (a new detection run replaces them).
        Undoable, but no human decided anything, so nothing is queued."""
        with self.edit("Replace proposals"):
            removed: dict[int, list[int]] = {}
            for cell_id in cell_ids:
                cell = self._cell_or_none(cell_id)
                if cell is None or cell.source is not LabelSource.MODEL or cell.reviewed:
                    continue
                self._check_unlocked(cell.slide_id)
                self._db.execute("DELETE FROM cells WHERE id = ?", (cell.id,))
                self._record(cell.id, _cell_state(cell), None)
                removed.setdefault(cell.slide_id, []).append(cell.id)
            for slide_id, ids in removed.items():
                self._emit(StoreEvent(StoreEventKind.CELLS_REMOVED, slide_id, tuple(ids)))

    # ----------------------------------------------------------- human decisions
    def set_label(self, cell_ids: Sequence[int], label: str, description: str = "Set class") -> None:
        """The technician assigns a class: a relabel where it differs from the
        cell's label, a confirmation where it does not."""
        self._check_label(label)
        with self.edit(description):
            targets = self._human_targets(cell_ids)
            for cell in targets:
                # A class digit on a red cell once made it a white cell of
                # that class: a kind changes only by set_kind, asked for.
                refusal = class_refusal(cell.kind, label, self.taxonomy)
                if refusal is not None:
                    raise ClassKindError(f"Cell {cell.id}: {refusal}")
            for cell in targets:
                action = CorrectionAction.CONFIRM if cell.label == label else CorrectionAction.RELABEL
                after = cell.with_changes(label=label, source=LabelSource.HUMAN, reviewed=True)
                edit_id = self._write_cell(cell, after)
                self._queue(edit_id, cell, action, old=cell, new=after)
            self._emit_changed(cell_ids)

    def confirm(self, cell_ids: Sequence[int], description: str = "Confirm") -> None:
        """The technician accepts cells as they are (box and label)."""
        with self.edit(description):
            for cell in self._human_targets(cell_ids):
                after = cell.with_changes(reviewed=True, source=LabelSource.HUMAN if cell.label else cell.source)
                edit_id = self._write_cell(cell, after)
                self._queue(edit_id, cell, CorrectionAction.CONFIRM, old=cell, new=after)
            self._emit_changed(cell_ids)

    def move_cell(self, cell_id: int, box: Box, description: str = "Move box") -> Cell:
        """The technician moves or resizes a box: committed once per drag."""
        with self.edit(description):
            (cell,) = self._human_targets([cell_id])
            after = cell.with_changes(box=box, reviewed=True)
            edit_id = self._write_cell(cell, after)
            self._queue(edit_id, cell, CorrectionAction.MOVE, old=cell, new=after)
            self._emit_changed([cell_id])
            return after

    def nudge_cell(self, cell_id: int, box: Box) -> Cell:
        """The technician moves or resizes a box from the keyboard, a step a
        key press.  Every press is saved at once (nothing is lost), but the
        presses in a row on one box make one undo step and one correction,
        as one drag does; a pause of more than a couple of seconds, or any
        other edit, starts a new step."""
        with self.edit(NUDGE_DESCRIPTION):
            assert self._pending is not None  # set by edit()
            self._pending.nudge = self._depth == 1
            (cell,) = self._human_targets([cell_id])
            after = cell.with_changes(box=box, reviewed=True)
            joined = self._nudge_to_join(cell_id)
            if joined is None:
                edit_id = self._write_cell(cell, after)
                self._queue(edit_id, cell, CorrectionAction.MOVE, old=cell, new=after)
            else:
                edit_id, change_id = joined
                self._update_cell_row(cell_id, after)
                self._db.execute("UPDATE changes SET after = ? WHERE id = ?", (_dump(_cell_state(after)), change_id))
                self._db.execute("UPDATE edits SET at = ? WHERE id = ?", (now_iso(), edit_id))
                self._db.execute(
                    "UPDATE corrections SET new_box = ?, at = ? WHERE edit_id = ?",
                    (_dump(list(after.box.as_tuple())), now_iso(), edit_id),
                )
            self._emit_changed([cell_id])
            return after

    def _nudge_to_join(self, cell_id: int) -> tuple[int, int] | None:
        """The latest edit and its one change, when they are a recent nudge of
        this cell that has not been undone: (edit id, change id)."""
        latest = self._db.execute("SELECT id, at, undone FROM edits ORDER BY id DESC LIMIT 1").fetchone()
        if latest is None or latest[0] != self._joinable_nudge or latest[2]:
            return None
        age = datetime.now(UTC) - datetime.fromisoformat(latest[1])
        if age.total_seconds() > NUDGES_JOIN_WITHIN_S:
            return None
        changes = self._db.execute("SELECT id, cell_id FROM changes WHERE edit_id = ?", (latest[0],)).fetchall()
        if len(changes) != 1 or changes[0][1] != cell_id:
            return None
        return latest[0], changes[0][0]

    def set_kind(self, cell_ids: Sequence[int], kind: CellKind, description: str = "Set kind") -> None:
        with self.edit(description):
            for cell in self._human_targets(cell_ids):
                after = cell.with_changes(kind=kind, reviewed=True)
                edit_id = self._write_cell(cell, after)
                self._queue(edit_id, cell, CorrectionAction.RELABEL, old=cell, new=after)
            self._emit_changed(cell_ids)

    def remove_cells(self, cell_ids: Sequence[int], description: str = "Delete") -> None:
        with self.edit(description):
            removed: dict[int, list[int]] = {}
            for cell in self._human_targets(cell_ids):
                self._db.execute("DELETE FROM cells WHERE id = ?", (cell.id,))
                edit_id = self._record(cell.id, _cell_state(cell), None)
                self._queue(edit_id, cell, CorrectionAction.DELETE, old=cell, new=None)
                removed.setdefault(cell.slide_id, []).append(cell.id)
            for slide_id, ids in removed.items():
                self._emit(StoreEvent(StoreEventKind.CELLS_REMOVED, slide_id, tuple(ids)))

    def _human_targets(self, cell_ids: Sequence[int]) -> list[Cell]:
        cells = []
        for cell_id in cell_ids:
            cell = self._cell_or_none(cell_id)
            if cell is None:
                raise StoreError(f"{self.path}: no cell with id {cell_id}")
            self._check_unlocked(cell.slide_id)
            self._touch_for_review(cell.slide_id)
            cells.append(cell)
        return cells

    def _emit_changed(self, cell_ids: Sequence[int]) -> None:
        by_slide: dict[int, list[int]] = {}
        for cell_id in cell_ids:
            row = self._db.execute("SELECT slide_id FROM cells WHERE id = ?", (cell_id,)).fetchone()
            if row:
                by_slide.setdefault(row[0], []).append(cell_id)
        for slide_id, ids in by_slide.items():
            self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, slide_id, tuple(ids)))

    def _check_label(self, label: str | None) -> None:
        if label is not None and label not in self.taxonomy:
            raise StoreError(f"{label!r} is not a class of this project (classes: {', '.join(self.taxonomy.names)})")

    def _write_cell(self, before: Cell, after: Cell) -> int | None:
        self._update_cell_row(before.id, after)
        return self._record(before.id, _cell_state(before), _cell_state(after))

    def _update_cell_row(self, cell_id: int, after: Cell) -> None:
        self._db.execute(
            f"UPDATE cells SET {', '.join(f'{name} = ?' for name in _CELL_FIELDS.split(', '))} WHERE id = ?",
            (*_cell_values(after), cell_id),
        )

    def _queue(
        self, edit_id: int | None, cell: Cell, action: CorrectionAction, old: Cell | None, new: Cell | None
    ) -> None:
        self._db.execute(
            "INSERT INTO corrections(at, edit_id, slide_id, cell_id, action, old_label, new_label, old_box, "
            "new_box, model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now_iso(),
                edit_id,
                cell.slide_id,
                cell.id,
                action.value,
                old.label if old else None,
                new.label if new else None,
                _dump(list(old.box.as_tuple())) if old else None,
                _dump(list(new.box.as_tuple())) if new else None,
                cell.model_version,
            ),
        )

    # ----------------------------------------------------------- undo / redo
    def can_undo(self) -> bool:
        return self.undo_description() is not None

    def can_redo(self) -> bool:
        return self.redo_description() is not None

    def undo_description(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT description FROM edits WHERE undone = 0 ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def redo_description(self) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT description FROM edits WHERE undone = 1 ORDER BY id LIMIT 1").fetchone()
        return row[0] if row else None

    def undo(self) -> str | None:
        """Reverse the latest edit; returns its description, or None."""
        step = self.undo_step()
        return step.description if step else None

    def redo(self) -> str | None:
        step = self.redo_step()
        return step.description if step else None

    def undo_step(self) -> HistoryStep | None:
        """Reverse the latest edit; returns what it changed, or None when
        there is nothing to undo.  Raises SlideLockedError, changing nothing
        and keeping the step, when the edit touched a slide now signed off."""
        return self._step(undo=True)

    def redo_step(self) -> HistoryStep | None:
        """Make the edit just undone again; as `undo_step`."""
        return self._step(undo=False)

    def _step(self, undo: bool) -> HistoryStep | None:
        query = (
            "SELECT id, description FROM edits WHERE undone = 0 ORDER BY id DESC LIMIT 1"
            if undo
            else "SELECT id, description FROM edits WHERE undone = 1 ORDER BY id LIMIT 1"
        )
        verb = "Undo" if undo else "Redo"
        with self._lock:
            row = self._db.execute(query).fetchone()
            if row is None:
                return None
            edit_id, description = row
            with self.edit(f"{verb} {description}", record_history=False):
                changes = self._db.execute(
                    "SELECT cell_id, before, after FROM changes WHERE edit_id = ? ORDER BY id", (edit_id,)
                ).fetchall()
                if undo:
                    changes = [(cell_id, after, before) for cell_id, before, after in reversed(changes)]
                states = [(cell_id, _load(current), _load(target)) for cell_id, current, target in changes]
                cells = tuple(
                    (int(slide_id), cell_id)
                    for cell_id, current, target in states
                    if (slide_id := (target or current or {}).get("slide_id")) is not None
                )
                # Refused before anything is written: a signed count is final,
                # and the history keeps the step for after an unlock.
                self._refuse_signed(verb, description, dict.fromkeys(slide_id for slide_id, _ in cells))
                for cell_id, current, target in states:
                    self._restore(cell_id, current, target)
                self._db.execute("UPDATE edits SET undone = ? WHERE id = ?", (1 if undo else 0, edit_id))
                self._db.execute("UPDATE corrections SET retracted = ? WHERE edit_id = ?", (1 if undo else 0, edit_id))
                self._emit(StoreEvent(StoreEventKind.HISTORY_CHANGED))
            return HistoryStep(description, cells)

    def _refuse_signed(self, verb: str, description: str, slide_ids: Iterable[int]) -> None:
        for slide_id in slide_ids:
            row = self._db.execute("SELECT status, path FROM slides WHERE id = ?", (slide_id,)).fetchone()
            if row is not None and row[0] == SlideStatus.SIGNED_OFF.value:
                raise SlideLockedError(
                    f'{verb} of "{description}" refused: it would change {Path(row[1]).name}, which is signed off. '
                    "Nothing was changed; unlock that slide with a reason to take the edit back"
                )

    def _restore(self, cell_id: int, current: dict[str, Any] | None, target: dict[str, Any] | None) -> None:
        slide_id = (target or current or {}).get("slide_id")
        if slide_id is not None:
            self._check_unlocked(slide_id)
        if target is None:
            self._db.execute("DELETE FROM cells WHERE id = ?", (cell_id,))
            self._emit(StoreEvent(StoreEventKind.CELLS_REMOVED, slide_id, (cell_id,)))
            return
        cell = _cell_from_state(cell_id, target)
        values = (cell_id, cell.slide_id, *_cell_values(cell))
        if current is None:
            self._db.execute(
                f"INSERT INTO cells(id, slide_id, {_CELL_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            self._emit(StoreEvent(StoreEventKind.CELLS_ADDED, cell.slide_id, (cell_id,)))
        else:
            self._db.execute(
                f"UPDATE cells SET slide_id = ?, {', '.join(f'{n} = ?' for n in _CELL_FIELDS.split(', '))} "
                "WHERE id = ?",
                (*values[1:], cell_id),
            )
            self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, cell.slide_id, (cell_id,)))

    # ----------------------------------------------------------- the correction queue
    def corrections(self, include_retracted: bool = False, since_id: int = 0) -> list[Correction]:
        query = (
            "SELECT id, at, slide_id, cell_id, action, old_label, new_label, old_box, new_box, model_version "
            "FROM corrections WHERE id > ?"
        )
        if not include_retracted:
            query += " AND retracted = 0"
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", (since_id,)).fetchall()
        return [
            Correction(
                id=row[0],
                at=row[1],
                slide_id=row[2],
                cell_id=row[3],
                action=CorrectionAction(row[4]),
                old_label=row[5],
                new_label=row[6],
                old_box=Box(*_load(row[7])) if row[7] else None,
                new_box=Box(*_load(row[8])) if row[8] else None,
                model_version=row[9],
            )
            for row in rows
        ]

    # ----------------------------------------------------------- summaries
    def summary(self) -> dict[str, Any]:
        """Counts for `hemalabel info`: slides by status, cells by kind and class,
        reviewed cells, queued corrections, each slide's sample identifier
        and differential (by path) and the project's, as the panel and the reports count it."""
        groups = self.cell_groups_by_slide()
        with self._lock:
            slide_rows = self._db.execute(f"SELECT {_SLIDE_COLUMNS} FROM slides ORDER BY id").fetchall()
            slides_by_status = Counter(
                dict(self._db.execute("SELECT status, COUNT(*) FROM slides GROUP BY status").fetchall())
            )
            by_kind = dict(self._db.execute("SELECT kind, COUNT(*) FROM cells GROUP BY kind").fetchall())
            reviewed_by_kind = dict(
                self._db.execute("SELECT kind, COUNT(*) FROM cells WHERE reviewed = 1 GROUP BY kind").fetchall()
            )
            by_class: dict[str, dict[str, int]] = {}
            for kind, label, count in self._db.execute(
                "SELECT kind, COALESCE(label, ''), COUNT(*) FROM cells GROUP BY kind, label"
            ):
                by_class.setdefault(kind, {})[label or "(unclassified)"] = count
            labelled_white_slides = self._db.execute(
                "SELECT COUNT(DISTINCT slide_id) FROM cells WHERE kind = 'white' AND label IS NOT NULL"
            ).fetchone()[0]
            queued = self._db.execute("SELECT COUNT(*) FROM corrections WHERE retracted = 0").fetchone()[0]
        kinds = [kind.value for kind in CellKind]
        slides = [_slide_from_row(row) for row in slide_rows]
        return {
            "project": str(self.path),
            "schema_version": self.schema_version,
            "read_only": self.read_only,
            "edited_elsewhere_by": self.edited_elsewhere_by,
            "slides": sum(slides_by_status.values()),
            "slides_by_status": {status.value: slides_by_status.get(status.value, 0) for status in SlideStatus},
            "cells": {kind: by_kind.get(kind, 0) for kind in kinds},
            "reviewed": {kind: reviewed_by_kind.get(kind, 0) for kind in kinds},
            "classes": {kind: by_class.get(kind, {}) for kind in kinds},
            "slides_with_white_cell_type": labelled_white_slides,
            "queued_corrections": queued,
            "samples": {slide.path: slide.sample_id for slide in slides},
            "differential": {
                "total": self.differential().as_dict(),
                "slides": {
                    slide.path: differential_of_groups(groups.get(slide.id, {}), self.taxonomy).as_dict()
                    for slide in slides
                },
            },
        }


# --------------------------------------------------------------------------- rows

_SIGN_OFF_KEYS = (COMMENT_KEY, SIGNED_TARGET_KEY, BELOW_TARGET_KEY)  # a sign-off writes them afresh
_SLIDE_COLUMNS = "id, path, width, height, status, added_at, signed_off_by, signed_off_at, attributes"
_CELL_FIELDS = "x0, y0, x1, y1, kind, label, source, probabilities, model_version, score, reviewed"
_CELL_COLUMNS = "id, slide_id, " + _CELL_FIELDS


_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100  # an SQLite file begins with this header; user_version is at offset 60


def _refuse_what_cannot_be_a_project(target: Path) -> None:
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


def _lock_for_editing(target: Path, editor: str) -> ProjectLock:
    try:
        return ProjectLock.acquire(target, editor)
    except LockHeld as held:
        raise ProjectInUseError(target, held) from None
    except OSError as error:
        raise ReadOnlyProjectError(
            f"{target}: cannot create its lock file {error.filename} ({error.strerror}), so it cannot be edited"
        ) from None


def _open_connection(target: Path, read_only: bool) -> sqlite3.Connection:
    """Connect to an existing project, refusing one from a newer HemaLabel and
    upgrading an older one where it may be written."""
    try:
        connection = _connect(target, read_only=read_only)
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


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
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
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


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


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _slide_from_row(row: Sequence[Any]) -> Slide:
    return Slide(
        id=row[0],
        path=row[1],
        width=row[2],
        height=row[3],
        status=SlideStatus(row[4]),
        added_at=row[5],
        signed_off_by=row[6],
        signed_off_at=row[7],
        attributes=json.loads(row[8] or "{}"),
    )


def _cell_values(cell: Cell | NewCell) -> tuple[Any, ...]:
    box = cell.box
    return (
        box.x0,
        box.y0,
        box.x1,
        box.y1,
        cell.kind.value,
        cell.label,
        cell.source.value,
        json.dumps(cell.probabilities),
        cell.model_version,
        cell.score,
        int(cell.reviewed),
    )


def _of_slide(slide_id: int | None) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause and its parameter that keep one slide's rows (none: all)."""
    return ("", ()) if slide_id is None else (" WHERE slide_id = ?", (slide_id,))


# Looked up by value rather than through the enum call, and "{}" not parsed:
# every cell a view shows is read through here (30,000 for a big gallery).
_KIND_OF = {kind.value: kind for kind in CellKind}
_SOURCE_OF = {source.value: source for source in LabelSource}


def _cell_from_row(row: Sequence[Any]) -> Cell:
    return Cell(
        id=row[0],
        slide_id=row[1],
        box=Box(row[2], row[3], row[4], row[5]),
        kind=_KIND_OF[row[6]],
        label=row[7],
        source=_SOURCE_OF[row[8]],
        probabilities=json.loads(row[9]) if row[9] and row[9] != "{}" else {},
        model_version=row[10],
        score=row[11],
        reviewed=bool(row[12]),
    )


def _cell_state(cell: Cell) -> dict[str, Any]:
    """A cell as the history stores it."""
    return {
        "slide_id": cell.slide_id,
        "box": list(cell.box.as_tuple()),
        "kind": cell.kind.value,
        "label": cell.label,
        "source": cell.source.value,
        "probabilities": cell.probabilities,
        "model_version": cell.model_version,
        "score": cell.score,
        "reviewed": cell.reviewed,
    }


def _cell_from_state(cell_id: int, state: dict[str, Any]) -> Cell:
    return Cell(
        id=cell_id,
        slide_id=state["slide_id"],
        box=Box(*state["box"]),
        kind=CellKind(state["kind"]),
        label=state["label"],
        source=LabelSource(state["source"]),
        probabilities=state["probabilities"],
        model_version=state["model_version"],
        score=state["score"],
        reviewed=state["reviewed"],
    )


def _all_imported(cells: Sequence[NewCell]) -> bool:
    return bool(cells) and all(new.source is LabelSource.IMPORT for new in cells)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
