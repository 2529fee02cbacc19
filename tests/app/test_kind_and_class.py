"""A class never changes what a box holds (issue 27, item 4): a digit on a
red cell or a platelet is refused with the way to change its kind; the kind
changes only through Edit > Set Kind, one undo step; a white cell without a
class is Unidentified wherever it is shown, and never "all reviewed"."""

from __future__ import annotations

from conftest import wait_image
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics

from app.gui.gallery.delegate import header_detail
from app.gui.gallery.model import Role
from core.differential import class_fits
from core.schema import Box, CellKind, LabelSource, NewCell
from core.taxonomy import default_taxonomy

CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier


def _cell_of_kind(controller, kind: CellKind):
    return next(cell for cell in controller.canvas.cells() if cell.kind is kind)


def test_the_rule_a_class_fits_a_kind_is_one_core_function():
    taxonomy = default_taxonomy()
    assert all(class_fits(CellKind.WHITE, name, taxonomy) for name in taxonomy.names)
    assert not any(class_fits(CellKind.RED, name, taxonomy) for name in taxonomy.names)
    assert [name for name in taxonomy.names if class_fits(CellKind.PLATELET, name, taxonomy)] == ["platelet"]


def test_a_digit_on_a_red_cell_changes_nothing_and_says_how_to_change_its_kind(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    slide_id = controller.slide.id
    red = _cell_of_kind(controller, CellKind.RED)
    before = store.differential(slide_id)
    undo_before = store.undo_description()
    controller.canvas.select(red.id, reveal=False)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_1)  # Neutrophil
    after = store.cell(red.id)
    assert after.kind is CellKind.RED and after.label == red.label
    assert store.differential(slide_id) == before  # the count did not jump
    assert store.undo_description() == undo_before  # no edit was made
    message = window.statusBar().currentMessage()
    assert "red cell" in message and "Set Kind" in message and "Alt+W" in message, message

    # A platelet keeps its kind too; its own class is still given to it.
    platelet = _cell_of_kind(controller, CellKind.PLATELET)
    controller.canvas.select(platelet.id, reveal=False)
    qtbot.keyClick(window.view, Qt.Key.Key_4)
    assert store.cell(platelet.id).kind is CellKind.PLATELET and store.cell(platelet.id).label == "platelet"
    assert "platelet" in window.statusBar().currentMessage()

    # Selected with white cells, the red cell is left as it was and the white ones are classed.
    white = next(c for c in controller.canvas.cells() if c.kind is CellKind.WHITE and c.label != "basophil")
    controller.canvas.select_cells([white.id, red.id], reveal=False)
    qtbot.keyClick(window.view, Qt.Key.Key_3)  # Basophil
    assert store.cell(white.id).label == "basophil"
    assert store.cell(red.id).kind is CellKind.RED and store.cell(red.id).label is None
    assert "left as it was" in window.statusBar().currentMessage()


def test_the_kind_changes_by_its_own_action_and_undoes_in_one_step(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    red = _cell_of_kind(controller, CellKind.RED)
    counted_before = store.differential(controller.slide.id).counted
    controller.canvas.select(red.id, reveal=False)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_W, ALT)  # Edit > Set Kind > Mark as White Cell
    assert store.cell(red.id).kind is CellKind.WHITE
    qtbot.keyClick(window.view, Qt.Key.Key_1)  # now a class is for it
    assert store.cell(red.id).label == "neutrophil"
    assert store.differential(controller.slide.id).counted == counted_before + 1
    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    assert store.cell(red.id).kind is CellKind.RED and store.cell(red.id).label is None
    assert store.differential(controller.slide.id).counted == counted_before


def test_an_imported_white_cell_without_a_class_is_unidentified_not_reviewed(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    second = store.slides()[1]
    # An annotation file's box with no type: reviewed (imported), but no class.
    (imported,) = store.add_cells(
        second.id, [NewCell(Box(150, 80, 180, 110), CellKind.WHITE, source=LabelSource.IMPORT, reviewed=True)]
    )
    controller.show_slide_id(second.id)
    wait_image(qtbot, controller)
    controller.canvas.select(imported.id, reveal=False)
    heading = window.inspector.heading.text()
    assert "Unidentified" in heading and "White cell" not in heading
    assert "needs a class" in window.inspector.fields["Reviewed"].text()
    tag = controller.canvas.item(imported.id).look.tag
    assert tag.startswith("Unidentified") and "\u2713" not in tag

    window.actions["gallery"].trigger()
    qtbot.waitUntil(lambda: controller.review.gallery is not None and controller.review.gallery.isVisible())
    model = controller.review.gallery.model
    assert controller.review.gallery.slide_id == second.id
    header = model.data(model.index(model.header_row("unidentified")), Role.HEADER)
    assert header.shown == 1
    detail = header_detail(header, 2000, QFontMetrics(QFont()))
    assert "all reviewed" not in detail and "needs a class" in detail
