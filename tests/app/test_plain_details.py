"""Small things a technician met in a day's review (issue 27, item 10):
wording that read as jargon, a hidden kind with no sign of it, stale status
messages, a quit or a discard that threw work away unasked, an empty chart
with a made-up axis, fixed-size gallery tiles and a report with no Cancel."""

from __future__ import annotations

from conftest import wait_image
from PySide6.QtCore import Qt


def test_the_tool_bar_names_the_models_own_confidence_floor_plainly(qtbot, open_window) -> None:
    window, _controller = open_window()
    box = window.threshold
    box.setValue(0)
    assert box.text() == "model's own"
    assert "each model's own calibrated threshold decides" in box.toolTip()


def test_the_import_formats_automatic_choice_is_not_called_detect(qtbot, review_store) -> None:
    from app.gui.dialogs.import_dialog import ImportDialog

    dialog = ImportDialog(None, review_store)
    qtbot.addWidget(dialog)
    names = [dialog.format_combo.itemText(i) for i in range(dialog.format_combo.count())]
    assert "Detect" not in names  # cell detection is the Detect the technician knows
    assert dialog.format_combo.itemText(dialog.format_combo.findData("auto")) == "Recognise automatically"


def test_the_differential_chart_with_nothing_counted_says_so_rather_than_draw_an_empty_axis(qtbot, tmp_path) -> None:
    from conftest import make_slide_image

    from app.gui.differential.panel import DifferentialPanel
    from core.schema import Box, CellKind, LabelSource, NewCell
    from core.store import ProjectStore

    store = ProjectStore.create(tmp_path / "p.hemalabel")
    try:
        slide = store.add_slide(make_slide_image(tmp_path / "a.png"), 320, 240)
        panel = DifferentialPanel(store, slide_id=slide.id)
        qtbot.addWidget(panel)
        panel.show()
        assert not panel.plot.isVisibleTo(panel)
        assert panel.chart_empty.isVisibleTo(panel) and "No white cells counted yet" in panel.chart_empty.text()

        store.add_cells(slide.id, [NewCell(Box(5, 5, 40, 40), CellKind.WHITE, label="lymphocyte",
                                           source=LabelSource.HUMAN, reviewed=True)])
        panel.refresh()
        assert panel.count.counted == 1
        assert panel.plot.isVisibleTo(panel) and not panel.chart_empty.isVisibleTo(panel)
    finally:
        panel.shutdown()
        store.close()


def test_hiding_a_kind_of_box_leaves_a_note_on_the_canvas(qtbot, open_window, review_project) -> None:
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    note = window.view.corner_note
    assert not note.isVisible()
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_R)
    assert not window.actions["show_red"].isChecked()
    assert note.isVisible() and note.text() == "Red cells hidden (R)"
    qtbot.keyClick(window.view, Qt.Key.Key_P)
    assert note.text() == "Red cells and platelets hidden (R, P)"
    qtbot.keyClick(window.view, Qt.Key.Key_R)
    assert note.isVisible() and note.text() == "Platelets hidden (P)"
    qtbot.keyClick(window.view, Qt.Key.Key_P)
    assert not note.isVisible()


