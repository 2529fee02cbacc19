"""The question before a retrain candidate's files are deleted: it names
how long the candidate took to train, since a discard cannot be undone and
that time is what is thrown away."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.gui.questions import ask_before
from app.gui.retrain.training_tab import format_duration

TITLE = "Discard candidate"


def discard_question(name: str, train_seconds: float | None, created_at: str = "") -> str:
    if train_seconds is not None:
        spent = f"It took {format_duration(train_seconds)} to train."
    elif created_at:
        spent = f"It was trained on {created_at[:10]}."
    else:
        spent = ""
    return (f"Discard {name}? {spent} Its files are deleted and it cannot be brought back; "
            "the current classifier stays in use.").replace("  ", " ")


def ask_discard(parent: QWidget, title: str, text: str) -> bool:
    """Discard, or Keep It (the default, and Esc)."""
    return ask_before(parent, title, text, "&Discard", "&Keep It")
