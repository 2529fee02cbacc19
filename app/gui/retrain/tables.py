"""Read-only QTableWidget helpers shared by the retrain tabs and the models
dialog: fill from rows of plain values, numbers right-aligned, and a
confusion matrix shaded by how large each cell is within its row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QAbstractScrollArea, QHeaderView, QTableWidget, QTableWidgetItem

# Up to this many classes a confusion matrix is shown whole, without scroll bars.
SCROLL_FREE_CLASSES = 12


def make_table(headers: Sequence[str], name: str = "") -> QTableWidget:
    table = QTableWidget(0, len(headers))
    if name:
        table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(headers))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setAlternatingRowColors(True)
    return table


def cell_item(value: Any) -> QTableWidgetItem:
    if isinstance(value, float):
        # NaN: a score with nothing to score (no box of that class on the fields).
        item = QTableWidgetItem(f"{value:.3f}" if math.isfinite(value) else "n/a")
    else:
        item = QTableWidgetItem("" if value is None else str(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def fill_rows(table: QTableWidget, rows: Sequence[Sequence[Any]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, cell_item(value))


def fill_confusion(table: QTableWidget, matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> None:
    """Rows are the true class, columns the prediction.  Shading is by row
    share, so a rare class's errors show as clearly as a common one's."""
    short = [_short(name) for name in classes]
    table.clear()
    table.setRowCount(len(classes))
    table.setColumnCount(len(classes))
    table.setHorizontalHeaderLabels(short)
    table.setVerticalHeaderLabels(list(classes))
    table.verticalHeader().setVisible(True)
    table.setAlternatingRowColors(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(False)
    for r, row in enumerate(matrix):
        total = max(1, sum(row))
        for c, count in enumerate(row):
            item = cell_item(int(count))
            share = count / total
            # Blue on the diagonal (right), red off it (wrong); darker = more of the row.
            base = (40, 110, 200) if r == c else (200, 50, 50)
            alpha = int(230 * share) if count else 0
            item.setBackground(QColor(*base, alpha))
            if share > 0.55:
                item.setForeground(QColor("white"))
            item.setToolTip(f"true {classes[r]}, predicted {classes[c]}: {count} of {sum(row)}")
            table.setItem(r, c, item)
    fit_to_contents(table)


def classes_in_play(matrices: Sequence[Sequence[Sequence[int]]]) -> list[int]:
    """Indices of the classes that occur as truth or prediction in any of
    the matrices: a lab's held-out slides rarely hold all nine classes, and
    rows and columns of zeros only push the real ones out of sight."""
    size = len(matrices[0]) if matrices else 0
    return [i for i in range(size)
            if any(sum(m[i]) or sum(row[i] for row in m) for m in matrices)]


def fit_to_contents(table: QTableWidget) -> None:
    """A matrix as large as its cells, so two sit side by side without a
    scroll bar or a field of empty grid; a large one (many classes) scrolls."""
    table.resizeColumnsToContents()
    table.resizeRowsToContents()
    table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
    small = table.rowCount() <= SCROLL_FREE_CLASSES
    policy = Qt.ScrollBarPolicy.ScrollBarAlwaysOff if small else Qt.ScrollBarPolicy.ScrollBarAsNeeded
    table.setVerticalScrollBarPolicy(policy)
    table.setHorizontalScrollBarPolicy(policy)
    table.updateGeometry()


def stretch_value_columns(table: QTableWidget) -> None:
    """First column (names) as wide as its text, the value columns sharing
    the rest equally: no single column swallowing the width."""
    header = table.horizontalHeader()
    header.setStretchLastSection(False)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    for column in range(1, table.columnCount()):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)


def _short(name: str) -> str:
    return name if len(name) <= 6 else name[:5] + "."
