"""Help > Open Sample Project…: six bundled BCCD fields as a project in the
user's data folder (core/sample_project.py makes it, in the background),
opened in the window with its white cells classified, so a newcomer sees
the whole review in the first minute.  A second use reopens the same
project as it was left; nothing is added twice."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from app.gui.main_controller import EDITOR, MainController
from app.gui.worker import JobHandle, start_job
from core.jobs import Progress
from core.sample_project import prepare_sample_project
from core.schema import CellKind


class SampleProjectController(QObject):
    def __init__(self, main: MainController) -> None:
        super().__init__(main)
        self.main = main
        self.job: JobHandle | None = None
        main.window.actions["open_sample"].triggered.connect(self.open_sample)

    def open_sample(self) -> JobHandle | None:
        if self.job is not None:
            return self.job  # still being made: the second press waits for the first
        self.main.show_project_message("Preparing the sample project\u2026")
        self.job = start_job(
            "Preparing the sample project",
            lambda token: prepare_sample_project(cancel=token, editor=EDITOR),
            self,
            on_progress=self._progress,
            on_result=self._ready,
            on_error=lambda message, _error: self.main.show_project_message(
                f"The sample project could not be made: {message}"
            ),
            on_finished=self._finished,
        )
        return self.job

    def _progress(self, progress: Progress) -> None:
        if progress.message:
            self.main.show_project_message(f"Sample project: {progress.message}")

    def _ready(self, project: object) -> None:
        if not self.main.open_project(Path(str(project))):
            return  # the controller has said why
        session = self.main.session
        if session is None or session.read_only:
            return
        # Classify the slides whose white cells no model has seen yet: all of
        # them the first time; none once classified, so a reviewer's view of
        # the sample is never redone behind their back.
        reader = session.reader
        unseen = sorted(
            {
                cell.slide_id
                for cell in reader.cells(kind=CellKind.WHITE)
                if cell.model_version is None and not cell.reviewed
            }
        )
        if unseen:
            self.main.models.classify(unseen)

    def _finished(self) -> None:
        self.job = None
