"""The Results tab: the current model and the candidate side by side
(accuracy, balanced accuracy, recall per class) on the project's reviewed
cells, the candidate's predictions out of fold, and on the standard set,
with what the instant path already gives on the same cells, both confusion matrices of the chosen set, the plain
recommendation, and Promote / Discard.  For a detector fine-tune: both
detectors' white AP50, precision and recall and red and platelet AP50 on
the held-out reviewed fields and on original fields.

The tab shows; the dialog acts (its buttons are `promote_button` and
`discard_button`)."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.retrain.boxes import chooser_row, titled
from app.gui.retrain.tables import classes_in_play, fill_confusion, fill_rows, make_table, stretch_value_columns
from core.retraining import Comparison, ModelScores, RetrainOutcome
from core.retraining.detector_job import DetectorRetrainOutcome
from core.retraining.detector_scoring import DetectorScores
from core.taxonomy import Taxonomy, default_taxonomy

SETS = (("out_of_fold", "reviewed cells"), ("standard", "standard set"))
DETECTOR_ROWS = (("white_cells", "White cells"), ("white_ap50", "White AP50"),
                 ("white_precision", "White precision"), ("white_recall", "White recall"),
                 ("red_ap50", "Red AP50"), ("platelet_ap50", "Platelet AP50"))


class ResultsTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.taxonomy: Taxonomy = default_taxonomy()  # the project's once set: class names as the window shows them
        self.comparison: Comparison | None = None
        self.recommendation = QLabel("Results appear here when a fine-tune has finished.")
        self.recommendation.setObjectName("recommendation")
        self.recommendation.setWordWrap(True)
        self.metrics_table = make_table(["Metric"], "metricsTable")
        self.set_combo = QComboBox()
        self.set_combo.setObjectName("confusionSetCombo")
        self.set_combo.currentIndexChanged.connect(self._show_confusions)
        self.current_title = QLabel("Current model")
        self.candidate_title = QLabel("Candidate")
        self.current_confusion = make_table([], "currentConfusion")
        self.candidate_confusion = make_table([], "candidateConfusion")
        self.promote_button = QPushButton("&Promote Candidate")
        self.promote_button.setObjectName("promoteButton")
        self.promote_button.setToolTip(
            "Make the candidate the current classifier (the old one is kept; roll back in Models\u2026)"
        )
        self.discard_button = QPushButton("&Discard Candidate")
        self.discard_button.setObjectName("discardButton")
        self.discard_button.setToolTip("Delete the candidate's files and keep the current classifier")
        self.decision = QLabel("")
        self.decision.setObjectName("decisionLabel")
        self.decision.setWordWrap(True)
        self.set_decision_enabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.recommendation)
        layout.addWidget(titled("Scores", self.metrics_table), 3)
        confusion_box = self.confusion_box = QGroupBox("Confusion matrices (rows: true class, columns: predicted)")
        confusion_layout = QVBoxLayout(confusion_box)
        confusion_layout.addLayout(chooser_row("Scored &on:", self.set_combo))
        pair = QHBoxLayout()
        for title, table in (
            (self.current_title, self.current_confusion),
            (self.candidate_title, self.candidate_confusion),
        ):
            column = QVBoxLayout()
            column.addWidget(title)
            column.addWidget(table, 0, Qt.AlignmentFlag.AlignLeft)
            column.addStretch(1)
            pair.addLayout(column, 1)
        confusion_layout.addLayout(pair)
        layout.addWidget(confusion_box, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.decision, 1)
        buttons.addWidget(self.promote_button)
        buttons.addWidget(self.discard_button)
        layout.addLayout(buttons)

    def show_outcome(self, outcome: RetrainOutcome) -> None:
        comparison = outcome.comparison
        self.comparison = comparison
        self.confusion_box.setVisible(True)
        colour = "#1b7a3a" if comparison.promote_advised else "#9a6100"
        self.recommendation.setText(
            f"<span style='font-size:11pt; color:{colour}'><b>{comparison.recommendation}</b></span>"
            f"<br>Candidate <b>{outcome.candidate.name}</b>, trained in "
            f"{outcome.seconds:.0f} s on {sum(outcome.candidate.trained_on.values())} examples."
            + (f"<br>Forgetting check, {escape(outcome.forgetting() or '')}." if outcome.forgetting() else "")
            + _calibration_line(outcome.calibration)
        )
        self._fill_metrics(comparison)
        self.set_combo.blockSignals(True)
        self.set_combo.clear()
        for key, text in SETS:
            pair = getattr(comparison, key)
            if pair is not None:
                self.set_combo.addItem(f"{text} ({pair[0].cells} cells)", key)
        self.set_combo.blockSignals(False)
        self._show_confusions()
        self.decision.setText("")
        self.set_decision_enabled(True)

    def show_detector_outcome(self, outcome: DetectorRetrainOutcome) -> None:
        comparison = outcome.comparison
        self.comparison = None
        colour = "#1b7a3a" if comparison.promote_advised else "#9a6100"
        self.recommendation.setText(
            f"<span style='font-size:11pt; color:{colour}'><b>{escape(comparison.recommendation)}</b></span>"
            f"<br>Detector candidate <b>{outcome.candidate.name}</b>, fine-tuned in {outcome.seconds:.0f} s on "
            f"{outcome.train_fields} reviewed fields and {outcome.replay_fields} fields of its original data; "
            f"compared on {outcome.held_out_fields} reviewed fields it did not learn from."
        )
        columns: list[tuple[str, DetectorScores]] = []
        for pair, text in ((comparison.held_out, "held-out fields"), (comparison.original, "original fields")):
            if pair is not None:
                columns += [(f"Current, {text}", pair[0]), (f"Candidate, {text}", pair[1])]
        table = self.metrics_table
        table.setColumnCount(1 + len(columns))
        table.setHorizontalHeaderLabels(["Metric"] + [title for title, _ in columns])
        rows: list[list[object]] = [["Fields"] + [s.fields for _, s in columns]]
        rows += [[label] + [getattr(s, key) for _, s in columns] for key, label in DETECTOR_ROWS]
        fill_rows(table, rows)
        stretch_value_columns(table)
        _mark_better(table, len(columns), skip_rows=2)
        self.set_combo.clear()
        self.confusion_box.setVisible(False)  # boxes have no confusion matrix of classes
        self.decision.setText("")
        self.set_decision_enabled(True)

    def _fill_metrics(self, comparison: Comparison) -> None:
        columns: list[tuple[str, ModelScores]] = []
        for key, text in SETS:
            pair = getattr(comparison, key)
            if pair is not None:
                columns += [(f"Current, {text}", pair[0]), (f"Candidate, {text}", pair[1])]
        if comparison.instant is not None:  # after the pairs: _mark_better reads columns two by two
            columns.append(("Taught at once, reviewed cells", comparison.instant))
        table = self.metrics_table
        table.setColumnCount(1 + len(columns))
        table.setHorizontalHeaderLabels(["Metric"] + [title for title, _ in columns])
        classes: list[str] = []
        for _, scores in columns:
            classes += [c for c in scores.per_class_recall if c not in classes]
        rows: list[list[object]] = [
            ["Cells"] + [s.cells for _, s in columns],
            ["Accuracy"] + [s.accuracy for _, s in columns],
            ["Balanced accuracy"] + [s.balanced_accuracy for _, s in columns],
        ]
        rows += [
            [f"Recall: {self.taxonomy.display_of(c)}"] + [s.per_class_recall.get(c) for _, s in columns]
            for c in classes
        ]
        fill_rows(table, rows)
        stretch_value_columns(table)
        _mark_better(table, len(columns))

    def _show_confusions(self) -> None:
        key = self.set_combo.currentData()
        pair = getattr(self.comparison, key, None) if self.comparison is not None and key else None
        if pair is None:
            for table in (self.current_confusion, self.candidate_confusion):
                table.clear()
                table.setRowCount(0)
                table.setColumnCount(0)
            return
        shown = classes_in_play([pair[0].confusion, pair[1].confusion])
        for title, table, scores, who in ((self.current_title, self.current_confusion, pair[0], "Current"),
                                          (self.candidate_title, self.candidate_confusion, pair[1], "Candidate")):
            title.setText(f"<b>{who}</b>: {scores.model} \u2014 balanced accuracy {scores.balanced_accuracy:.3f}")
            matrix = [[scores.confusion[r][c] for c in shown] for r in shown]
            fill_confusion(table, matrix, [self.taxonomy.display_of(scores.classes[i]) for i in shown])

    def set_decision_enabled(self, enabled: bool) -> None:
        self.promote_button.setEnabled(enabled)
        self.discard_button.setEnabled(enabled)

    def clear(self) -> None:
        self.comparison = None
        self.confusion_box.setVisible(True)
        self.recommendation.setText("Results appear here when a fine-tune has finished.")
        self.metrics_table.setRowCount(0)
        self.set_combo.clear()
        self.decision.setText("")
        self.set_decision_enabled(False)


def _calibration_line(calibration: dict | None) -> str:
    if not calibration:
        return ""
    return (f"<br>Confidence refitted on {calibration['cells']} reviewed cells (out of fold): calibration error "
            f"{calibration['ece_before']:.1%} \u2192 {calibration['ece_after']:.1%}"
            + (f" (a perfectly calibrated model would show about {calibration['ece_floor']:.1%} on so few cells)."
               if "ece_floor" in calibration else "."))


def _mark_better(table, columns: int, skip_rows: int = 1) -> None:  # noqa: ANN001
    """Bold the candidate's score where it beats the current model's (columns
    come in current/candidate pairs; the first `skip_rows` rows are counts)."""
    for row in range(table.rowCount()):
        if row < skip_rows:
            continue  # counts are not scores
        for pair in range(columns // 2):
            current, candidate = table.item(row, 1 + 2 * pair), table.item(row, 2 + 2 * pair)
            try:
                better = float(candidate.text()) > float(current.text())
            except (AttributeError, ValueError):
                continue
            if better:
                font = candidate.font()
                font.setBold(True)
                candidate.setFont(font)
