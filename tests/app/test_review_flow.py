"""The technician's loop on the real window: draw, classify by key, undo,
redo, move, next slide, close, reopen, and every edit is still there."""

from __future__ import annotations

from conftest import wait_image
from PySide6.QtCore import QPoint, QPointF, Qt

from core.schema import CellKind, LabelSource
from core.store import ProjectStore


def _view_point(window, x: float, y: float) -> QPoint:
    return window.view.mapFromScene(QPointF(x, y))


def _drag(qtbot, window, start: QPoint, end: QPoint) -> None:
    viewport = window.view.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        point = start + (end - start) * (step / 5)
        qtbot.mouseMove(viewport, point)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def test_draw_classify_undo_redo_move_and_reopen(qtbot, open_window, project_path):
    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    store = controller.session.store
    first = controller.slide
    assert window.slide_model.rowCount() == 4

    # Draw a box: B, then drag.
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_B)
    assert window.view.draw_mode
    _drag(qtbot, window, _view_point(window, 40, 40), _view_point(window, 100, 90))
    cells = store.cells(first.id)
    assert len(cells) == 1
    drawn = cells[0]
    assert drawn.source is LabelSource.HUMAN and drawn.kind is CellKind.WHITE
    assert abs(drawn.box.x0 - 40) < 2 and abs(drawn.box.y1 - 90) < 2
    assert controller.canvas.selected_ids() == [drawn.id]
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)  # leave drawing mode
    assert not window.view.draw_mode

    # Set its class with the taxonomy's hotkey (4 = lymphocyte).
    qtbot.keyClick(window.view, Qt.Key.Key_4)
    assert store.cell(drawn.id).label == "lymphocyte"
    assert controller.canvas.item(drawn.id).look.tag.startswith("Lymphocyte")
    assert "Lymphocyte" in window.inspector.heading.text()

    # Undo and redo with the keyboard.
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert store.cell(drawn.id).label is None
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert store.cell(drawn.id).label == "lymphocyte"

    # Move the selected box by dragging it: one store edit, one undo step.
    controller.canvas.select(drawn.id, reveal=False)
    edits_before = store._db.execute("SELECT COUNT(*) FROM edits").fetchone()[0]
    _drag(qtbot, window, _view_point(window, 70, 65), _view_point(window, 90, 75))
    moved = store.cell(drawn.id)
    assert abs(moved.box.x0 - 60) < 2 and abs(moved.box.y0 - 50) < 2
    assert store._db.execute("SELECT COUNT(*) FROM edits").fetchone()[0] == edits_before + 1
    assert store.undo_description() == "Move box"

    # Resize with the bottom-right handle: also one step.
    _drag(qtbot, window, _view_point(window, moved.box.x1, moved.box.y1), _view_point(window, 150, 130))
    resized = store.cell(drawn.id)
    assert abs(resized.box.x1 - 150) < 2 and abs(resized.box.y1 - 130) < 2
    assert abs(resized.box.x0 - moved.box.x0) < 0.01

    # Next slide with PageDown, draw a second box there with Shift+drag, mark it a platelet.
    qtbot.keyClick(window.view, Qt.Key.Key_PageDown)
    second = controller.slide
    assert second.id != first.id
    assert window.browser.list.currentIndex().row() == 1
    wait_image(qtbot, controller)
    viewport = window.view.viewport()
    start, end = _view_point(window, 200, 150), _view_point(window, 230, 180)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, start)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, end)
    (platelet,) = store.cells(second.id)
    qtbot.keyClick(window.view, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)  # Edit > Set Kind > Mark as Platelet
    assert store.cell(platelet.id).kind is CellKind.PLATELET
    qtbot.keyClick(window.view, Qt.Key.Key_8)
    assert store.cell(platelet.id).label == "platelet"
    qtbot.keyClick(window.view, Qt.Key.Key_PageUp)
    assert controller.slide.id == first.id
    assert window.slide_model.counts(second.id).platelet == 1

    # Close (never asks) and reopen: every edit is there.
    window.close()
    assert controller.session is None
    reopened_window, reopened = open_window(project_path)
    with ProjectStore.open(project_path, read_only=True) as check:
        cell = check.cell(drawn.id)
        assert cell.label == "lymphocyte"
        assert abs(cell.box.x1 - 150) < 2 and abs(cell.box.x0 - 60) < 2
        assert check.cell(platelet.id).label == "platelet"
    wait_image(qtbot, reopened)
    assert reopened.canvas.item(drawn.id) is not None
    assert reopened.session.store.can_undo()


