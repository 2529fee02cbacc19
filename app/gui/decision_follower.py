"""Something the window does again after each of the technician's
decisions (any edit that enters the history, an undo or redo included):
on a worker thread, decisions close together gathered into one run, and
decisions made while it runs into the next.  The classifier's instant
learning and the detector's lesson both follow decisions this way; each
says what its run is."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, QTimer, Signal

from app.gui.session import ProjectSession
from app.gui.worker import JobFactory, JobHandle, start_job
from core.store import StoreEvent, StoreEventKind


class DecisionFollower(QObject):
    message = Signal(str)
    taught = Signal(object)  # what a run taught, as the subclass says

    def __init__(self, name: str, debounce_ms: int, parent: QObject | None = None) -> None:
        """name: the run's, as the job list and its failures say it."""
        super().__init__(parent)
        self.name = name
        self.session: ProjectSession | None = None
        self.enabled = True
        self._job: JobHandle | None = None
        self._again = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start)

    # ------------------------------------------------------------ for subclasses
    def forget(self) -> None:
        """Drop what the last project's runs kept."""

    def wanted_at_open(self, session: ProjectSession) -> bool:
        """Whether a project just opened needs a run before any decision."""
        return False

    def job(self, session: ProjectSession) -> JobFactory | None:
        """The run for the project as it is now; None: nothing to run."""
        raise NotImplementedError

    def done(self, result: object) -> None:
        """The run's result, on the GUI thread."""

    # ------------------------------------------------------------ the following
    @property
    def running(self) -> bool:
        return self._job is not None

    def set_session(self, session: ProjectSession | None) -> None:
        if self.session is not None:
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                self.session.changed.disconnect(self._on_changed)
        self.cancel()
        self.forget()
        self.session = session
        if session is not None:
            session.changed.connect(self._on_changed)
            if self.wanted_at_open(session):
                self.schedule()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        if on:
            self.schedule()

    def cancel(self) -> None:
        self._timer.stop()
        if self._job is not None:
            self._job.cancel()

    def schedule(self) -> None:
        if self.enabled and self.session is not None and not self.session.read_only:
            self._timer.start()

    def _on_changed(self, events: list[StoreEvent]) -> None:
        # A decision enters the history; a run's own writes do not.
        if any(event.kind in (StoreEventKind.HISTORY_CHANGED, StoreEventKind.RELOADED) for event in events):
            self.schedule()

    def _start(self) -> None:
        if self.session is None or not self.enabled:
            return
        if self._job is not None:
            self._again = True
            return
        factory = self.job(self.session)
        if factory is None:
            return
        self._job = start_job(self.name, factory, self, on_result=self.done, on_error=self._failed,
                              on_finished=self._finished)

    def _failed(self, message: str, _error: object) -> None:
        self.message.emit(f"{self.name} stopped: {message}")

    def _finished(self) -> None:
        self._job = None
        if self._again:
            self._again = False
            self.schedule()
