"""Learning while the technician reviews: after each decision (any edit
that enters the history, an undo or redo included) the project's
unreviewed white cells are predicted again from what its reviewed cells
teach (core.project_learning), on a worker thread, and what changed is
written to the store, whose events repaint every view.  Decisions made
while a refit runs are gathered into the next one."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.gui import model_provider
from app.gui.session import ProjectSession
from app.gui.worker import JobHandle, start_job
from core.jobs import CancelToken, Progress
from core.project_learning import ProjectTeacher, Teaching
from core.schema import CellKind
from core.store import StoreEvent, StoreEventKind
from core.wording import counted

# Decisions closer together than this are taught in one refit.
DEBOUNCE_MS = 120


class TeachingController(QObject):
    message = Signal(str)
    taught = Signal(object)  # core.project_learning.Teaching

    def __init__(self, parent: QObject | None = None, thresholds: Callable[[Any], Any] | None = None) -> None:
        """thresholds: wraps the classifier with the minimum confidence in
        use (the window's ThresholdedClassifier), so taught labels go to
        Unidentified exactly as classified ones do."""
        super().__init__(parent)
        self.session: ProjectSession | None = None
        self.enabled = True
        self._thresholds = thresholds or (lambda classifier: classifier)
        self._teacher: ProjectTeacher | None = None
        self._job: JobHandle | None = None
        self._again = False
        self.ranks = False  # a view asked for the review order (the gallery's Teach first)
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
        self._teacher = None
        self.session = session
        if session is not None:
            session.changed.connect(self._on_changed)
            # A project reopened with reviewed cells is taught at once; one
            # with none has nothing to teach until the first decision.
            if any(cell.reviewed for cell in session.store.cells(kind=CellKind.WHITE)):
                self.schedule()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        if on:
            self.schedule()

    def rank(self) -> None:
        """Make the review order from now on (it costs a pass a decision)."""
        self.ranks = True
        self.schedule()

    def thresholds_changed(self) -> None:
        """The minimum confidence moved: labels are judged anew."""
        self._teacher = None
        self.schedule()

    def cancel(self) -> None:
        self._timer.stop()
        if self._job is not None:
            self._job.cancel()

    def schedule(self) -> None:
        if self.enabled and self.session is not None and not self.session.read_only:
            self._timer.start()

    def _on_changed(self, events: list[StoreEvent]) -> None:
        # A decision enters the history; the teacher's own writes do not.
        if any(event.kind in (StoreEventKind.HISTORY_CHANGED, StoreEventKind.RELOADED) for event in events):
            self.schedule()

    def _start(self) -> None:
        if self.session is None or not self.enabled:
            return
        if self._job is not None:
            self._again = True
            return
        store, teacher, wrap, ranks = self.session.store, self._teacher, self._thresholds, self.ranks

        def job(token: CancelToken) -> Generator[Progress, None, tuple[ProjectTeacher, Teaching] | None]:
            yield Progress(0, 1, "Learning from this project's reviewed cells")
            classifier = model_provider.default_classifier()
            if not hasattr(classifier, "keras_model"):
                return None  # a stand-in classifier has no network to learn on
            # A promoted model is a new teacher: the old one's features are another network's.
            made = teacher if teacher is not None and teacher.classifier is classifier else None
            if made is None:
                made = ProjectTeacher(store, classifier, wrap(classifier))
            made.ranks = ranks
            made.prepare(lambda: token.cancelled)
            token.raise_if_cancelled()
            return made, made.teach()

        self._job = start_job("Learning from reviewed cells", job, self, on_result=self._done,
                              on_error=self._failed, on_finished=self._finished)

    def _done(self, result: tuple[ProjectTeacher, Teaching] | None) -> None:
        if result is None:
            return
        self._teacher, teaching = result
        self.taught.emit(teaching)
        if teaching.predictions:
            self.message.emit(
                f"Learnt from {counted(teaching.taught, 'reviewed cell')}: "
                f"{counted(len(teaching.predictions), 'prediction')} updated"
            )

    def _failed(self, message: str, _error: object) -> None:
        self.message.emit(f"Learning from reviewed cells stopped: {message}")

    def _finished(self) -> None:
        self._job = None
        if self._again:
            self._again = False
            self.schedule()
