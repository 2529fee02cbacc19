"""A plain folder of fields (issue 27, item 5): the window asks where the
project goes and writes nothing into the image folder; the new slides are
detected and classified in the background unless Models > Propose Cells on
Import is off; a slide with no boxes says what to do next."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import wait_image
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog

from app.gui.settings import AppSettings
from core.schema import CellKind


@pytest.fixture
def save_dialog(monkeypatch):
    """The save dialog, answered: its default (or `answer` when set); what it was asked is kept."""
    asked: list[dict] = []

    class Answer:
        path: str | None = None  # None: accept the default; "": cancel

    def fake(parent, title, default, filters="", *args, **kwargs):  # noqa: ANN001, ANN202
        asked.append({"title": title, "default": default, "filters": filters})
        return (default if Answer.path is None else Answer.path), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    Answer.asked = asked  # type: ignore[attr-defined]
    return Answer


def _keys(window, name: str) -> str:
    return window.actions[name].shortcut().toString(QKeySequence.SequenceFormat.NativeText)


def test_a_folder_opens_into_a_project_it_asks_for_and_its_cells_are_proposed(
    qtbot, open_window, slides_dir: Path, save_dialog, fake_models
):
    in_folder = sorted(p.name for p in slides_dir.iterdir())
    window, controller = open_window(slides_dir)
    (asked,) = save_dialog.asked
    assert Path(asked["default"]) == slides_dir.parent / "slides.hemalabel"  # beside the images, named after them
    assert "slides" in asked["title"] and ".hemalabel" in asked["filters"]
    qtbot.waitUntil(lambda: window.slide_model.rowCount() == 4, timeout=5000)
    # Detection and classification follow the import, with progress and Cancel on the status bar.
    qtbot.waitUntil(lambda: controller.models.running, timeout=5000)
    assert window.cancel_button.isVisible() and window.actions["cancel_job"].isEnabled()
    qtbot.waitUntil(lambda: not controller.models.running and not window.job_progress.isVisible(), timeout=10000)
    store = controller.session.store
    assert store.path == slides_dir.parent / "slides.hemalabel"
    assert sorted(p.name for p in slides_dir.iterdir()) == in_folder  # nothing written into the image folder
    for slide in store.slides():
        white = [cell for cell in store.cells(slide.id) if cell.kind is CellKind.WHITE]
        assert len(store.cells(slide.id)) == 8 and white
        assert all(cell.label is not None and cell.model_version == "fake-classifier-1" for cell in white)
    wait_image(qtbot, controller)
    assert window.view.overlay == ""  # the slide has its boxes: no hint over them


def test_cancelling_the_question_opens_nothing_and_writes_nothing(qtbot, open_window, slides_dir: Path, save_dialog):
    in_folder = sorted(p.name for p in slides_dir.iterdir())
    save_dialog.path = ""
    window, controller = open_window()
    assert not controller.open_project(slides_dir)
    assert controller.session is None
    assert "no place was chosen" in window.statusBar().currentMessage()
    assert sorted(p.name for p in slides_dir.iterdir()) == in_folder
    assert not (slides_dir.parent / "slides.hemalabel").exists()


def test_with_proposals_off_the_empty_slide_says_what_to_do_next(
    qtbot, open_window, slides_dir: Path, tmp_path: Path, save_dialog, fake_models
):
    settings = AppSettings()
    settings.set_propose_on_import(False)
    settings.sync()
    save_dialog.path = str(tmp_path / "elsewhere" / "lab")  # a place of the technician's, the suffix added
    (tmp_path / "elsewhere").mkdir()
    window, controller = open_window(slides_dir)
    assert not window.actions["propose_on_import"].isChecked()
    qtbot.waitUntil(lambda: controller.slide is not None and not window.job_progress.isVisible(), timeout=5000)
    assert controller.session.store.path == tmp_path / "elsewhere" / "lab.hemalabel"
    assert not controller.models.running and not controller.session.store.cells()
    wait_image(qtbot, controller)
    hint = window.view.overlay
    assert hint.startswith("No cells yet") and _keys(window, "detect_slide") in hint and _keys(window, "draw") in hint
    # Its key does what it says; the hint goes once there are boxes.
    window.view.setFocus()
    with qtbot.waitSignal(controller.models.finished, timeout=10000):
        qtbot.keyClick(window.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(controller.canvas.cells()))
    assert window.view.overlay == ""
    # The setting is the menu's check box, remembered.
    window.actions["propose_on_import"].trigger()
    assert AppSettings().propose_on_import()


def test_an_empty_slide_of_a_project_shows_the_hint_and_a_drawn_box_clears_it(qtbot, open_window, project_path: Path):
    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    assert "No cells yet" in window.view.overlay and "B" in window.view.overlay
    from core.schema import Box

    controller.session.store.add_cell(controller.slide.id, Box(10, 10, 40, 40), CellKind.WHITE)
    qtbot.waitUntil(lambda: window.view.overlay == "")
    window.actions["undo"].trigger()
    qtbot.waitUntil(lambda: "No cells yet" in window.view.overlay)
