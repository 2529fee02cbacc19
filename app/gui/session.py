"""An open project as the window sees it: the store, plus a Qt signal that
carries the store's change events to the GUI thread.

The store calls its listeners on whichever thread made the change (the GUI
thread for a technician's edit, a worker thread for a detection run).  The
listener here only emits a signal of a QObject that lives on the GUI thread;
Qt queues it across threads, so every slot connected to `changed` runs on
the GUI thread, in commit order."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.store import ProjectStore, StoreEvent


class ProjectSession(QObject):
    changed = Signal(object)  # StoreEvent

    def __init__(self, store: ProjectStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._unsubscribe = store.subscribe(self._relay)
        self._closed = False

    def _relay(self, event: StoreEvent) -> None:
        if not self._closed:
            self.changed.emit(event)

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    @property
    def taxonomy(self):  # noqa: ANN201
        return self.store.taxonomy

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        self.store.close()
