"""The safety net: an exception no handler caught, raised in a slot, is
shown to the technician once and written to the log, never lost on a
console the bundled application does not have."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.unexpected_errors import LOG_DIR_ENV, UnexpectedErrorReporter


def _shown_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def test_an_uncaught_error_in_a_slot_is_shown_once_and_logged(qtbot, open_window, tmp_path, monkeypatch):
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "logs"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    window, _controller = open_window()
    UnexpectedErrorReporter(window).install()

    def broken_slot() -> None:
        raise ValueError("the slide list lost its place")

    for _ in range(3):  # a failing handler may run again and again: one dialog, not three
        QTimer.singleShot(0, broken_slot)
    qtbot.waitUntil(lambda: len(_shown_boxes()) == 1)
    qtbot.wait(50)
    boxes = _shown_boxes()
    assert len(boxes) == 1 and boxes[0].windowTitle() == "Something went wrong"
    text = boxes[0].text()
    assert "ValueError: the slide list lost its place" in text
    assert "Every edit made before it is saved" in text and str(tmp_path / "logs" / "errors.log") in text
    log = (tmp_path / "logs" / "errors.log").read_text(encoding="utf-8")
    assert log.count("ValueError: the slide list lost its place") == 3 and "broken_slot" in log
    boxes[0].close()
    qtbot.waitUntil(lambda: not _shown_boxes())
    QTimer.singleShot(0, broken_slot)  # a later error is shown again
    qtbot.waitUntil(lambda: len(_shown_boxes()) == 1)
    _shown_boxes()[0].close()
