"""The Settings tab: which model to retrain (the classifier or the cell
detector) and the settings a technician may change for it, each with a
label mnemonic.  Paths are typed or chosen with a folder chooser; the
standard set may also be a .hemalabel project file."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.detection.project_fields import ProjectFields
from core.retraining import RetrainSettings
from core.retraining.settings import DetectorRetrainSettings

CLASSIFIER, DETECTOR = "classifier", "detector"


class SettingsForm(QWidget):
    min_new_class_changed = Signal(int)
    kind_changed = Signal(str)  # CLASSIFIER or DETECTOR

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = self.form = QFormLayout(self)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("retrainKindCombo")
        self.kind_combo.addItem("Classifier: white-cell classes, from reviewed cells", CLASSIFIER)
        self.kind_combo.addItem("Detector: white cells, red cells and platelets, from reviewed boxes", DETECTOR)
        self.kind_combo.setToolTip("What the fine-tune teaches: the classifier learns from confirmed and "
                                   "relabelled cells, the detector from boxes drawn, deleted, moved or re-kinded "
                                   "on reviewed slides")
        self.replay_edit = QLineEdit()
        self.replay_edit.setObjectName("replayEdit")
        self.replay_edit.setPlaceholderText("the replay set shipped with HemaLabel (PBC cells)")
        self.replay_edit.setToolTip("The original training data: the model's training config (.json, whose test "
                                    "split is never replayed), a PBC folder with images/ and boxes/, or a "
                                    "class-folder tree. Replaying some of it keeps the model from forgetting")
        self.replay_browse = QPushButton("&Browse\u2026")
        self.replay_browse.clicked.connect(lambda: self._choose_folder(self.replay_edit, "Original training data"))
        self.replay_per_class = _spin(0, 5000, "replayPerClass")
        self.replay_per_class.setToolTip("Cells drawn from the replay data for each class (0: no replay)")
        self.standard_edit = QLineEdit()
        self.standard_edit.setObjectName("standardEdit")
        self.standard_edit.setPlaceholderText("none")
        self.standard_edit.setToolTip("A fixed set both models are scored on: a class-folder tree, "
                                      "or a .hemalabel project of reviewed cells")
        self.standard_browse = QPushButton("B&rowse\u2026")
        self.standard_browse.clicked.connect(lambda: self._choose_folder(self.standard_edit, "Standard set"))
        self.epochs = _spin(1, 500, "epochsSpin")
        self.max_minutes = QDoubleSpinBox()
        self.max_minutes.setObjectName("maxMinutesSpin")
        self.max_minutes.setRange(0.5, 600.0)
        self.max_minutes.setSingleStep(0.5)
        self.max_minutes.setDecimals(1)
        self.max_minutes.setSuffix(" min")
        self.max_minutes.setToolTip("Wall-time budget of the fine-tune; it stops after the epoch that passes it")
        self.min_examples = _spin(1, 100000, "minExamplesSpin")
        self.min_examples.setToolTip("Fewer queued examples than this: the run stops and says what is needed")
        self.min_new_class = _spin(1, 100000, "minNewClassSpin")
        self.min_new_class.setToolTip("A class the model lacks becomes a new output once it has this many cells")
        self.min_new_class.valueChanged.connect(self.min_new_class_changed)

        self.detector_minutes = QDoubleSpinBox()
        self.detector_minutes.setObjectName("detectorMinutesSpin")
        self.detector_minutes.setRange(0.5, 600.0)
        self.detector_minutes.setSingleStep(0.5)
        self.detector_minutes.setDecimals(1)
        self.detector_minutes.setSuffix(" min")
        self.detector_minutes.setToolTip("Wall-time budget of the whole detector fine-tune and its comparison")
        self.replay_fields = _spin(0, 2000, "replayFieldsSpin")
        self.replay_fields.setToolTip("How many fields of the detector's own training data it keeps learning "
                                      "from beside the project's, so it does not forget them (0: none); read "
                                      "from the data folder beside HemaLabel when it is there, else the "
                                      "fine-tune uses the project's fields alone")
        for spin in (self.replay_per_class, self.epochs, self.max_minutes, self.min_examples, self.min_new_class,
                     self.detector_minutes, self.replay_fields):
            spin.setMaximumWidth(140)  # a number, not a text field
        note = QLabel("The fine-tune learns from this project's reviewed cells (the Queue tab), plus replayed "
                      "cells of the original training data (the replay set shipped with HemaLabel unless you name "
                      "another; 0 cells per class turns replay off), so the model does not forget what the project "
                      "lacks. The current model stays in use until you promote the candidate.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #4a5562;")
        detector_note = QLabel(
            "The detector's fine-tune learns from this project's reviewed fields: slides signed off, or where boxes "
            "were drawn, deleted, moved or re-kinded. A quarter of them (by slide) are kept aside to compare the "
            "detector in use with the candidate. Fields of its original training data are replayed so it does not "
            "forget other labs. The detector in use stays until you promote the candidate."
        )
        detector_note.setWordWrap(True)
        detector_note.setStyleSheet("color: #4a5562;")
        self.detector_fields = QLabel("Counting the reviewed fields\u2026")
        self.detector_fields.setObjectName("detectorFieldsLabel")
        self.detector_fields.setWordWrap(True)
        _row(form, "&Which model:", self.kind_combo)
        form.addRow(note)
        form.addRow(detector_note)
        _row(form, "Replay &folder:", self.replay_edit, self.replay_browse)
        _row(form, "Repla&y cells per class:", self.replay_per_class)
        _row(form, "St&andard set:", self.standard_edit, self.standard_browse)
        _row(form, "&Epochs:", self.epochs)
        _row(form, "Time &limit:", self.max_minutes)
        _row(form, "&Minimum examples:", self.min_examples)
        _row(form, "Minimum cells for a &new class:", self.min_new_class)
        _row(form, "Ma&ximum minutes:", self.detector_minutes)
        _row(form, "Training fields to &keep:", self.replay_fields)
        form.addRow(self.detector_fields)
        self._rows = {CLASSIFIER: [note, self.replay_edit, self.replay_per_class, self.standard_edit, self.epochs,
                                   self.max_minutes, self.min_examples, self.min_new_class],
                      DETECTOR: [detector_note, self.detector_minutes, self.replay_fields, self.detector_fields]}
        defaults = DetectorRetrainSettings()
        self.detector_minutes.setValue(defaults.max_minutes)
        self.replay_fields.setValue(defaults.replay_fields)
        self.kind_combo.currentIndexChanged.connect(self._kind_chosen)
        self._kind_chosen()

    @property
    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def set_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(kind)))

    def _kind_chosen(self) -> None:
        """Only the chosen model's settings show (a hidden field's mnemonic is
        not live, so the two time limits may share theirs)."""
        for kind, fields in self._rows.items():
            for field in fields:
                row = _row_of(self.form, field)
                if row >= 0:
                    self.form.setRowVisible(row, kind == self.kind)
        self.kind_changed.emit(self.kind)

    def show_detector_fields(self, found: ProjectFields) -> bool:
        """Say how many reviewed fields the detector would learn from; True
        when they are enough to start."""
        needed = DetectorRetrainSettings().min_fields
        corrections = ", ".join(f"{count} {action}" for action, count in sorted(found.box_corrections.items()))
        text = (f"{len(found.fields)} reviewed fields of {found.slides_in_project} slides"
                + (f"; boxes {corrections}" if corrections else "") + ".")
        if len(found.fields) < needed:
            text += (f" A detector fine-tune needs at least {needed}: sign off slides, or correct their boxes "
                     "(draw, delete, move or re-kind).")
        self.detector_fields.setText(text)
        return len(found.fields) >= needed

    def detector_settings(self) -> DetectorRetrainSettings:
        return DetectorRetrainSettings(max_minutes=self.detector_minutes.value(),
                                       replay_fields=self.replay_fields.value())

    def set_settings(self, settings: RetrainSettings) -> None:
        self.replay_edit.setText(settings.replay_path or "")
        self.replay_per_class.setValue(settings.replay_per_class)
        self.standard_edit.setText(settings.standard_set or "")
        self.epochs.setValue(settings.epochs)
        self.max_minutes.setValue(settings.max_minutes)
        self.min_examples.setValue(settings.min_examples)
        self.min_new_class.setValue(settings.min_new_class_cells)

    def apply_to(self, settings: RetrainSettings) -> RetrainSettings:
        """The form's values written into `settings` (the others untouched)."""
        settings.replay_path = self.replay_edit.text().strip() or None
        settings.replay_per_class = self.replay_per_class.value()
        settings.standard_set = self.standard_edit.text().strip() or None
        settings.epochs = self.epochs.value()
        settings.max_minutes = self.max_minutes.value()
        settings.min_examples = self.min_examples.value()
        settings.min_new_class_cells = self.min_new_class.value()
        return settings

    def _choose_folder(self, edit: QLineEdit, title: str) -> None:
        path = QFileDialog.getExistingDirectory(self, title, edit.text())
        if path:
            edit.setText(path)


def _spin(low: int, high: int, name: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(low, high)
    return spin


def _row(form: QFormLayout, text: str, field: QWidget, button: QWidget | None = None) -> None:
    label = QLabel(text)
    label.setBuddy(field)  # the mnemonic focuses the field
    if button is None:
        form.addRow(label, field)
        return
    holder = QWidget()
    line = QHBoxLayout(holder)
    line.setContentsMargins(0, 0, 0, 0)
    line.addWidget(field, 1)
    line.addWidget(button)
    form.addRow(label, holder)


def _row_of(form: QFormLayout, field: QWidget) -> int:
    """The form row holding `field` (itself, or the holder beside its button)."""
    for row in range(form.rowCount()):
        for role in (QFormLayout.ItemRole.FieldRole, QFormLayout.ItemRole.SpanningRole):
            item = form.itemAt(row, role)
            widget = item.widget() if item is not None else None
            if widget is not None and (widget is field or widget.isAncestorOf(field)):
                return row
    return -1