def test_tab_moves_between_cells_and_accept_all(qtbot, open_window, project_path):
    window, controller = open_window(project_path)
    store = controller.session.store
    slide = controller.slide
    from core.schema import Box, NewCell

    store.add_cells(
        slide.id,
        [
            NewCell(Box(10, 10, 40, 40), CellKind.RED, source=LabelSource.MODEL, score=0.9),
            NewCell(Box(100, 100, 150, 150), CellKind.WHITE, source=LabelSource.MODEL, score=0.95),
            NewCell(Box(200, 20, 210, 30), CellKind.PLATELET, label="platelet", source=LabelSource.MODEL, score=0.7),
        ],
    )
    qtbot.waitUntil(lambda: len(controller.canvas.cells()) == 3)
    window.view.setFocus()
    order = []
    for _ in range(3):
        qtbot.keyClick(window.view, Qt.Key.Key_Tab)
        order.append(controller.canvas.selected_cells()[0].kind)
    assert order == [CellKind.WHITE, CellKind.PLATELET, CellKind.RED]  # white cells first
    qtbot.keyClick(window.view, Qt.Key.Key_Left)  # arrows step too
    assert controller.canvas.selected_cells()[0].kind is CellKind.PLATELET
    qtbot.keyClick(window.view, Qt.Key.Key_Right)
    qtbot.keyClick(window.view, Qt.Key.Key_Backtab)
    assert controller.canvas.selected_cells()[0].kind is CellKind.PLATELET

    # Hide red cells: Tab skips them.
    window.actions["show_red"].setChecked(False)
    assert not controller.canvas.item(
        [c.id for c in controller.canvas.cells() if c.kind is CellKind.RED][0]
    ).isVisible()
    window.actions["show_red"].setChecked(True)

    qtbot.keyClick(window.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # accept all
    assert all(cell.reviewed for cell in store.cells(slide.id))
    assert store.undo_description().startswith("Accept 3")
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not any(cell.reviewed for cell in store.cells(slide.id))

    # Delete the selected cell.
    qtbot.keyClick(window.view, Qt.Key.Key_Tab)
    doomed = controller.canvas.selected_ids()[0]
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    assert doomed not in {cell.id for cell in store.cells(slide.id)}
    assert controller.canvas.item(doomed) is None


def test_settings_remember_threshold_recent_and_layout(qtbot, open_window, project_path):
    window, controller = open_window(project_path)
    window.threshold.setValue(65)
    window.actions["show_red"].setChecked(False)
    window.close()
    window2, controller2 = open_window()
    assert window2.threshold.value() == 65 and window2.threshold.text() == "65 %"
    assert abs(controller2.settings.confidence_threshold() - 0.65) < 1e-9
    assert not window2.actions["show_red"].isChecked()
    assert controller2.settings.recent_projects()[0] == str(project_path.resolve())
    assert window2.recent_menu.actions()[0].text() == str(project_path.resolve())


def test_tooltips_show_shortcuts_and_help_lists_them(open_window):
    window, controller = open_window()
    assert "(Ctrl+Z)" in window.actions["undo"].toolTip()
    assert "(PgDown)" in window.actions["next_slide"].toolTip()
    from app.gui.help_dialogs import shortcuts_html
    from core.taxonomy import default_taxonomy

    html = shortcuts_html(default_taxonomy())
    for text in ("Ctrl+Shift+Z", "Tab", "Neutrophil", "PgDown", "Draw Box"):
        assert text in html


def test_opening_a_folder_of_images_makes_the_project_in_the_background(qtbot, open_window, slides_dir, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    # The project goes where the save dialog says: here, its default, beside the folder.
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda _parent, _title, default, *a, **k: (default, "")))
    from app.gui.settings import AppSettings

    settings = AppSettings()
    settings.set_propose_on_import(False)  # no models here: see test_folder_project.py
    settings.sync()
    window, controller = open_window(slides_dir)  # no project file there yet
    qtbot.waitUntil(lambda: window.slide_model.rowCount() == 4, timeout=5000)
    qtbot.waitUntil(lambda: controller.slide is not None and not window.job_progress.isVisible(), timeout=5000)
    assert (slides_dir.parent / "slides.hemalabel").is_file()
    assert not list(slides_dir.glob("*.hemalabel"))
    wait_image(qtbot, controller)


