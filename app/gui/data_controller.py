"""File > Import…, Export…, Report… and Audit Trail…: their dialogs, each running its job
through the window's one worker helper, so the window keeps painting and
closing it waits for them.

A read-only project can be exported and reported, never imported into."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDialog, QFileDialog

from app.gui.dialogs.audit_trail_dialog import AuditTrailDialog
from app.gui.dialogs.export_dialog import ExportDialog
from app.gui.dialogs.import_dialog import ImportDialog
from app.gui.dialogs.report_dialog import ReportDialog
from app.gui.main_window import MainWindow
from app.gui.session import ProjectSession
from app.gui.worker import JobHandle

DialogT = TypeVar("DialogT", bound=QDialog)

REPORT_FILTERS = "PDF report (*.pdf);;CSV table (*.csv)"


class DataController(QObject):
    message = Signal(str)
    report_written = Signal(str)  # the file
    report_failed = Signal(str)  # the message, naming the file

    def __init__(self, window: MainWindow, current_slide: Callable[[], int | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self._current_slide = current_slide
        self.session: ProjectSession | None = None
        self.active_dialog: QDialog | None = None
        a = window.actions
        a["import_data"].triggered.connect(self.open_import)
        a["export_data"].triggered.connect(self.open_export)
        a["report_slide"].triggered.connect(lambda: self.ask_report(all_slides=False))
        a["report_project"].triggered.connect(lambda: self.ask_report(all_slides=True))
        a["audit_trail"].triggered.connect(self.open_audit_trail)

    def set_session(self, session: ProjectSession | None) -> None:
        if self.active_dialog is not None:
            self.active_dialog.reject()  # a running job is cancelled and rolled back first
            self.active_dialog = None
        self.session = session

    @property
    def busy(self) -> bool:
        return self.active_dialog is not None and getattr(self.active_dialog, "running", False)

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

    def open_audit_trail(self) -> AuditTrailDialog | None:
        """The trail as read (a read-only project's, too); other initials
        set there are recorded on the window's editing store."""
        if self.session is None:
            return None
        return self._open(AuditTrailDialog(self.window, self.session.reader, self.session.store,
                                           self._current_slide(), session=self.session))

    def _open(self, dialog: DialogT) -> DialogT:
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
        if all_slides or slide_id is None:
            suggested = store.folder / f"{store.path.stem}-report.pdf"
        else:
            suggested = store.folder / f"{Path(store.slide(slide_id).path).stem}-report.pdf"
        path, chosen_filter = QFileDialog.getSaveFileName(
            self.window, "Write the differential report", str(suggested), REPORT_FILTERS
        )
        if path:
            if not Path(path).suffix:
                path += ".csv" if chosen_filter.startswith("CSV") else ".pdf"
            self.write_report(path, None if all_slides or slide_id is None else [slide_id])

    def write_report(self, path: str | Path, slide_ids: Sequence[int] | None = None) -> JobHandle | None:
        """Write the report in the background, in a dialog with its progress
        and Cancel; the status bar says where it went, or why not."""
        if self.session is None:
            return None
        if self.report_job is not None:
            self.message.emit("A report is being written; wait for it to finish, or cancel it.")
            return None
        target = Path(path)
        dialog = ReportDialog(self.window, self.session.reader, target, slide_ids)
        dialog.written.connect(self._report_done)
        dialog.failed.connect(self._report_error)
        self._open(dialog)
        dialog.start()
        return dialog.job

    @property
    def report_job(self) -> JobHandle | None:
        """The report being written, if one is."""
        dialog = self.active_dialog
        return dialog.job if isinstance(dialog, ReportDialog) else None

    def _report_done(self, written: str) -> None:
        self.message.emit(f"Report written to {written}")
        self.report_written.emit(written)

    def _report_error(self, text: str) -> None:
        self.message.emit(f"The report was not written. {text}")
        self.report_failed.emit(text)
