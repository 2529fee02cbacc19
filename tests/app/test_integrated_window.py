"""The joined-up window: the gallery page, the differential dock, sign-off,
import, export and report, driven through the main window's own actions and
keys.  Every view follows the store through the one session bridge, and every
background job runs through app/gui/worker.py (so no_worker_left_running
covers them)."""

from __future__ import annotations

from conftest import make_slide_image, wait_image
from PySide6.QtCore import QRect, Qt

from app.gui import worker
from app.gui.dialogs.export_dialog import ExportDialog
from app.gui.dialogs.import_dialog import ImportDialog
from app.gui.presentation import cell_title
from core.schema import CellKind, CorrectionAction, SlideStatus

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def _white(store, slide_id: int) -> list:
    return store.cells(slide_id, kind=CellKind.WHITE)


def _record_jobs(monkeypatch, where: str, real) -> list[str]:
    """Names of the jobs started through `where` (worker.start_job or start_call)."""
    names: list[str] = []

    def spy(name, work, parent=None, **slots):
        names.append(name)
        return real(name, work, parent, **slots)

    monkeypatch.setattr(where, spy)
    return names


def _open_gallery(qtbot, window, controller):
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL)
    assert window.gallery_shown and window.actions["gallery"].isChecked()
    gallery = controller.review.gallery
    assert gallery is not None and gallery.isVisible()
    return gallery


def test_gallery_reclassification_updates_canvas_counts_differential_and_queue(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store, taxonomy = controller.session.store, controller.session.taxonomy
    slide_id = controller.slide.id
    gallery = _open_gallery(qtbot, window, controller)
    assert gallery.slide_id == slide_id  # the gallery follows the slide on show
    panel = controller.review.panel
    assert panel.slide_id == slide_id and panel.count.counts["lymphocyte"] == 1
    lymphocytes_before = panel.count.counts["lymphocyte"]
    unreviewed_before = window.slide_model.counts(slide_id).unreviewed

    target = _white(store, slide_id)[0].id  # neutrophil at 95 %
    assert controller.canvas.item(target).look.colour == taxonomy.get("neutrophil").colour
    gallery.select_cells([target])
    gallery.view.setFocus()
    qtbot.keyClick(gallery.view, Qt.Key.Key_4)  # a window class action, routed to the gallery

    assert store.cell(target).label == "lymphocyte"
    look = controller.canvas.item(target).look  # the canvas follows at once
    assert look.colour == taxonomy.get("lymphocyte").colour and look.tag.startswith("Lymphocyte")
    assert window.slide_model.counts(slide_id).unreviewed == unreviewed_before - 1
    qtbot.waitUntil(lambda: panel.count.counts["lymphocyte"] == lymphocytes_before + 1, timeout=3000)
    (correction,) = store.corrections()
    assert (correction.action, correction.old_label, correction.new_label) == (
        CorrectionAction.RELABEL, "neutrophil", "lymphocyte")
    # The gallery moved on to the next unreviewed cell; the canvas selection
    # (and so the inspector) follows it.
    current = gallery.current_cell_id()
    assert current != target and controller.canvas.selected_ids() == [current]
    assert cell_title(store.cell(current), taxonomy) in window.inspector.heading.text()

    # Ctrl+Z in the gallery is the window's Undo action.
    undone: list[bool] = []
    window.actions["undo"].triggered.connect(lambda: undone.append(True))
    qtbot.keyClick(gallery.view, Qt.Key.Key_Z, CTRL)
    assert undone == [True]
    assert store.cell(target).label == "neutrophil"
    assert controller.canvas.item(target).look.colour == taxonomy.get("neutrophil").colour
    assert store.corrections() == []
    qtbot.waitUntil(lambda: panel.count.counts["lymphocyte"] == lymphocytes_before, timeout=3000)

    # Back to the canvas with the same key.
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL)
    assert not window.gallery_shown


