"""File > Import…, Export… and Report…: the dialogs and the report, each run
through the window's one worker helper, so the window keeps painting and
closing it waits for them.

A read-only project can be exported and reported, never imported into."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from app.gui.dialogs.export_dialog import ExportDialog
from app.gui.dialogs.import_dialog import ImportDialog
from app.gui.main_window import MainWindow
from app.gui.session import ProjectSession
from app.gui.worker import JobHandle, start_call
from core.report import write_report

REPORT_FILTERS = "PDF report (*.pdf);;CSV table (*.csv)"


class DataController(QObject):
    message = Signal(str)
    report_written = Signal(str)  # the file
    report_failed = Signal(str)  # the message, naming the file

    def __init__(self, window: MainWindow, current_slide: Callable[[], int | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self._current_slide = current_slide
        self.session: ProjectSession | None = None
        self.active_dialog: QDialog | None = None
        self.report_job: JobHandle | None = None
        a = window.actions
        a["import_data"].triggered.connect(self.open_import)
        a["export_data"].triggered.connect(self.open_export)
        a["report_slide"].triggered.connect(lambda: self.ask_report(all_slides=False))
        a["report_project"].triggered.connect(lambda: self.ask_report(all_slides=True))

    def set_session(self, session: ProjectSession | None) -> None:
        if self.active_dialog is not None:
            self.active_dialog.reject()  # a running job is cancelled and rolled back first
            self.active_dialog = None
        self.session = session

    @property
    def busy(self) -> bool:
        return (self.active_dialog is not None and getattr(self.active_dialog, "running", False)) or (
            self.report_job is not None
        )

    # ------------------------------------------------------------ import / export
    def open_import(self) -> ImportDialog | None:
        if self.session is None:
            return None
        if self.session.read_only:
            self.message.emit(f"{self.session.store.path} is read-only: nothing can be imported into it.")
            return None
        return self._open(ImportDialog(self.window, self.session.store))

    def open_export(self) -> ExportDialog | None:
        if self.session is None:
            return None
        # Exports only read the project: the reader never waits on a running job's commits.
        return self._open(ExportDialog(self.window, self.session.reader))

    def _open(self, dialog: QDialog) -> QDialog:
        if self.active_dialog is not None and not getattr(self.active_dialog, "running", False):
            self.active_dialog.close()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result, d=dialog: self._dialog_closed(d))
        self.active_dialog = dialog
        dialog.open()  # window-modal, and the event loop (and any test) goes on
        return dialog

    def _dialog_closed(self, dialog: QDialog) -> None:
        if self.active_dialog is dialog:
            self.active_dialog = None
        self.window.focus_current_view()

    # ------------------------------------------------------------ report
    def ask_report(self, all_slides: bool) -> None:
        if self.session is None:
            return
        slide_id = self._current_slide()
        if not all_slides and slide_id is None:
            self.message.emit("Choose a slide first, or use Report for All Slides.")
            return
        store = self.session.reader
        if all_slides:
            suggested = store.folder / f"{store.path.stem}-report.pdf"
        else:
            suggested = store.folder / f"{Path(store.slide(slide_id).path).stem}-report.pdf"
        path, chosen_filter = QFileDialog.getSaveFileName(
            self.window, "Write the differential report", str(suggested), REPORT_FILTERS
        )
        if path:
            if not Path(path).suffix:
                path += ".csv" if chosen_filter.startswith("CSV") else ".pdf"
            self.write_report(path, None if all_slides else [slide_id])

    def write_report(self, path: str | Path, slide_ids: Sequence[int] | None = None) -> JobHandle | None:
        """Write the report in the background; the status bar says where, or
        an alert says why not, naming the file."""
        if self.session is None:
            return None
        if self.report_job is not None:
            self.message.emit("A report is being written; wait for it to finish.")
            return None
        reader, target = self.session.reader, Path(path)
        self.message.emit(f"Writing the report to {target}\u2026")
        self.report_job = start_call(
            f"Report {target.name}",
            lambda: write_report(reader, target, slide_ids),
            self,
            on_result=self._report_done,
            on_error=lambda _message, error: self._report_error(target, error),
            on_finished=self._report_finished,
        )
        return self.report_job

    def _report_done(self, written: object) -> None:
        self.message.emit(f"Report written to {written}")
        self.report_written.emit(str(written))

    def _report_error(self, target: Path, error: object) -> None:
        text = str(error)
        if str(target) not in text:
            text = f"{target}: {text}"
        self.message.emit(f"The report was not written. {text}")
        self.report_failed.emit(text)
        box = QMessageBox(QMessageBox.Icon.Warning, "Report not written", text, QMessageBox.StandardButton.Ok, self.window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _report_finished(self) -> None:
        self.report_job = None
