"""No two controls of one window, and no two items of one menu, share an
Alt+letter: Qt then only moves between them and presses neither (Alt+P in the
Retrain dialog went to both Promote Candidate and a settings field)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QMenu, QTabWidget, QWidget

from app.gui import worker
from app.gui.dialogs.audit_trail_dialog import AuditTrailDialog
from app.gui.dialogs.export_dialog import ExportDialog
from app.gui.dialogs.import_dialog import ImportDialog
from app.gui.dialogs.report_dialog import ReportDialog
from app.gui.dialogs.screen_settings_dialog import ScreenSettingsDialog
from app.gui.dialogs.signoff_dialog import SignOffDialog
from app.gui.retrain.models_dialog import ModelsDialog
from app.gui.retrain.retrain_dialog import RetrainDialog
from core.store import ProjectStore


def _letter(text: str) -> str | None:
    found = re.search(r"&([^&])", text.replace("&&", ""))
    return found.group(1).lower() if found else None


def _clashes(texts: list[str]) -> dict[str, list[str]]:
    by_letter: dict[str, list[str]] = defaultdict(list)
    for text in texts:
        if (letter := _letter(text)) is not None:
            by_letter[letter].append(text)
    return {letter: same for letter, same in by_letter.items() if len(same) > 1}


def _window_texts(widget: QWidget) -> list[str]:
    texts = [button.text() for button in widget.findChildren(QAbstractButton)]
    texts += [label.text() for label in widget.findChildren(QLabel) if label.buddy() is not None]
    texts += [box.title() for box in widget.findChildren(QGroupBox) if box.isCheckable()]
    texts += [tabs.tabText(i) for tabs in widget.findChildren(QTabWidget) for i in range(tabs.count())]
    return texts


def test_no_dialog_gives_one_alt_letter_to_two_controls(qtbot, review_store: ProjectStore, fake_models) -> None:
    dialogs = {
        "retrain": RetrainDialog(None, review_store),
        "versions": ModelsDialog(),
        "export": ExportDialog(None, review_store),
        "import": ImportDialog(None, review_store),
        "sign-off": SignOffDialog(None, review_store, 1),
        "report": ReportDialog(None, review_store, Path("r.pdf"), None),
        "lymphoid screen": ScreenSettingsDialog(None, review_store),
        "audit trail": AuditTrailDialog(None, review_store, review_store),
    }
    for name, dialog in dialogs.items():
        qtbot.addWidget(dialog)
        assert _clashes(_window_texts(dialog)) == {}, name
    qtbot.waitUntil(lambda: not worker.active_jobs(), timeout=10000)  # the retrain dialog's reads of the queue


def test_no_menu_gives_one_letter_to_two_items(open_window, review_project: Path) -> None:
    window, _controller = open_window(review_project)
    assert _clashes([action.text() for action in window.menuBar().actions()]) == {}
    for menu in window.menuBar().findChildren(QMenu):
        assert _clashes([action.text() for action in menu.actions()]) == {}, menu.title()


def test_the_main_window_gives_one_alt_letter_to_one_control(qtbot, open_window, review_project: Path) -> None:
    """The menus, the slide list's and the gallery's Alt keys and the Alt
    shortcuts of the window's actions: one letter each."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAction, QKeySequence, QShortcut

    window, controller = open_window(review_project)
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # the gallery and its filters
    assert controller.review.gallery is not None
    texts = _window_texts(window) + [action.text() for action in window.menuBar().actions()]
    keys = [item.key() for item in window.findChildren(QShortcut)]
    keys += [action.shortcut() for action in window.findChildren(QAction)]
    for key in keys:
        text = key.toString(QKeySequence.SequenceFormat.PortableText)
        if text.startswith("Alt+") and len(text) == 5:
            texts.append(f"{text} &{text[-1]}")
    assert {"Alt+O &O", "Alt+T &T"} <= set(texts)  # the slide list's Show and Sort
    assert _clashes(texts) == {}
