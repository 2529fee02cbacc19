"""Undo and redo in the real window (issue 27): Ctrl+Z never changes a signed
slide, and one that changes a cell on another slide than the one on show
goes there and selects the cell, instead of changing it out of sight with a
word in the status bar."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from conftest import wait_image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from core.schema import CellKind, SlideStatus  # noqa: E402

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def _make_signable(store, slide_id: int) -> None:  # noqa: ANN001
    """Every white cell of the slide classified and reviewed, as a sign-off asks."""
    white = store.cells(slide_id, kind=CellKind.WHITE)
    unidentified = [c.id for c in white if c.label == "unidentified"]
    if unidentified:
        store.set_label(unidentified, "lymphocyte")
    store.confirm([c.id for c in white])


def _classify_on_canvas(qtbot, window, controller, cell_id: int, key: Qt.Key) -> None:  # noqa: ANN001
    controller.canvas.select(cell_id, reveal=False)
    window.view.setFocus()
    qtbot.keyClick(window.view, key)


def test_ctrl_z_on_a_signed_slide_never_changes_it(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    slide_id = controller.slide.id
    _make_signable(store, slide_id)
    cell_id = store.cells(slide_id, kind=CellKind.WHITE)[0].id
    _classify_on_canvas(qtbot, window, controller, cell_id, Qt.Key.Key_5)  # monocyte
    assert store.cell(cell_id).label == "monocyte"
    store.sign_off(slide_id, "QA", below_target_reason="test field")
    qtbot.waitUntil(lambda: not controller.canvas.editable, timeout=3000)

    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    assert store.cell(cell_id).label == "monocyte" and store.slide(slide_id).status is SlideStatus.SIGNED_OFF
    message = window.statusBar().currentMessage()
    assert 'Undo of "Set class Monocyte" refused' in message and "slide0.png" in message and "signed off" in message
    assert store.undo_description() == "Set class Monocyte"  # kept for after an unlock

    # From the gallery too: one history, one rule.
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL)
    qtbot.keyClick(controller.review.gallery.view, Qt.Key.Key_Z, CTRL)
    assert store.cell(cell_id).label == "monocyte"


def test_undo_of_an_edit_on_another_slide_goes_there_and_selects_the_cell(qtbot, open_window, review_project):
    """The issue's case: Set class Monocyte on one slide, the other slide
    signed off and on show, Ctrl+Z."""
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    first, second = (slide.id for slide in store.slides())
    _make_signable(store, first)
    controller.show_slide_id(second)
    wait_image(qtbot, controller)
    cell_id = store.cells(second, kind=CellKind.WHITE)[0].id
    _classify_on_canvas(qtbot, window, controller, cell_id, Qt.Key.Key_5)  # monocyte
    controller.show_slide_id(first)
    store.sign_off(first, "QA", below_target_reason="test field")
    assert controller.slide.id == first

    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    assert store.cell(cell_id).label == "lymphocyte"  # the model's class again
    assert store.slide(first).status is SlideStatus.SIGNED_OFF
    assert controller.slide.id == second
    assert window.slide_model.slide_at(window.browser.list.currentIndex().row()).id == second
    assert controller.canvas.selected_ids() == [cell_id]
    assert window.statusBar().currentMessage() == "Undid: Set class Monocyte \u2014 on slide1.png, now shown"

    # Redo, from the other slide, comes back the same way.
    controller.show_slide_id(first)
    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL_SHIFT)
    assert store.cell(cell_id).label == "monocyte"
    assert controller.slide.id == second and controller.canvas.selected_ids() == [cell_id]
    assert window.statusBar().currentMessage().startswith("Redid: Set class Monocyte")


def test_undo_in_the_gallery_of_another_slide_shows_the_cell_in_the_gallery(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    first, second = (slide.id for slide in store.slides())
    controller.show_slide_id(second)
    cell_id = store.cells(second, kind=CellKind.WHITE)[1].id
    _classify_on_canvas(qtbot, window, controller, cell_id, Qt.Key.Key_2)  # eosinophil
    controller.show_slide_id(first)
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL)
    gallery = controller.review.gallery
    assert gallery is not None and gallery.slide_id == first

    qtbot.keyClick(gallery.view, Qt.Key.Key_Z, CTRL)
    assert store.cell(cell_id).label == "neutrophil"
    assert controller.slide.id == second and gallery.slide_id == second
    assert gallery.selected_cell_ids() == [cell_id] and gallery.current_cell_id() == cell_id
