"""Help > Open Sample Project…: the bundled BCCD fields open in the real
window with their white cells classified, and a second use adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMenu  # noqa: E402

from app.gui.sample_controller import SampleProjectController  # noqa: E402
from core.sample_project import SAMPLE_FOLDER_NAME, SAMPLE_PROJECT_NAME  # noqa: E402
from core.schema import CellKind  # noqa: E402


def _help_menu(window) -> QMenu:
    return next(menu for menu in window.menuBar().findChildren(QMenu) if menu.title() == "&Help")


def _open_sample_from_the_menu(qtbot, window, controller) -> None:
    """Help, then S, as a keyboard user would; waits for the project and its classification."""
    menu = _help_menu(window)
    menu.popup(window.mapToGlobal(window.rect().center()))
    qtbot.waitUntil(menu.isVisible, timeout=3000)
    qtbot.keyClick(menu, Qt.Key.Key_S)
    sample = controller.findChild(SampleProjectController)
    qtbot.waitUntil(lambda: sample.job is None and not controller.models.running, timeout=15000)


def test_help_opens_the_sample_project_with_classified_white_cells_once(
    qtbot, open_window, fake_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEMALABEL_DATA_DIR", str(tmp_path / "data"))
    window, controller = open_window()
    assert window.actions["open_sample"] in _help_menu(window).actions()

    _open_sample_from_the_menu(qtbot, window, controller)
    assert controller.session is not None
    project = controller.session.store.path
    assert project == tmp_path / "data" / SAMPLE_FOLDER_NAME / SAMPLE_PROJECT_NAME  # the user's folder, not the install
    assert window.slide_model.rowCount() == 6
    reader = controller.session.reader
    white = reader.cells(kind=CellKind.WHITE)
    assert len(white) == 7
    assert all(cell.model_version == "fake-classifier-1" and cell.label and not cell.reviewed for cell in white)
    total = len(reader.cells())

    # The gallery and the differential show the classifier's white cells.
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    gallery = controller.review.gallery
    assert gallery is not None and window.gallery_shown
    on_show = {cell.id for cell in reader.cells(controller.slide.id, kind=CellKind.WHITE)}
    qtbot.waitUntil(lambda: set(gallery.model.shown_cell_ids()) == on_show, timeout=5000)
    panel = controller.review.panel
    qtbot.waitUntil(lambda: sum(panel.count.counts.values()) == len(on_show), timeout=5000)

    # Again, with the sample open: the same project, nothing added.
    _open_sample_from_the_menu(qtbot, window, controller)
    assert controller.session.store.path == project
    assert len(controller.session.reader.cells()) == total and window.slide_model.rowCount() == 6

    # Again after closing it: reopened as it was, not classified anew.
    versions = {cell.id: cell.model_version for cell in controller.session.reader.cells(kind=CellKind.WHITE)}
    controller.close_project()
    _open_sample_from_the_menu(qtbot, window, controller)
    assert controller.session is not None and controller.session.store.path == project
    assert len(controller.session.reader.cells()) == total and window.slide_model.rowCount() == 6
    assert {cell.id: cell.model_version for cell in controller.session.reader.cells(kind=CellKind.WHITE)} == versions
