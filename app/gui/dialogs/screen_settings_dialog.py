"""The project's lymphoid-screen setting: on or off, which white cells, and
the operating point, beside what the screen model's card measured there.

A card that keeps its validation fields' scores gives the sensitivity and
specificity of any operating point; an older card measured its own point
only, and another point is then said to be unmeasured rather than given
figures nobody measured.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.models.files import ModelCardError
from core.models.screen_card import ScreenCard
from core.screen.pooling import measured_at
from core.screen.settings import ScreenSettings, load_screen_settings, save_screen_settings
from core.store import ProjectStore, StoreError
from core.wording import percent


def installed_screen_card() -> tuple[ScreenCard | None, str]:
    """The screen model's card (read without loading the model), or why there is none."""
    from core.models.resolver import resolve_screen_model
    from core.models.screen_card import read_screen_card

    try:
        return read_screen_card(resolve_screen_model(None)), ""
    except (ModelCardError, FileNotFoundError) as error:
        return None, str(error)


class ScreenSettingsDialog(QDialog):
    """Edits the project's ScreenSettings; `error_text` holds the last refusal shown."""

    def __init__(self, parent: QWidget | None, store: ProjectStore) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("Lymphoid screen")
        self.card, self.card_problem = installed_screen_card()
        try:
            settings = load_screen_settings(store)
            self.error_text = ""
        except StoreError as error:
            settings, self.error_text = ScreenSettings(), str(error)

        self.on_box = QCheckBox("Screen for suspected blasts &when classifying")
        self.on_box.setChecked(settings.on)
        self.all_white_box = QCheckBox("Screen &every white cell, not only lymphocytes, monocytes and Unidentified")
        self.all_white_box.setChecked(settings.all_white)
        self.point = QDoubleSpinBox()
        self.point.setDecimals(4)
        self.point.setRange(0.0001, 0.9999)
        self.point.setSingleStep(0.01)
        self.point.setValue(settings.threshold(self._card_point()))
        self.point.setToolTip("A white cell is a suspected blast when the screen's P(blast) reaches this: "
                              "lower finds more blasts and raises more false flags")
        self.reset_button = QPushButton("&Model's Own")
        self.reset_button.setToolTip("Use the operating point the screen model was trained for")
        self.reset_button.clicked.connect(lambda: self.point.setValue(self._card_point()))
        self.measured = QLabel()
        self.measured.setObjectName("screen_measured")
        self.measured.setWordWrap(True)
        self.model_label = QLabel(self._model_text())
        self.model_label.setWordWrap(True)
        self.error_label = QLabel(self.error_text)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.setVisible(bool(self.error_text))
        self.point.valueChanged.connect(self._show_measured)

        point_row = QHBoxLayout()
        point_row.addWidget(self.point, 1)
        point_row.addWidget(self.reset_button)
        form = QFormLayout()
        form.addRow("Model", self.model_label)
        point_label = QLabel("&Operating point")
        point_label.setBuddy(self.point)
        form.addRow(point_label, point_row)
        form.addRow("Measured", self.measured)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.on_box)
        layout.addWidget(self.all_white_box)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self._show_measured()
        self.resize(560, self.sizeHint().height())

    def settings(self) -> ScreenSettings:
        """What the dialog shows, the operating point None where it is the card's."""
        point = round(self.point.value(), 4)
        own = self.card is not None and point == round(self._card_point(), 4)
        return ScreenSettings(self.on_box.isChecked(), self.all_white_box.isChecked(), None if own else point)

    @Slot()
    def save(self) -> None:
        try:
            save_screen_settings(self.store, self.settings())
        except StoreError as error:
            self.error_text = str(error)
            self.error_label.setText(self.error_text)
            self.error_label.show()
            return
        self.accept()

    def _card_point(self) -> float:
        return float(self.card.blast_threshold) if self.card is not None else 0.5

    def _model_text(self) -> str:
        if self.card is None:
            return f"Not installed: {self.card_problem}. The setting is kept for when it is."
        return (f"{self.card.name} {self.card.version}: its own operating point {self._card_point():.4f} was set "
                f"to find {percent(self.card.target_recall)} of the malignant validation fields")

    @Slot()
    def _show_measured(self) -> None:
        if self.card is None:
            self.measured.setText("Nothing measured: no screen model is installed.")
            return
        metrics = self.card.metrics
        point = self.point.value()
        at_own_point = round(point, 4) == round(self._card_point(), 4)
        scores = metrics.get("validation_field_scores")
        figures = measured_at(scores, point) if isinstance(scores, dict) else None
        if figures is None and at_own_point:
            sensitivity, specificity = metrics.get("field_sensitivity"), metrics.get("field_specificity")
            figures = None if sensitivity is None or specificity is None else (sensitivity, specificity)
        if figures is None:
            self.measured.setText(
                f"Not measured at {point:.4f}: the card measured the model's own point only. "
                "Measure this one with hemalabel evaluate --screen on fields of known diagnosis.")
            return
        fields = metrics.get("validation_fields")
        on = f"{fields} validation fields" if fields else "validation fields"
        self.measured.setText(
            f"Sensitivity {percent(figures[0], 1)}, specificity {percent(figures[1], 1)} of {on} (a field is "
            "suspected when any of its cells is), at this point; these fields chose the model's point, so they "
            "flatter it (models/README.md: the test split)")