def test_a_box_is_moved_and_resized_from_the_keyboard(qtbot, open_window, project_path):
    """Shift+arrows move the selected box and Alt+arrows its right or bottom
    edge, a screen pixel a press; the presses are one undo step."""
    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    store = controller.session.store
    slide = controller.slide
    from core.schema import Box, NewCell

    (cell,) = store.add_cells(slide.id, [NewCell(Box(100, 50, 140, 90), CellKind.WHITE, source=LabelSource.MODEL)])
    qtbot.waitUntil(lambda: controller.canvas.item(cell.id) is not None)
    window.actions["zoom_actual"].trigger()  # a screen pixel is an image pixel
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Tab)
    assert controller.canvas.selected_ids() == [cell.id]
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Up):
        qtbot.keyClick(window.view, key, Qt.KeyboardModifier.ShiftModifier)
    assert store.cell(cell.id).box == Box(102, 49, 142, 89)
    qtbot.keyClick(window.view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(window.view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    after = store.cell(cell.id)
    assert after.box == Box(102, 49, 141, 90) and after.reviewed
    assert controller.canvas.selected_ids() == [cell.id]  # still selected for the next press
    assert controller.canvas.item(cell.id).rect.width() == 39  # the canvas shows it
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert store.cell(cell.id).box == Box(100, 50, 140, 90)  # one step for the whole adjustment
    # Kept inside the image: a move stops at the edge.
    slide_width = slide.width
    store.move_cell(cell.id, Box(slide_width - 41, 50, slide_width - 1, 90))
    qtbot.keyClick(window.view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window.view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert store.cell(cell.id).box == Box(slide_width - 40, 50, slide_width, 90)


def test_zooming_tells_qt_of_each_box_before_its_bounds_change(qtbot, open_window, project_path, monkeypatch):
    """A box's bounds include its handles, a fixed size on screen, so they
    change with the zoom.  Qt takes an item out of the scene's index by the
    bounds it has when told; told too late, the old entries stayed behind
    and the next paint after the box was deleted crashed the window."""
    from app.gui.canvas.cell_item import CellItem
    from core.schema import Box, NewCell

    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    store = controller.session.store
    store.add_cells(controller.slide.id, [NewCell(Box(100, 100, 150, 150), CellKind.WHITE, source=LabelSource.MODEL)])
    qtbot.waitUntil(lambda: len(controller.canvas.cells()) == 1)
    (item,) = [i for i in window.view.scene().items() if isinstance(i, CellItem)]
    told_with: list[tuple[float, float]] = []
    real_prepare = CellItem.prepareGeometryChange
    monkeypatch.setattr(
        CellItem,
        "prepareGeometryChange",
        lambda self: told_with.append(self.boundingRect().getRect()[2:]) or real_prepare(self),
    )
    changed = 0
    for action in ("zoom_in", "zoom_in", "zoom_out", "fit"):
        before = item.boundingRect().getRect()[2:]
        told_with.clear()
        window.actions[action].trigger()
        if item.boundingRect().getRect()[2:] != before:
            changed += 1
            assert told_with and set(told_with) == {before}, action
    assert changed >= 3  # the bounds did follow the zoom, so the steps above were checked


def test_tags_of_boxes_too_small_on_screen_are_drawn_only_when_selected(qtbot, open_window, project_path):
    """Zoomed out on a scan, hundreds of tags wider than their boxes hid the image."""
    from app.gui.canvas.cell_item import MIN_TAGGED_BOX_PX, CellItem
    from core.schema import Box, NewCell

    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    controller.session.store.add_cells(
        controller.slide.id,
        [NewCell(Box(100, 100, 110, 110), CellKind.PLATELET, label="platelet", source=LabelSource.MODEL, score=0.6)],
    )
    qtbot.waitUntil(lambda: len(controller.canvas.cells()) == 1)
    (item,) = [i for i in window.view.scene().items() if isinstance(i, CellItem)]
    assert item.tag_text  # a platelet proposal has its tag
    window.actions["zoom_actual"].trigger()  # 10 px on screen
    assert CellItem.view_scale * 10 < MIN_TAGGED_BOX_PX and not item.tag_readable()
    item.setSelected(True)
    assert item.tag_readable()
    item.setSelected(False)
    while CellItem.view_scale * 10 < MIN_TAGGED_BOX_PX:
        window.actions["zoom_in"].trigger()
    assert item.tag_readable()


def test_the_minimum_confidence_is_set_from_the_keyboard(qtbot, open_window, project_path, monkeypatch):
    """The tool bar's box took no key, and a narrow window hides it."""
    from PySide6.QtWidgets import QInputDialog

    window, controller = open_window(project_path)
    asked: list[int] = []
    monkeypatch.setattr(QInputDialog, "getInt", lambda *args: asked.append(args[3]) or (85, True))
    window.threshold.setValue(60)
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert asked == [60]  # asked, starting from the value in use
    assert window.threshold.value() == 85 and controller.models.threshold == 0.85
    assert window.view.hasFocus()  # the keys are back on the slide


def test_f6_gives_the_keys_to_each_pane_in_turn(qtbot, open_window, project_path):
    """Tab steps cells in the canvas and the gallery, so it never left them:
    the slide list and the differential's Target took no key."""
    from PySide6.QtWidgets import QApplication

    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    target = controller.review.panel.target_combo

    def cycle(key_modifier: Qt.KeyboardModifier) -> list[object]:
        window.view.setFocus()
        reached: list[object] = []
        for _ in range(4):
            qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F6, key_modifier)
            reached.append(QApplication.focusWidget())
        return reached

    def in_slide_list(widget: object) -> bool:
        return widget is window.browser or window.browser.isAncestorOf(widget)

    forward = cycle(Qt.KeyboardModifier.NoModifier)
    assert target in forward and any(in_slide_list(w) for w in forward) and forward[-1] is window.view
    assert cycle(Qt.KeyboardModifier.ShiftModifier) == [*reversed(forward[:-1]), window.view]
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)  # the gallery is the centre pane now
    gallery_view = controller.review.gallery.view
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)
    assert in_slide_list(QApplication.focusWidget())
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F6)
    assert QApplication.focusWidget() is gallery_view


