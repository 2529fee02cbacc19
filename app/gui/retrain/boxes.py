"""Two small layout pieces the retrain tabs share: a titled box around one
widget, and a labelled chooser row whose mnemonic focuses the chooser."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget


def titled(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    QVBoxLayout(box).addWidget(widget)
    return box


def chooser_row(text: str, chooser: QWidget) -> QHBoxLayout:
    """"C&lass: [combo]" at the left of its row; Alt+mnemonic focuses it."""
    row = QHBoxLayout()
    label = QLabel(text)
    label.setBuddy(chooser)
    row.addWidget(label)
    row.addWidget(chooser)
    row.addStretch(1)
    return row
