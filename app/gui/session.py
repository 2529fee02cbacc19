"""An open project as the window sees it: the store, plus a Qt signal that
carries the store's change events to the GUI thread.

The store calls its listeners on whichever thread made the change (the GUI
thread for a technician's edit, a worker thread for a detection run).  The
listener here collects events and asks the GUI thread, through a queued
signal, to hand them on in one batch.  Batching matters: every Python slot
the GUI thread runs must first win the GIL back from a busy worker, so one
call per batch instead of one per event keeps the window responsive during
a 100-slide run.  An edit made on the GUI thread is delivered at once.

The window reads through a second, read-only connection (`reader`).  The
store serialises its one connection with a lock that a worker holds through
each commit, fsync included; in WAL mode a separate reader never waits for
the writer, so repainting the browser never waits for the disk."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal

from core.store import ProjectStore, StoreEvent


class ProjectSession(QObject):
    changed = Signal(list)  # list[StoreEvent], in commit order
    _flush_requested = Signal()

    def __init__(self, store: ProjectStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.reader = store if store.read_only else ProjectStore.open(store.path, read_only=True)
        self._pending: list[StoreEvent] = []
        self._pending_lock = threading.Lock()
        self._gui_thread = threading.get_ident()
        self._closed = False
        self._flush_requested.connect(self._flush, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = store.subscribe(self._relay)

    def _relay(self, event: StoreEvent) -> None:
        if self._closed:
            return
        if threading.get_ident() == self._gui_thread:
            self._flush()  # earlier events from workers first, then this one
            self.changed.emit([event])
            return
        with self._pending_lock:
            self._pending.append(event)
            first = len(self._pending) == 1
        if first:
            self._flush_requested.emit()

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
        self._unsubscribe()
        if self.reader is not self.store:
            self.reader.close()
        self.store.close()
