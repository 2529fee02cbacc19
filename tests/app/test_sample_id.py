"""Edit > Sample Identifier… (F2) from the keyboard: the slide on show gets
the sample it is of, the window and the report name it, and a signed slide
keeps the identifier it was signed with."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.gui.actions import SPECS, shortcut_text  # noqa: E402
from app.gui.sample_id import SampleIdDialog  # noqa: E402
from core.schema import SlideStatus  # noqa: E402
from tests.app.conftest import wait_image  # noqa: E402


def _open_dialog(qtbot, window) -> SampleIdDialog:
    qtbot.keyClick(window, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), SampleIdDialog), timeout=3000)
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, SampleIdDialog)
    qtbot.waitUntil(dialog.field.hasFocus, timeout=3000)  # the keys go to the field: no click needed
    return dialog


def test_f2_names_the_sample_and_the_csv_report_carries_it(qtbot, open_window, review_project, tmp_path) -> None:
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    assert controller.slide.sample_id == "slide0"  # the file's name until one is given
    dialog = _open_dialog(qtbot, window)
    assert dialog.field.selectedText() == "slide0"  # typing replaces it
    qtbot.keyClicks(dialog.field, "H-2026-004711")
    qtbot.keyClick(dialog.field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: controller.slide.sample_id == "H-2026-004711", timeout=3000)
    panel = controller.review.panel
    qtbot.waitUntil(lambda: panel.title.text() == "Differential: H-2026-004711 (slide0.png)", timeout=3000)
    assert "sample H-2026-004711" in window.statusBar().currentMessage()

    target = tmp_path / "report.csv"
    controller.data.write_report(target)
    with qtbot.waitSignal(controller.data.report_written, timeout=10000):
        pass
    rows = list(csv.DictReader(target.open(encoding="utf-8-sig")))
    assert [(row["slide"], row["sample"]) for row in rows[:2]] == [("slide0.png", "H-2026-004711"),
                                                                   ("slide1.png", "slide1")]


def test_escape_changes_nothing_and_a_signed_slide_keeps_its_sample(qtbot, open_window, review_project) -> None:
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    dialog = _open_dialog(qtbot, window)
    qtbot.keyClicks(dialog.field, "typo")
    qtbot.keyClick(dialog.field, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=3000)
    store = controller.session.store
    assert store.slide(controller.slide.id).sample_id == "slide0"

    store.confirm([cell.id for cell in store.cells(controller.slide.id) if cell.label != "unidentified"])
    store.set_label([cell.id for cell in store.cells(controller.slide.id) if cell.label == "unidentified"], "monocyte")
    store.sign_off(controller.slide.id, "JD", below_target_reason="test field")
    qtbot.waitUntil(lambda: controller.slide.status is SlideStatus.SIGNED_OFF and window.isActiveWindow(), timeout=3000)
    qtbot.keyClick(window, Qt.Key.Key_F2)
    assert QApplication.activeModalWidget() is None
    assert "signed off" in window.statusBar().currentMessage()


def test_f2_is_no_other_commands_key_and_help_lists_it(open_window) -> None:
    from app.gui.help_dialogs import shortcuts_html

    window, _controller = open_window()
    keys = Counter(shortcut_text(spec.shortcut) for spec in SPECS if spec.shortcut is not None)
    assert keys["F2"] == 1 and [key for key, n in keys.items() if n > 1] == []
    assert "(F2)" in window.actions["sample_id"].toolTip() and "Sample Identifier" in shortcuts_html(None)
