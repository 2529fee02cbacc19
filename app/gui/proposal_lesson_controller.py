"""The detector's lesson while the technician reviews: after each decision
(any edit that enters the history, an undo or redo included) that changes
what the reviewed fields teach about boxes, the proposals stored on the
fields nobody reviewed are withdrawn, re-kinded or given back as it now
says (core.detection.withheld_proposals), on a worker thread; the store's
events repaint every view.  Models > Learn From Each Decision turns it off
with the classifier's instant learning."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Hashable

from PySide6.QtCore import QObject, QTimer, Signal

from app.gui.session import ProjectSession
from app.gui.worker import JobHandle, start_job
from core.detection.project_fields import box_corrections
from core.detection.withheld_proposals import WITHHELD_KEY, Withheld, refresh_withheld_proposals
from core.jobs import CancelToken, Progress
from core.store import ProjectStore, StoreEvent, StoreEventKind

# Decisions closer together than this are taught in one refresh.
DEBOUNCE_MS = 150


def lesson_inputs(store: ProjectStore) -> Hashable:
    """What the lesson is learnt from, in short: the box corrections in
    force, the proposals a person kept, the slides.  The same again
    teaches the same, so a class decision costs no refresh."""
    counts, corrected = box_corrections(store)
    kept = sum(1 for cell in store.cells() if cell.reviewed and cell.score is not None)
    return tuple(sorted(counts.items())), tuple(corrected), kept, len(store.slides())


class ProposalLessonController(QObject):
    message = Signal(str)
    taught = Signal(object)  # core.detection.withheld_proposals.Withheld

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: ProjectSession | None = None
        self.enabled = True
        self._job: JobHandle | None = None
        self._again = False
        self._inputs: Hashable = None  # what the last refresh learnt from
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._start)

    @property
    def running(self) -> bool:
        return self._job is not None

    def set_session(self, session: ProjectSession | None) -> None:
        if self.session is not None:
            with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
                self.session.changed.disconnect(self._on_changed)
        self.cancel()
        self._inputs = None
        self.session = session
        if session is not None:
            session.changed.connect(self._on_changed)
            # A project reopened with box corrections or withheld proposals
            # is refreshed at once; one with neither waits for a decision.
            counts, _corrected = box_corrections(session.store)
            if counts.get("deleted") or counts.get("re-kinded") or any(
                    WITHHELD_KEY in slide.attributes for slide in session.store.slides()):
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
        # A decision enters the history; the lesson's own writes do not.
        if any(event.kind in (StoreEventKind.HISTORY_CHANGED, StoreEventKind.RELOADED) for event in events):
            self.schedule()

    def _start(self) -> None:
        if self.session is None or not self.enabled:
            return
        if self._job is not None:
            self._again = True
            return
        store, known = self.session.store, self._inputs

        def job(token: CancelToken) -> Generator[Progress, None, tuple[Hashable, Withheld | None]]:
            yield Progress(0, 1, "Learning from this project's reviewed boxes")
            inputs = lesson_inputs(store)
            if inputs == known:
                return inputs, None
            withheld = refresh_withheld_proposals(store, lambda: token.cancelled)
            token.raise_if_cancelled()
            return inputs, withheld

        self._job = start_job("Learning from reviewed boxes", job, self, on_result=self._done,
                              on_error=self._failed, on_finished=self._finished)

    def _done(self, result: tuple[Hashable, Withheld | None]) -> None:
        self._inputs, withheld = result
        if withheld is None:
            return
        self.taught.emit(withheld)
        if withheld.written:
            self.message.emit(withheld.sentence())

    def _failed(self, message: str, _error: object) -> None:
        self.message.emit(f"Learning from reviewed boxes stopped: {message}")

    def _finished(self) -> None:
        self._job = None
        if self._again:
            self._again = False
            self.schedule()
