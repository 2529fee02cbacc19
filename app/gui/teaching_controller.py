"""Learning while the technician reviews: after each decision (any edit
that enters the history, an undo or redo included) the project's
unreviewed white cells are predicted again from what its reviewed cells
teach (core.project_learning), on a worker thread, and what changed is
written to the store, whose events repaint every view.  Decisions made
while a refit runs are gathered into the next one."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, cast

from PySide6.QtCore import QObject

from app.gui import model_provider
from app.gui.decision_follower import DecisionFollower
from app.gui.session import ProjectSession
from app.gui.worker import JobFactory
from core.jobs import CancelToken, Progress
from core.project_learning import ProjectTeacher, Teaching
from core.schema import CellKind
from core.wording import counted

# Decisions closer together than this are taught in one refit.
DEBOUNCE_MS = 120


class TeachingController(DecisionFollower):
    def __init__(self, parent: QObject | None = None, thresholds: Callable[[Any], Any] | None = None) -> None:
        """thresholds: wraps the classifier with the minimum confidence in
        use (the window's ThresholdedClassifier), so taught labels go to
        Unidentified exactly as classified ones do."""
        super().__init__("Learning from reviewed cells", DEBOUNCE_MS, parent)
        self._thresholds = thresholds or (lambda classifier: classifier)
        self._teacher: ProjectTeacher | None = None
        self.ranks = False  # a view asked for the review order (the gallery's Teach first)

    def forget(self) -> None:
        self._teacher = None

    def wanted_at_open(self, session: ProjectSession) -> bool:
        # A project reopened with reviewed cells is taught at once; one
        # with none has nothing to teach until the first decision.
        return any(cell.reviewed for cell in session.store.cells(kind=CellKind.WHITE))

    def rank(self) -> None:
        """Make the review order from now on (it costs a pass a decision)."""
        self.ranks = True
        self.schedule()

    def thresholds_changed(self) -> None:
        """The minimum confidence moved: labels are judged anew."""
        self._teacher = None
        self.schedule()

    def job(self, session: ProjectSession) -> JobFactory:
        store, teacher, wrap, ranks = session.store, self._teacher, self._thresholds, self.ranks

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

        return job

    def done(self, result: object) -> None:
        if result is None:
            return
        teacher, teaching = cast(tuple[ProjectTeacher, Teaching], result)
        self._teacher = teacher
        self.taught.emit(teaching)
        if teaching.predictions:
            self.message.emit(
                f"Learnt from {counted(teaching.taught, 'reviewed cell')}: "
                f"{counted(len(teaching.predictions), 'prediction')} updated"
            )
