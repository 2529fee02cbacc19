"""An open project as the window sees it: the store, a read-only reader, and
THE bridge that carries the store's change events to the GUI thread.  Every
view (canvas, slide browser, inspector, gallery, differential) listens to
`changed`; none subscribes to the store itself.

The store announces each committed transaction as one batch, on whichever
thread committed it (the GUI thread for a technician's edit, a worker
thread for a detection run).

- A batch from the GUI thread is handed on at once, in the same call: the
  technician's keystroke is on every view before the next paint, and a
  handler that selects the box it just drew finds its item.
- Batches from workers are collected and the GUI thread is asked, through
  one queued signal, to hand them on together.  Batching matters: every
  Python slot the GUI thread runs must first win the GIL back from a busy
  worker, so one call per burst instead of one per event keeps the window
  responsive during a 100-slide run.

A window on a server project, or on a file another window edits, follows
what other stations and windows save: a timer asks the store what they
announced (ProjectStore.changes_elsewhere) and hands it on as one batch, as
a worker's edits are.  A server's stations name the cells they changed; a
file's change is one RELOADED.  A server connection lost there is said
through `save_failed`, as an edit that could not be saved is.

Views read through a second, read-only connection (`reader`).  The store
serialises its one connection with a lock that a worker holds through each
commit, fsync included; in WAL mode a separate reader never waits for the
writer, so repainting never waits for the disk."""

from __future__ import annotations

import contextlib
import threading

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from core.store import ProjectStore, StoreError, StoreEvent, StoreEventKind
from core.store.errors import EditConflictError

FOLLOW_INTERVAL_MS = 2000  # how often a read-only file window looks for edits saved elsewhere
FOLLOW_SERVER_INTERVAL_MS = 250  # a server project's window: other stations' edits on show within a second


class ProjectSession(QObject):
    changed = Signal(list)  # list[StoreEvent], in commit order
    # An edit the file refused (a full disk), from whichever thread tried it;
    # queued to the GUI thread by Qt when a worker's edit failed.
    save_failed = Signal(str)
    _flush_requested = Signal()

    def __init__(self, store: ProjectStore, parent: QObject | None = None, *, owns_store: bool = True) -> None:
        super().__init__(parent)
        self.store = store
        self.owns_store = owns_store
        self.reader = store if store.read_only else ProjectStore.open(store.path, read_only=True)
        self._pending: list[StoreEvent] = []
        self._pending_lock = threading.Lock()
        self._gui_thread = threading.get_ident()
        self._closed = False
        self._flush_requested.connect(self._flush, Qt.ConnectionType.QueuedConnection)
        # A file edited here has no other writer to follow; a read-only file
        # window follows the one that edits it, a server's every station.
        self._follow_timer: QTimer | None = None
        if store.read_only or not store.is_file:
            self._follow_timer = QTimer(self)
            self._follow_timer.setInterval(FOLLOW_INTERVAL_MS if store.is_file else FOLLOW_SERVER_INTERVAL_MS)
            self._follow_timer.timeout.connect(self._follow_edits_elsewhere)
            self._follow_timer.start()
        unsubscribe_batches = store.subscribe_batches(self._relay)
        unsubscribe_failures = store.subscribe_failures(self._relay_failure)

        def unsubscribe() -> None:
            unsubscribe_batches()
            unsubscribe_failures()

        self._unsubscribe = unsubscribe
        # A session dropped with its widget (one made by `of`) must not leave
        # the store calling into a deleted object; the closure holds no `self`.
        self.destroyed.connect(lambda *_: unsubscribe())

    @classmethod
    def of(cls, source: ProjectSession | ProjectStore, parent: QObject | None = None) -> ProjectSession:
        """The session to listen to: `source` itself, or for a bare store (a
        widget used on its own, a benchmark) a session that leaves the store
        open when it closes."""
        return source if isinstance(source, ProjectSession) else cls(source, parent, owns_store=False)

    def _relay(self, events: list[StoreEvent]) -> None:
        if self._closed:
            return
        if threading.get_ident() == self._gui_thread:
            try:
                self._flush()  # earlier batches from workers first, then this one
                self.changed.emit(list(events))
            except RuntimeError:
                pass  # the Qt side is gone; the store's own caller must not fail for it
            return
        with self._pending_lock:
            first = not self._pending
            self._pending.extend(events)
        if first:
            # The session's Qt side may be gone (window closing): then nobody listens.
            with contextlib.suppress(RuntimeError):
                self._flush_requested.emit()

    def _follow_edits_elsewhere(self) -> None:
        """The timer's tick: hand on what other stations (or windows) have saved."""
        if self._closed:
            return
        try:
            # The timer never waits on a worker's save: the next tick asks again.
            events = self.store.changes_elsewhere(wait=False)
        except StoreError as error:
            # A server gone: said once, where an edit not saved is said; edits
            # here fail by themselves (and say so) until the project is opened again.
            if self._follow_timer is not None:
                self._follow_timer.stop()
            self.save_failed.emit(f"{error}; other stations' edits are no longer shown here")
            return
        if events:
            self._flush()  # this window's own edits from workers first
            self.changed.emit(events)

    def _relay_failure(self, error: Exception) -> None:
        if self._closed:
            return
        # The Qt side may be gone; the caller still gets the error itself.
        with contextlib.suppress(RuntimeError):
            self.save_failed.emit(str(error))
            if isinstance(error, EditConflictError):
                # Refused for what another station saved: every view shows it
                # now, not at the next tick (the refused cell with the rest).
                self._relay([StoreEvent(StoreEventKind.RELOADED)])

    def flush(self) -> None:
        """Hand on now whatever workers have announced (a test, or a view
        that must be current before it reads)."""
        self._flush()

    def _flush(self) -> None:
        with self._pending_lock:
            events, self._pending = self._pending, []
        if events and not self._closed:
            self.changed.emit(events)

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def taxonomy(self):  # noqa: ANN201
        return self.store.taxonomy

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._follow_timer is not None:
            self._follow_timer.stop()
        self._unsubscribe()
        if self.reader is not self.store:
            self.reader.close()
        if self.owns_store:
            self.store.close()
