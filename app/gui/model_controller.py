"""Runs the detector and the classifier over slides through the worker
helper, one job at a time, with progress and Cancel.  Results need no
plumbing here: the jobs write to the store, and the store's events update
the canvas and the browser as each slide is done."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.gui import model_provider
from app.gui.session import ProjectSession
from app.gui.worker import JobHandle, start_job
from core.detection.proposal_learning import taught_by_corrections, taught_sentence
from core.inference import CellClassifier, SlideFailure, detect_slides
from core.jobs import CancelToken, Progress
from core.screen.after_classifying import classify_and_screen
from core.screen.settings import ScreenSettings, load_screen_settings
from core.screen.slides import Screener
from core.store import StoreError
from core.wording import counted


class ThresholdedClassifier:
    """The model with the technician's minimum confidence on top of its own
    calibrated thresholds: a stricter setting sends more cells to Unidentified,
    never fewer than the model card asks for."""

    def __init__(self, model: CellClassifier, minimum: float) -> None:
        self._model = model
        self._minimum = minimum
        self.version = model.version
        self.classes = model.classes
        self.crop_margin = getattr(model, "crop_margin", 0.15)

    def predict(self, crops):  # noqa: ANN001, ANN201
        return self._model.predict(crops)

    def threshold_for(self, label: str) -> float:
        return max(self._model.threshold_for(label), self._minimum)


class ModelController(QObject):
    started = Signal(str)  # job title
    progress = Signal(object)  # Progress
    finished = Signal(str)  # a one-line summary for the status bar
    failed = Signal(str)  # why the job could not run or stopped
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: ProjectSession | None = None
        self.threshold = 0.0
        self._job: JobHandle | None = None
        self._title = ""
        self._failures: list[SlideFailure] = []
        self._last_progress: Progress | None = None
        self._outcome = ""
        self._screen_note = ""  # why the screen did not run, said once a session
        self._flags_note = ""  # the open flags an earlier screen left, which this run kept
        self._screen_missing_said = False
        self._detected: list[int] = []  # the slides the running job detects on

    @property
    def running(self) -> bool:
        return self._job is not None

    @property
    def title(self) -> str:
        """What the running job does ("Detecting cells"); "" when idle."""
        return self._title if self._job is not None else ""

    @property
    def job(self) -> JobHandle | None:
        return self._job

    def set_session(self, session: ProjectSession | None) -> None:
        self.cancel()
        self.session = session
        self._screen_missing_said = False

    def detect(self, slide_ids: Sequence[int]) -> JobHandle | None:
        return self._run("Detecting cells", list(slide_ids), detect=True, classify=False)

    def classify(self, slide_ids: Sequence[int]) -> JobHandle | None:
        return self._run("Classifying", list(slide_ids), detect=False, classify=True)

    def detect_and_classify(self, slide_ids: Sequence[int]) -> JobHandle | None:
        return self._run("Detecting and classifying", list(slide_ids), detect=True, classify=True)

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _run(self, title: str, slide_ids: list[int], detect: bool, classify: bool) -> JobHandle | None:
        if self.session is None or not slide_ids:
            return None
        if self.session.read_only:
            self.failed.emit("This project is open read-only: model results could not be saved.")
            return None
        if self._job is not None:
            self.failed.emit(f"{self._title} is still running; cancel it first or wait for it to finish.")
            return None
        store = self.session.store
        minimum = self.threshold
        screen = ScreenSettings()
        if classify:
            try:
                screen = load_screen_settings(store)
            except StoreError as error:
                self.failed.emit(str(error))
                return None

        def job(token: CancelToken) -> Generator[Progress, None, list[SlideFailure]]:
            # Models load here, on the worker thread: TensorFlow is imported
            # the first time it is needed and the window keeps painting.
            failures: list[SlideFailure] = []
            steps = (int(detect) + int(classify)) * len(slide_ids)
            offset = 0
            if detect:
                yield Progress(0, steps, "Loading the detector\u2026")
                detector = model_provider.default_detector()
                failures += yield from _offset(detect_slides(store, detector, slide_ids, token), offset, steps)
                offset += len(slide_ids)
            if classify:
                yield Progress(offset, steps, "Loading the classifier\u2026")
                classifier = model_provider.default_classifier()
                if minimum > 0:
                    classifier = ThresholdedClassifier(classifier, minimum)
                if screen.on:
                    yield Progress(offset, steps, "Loading the lymphoid screen\u2026")
                model = self._screen_model(screen)
                threshold = None if model is None else screen.threshold(model.threshold)
                # Through core's one door: the screen runs on each slide as it is classified.
                after = yield from _offset(classify_and_screen(store, classifier, slide_ids, model, screen.all_white,
                                                               threshold, token), offset, steps)
                self._flags_note = after.kept_open_line()
                failures += after.failures
            return failures

        self._title = title
        self._detected = slide_ids if detect else []
        self._failures = []
        self._last_progress = None
        self._outcome = ""
        self._screen_note = ""
        self._flags_note = ""
        handle = start_job(
            title,
            job,
            self,
            on_progress=self._on_progress,
            on_result=self._on_result,
            on_error=self._on_error,
            on_cancelled=self._on_cancelled,
            on_finished=self._on_finished,
        )
        self._job = handle
        self.started.emit(title)
        self.running_changed.emit(True)
        return handle

    def _screen_model(self, settings: ScreenSettings) -> Screener | None:
        """The lymphoid screen's model when the project's setting is on (loaded
        on the worker); None when off, or when it cannot be loaded, which is
        said once a session."""
        if not settings.on:
            return None
        try:
            return model_provider.screen_model()
        except model_provider.ModelUnavailable as error:
            if not self._screen_missing_said:
                self._screen_missing_said = True
                self._screen_note = f"the lymphoid screen is on but not run: {error}"
            return None

    def _on_progress(self, progress: Progress) -> None:
        self._last_progress = progress
        self.progress.emit(progress)

    def _on_result(self, failures: list[SlideFailure]) -> None:
        # Detect-and-classify meets an unreadable or signed-off slide twice:
        # it is one slide skipped, for the first reason given.
        first: dict[int, SlideFailure] = {}
        for failure in failures or []:
            first.setdefault(failure.slide_id, failure)
        self._failures = list(first.values())
        done = self._last_progress.total if self._last_progress else 0
        text = f"{self._title} finished"
        if self._failures:
            names = ", ".join(f.path for f in self._failures[:3])
            more = f" and {len(self._failures) - 3} more" if len(self._failures) > 3 else ""
            text += f"; {counted(len(self._failures), 'slide')} skipped ({names}{more}: {self._failures[0].reason})"
        taught = self._taught_line()
        if taught:
            text += f"; {taught}"
        if self._screen_note:
            text += f"; {self._screen_note}"
        if self._flags_note:
            text += f"; {self._flags_note}"
        self._outcome = text if done else text

    def _taught_line(self) -> str:
        """What the project's box corrections changed in the proposals just
        made (core.detection.proposal_learning), as a clause; "" when nothing
        was learnt."""
        if not self._detected or self.session is None:
            return ""
        detected = set(self._detected)
        slides = [slide for slide in self.session.store.slides() if slide.id in detected]
        taught = taught_by_corrections(slides)
        if taught is None:
            return ""
        line = taught_sentence(taught["removed"], taught["rekinded"], taught["slides"], taught["examples"])
        return line[0].lower() + line[1:]

    def _on_error(self, message: str, error: object) -> None:
        if isinstance(error, model_provider.ModelUnavailable):
            self._outcome = f"Model not available: {error}"
        else:
            self._outcome = f"{self._title} stopped: {error}"
        self.failed.emit(self._outcome)

    def _on_cancelled(self) -> None:
        done = self._last_progress.done if self._last_progress else 0
        self._outcome = f"{self._title} cancelled after {counted(done, 'step')}; the results so far are kept."

    def _on_finished(self) -> None:
        self._job = None
        self.running_changed.emit(False)
        self.finished.emit(self._outcome or f"{self._title} finished")

    @property
    def failures(self) -> list[SlideFailure]:
        return list(self._failures)


def _offset(job: Generator[Progress, None, Any], offset: int, total: int):  # noqa: ANN202
    """Re-number one stage's progress as part of a two-stage run."""
    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value or []
        yield Progress(offset + progress.done, total, progress.message, progress.payload)
