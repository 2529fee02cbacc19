"""Edit > Sample Identifier… (F2): name the sample the slide on show is of,
an accession or sample number, which heads its page of the report.  Blank
goes back to the image's file name.  A signed slide keeps the identifier it
was signed with: the store refuses, and the window says to unlock first."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from core.schema import Slide, SlideStatus
from core.store import MAX_SAMPLE_ID, StoreError

if TYPE_CHECKING:
    from app.gui.main_controller import MainController


class SampleIdDialog(QDialog):
    """The identifier to give `slide`; `value()` once accepted."""

    def __init__(self, parent: QWidget | None, slide: Slide) -> None:
        super().__init__(parent)
        stem = PurePosixPath(slide.path).stem
        self.setWindowTitle(f"Sample identifier of {slide.image_name}")
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        label = QLabel("&Sample identifier (accession or sample number):")
        self.field = QLineEdit(slide.sample_id)
        self.field.setObjectName("sampleIdField")
        self.field.setMaxLength(MAX_SAMPLE_ID)
        self.field.setPlaceholderText(stem)
        self.field.selectAll()  # typing replaces it, as a rename does
        label.setBuddy(self.field)
        note = QLabel(f"Heads this slide's page of the report.  Leave it empty for the image's name ({stem}).")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(label)
        layout.addWidget(self.field)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def value(self) -> str:
        return self.field.text()


class SampleIdController(QObject):
    """Opens the dialog for the slide on show and stores what it gives."""

    def __init__(self, main: MainController) -> None:
        super().__init__(main)
        self.main = main
        self.dialog: SampleIdDialog | None = None
        main.window.actions["sample_id"].triggered.connect(self.ask)

    def ask(self) -> SampleIdDialog | None:
        main = self.main
        if main.session is None or main.slide is None:
            return None
        if main.session.read_only:
            main.show_message("This project is read-only: sample identifiers cannot be changed here.")
            return None
        slide = main.session.reader.slide(main.slide.id)
        if slide.status is SlideStatus.SIGNED_OFF:
            main.show_message(f"Sample {slide.sample_id} is signed off with this identifier; "
                              "unlock the slide with a reason to change it.")
            return None
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = SampleIdDialog(main.window, slide)
        self.dialog.accepted.connect(lambda slide_id=slide.id,
                                     dialog=self.dialog: self._store(slide_id, dialog.value()))
        self.dialog.finished.connect(lambda _result: main.window.focus_current_view())
        self.dialog.open()  # window-modal, without blocking the event loop
        return self.dialog

    def _store(self, slide_id: int, text: str) -> None:
        main = self.main
        if main.session is None:
            return
        try:
            slide = main.session.store.set_sample_id(slide_id, text)
        except StoreError as error:
            main.show_message(f"The sample identifier was not changed: {error}")
            return
        main.show_message(f"{slide.image_name} is sample {slide.sample_id}")
