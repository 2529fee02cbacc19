"""File > Report…: the report is written with the progress and the Cancel
every other long job has (a project's PDF draws a page and thumbnails per
sample), instead of a status-bar line alone.  The dialog starts at once;
it closes when the file is written, and stays to say why when it is not."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QWidget

from app.gui.dialogs.job_dialog import JobDialog
from core.report import report_job
from core.store import ProjectStore


class ReportDialog(JobDialog):
    start_text = "&Write Again"
    doing = "writing a report"
    written = Signal(str)  # the file
    failed = Signal(str)  # the reason, naming the file

    def __init__(self, parent: QWidget | None, store: ProjectStore, target: Path,
                 slide_ids: Sequence[int] | None) -> None:
        super().__init__(parent, "Report")
        self.store, self.target, self.slide_ids = store, Path(target), slide_ids
        what = (
            "all slides" if slide_ids is None else ("this slide" if len(slide_ids) == 1 else f"{len(slide_ids)} slides")
        )
        self.form_layout.addWidget(QLabel(f"The differential report of {what}, to\n{self.target}"))

    def start(self) -> None:
        store, target, slide_ids = self.store, self.target, self.slide_ids
        self.start_job(lambda token: report_job(store, target, slide_ids, cancel=token),
                       f"Writing the report to {target.name}\u2026")

    def on_finished(self, result: Path) -> None:
        self.written.emit(str(result))
        super().on_finished(result)

    def on_failed(self, error: BaseException) -> None:
        text = str(error)
        if str(self.target) not in text:
            text = f"{self.target}: {text}"
        self.show_error(f"The report was not written. {text}")
        self.failed.emit(text)

    def _on_cancelled(self) -> None:
        self.progress_bar.setValue(0)
        self.show_error("Cancelled: no report was written.")