def test_gallery_double_click_shows_the_cell_on_its_slide(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    gallery = _open_gallery(qtbot, window, controller)
    gallery.set_slide(None)  # every slide
    assert controller.slide.id == 1 and controller.review.panel.slide_id is None  # a project count
    target = _white(store, 2)[1].id
    row = gallery.model.row_of(target)
    gallery.view.scrollTo(gallery.model.index(row, 0))
    pos = gallery.view.visualRect(gallery.model.index(row, 0)).center()
    qtbot.mouseDClick(gallery.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)

    assert controller.slide.id == 2 and not window.gallery_shown
    assert controller.canvas.selected_ids() == [target]
    item = controller.canvas.item(target)
    shown = window.view.mapFromScene(item.rect).boundingRect()
    assert QRect(window.view.viewport().rect()).intersects(shown)
    assert controller.review.panel.slide_id == 2  # the count follows the slide on show
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL)
    assert controller.review.gallery.slide_id == 2 and controller.review.panel.slide_id == 2
    gallery.set_slide(None)
    assert controller.review.panel.slide_id is None
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL)  # back on the canvas: its slide's count
    assert controller.review.panel.slide_id == 2
    # A cell on another slide than the canvas's still shows its crop in the inspector.
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL)
    other = _white(store, 1)[0].id
    gallery.select_cells([other])
    qtbot.waitUntil(
        lambda: window.inspector.crop.pixmap() is not None and not window.inspector.crop.pixmap().isNull(), timeout=5000
    )


def test_sign_off_action_is_refused_while_unidentified_holds_cells(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    white = _white(store, 1)
    unidentified = [c.id for c in white if c.label == "unidentified"]
    store.confirm([c.id for c in white if c.id not in unidentified])
    assert window.actions["sign_off"].isEnabled()

    qtbot.keyClick(window, Qt.Key.Key_S, CTRL_SHIFT)
    dialog = controller.review.panel.active_dialog
    assert dialog is not None and dialog.isVisible()
    assert "Unidentified" in dialog.error_text and not dialog.accept_button.isEnabled()
    dialog.reject()
    assert store.slide(1).status is not SlideStatus.SIGNED_OFF

    # Give the Unidentified cell a class in the gallery; the panel's button signs off.
    gallery = _open_gallery(qtbot, window, controller)
    gallery.select_cells(unidentified)
    qtbot.keyClick(gallery.view, Qt.Key.Key_5)  # monocyte
    panel = controller.review.panel
    qtbot.waitUntil(lambda: "6 of 100 white cells counted" in panel.state_label.text(), timeout=3000)
    qtbot.mouseClick(panel.sign_off_button, Qt.MouseButton.LeftButton)
    dialog = panel.active_dialog
    dialog.initials_edit.setText("QA")
    dialog.below_target_edit.setText("test field of six cells")  # below the 100-cell target
    dialog.accept_button.click()
    assert store.slide(1).status is SlideStatus.SIGNED_OFF
    qtbot.waitUntil(lambda: "Signed off by QA" in window.read_only_banner.label.text(), timeout=3000)
    assert not controller.canvas.editable
    # The same action now unlocks, with a reason.
    window.actions["sign_off"].trigger()
    assert controller.review.panel.active_dialog.unlocking
    controller.review.panel.active_dialog.reject()


def test_export_and_import_through_the_file_menu_run_in_the_worker(
    qtbot, open_window, review_project, tmp_path, monkeypatch
):
    started = _record_jobs(monkeypatch, "app.gui.dialogs.job_dialog.start_job", worker.start_job)
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)

    window.actions["export_data"].trigger()
    dialog = controller.data.active_dialog
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("csv"))
    out = tmp_path / "exported"
    dialog.out_edit.setText(str(out))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.result_value is not None, timeout=10000)
    assert dialog.result_value.cells == 12 and any(out.iterdir())
    assert started == ["Export labelled data"]
    dialog.cancel_button.click()  # now "Close"
    assert controller.data.active_dialog is None

    new_images = tmp_path / "more"
    for index in range(2):
        make_slide_image(new_images / f"extra_{index}.png", seed=10 + index)
    window.actions["gallery"].trigger()  # a gallery on show follows the import too
    assert controller.review.gallery is not None and window.gallery_shown
    window.actions["import_data"].trigger()
    dialog = controller.data.active_dialog
    assert isinstance(dialog, ImportDialog)
    dialog.source_edit.setText(str(new_images))
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("folder"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.result_value is not None, timeout=10000)
    assert dialog.result_value.slides_added == 2
    assert started == ["Export labelled data", "Import"]
    qtbot.waitUntil(lambda: window.slide_model.rowCount() == 4, timeout=3000)  # the browser follows
    gallery_slides = [
        controller.review.gallery.slide_combo.itemText(i) for i in range(controller.review.gallery.slide_combo.count())
    ]
    assert any("extra_1.png" in text for text in gallery_slides)
    dialog.cancel_button.click()