def test_a_status_message_about_one_slide_goes_when_the_next_is_shown(qtbot, open_window, review_project) -> None:
    from core.schema import CellKind

    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    first = controller.slide.id
    white = next(cell for cell in controller.canvas.cells() if cell.kind is CellKind.WHITE)
    controller.canvas.select(white.id)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_1)
    qtbot.keyClick(window.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    bar = window.statusBar()
    assert bar.currentMessage().startswith("Undid: ")
    qtbot.keyClick(window.view, Qt.Key.Key_PageDown)
    assert controller.slide.id != first
    assert bar.currentMessage() == ""  # it spoke of the slide before

    # A word about the project or a job stays while the technician moves on.
    controller.show_project_message("Report written to r.pdf")
    qtbot.keyClick(window.view, Qt.Key.Key_PageUp)
    assert controller.slide.id == first and bar.currentMessage() == "Report written to r.pdf"


def _answer_box(qtbot, button_text: str, seen: list[str]) -> None:
    """Click `button_text` on the question box once it is up (it runs its own event loop)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(20, answer)


def test_quitting_while_a_batch_job_runs_asks_first(qtbot, open_window, project_path) -> None:
    from fake_models import FakeClassifier, FakeDetector

    from app.gui import model_provider

    model_provider.use_models(detector=lambda: FakeDetector(delay_s=0.4), classifier=FakeClassifier)
    try:
        window, controller = open_window(project_path)
        window.actions["detect_all"].trigger()
        assert controller.models.running
        seen: list[str] = []
        _answer_box(qtbot, "&Keep Working", seen)
        window.actions["quit"].trigger()
        assert seen and "still detecting cells" in seen[0] and "Quitting cancels it" in seen[0]
        assert window.isVisible() and controller.models.running  # nothing stopped

        _answer_box(qtbot, "Cancel the Job and &Quit", seen)
        window.actions["quit"].trigger()
        assert len(seen) == 2
        assert not window.isVisible()
        qtbot.waitUntil(lambda: not controller.models.running, timeout=5000)  # cancelled, not left running
    finally:
        model_provider.use_models()


def test_quitting_with_nothing_running_never_asks(qtbot, open_window, review_project) -> None:
    window, controller = open_window(review_project)
    window.actions["quit"].trigger()
    assert not window.isVisible()


def test_a_report_shows_its_progress_and_can_be_cancelled(qtbot, open_window, review_project, tmp_path,
                                                         monkeypatch) -> None:
    import time

    from app.gui.dialogs import report_dialog
    from app.gui.dialogs.report_dialog import ReportDialog

    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    target = tmp_path / "all.pdf"
    progress: list[int] = []
    with qtbot.waitSignal(controller.data.report_written, timeout=10000):
        controller.data.write_report(target)
        dialog = controller.data.active_dialog
        assert isinstance(dialog, ReportDialog) and dialog.isVisible() and dialog.running
        assert dialog.cancel_button.isEnabled()
        dialog.progress_bar.valueChanged.connect(progress.append)
    assert target.is_file() and max(progress) == 6  # 2 slides counted, 3 pages drawn, the file written
    qtbot.waitUntil(lambda: controller.data.active_dialog is None)  # closed once written
    assert window.statusBar().currentMessage() == f"Report written to {target}"

    real = report_dialog.report_job

    def slow_job(*args, **kwargs):  # a project of many slides: a step a quarter second
        job = real(*args, **kwargs)
        while True:
            time.sleep(0.25)
            try:
                step = next(job)
            except StopIteration as done:
                return done.value
            yield step

    monkeypatch.setattr(report_dialog, "report_job", slow_job)
    cancelled = tmp_path / "cancelled.pdf"
    controller.data.write_report(cancelled)
    dialog = controller.data.active_dialog
    qtbot.waitUntil(lambda: dialog.progress_bar.maximum() > 1, timeout=5000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=5000)
    assert dialog.status.text() == "Cancelled: no report was written." and not cancelled.exists()
    dialog.cancel_button.click()  # now Close
    qtbot.waitUntil(lambda: controller.data.active_dialog is None)


def test_gallery_tiles_zoom_with_ctrl_keys_and_wheel_within_bounds_and_are_remembered(
        qtbot, open_window, review_project) -> None:
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from app.gui.gallery.gallery_widget import TILE_SIZES

    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    gallery = controller.review.gallery
    assert gallery is not None and gallery.tile_size == 96
    view = gallery.view
    view.setFocus()
    tile = view.model().index(next(r for r in range(view.model().rowCount()) if not view.model().is_header(r)), 0)

    qtbot.keyClick(view, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert gallery.tile_size == 128
    qtbot.waitUntil(lambda: view.visualRect(tile).width() == 128 + 8)  # laid out again at the new size
    qtbot.keyClick(view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert gallery.tile_size == 72

    def wheel(delta: int) -> None:
        centre = QPointF(view.viewport().rect().center())
        event = QWheelEvent(centre, QPointF(view.viewport().mapToGlobal(centre.toPoint())), QPoint(0, 0),
                            QPoint(0, delta), Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view.viewport(), event)

    wheel(120)
    assert gallery.tile_size == 96
    for _ in range(len(TILE_SIZES) + 2):
        wheel(-120)
    assert gallery.tile_size == TILE_SIZES[0]  # no smaller than the smallest
    window.actions["zoom_in"].trigger()  # View > Zoom In, in the gallery: its tiles
    assert gallery.tile_size == TILE_SIZES[1]
    qtbot.waitUntil(lambda: gallery.thumbnails.idle, timeout=5000)

    # The next gallery opens at the size chosen.
    controller.close_project()
    assert controller.open_project(review_project)
    if controller.review.gallery is None:
        qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: controller.review.gallery is not None)
    assert controller.review.gallery.tile_size == TILE_SIZES[1]
    qtbot.waitUntil(lambda: controller.review.gallery.thumbnails.idle, timeout=5000)
