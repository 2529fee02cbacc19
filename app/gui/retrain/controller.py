"""Models > Retrain… and Models > Models…: opens the dialogs for the open
project and passes their news to the status bar.  The dialog modules (and
core.retraining behind them) are imported on first use, so the window
starts without them."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDialog

from app.gui.main_window import MainWindow
from app.gui.session import ProjectSession


class RetrainController(QObject):
    message = Signal(str)
    classifier_changed = Signal(str)  # the model now current (promoted or rolled back)

    def __init__(self, window: MainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.session: ProjectSession | None = None
        self.retrain_dialog: QDialog | None = None
        self.models_dialog: QDialog | None = None
        window.actions["retrain"].triggered.connect(self.open_retrain)
        window.actions["model_versions"].triggered.connect(self.open_models)

    def set_session(self, session: ProjectSession | None) -> None:
        """A project closing closes its Retrain dialog; a running fine-tune is
        cancelled first (the dialog closes once the child process is gone)."""
        if self.retrain_dialog is not None:
            self.retrain_dialog.reject()
            self.retrain_dialog = None
        self.session = session

    def open_retrain(self) -> QDialog | None:
        if self.session is None:
            self.message.emit("Open a project first: retraining learns from its reviewed cells.")
            return None
        if self.retrain_dialog is not None:
            self.retrain_dialog.raise_()
            self.retrain_dialog.activateWindow()
            return self.retrain_dialog
        from app.gui.retrain.retrain_dialog import RetrainDialog

        # The reader: the dialog only reads the project (the child process opens its own connection).
        dialog = RetrainDialog(self.window, self.session.reader)
        dialog.promoted.connect(self.classifier_changed)
        dialog.message.connect(self.message)
        self.retrain_dialog = self._show(dialog, "retrain_dialog")
        return dialog

    def open_models(self) -> QDialog:
        if self.models_dialog is not None:
            self.models_dialog.raise_()
            return self.models_dialog
        from app.gui.retrain.models_dialog import ModelsDialog

        dialog = ModelsDialog(self.window)
        dialog.current_changed.connect(self.classifier_changed)
        dialog.message.connect(self.message)
        self.models_dialog = self._show(dialog, "models_dialog")
        return dialog

    def _show(self, dialog: QDialog, slot: str) -> QDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result, d=dialog: self._closed(d, slot))
        # Not modal: the technician may keep reviewing while a fine-tune runs.
        dialog.show()
        return dialog

    def _closed(self, dialog: QDialog, slot: str) -> None:
        if getattr(self, slot) is dialog:
            setattr(self, slot, None)
        self.window.focus_current_view()
