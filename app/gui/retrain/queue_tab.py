"""The Queue tab: what the next fine-tune would learn from (QueueSummary):
examples per class, all and new since the current model; the slides with
new examples; taxonomy classes the model lacks and whether they have enough
cells to become outputs."""

from __future__ import annotations

from pathlib import PurePath

from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.gui.retrain.boxes import titled
from app.gui.retrain.tables import fill_rows, make_table
from core.retraining import QueueSummary
from core.taxonomy import Taxonomy, default_taxonomy
from core.wording import minute_utc


class QueueTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.taxonomy: Taxonomy = default_taxonomy()  # the project's once set: class names as the window shows them
        self.headline = QLabel("Reading the project\u2026")
        self.headline.setObjectName("queueHeadline")
        self.headline.setWordWrap(True)
        self.readiness = QLabel("")
        self.readiness.setObjectName("queueReadiness")
        self.readiness.setWordWrap(True)
        self.class_table = make_table(["Class", "Examples", "New since model"], "queueClassTable")
        self.slide_table = make_table(["Slide", "New examples"], "queueSlideTable")
        self.new_class_table = make_table(["New class", "Examples", "Becomes an output"], "queueNewClassTable")

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.readiness)
        row = QHBoxLayout()
        row.addWidget(titled("Examples per class", self.class_table), 3)
        row.addWidget(titled("Slides with new examples", self.slide_table), 2)
        layout.addLayout(row, 1)
        layout.addWidget(titled("Classes the model does not know yet", self.new_class_table))
        self.new_class_table.setMaximumHeight(130)

    def show_summary(self, summary: QueueSummary, min_new_class_cells: int) -> None:
        self.headline.setText(
            f"<b>{summary.total_examples}</b> training examples in this project, "
            f"<b>{summary.total_new}</b> of them new since the current model "
            f"<b>{summary.model}</b> (made {minute_utc(summary.model_created_at)})."
        )
        classes = sorted(set(summary.examples_per_class) | set(summary.new_per_class))
        rows = [(self.taxonomy.display_of(c), summary.examples_per_class.get(c, 0), summary.new_per_class.get(c, 0))
                for c in classes]
        rows.append(("Total", summary.total_examples, summary.total_new))
        fill_rows(self.class_table, rows)
        slides = sorted(summary.slides, key=lambda s: (-s[1], s[0]))
        # The file name is what a technician recognises; the full path
        # (often long and relative to the project) is in the tooltip.
        fill_rows(self.slide_table, [(PurePath(path).name, count) for path, count in slides])
        for row, (path, _count) in enumerate(slides):
            self.slide_table.item(row, 0).setToolTip(path)
        self.show_new_classes(summary, min_new_class_cells)

    def show_readiness(self, summary: QueueSummary, min_examples: int) -> None:
        """Say before Start what core would refuse, so nobody waits for a refusal."""
        if summary.total_examples < min_examples:
            self.readiness.setStyleSheet("color: #9a6100;")
            self.readiness.setText(f"Too few examples to retrain: {summary.total_examples} of the {min_examples} "
                                   "needed (Settings). Review more cells first.")
        else:
            self.readiness.setStyleSheet("color: #1b7a3a;")
            self.readiness.setText("Enough examples to retrain.")

    def show_new_classes(self, summary: QueueSummary, min_new_class_cells: int) -> None:
        """Re-judged when the technician changes the minimum in Settings."""
        fill_rows(
            self.new_class_table,
            [
                (
                    self.taxonomy.display_of(name),
                    count,
                    "yes" if count >= min_new_class_cells else f"no: needs {min_new_class_cells}",
                )
                for name, count in sorted(summary.new_classes.items())
            ],
        )

    def show_error(self, message: str) -> None:
        self.headline.setText(f"<span style='color:#b00020'>Could not read the queue: {message}</span>")
