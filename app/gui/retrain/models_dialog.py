"""Models > Models…: every version of the classifier, or of the cell
detector (chosen above the list), in its registry (bundled, candidates,
promoted, retired) with its parent, age, what it was trained on and its key
scores; the current one marked.  Promote a candidate, discard one, or roll
back to the previously current model in one action."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import model_provider
from app.gui.retrain import backend
from app.gui.retrain.boxes import chooser_row
from app.gui.retrain.discard import TITLE, ask_discard, discard_question
from app.gui.retrain.tables import cell_item, make_table
from core.models.registry import ModelVersion
from core.wording import minute_utc

COLUMNS = ["", "Name", "Status", "Parent", "Created", "Trained on", "Accuracy", "Balanced acc."]
# The detector's key scores, in the two score columns: the candidate's on held-out reviewed fields.
DETECTOR_SCORES = ("white_ap50", "white_precision")
DETECTOR_HEADERS = ["White AP50", "White precision"]


def key_metrics(metrics: dict, keys: tuple[str, str] = ("accuracy", "balanced_accuracy")) -> tuple[float | None,
                                                                                                   float | None]:
    """(accuracy, balanced accuracy) from a version's saved metrics.  The
    summary may be flat or nested by set and model; the candidate's
    out-of-fold scores (held-out ones for older versions) are preferred, as
    that is what promotion was judged on.  A score saved as null (nothing
    to score on the fields) is NaN."""
    def find(node: Any, key: str) -> float | None:
        if isinstance(node, dict):
            if isinstance(node.get(key), (int, float)):
                return float(node[key])
            if key in node and node[key] is None:
                return math.nan  # no value on those fields (shown n/a), not one to look for on others
            for preferred in ("candidate", "out_of_fold", "held_out", "standard"):
                if preferred in node:
                    found = find(node[preferred], key)
                    if found is not None:
                        return found
            for value in node.values():
                found = find(value, key)
                if found is not None:
                    return found
        elif isinstance(node, (list, tuple)) and node:
            return find(node[-1], key)  # (current, candidate) pairs: the candidate
        return None

    return find(metrics or {}, keys[0]), find(metrics or {}, keys[1])


class ModelsDialog(QDialog):
    current_changed = Signal(str)  # the classifier now current
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsDialog")
        self.setWindowTitle("Classifier Versions")
        self.resize(980, 420)
        self.versions: list[ModelVersion] = []
        # Asked before a candidate's files are deleted; a test answers it.
        self.confirm: Callable[[str, str], bool] = self._ask
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("modelsKindCombo")
        self.kind_combo.addItem("Classifier", "classifier")
        self.kind_combo.addItem("Detector", "detector")
        self.kind_combo.currentIndexChanged.connect(self._kind_chosen)
        self.table = make_table(COLUMNS, "versionsTable")
        self.table.setSelectionMode(self.table.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.status = QLabel("")
        self.status.setObjectName("modelsStatus")
        self.status.setWordWrap(True)
        self.promote_button = QPushButton("&Promote")
        self.promote_button.setToolTip("Make the selected candidate (or a retired version) the current classifier")
        self.discard_button = QPushButton("&Discard")
        self.discard_button.setToolTip("Delete the selected candidate's files")
        self.rollback_button = QPushButton("&Roll Back")
        self.rollback_button.setObjectName("rollbackButton")
        self.rollback_button.setToolTip("Make the previously current model current again")
        self.close_button = QPushButton("&Close")
        buttons = QDialogButtonBox()
        for button in (self.promote_button, self.discard_button, self.rollback_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.promote_button.clicked.connect(self.promote_selected)
        self.discard_button.clicked.connect(self.discard_selected)
        self.rollback_button.clicked.connect(self.roll_back)
        self.close_button.clicked.connect(self.reject)
        label = self.versions_label = QLabel("&Versions (\u25cf marks the current classifier):")
        label.setBuddy(self.table)
        layout = QVBoxLayout(self)
        layout.addLayout(chooser_row("&Model:", self.kind_combo))
        layout.addWidget(label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        # Enter closes.  With no default the dialog took the first button,
        # Promote, and Enter on the table made the selected candidate the
        # classifier in use.  Set now that the button is in the dialog.
        self.close_button.setDefault(True)
        self.refresh()
        self.table.setFocus()

    @property
    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def _registry(self) -> Any:
        return backend.registry("detector") if self.kind == "detector" else backend.registry()

    def _kind_chosen(self) -> None:
        what = self.kind
        self.setWindowTitle("Detector Versions" if what == "detector" else "Classifier Versions")
        self.versions_label.setText(f"&Versions (\u25cf marks the current {what}):")
        self.table.setHorizontalHeaderLabels(COLUMNS[:6] + (DETECTOR_HEADERS if what == "detector" else COLUMNS[6:]))
        self._say("")
        self.refresh()

    def refresh(self) -> None:
        chosen = self.selected()
        detector = self.kind == "detector"
        try:
            self.versions = list(self._registry().versions())
        except Exception as error:  # noqa: BLE001 - an unreadable registry folder, shown
            self.versions = []
            self._say(f"Could not read the model registry: {error}", error=True)
        self.table.setRowCount(len(self.versions))
        for row, version in enumerate(self.versions):
            accuracy, balanced = key_metrics(version.metrics, DETECTOR_SCORES if detector else
                                             ("accuracy", "balanced_accuracy"))
            on_validation = (not detector and accuracy is None
                             and isinstance(version.metrics.get("validation_accuracy"), (int, float)))
            if on_validation:  # the bundled model: no held-out project, its validation split
                accuracy = float(version.metrics["validation_accuracy"])
            trained = sum(version.trained_on.values()) if version.trained_on else None
            values = ["\u25cf" if version.is_current else "", version.name, version.status, version.parent or "",
                      minute_utc(version.created_at), trained, accuracy, balanced]
            for column, value in enumerate(values):
                item = cell_item(value)
                if version.is_current:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                if column == 5 and version.trained_on:
                    item.setToolTip("\n".join(f"{k}: {v}" for k, v in sorted(version.trained_on.items())))
                if column == 6 and on_validation:
                    cells = version.metrics.get("validation_cells")
                    item.setToolTip(f"On its validation split{f' ({cells} cells)' if cells else ''}, "
                                    "not on slides of a project")
                self.table.setItem(row, column, item)
        names = [v.name for v in self.versions]
        row = names.index(chosen.name) if chosen is not None and chosen.name in names else next(
            (r for r, v in enumerate(self.versions) if v.is_current), 0)
        if self.versions:
            self.table.selectRow(row)
        self._update_buttons()

    def selected(self) -> ModelVersion | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.versions):
            return None
        return self.versions[rows[0].row()]

    def select_name(self, name: str) -> None:
        for row, version in enumerate(self.versions):
            if version.name == name:
                self.table.selectRow(row)

    def _update_buttons(self) -> None:
        version = self.selected()
        # A retired version may be made current again as well as a new candidate.
        self.promote_button.setEnabled(version is not None and version.status in ("candidate", "retired")
                                       and not version.is_current)
        self.discard_button.setEnabled(version is not None and version.status == "candidate" and not version.is_current)
        # Something to go back to: any version other than the current one that was once current.
        self.rollback_button.setEnabled(any(v.status != "candidate" and not v.is_current for v in self.versions))

    # ------------------------------------------------------------ actions
    def promote_selected(self) -> None:
        version = self.selected()
        if version is None:
            return
        self._act(lambda: self._registry().promote(version.name),
                  lambda _result: f"{version.name} is now the current {self.kind}.", changed=True)

    def discard_selected(self) -> None:
        version = self.selected()
        if version is None or not self.confirm(
                TITLE, discard_question(version.name, version.train_seconds, version.created_at)):
            return
        self._act(lambda: self._registry().discard(version.name), lambda _result: f"{version.name} discarded.",
                  changed=False)

    def roll_back(self) -> None:
        self._act(lambda: self._registry().rollback(),
                  lambda current: f"Rolled back: {current.name} is the current {self.kind} again.", changed=True)

    def _act(self, action: Callable[[], Any], describe: Callable[[Any], str], changed: bool) -> None:
        """Run a registry action; `describe` turns its result into the message."""
        try:
            result = action()
        except Exception as error:  # noqa: BLE001 - a refusal (the current model, the bundled one), shown
            self._say(str(error), error=True)
            return
        text = describe(result)
        self.refresh()
        self._say(text)
        self.message.emit(text)
        if changed:
            # The window's loaded classifier may be the one just replaced.
            model_provider.forget_loaded_models()
            if self.kind == "classifier":  # the window names the classifier in use, not the detector
                current = next((v.name for v in self.versions if v.is_current), "")
                self.current_changed.emit(current)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020;" if error else "")
        self.status.setText(text)

    def _ask(self, title: str, text: str) -> bool:
        return ask_discard(self, title, text)
