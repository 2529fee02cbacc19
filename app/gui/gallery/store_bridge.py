"""Hands the store's plain callbacks to the GUI thread as a Qt signal.

The store calls its listeners on whatever thread made the change (a worker
writing predictions, the GUI thread relabelling), so a widget never touches
itself from a listener: the bridge re-emits the event through a queued
connection, and several events in one burst arrive together in the next turn
of the event loop.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from core.store import ProjectStore, StoreEvent


class StoreBridge(QObject):
    """`changed(list[StoreEvent])` fires on the bridge's thread, coalesced:
    one emission per event-loop turn however many events the store sent."""

    changed = Signal(object)
    _arrived = Signal(object)

    def __init__(self, store: ProjectStore, parent: QObject | None = None, delay_ms: int = 0) -> None:
        super().__init__(parent)
        self.store = store
        self._events: list[StoreEvent] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(delay_ms)
        self._flush_timer.timeout.connect(self._flush)
        # Queued even from the GUI thread: a listener must not re-enter the
        # widget in the middle of the store's own call.
        self._arrived.connect(self._collect, Qt.ConnectionType.QueuedConnection)
        arrived = self._arrived
        # The store's unsubscribe is idempotent; the closure holds no `self`.
        unsubscribe = store.subscribe(lambda event: _emit_safely(arrived, event))
        self._unsubscribe = unsubscribe
        self.destroyed.connect(lambda *_: unsubscribe())

    def detach(self) -> None:
        """Stop listening (the widget is going away or the project closes)."""
        self._unsubscribe()

    @Slot(object)
    def _collect(self, event: StoreEvent) -> None:
        self._events.append(event)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    @Slot()
    def _flush(self) -> None:
        events, self._events = self._events, []
        if events:
            self.changed.emit(events)


def _emit_safely(signal: Signal, event: StoreEvent) -> None:
    try:
        signal.emit(event)
    except RuntimeError:
        # The bridge's C++ side is already gone (window closing): nobody listens.
        pass
