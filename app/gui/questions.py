"""One form for the questions before a step that cannot be taken back:
the step's button and a safe one, the safe one the default and Esc."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def ask_before(parent: QWidget | None, title: str, text: str, go: str, stay: str, name: str = "") -> bool:
    """True when the user chose `go`; `stay` is the default and Esc."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    if name:
        box.setObjectName(name)
    go_button = box.addButton(go, QMessageBox.ButtonRole.DestructiveRole)
    stay_button = box.addButton(stay, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(stay_button)
    box.setEscapeButton(stay_button)
    box.exec()
    return box.clickedButton() is go_button
