"""A one-line notice above the canvas: read-only project, missing or
unreadable image.  Layout only; the controller decides what it says."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

_LEVEL_STYLES = {
    "warning": ("#fff4d6", "#8a5a00", "#f0c36d"),
    "error": ("#fde7e7", "#9b1c1c", "#f1a1a1"),
    "info": ("#e6f0fb", "#1d4f91", "#9cc1ec"),
}


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.button = QPushButton()
        self.button.setVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 8, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.setVisible(False)
        self.level = ""

    def show_message(self, text: str, level: str = "warning", button_text: str | None = None) -> None:
        background, foreground, border = _LEVEL_STYLES[level]
        # By the name it has now: a window may rename a banner (tests find
        # the read-only one by its name), and a rule for "banner" then
        # coloured nothing.
        name = self.objectName()
        self.setStyleSheet(
            f"QFrame#{name} {{ background: {background}; border-bottom: 1px solid {border}; }}"
            f"QFrame#{name} QLabel {{ color: {foreground}; }}"
        )
        self.level = level
        self.label.setText(text)
        self.button.setVisible(button_text is not None)
        if button_text is not None:
            self.button.setText(button_text)
        self.setVisible(True)

    def hide_message(self) -> None:
        self.level = ""
        self.setVisible(False)