def test_read_only_project_exports_but_never_imports_or_signs(qtbot, open_window, review_project):
    window, controller = open_window(review_project, read_only=True)
    wait_image(qtbot, controller)
    a = window.actions
    assert not a["import_data"].isEnabled() and not a["sign_off"].isEnabled()
    assert a["export_data"].isEnabled() and a["report_slide"].isEnabled()
    assert controller.data.open_import() is None


def test_report_is_written_in_the_worker_and_a_failure_names_the_file(qtbot, open_window, review_project, tmp_path):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    target = tmp_path / "slide1.csv"
    handle = controller.data.write_report(target, [controller.slide.id])
    assert handle in worker.active_jobs() or not handle.running  # the leak fixture would see it
    with qtbot.waitSignal(controller.data.report_written, timeout=10000):
        pass
    assert target.is_file() and "lymphocyte" in target.read_text().lower()

    failed: list[str] = []
    controller.data.report_failed.connect(failed.append)
    missing = tmp_path / "no such folder" / "r.pdf"
    controller.data.write_report(missing)
    qtbot.waitUntil(lambda: bool(failed), timeout=10000)
    assert "no such folder" in failed[0]
    assert "not written" in window.statusBar().currentMessage()


def test_about_names_the_models_in_use_and_what_they_learnt_from() -> None:
    """Help > About promised "Version and licences" and gave neither: PBC's
    CC BY 4.0 asks for attribution wherever models trained on it ship."""
    from app.gui.help_dialogs import about_html
    from core.models.classifier_card import card_path_for, read_card
    from core.models.resolver import resolve_model

    card = read_card(card_path_for(resolve_model(None)))
    text = about_html()
    assert f"classifier {card.name} {card.version} (bundled)" in text and "detector cell-detector" in text
    assert "single-cell box refiner cell-box-refiner 1.0" in text
    for expected in ("PBC (Acevedo et al.", "CC BY 4.0", "BCCD", "TXL-PBC", "LGPLv3", "Apache 2.0"):
        assert expected in text, expected


def test_help_lists_the_gallery_and_sign_off_keys(open_window):
    window, _controller = open_window()
    from app.gui.help_dialogs import shortcuts_html

    html = shortcuts_html(None)
    for text in ("Ctrl+G", "Cell Gallery", "Ctrl+Shift+S", "Enter / Space", "Double-click a cell"):
        assert text in html
    assert "(Ctrl+G)" in window.actions["gallery"].toolTip()
    assert "(Ctrl+Shift+S)" in window.actions["sign_off"].toolTip()


def test_changing_slides_on_the_canvas_leaves_the_keys_with_the_canvas(qtbot, open_window, review_project):
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_PageDown)
    assert controller.slide.id == 2 and window.view.hasFocus()
    assert controller.review.gallery is None  # made when first shown: opening a project need not read every cell
    _open_gallery(qtbot, window, controller)
    assert controller.review.gallery.slide_id == 2  # it shows the slide on show
    assert controller.review.gallery.view.hasFocus()
    qtbot.keyClick(controller.review.gallery.view, Qt.Key.Key_PageUp)
    assert controller.slide.id == 1 and controller.review.gallery.slide_id == 1
    assert controller.review.gallery.view.hasFocus()