def test_enter_on_a_slide_in_the_list_gives_the_keys_to_its_review(qtbot, open_window, project_path):
    from PySide6.QtWidgets import QApplication

    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    first = controller.slide.id
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)  # the slide list
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
    assert controller.slide.id != first
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert QApplication.focusWidget() is window.view


def test_a_box_is_drawn_moved_and_sized_without_the_mouse(qtbot, open_window, project_path):
    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    store = controller.session.store
    before = {cell.id for cell in store.cells(controller.slide.id)}
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_B)  # draw mode
    qtbot.keyClick(window.view, Qt.Key.Key_Return)
    (new,) = [cell for cell in store.cells(controller.slide.id) if cell.id not in before]
    assert controller.canvas.selected_ids() == [new.id]
    middle = window.view.mapToScene(window.view.viewport().rect().center())
    assert abs(new.box.centre[0] - middle.x()) < 2 and abs(new.box.centre[1] - middle.y()) < 2
    qtbot.keyClick(window.view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window.view, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    moved = store.cell(new.id).box
    assert moved.x0 > new.box.x0 and moved.height > new.box.height
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.view.draw_mode


def test_a_whole_review_from_the_keyboard(qtbot, open_window, project_path, tmp_path):
    """Choose a slide, draw a box, classify it, sign the slide off and export
    it, every key sent to whatever has the focus, as a keyboard does."""
    from PySide6.QtWidgets import QApplication

    from app.gui.dialogs.export_dialog import ExportDialog
    from app.gui.dialogs.signoff_dialog import SignOffDialog
    from core.schema import SlideStatus

    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    store = controller.session.store

    def press(key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        focus = QApplication.focusWidget()
        assert focus is not None, f"nothing has the keys for {key.name}"
        qtbot.keyClick(focus, key, modifiers)

    window.view.setFocus()
    press(Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)  # the slide list
    press(Qt.Key.Key_Down)
    press(Qt.Key.Key_Return)  # the second slide, in review
    slide = controller.slide
    assert slide.id == store.slides()[1].id and QApplication.focusWidget() is window.view
    wait_image(qtbot, controller)
    press(Qt.Key.Key_B)
    press(Qt.Key.Key_Return)  # a box in the middle of the view
    press(Qt.Key.Key_1)  # neutrophil
    press(Qt.Key.Key_Escape)  # out of draw mode
    (cell,) = store.cells(slide.id)
    assert (cell.kind, cell.label, cell.reviewed) == (CellKind.WHITE, "neutrophil", True)
    press(Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), SignOffDialog))
    qtbot.waitUntil(QApplication.activeModalWidget().isActiveWindow)  # the keys go to it once shown
    # One cell of the 100 targeted: the reason asked for has the keys, and Enter signs.
    qtbot.keyClicks(QApplication.focusWidget(), "one cell drawn for the test")
    press(Qt.Key.Key_Return)  # signed with the remembered initials
    qtbot.waitUntil(lambda: store.slide(slide.id).status is SlideStatus.SIGNED_OFF)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.view)  # the keys come back to the slide
    press(Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), ExportDialog))
    qtbot.waitUntil(QApplication.activeModalWidget().isActiveWindow)
    qtbot.keyClicks(QApplication.focusWidget(), str(tmp_path / "dataset"))
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(list((tmp_path / "dataset").rglob("*.xml"))) == len(store.slides()), timeout=10000)
    QApplication.activeModalWidget().reject()
