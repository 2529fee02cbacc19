"""What the import and export dialogs share: a form, a progress bar, a status
line, a start button and a Cancel that stops a running job (and closes the
dialog only once the job has let go of the project).  The job runs through
the window's one worker helper (app/gui/worker.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.worker import JobHandle, start_job
from core.jobs import CancelToken, Job, Progress


class JobDialog(QDialog):
    """Subclasses fill `self.form_layout`, and call `start_job` from `start`."""

    start_text = "Start"

    def __init__(self, parent: QWidget | None, title: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        # Room for a folder's path: at their natural width (335-390 px) the
        # path fields showed a dozen characters and the placeholder was cut.
        self.setMinimumWidth(560)
        self.result_value: Any = None
        # The running job (None when idle): its signals and its Cancel.
        self.job: JobHandle | None = None
        self._close_when_done = False

        layout = QVBoxLayout(self)
        self.form_layout = QVBoxLayout()
        layout.addLayout(self.form_layout)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.start_button = QPushButton(self.start_text)
        self.cancel_button = QPushButton("Cancel")
        self.buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        layout.addWidget(self.buttons)
        # Only now: a button becomes its dialog's default only if it is in the
        # dialog when told.  Told before, Enter in the folder field pressed the
        # first other button instead (Browse…, which opened a file dialog).
        self.start_button.setDefault(True)

    # ------------------------------------------------------------------ to override
    def start(self) -> None:
        raise NotImplementedError

    def on_finished(self, result: Any) -> None:
        self.result_value = result
        self.accept()

    def on_failed(self, error: BaseException) -> None:
        self.show_error(str(error))

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        return self.job is not None

    def start_job(self, make_job: Callable[[CancelToken], Job[Any]], message: str) -> None:
        self.set_form_enabled(False)
        self.start_button.setEnabled(False)
        self.progress_bar.setRange(0, 0)  # busy until the first progress
        self.status.setStyleSheet("")
        self.status.setText(message)
        # Bound methods of this dialog, not lambdas: Qt then queues every
        # signal from the worker thread to the dialog's (the GUI) thread.
        self.job = start_job(
            self.windowTitle(),
            make_job,
            self,
            on_progress=self._on_progress,
            on_result=self._job_finished,
            on_error=self._job_failed,
            on_cancelled=self._job_cancelled,
        )

    def _on_progress(self, progress: Progress) -> None:
        self.progress_bar.setRange(0, max(1, progress.total))
        self.progress_bar.setValue(progress.done)
        if progress.message:
            self.status.setText(progress.message)

    def _job_finished(self, result: Any) -> None:
        self._ended(lambda: self.on_finished(result))

    def _job_failed(self, _message: str, error: BaseException) -> None:
        self._ended(lambda: self.on_failed(error))

    def _job_cancelled(self) -> None:
        self._ended(self._on_cancelled)

    def _ended(self, then: Callable[[], None]) -> None:
        self.job = None
        self.progress_bar.setRange(0, 1)
        self.set_form_enabled(True)
        self.start_button.setEnabled(True)
        if self._close_when_done:
            super().reject()
            return
        then()

    def _on_cancelled(self) -> None:
        self.progress_bar.setValue(0)
        self.show_error("Cancelled: nothing was changed." if self.cancel_leaves_nothing else "Cancelled.")

    cancel_leaves_nothing = True

    def show_error(self, message: str) -> None:
        self.status.setStyleSheet("color: #b00020;")
        self.status.setText(message)

    def set_form_enabled(self, enabled: bool) -> None:
        for index in range(self.form_layout.count()):
            item = self.form_layout.itemAt(index)
            if item.widget() is not None:
                item.widget().setEnabled(enabled)

    def cancel_or_close(self) -> None:
        """Cancel stops a running job and keeps the dialog open to say so;
        with nothing running it closes the dialog."""
        if self.job is None:
            super().reject()
            return
        self.status.setText("Cancelling…")
        self.job.cancel()

    def reject(self) -> None:
        """Escape or closing the window while a job runs cancels it; the
        dialog closes once the job has rolled back and let go of the project."""
        if self.running:
            self._close_when_done = True
            self.cancel_button.setEnabled(False)
            self.cancel_or_close()
            return
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.running:
            event.ignore()
            self.reject()
            return
        super().closeEvent(event)