def test_page_keys_page_through_the_all_slides_gallery_and_keep_it(qtbot, open_window, tmp_path):
    """With All slides shown, PgDown / PgUp page through the cells as in any
    grid; they used to move to the next slide and narrow the gallery to it."""
    from tests.app.test_gallery import _big_store

    _big_store(tmp_path / "big.hemalabel", slides=3, cells_per_slide=200).close()
    window, controller = open_window(tmp_path / "big.hemalabel")
    gallery = _open_gallery(qtbot, window, controller)
    gallery.set_slide(None)
    view, model = gallery.view, gallery.model
    first = model.row_of(model.shown_cell_ids()[0])
    qtbot.waitUntil(lambda: view.currentIndex().isValid(), timeout=5000)
    view.set_current_row(first)
    slide = controller.slide.id
    tiles_per_screen = len([row for row in range(model.rowCount())
                            if view.viewport().rect().contains(view.visualRect(model.index(row, 0)))])
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    down = view.currentIndex().row()
    assert gallery.slide_id is None and controller.slide.id == slide
    assert down - first >= tiles_per_screen // 2 and not model.is_header(down)
    assert view.viewport().rect().intersects(view.visualRect(view.currentIndex()))
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert view.currentIndex().row() > down
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.currentIndex().row() == first and gallery.slide_id is None
    for _ in range(40):  # past the end: the last cell, never a header or nothing
        qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert view.currentIndex().row() == model.row_of(model.shown_cell_ids()[-1])
    gallery.set_slide(slide)  # one slide shown: PgDown is the next slide again
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert controller.slide.id != slide and gallery.slide_id == controller.slide.id


def test_gallery_thumbnails_run_in_the_worker_and_stop_with_the_project(
    qtbot, open_window, review_project, monkeypatch
):
    names = _record_jobs(monkeypatch, "app.gui.gallery.thumbnails.start_call", worker.start_call)
    window, controller = open_window(review_project)
    gallery = _open_gallery(qtbot, window, controller)
    provider = gallery.thumbnails
    qtbot.waitUntil(lambda: provider.idle and provider.cached_count() > 0, timeout=5000)
    gallery.view.scrollToBottom()  # thumbnails are made for the tiles on screen
    qtbot.waitUntil(lambda: provider.idle and provider.cached_count() == 6, timeout=5000)
    assert names and set(names) == {"Cell thumbnails"}  # registered jobs: the leak fixture sees them
    controller.close_project()  # shuts the gallery down before the store closes
    assert controller.review.gallery is None and worker.active_jobs() == []
    assert window.gallery_page.findChild(type(gallery)) is None


def test_one_history_for_both_views(qtbot, open_window, review_project):
    """An edit on the canvas is undone from the gallery, and the other way round."""
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    store = controller.session.store
    first, second = (c.id for c in _white(store, 1)[:2])
    controller.canvas.select(first, reveal=False)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_3)  # basophil, on the canvas
    assert store.cell(first).label == "basophil"
    gallery = _open_gallery(qtbot, window, controller)
    assert gallery.model.group_at(gallery.model.row_of(first)) == "basophil"  # the gallery followed
    qtbot.keyClick(gallery.view, Qt.Key.Key_Z, CTRL)
    assert store.cell(first).label == "neutrophil"
    gallery.select_cells([second])
    qtbot.keyClick(gallery.view, Qt.Key.Key_2)  # eosinophil, in the gallery
    assert controller.canvas.item(second).look.tag.startswith("Eosinophil")
    qtbot.keyClick(window, Qt.Key.Key_G, CTRL)
    qtbot.keyClick(window.view, Qt.Key.Key_Z, CTRL)
    assert store.cell(second).label == "neutrophil"
    assert window.actions["redo"].isEnabled()


def test_window_title_names_the_project_file_the_slide_the_app_and_its_version(qtbot, open_window, review_project):
    """The project's file, not its folder (two projects may share one), and the slide on show."""
    from app.version import app_version

    window, controller = open_window(review_project)
    assert window.windowTitle() == f"p.hemalabel \u2014 slide0.png \u2014 HemaLabel {app_version()}"
    controller.step_slide(1)
    assert window.windowTitle() == f"p.hemalabel \u2014 slide1.png \u2014 HemaLabel {app_version()}"
    controller.close_project()
    assert window.windowTitle() == f"HemaLabel {app_version()}"


def test_the_window_has_the_application_icon(qtbot, open_window, review_project):
    window, _controller = open_window(review_project)
    assert not window.windowIcon().isNull()
    assert window.windowIcon().availableSizes()  # the file was found and read


def test_the_empty_canvas_says_how_to_start(qtbot, open_window, review_project, tmp_path):
    from PySide6.QtGui import QKeySequence

    from core.store import ProjectStore

    def keys(name: str) -> str:
        return window.actions[name].shortcut().toString(QKeySequence.SequenceFormat.NativeText)

    window, controller = open_window()
    open_folder = keys("open_folder")
    assert "No project open" in window.view.overlay and open_folder in window.view.overlay
    controller.open_project(review_project)
    wait_image(qtbot, controller)
    assert window.view.overlay == ""
    controller.close_project()
    assert "No project open" in window.view.overlay
    ProjectStore.create(tmp_path / "empty.hemalabel").close()
    controller.open_project(tmp_path / "empty.hemalabel")
    qtbot.waitUntil(lambda: "no slides yet" in window.view.overlay)
    assert keys("import_data") in window.view.overlay


def test_the_window_fits_a_laptop_screen_with_the_gallery_on(qtbot, open_window, review_project):
    """1,280 px: the narrowest screen a lab workstation or laptop has.  The
    gallery's filters in a row held the window over 1,440 px wide."""
    window, controller = open_window(review_project)
    window.actions["gallery"].trigger()
    qtbot.waitUntil(lambda: controller.review.gallery is not None and controller.review.gallery.isVisible())
    assert window.minimumSizeHint().width() <= 1280
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: window.width() == 1024)
    gallery = controller.review.gallery
    filters = (gallery.slide_combo, gallery.class_combo, gallery.unreviewed_check, gallery.confidence_check,
               gallery.confidence_spin)
    qtbot.waitUntil(lambda: all(widget.isVisible() for widget in filters))  # none hidden for want of room


def test_an_imported_white_cell_without_a_class_is_unidentified_in_the_window_and_the_report(
        qtbot, open_window, tmp_path):
    """Issue 27: the panel counted an imported white cell without a type as
    Unidentified, the reports as nothing at all."""
    import csv

    from core.schema import Box, LabelSource, NewCell
    from core.store import ProjectStore

    project = tmp_path / "imported" / "p.hemalabel"
    image = make_slide_image(project.parent / "BloodImage_00043.jpg")
    with ProjectStore.create(project) as store:
        slide = store.add_slide(image, 320, 240)
        store.add_cells(slide.id, [
            NewCell(Box(10, 10, 60, 60), CellKind.WHITE, source=LabelSource.IMPORT, reviewed=True),  # no type
            NewCell(Box(100, 10, 150, 60), CellKind.WHITE, "lymphocyte", source=LabelSource.IMPORT, reviewed=True),
            NewCell(Box(200, 100, 220, 120), CellKind.RED, source=LabelSource.IMPORT, reviewed=True),
        ], "Import annotations")
    window, controller = open_window(project)
    wait_image(qtbot, controller)
    panel = controller.review.panel
    qtbot.waitUntil(lambda: panel.count is not None and panel.slide_id == slide.id, timeout=3000)
    assert panel.extra_values["unidentified"].text() == "1"
    assert panel.extra_values["counted"].text() == "1"

    target = tmp_path / "report.csv"
    controller.data.write_report(target)
    with qtbot.waitSignal(controller.data.report_written, timeout=10000):
        pass
    rows = {row["slide"]: row for row in csv.DictReader(target.open(encoding="utf-8-sig"))}
    assert rows["BloodImage_00043.jpg"]["unidentified"] == rows["TOTAL"]["unidentified"] == "1"
    assert rows["BloodImage_00043.jpg"]["white_cells_counted"] == "1"

    # The sign-off check, the slide list and the gallery's group say the same.
    assert "1 cell is Unidentified" in panel.state_label.text()
    assert window.slide_model.counts(slide.id).unidentified == 1
    gallery = _open_gallery(qtbot, window, controller)
    assert gallery.model.entry(gallery.model.header_row("unidentified")).shown == 1
