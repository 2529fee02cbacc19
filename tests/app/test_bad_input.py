"""Bad input on the real window: a corrupt image, a moved image, a
read-only project, and an image too large for Pillow's guard."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import make_slide_image, wait_image
from PIL import Image
from PySide6.QtCore import Qt

from core.schema import Box, CellKind


def _slide_named(controller, name):  # noqa: ANN001, ANN202
    return next(s for s in controller.session.store.slides() if s.path.endswith(name))


def test_corrupt_image_shows_its_reason_and_other_slides_work(qtbot, open_window, project_path):
    victim = project_path.parent / "slide_01.png"
    victim.write_bytes(victim.read_bytes()[:200])  # truncated after import
    window, controller = open_window(project_path)
    broken = _slide_named(controller, "slide_01.png")
    controller.show_slide_id(broken.id)
    wait_image(qtbot, controller, "corrupt")
    assert "Cannot show this image" in window.view.overlay
    assert window.image_banner.isVisible() and window.image_banner.level == "error"
    assert not window.image_banner.button.isVisible()
    assert "Unreadable" in window.slide_model.problem(broken.id)
    # Boxes can still be drawn over the placeholder, and the next slide opens normally.
    controller.session.store.add_cell(broken.id, Box(5, 5, 30, 30), CellKind.WHITE)
    qtbot.waitUntil(lambda: len(controller.canvas.cells()) == 1)
    controller.step_slide(1)
    wait_image(qtbot, controller, "ok")
    # What the canvas says now is the next step on a slide with no boxes, not the image's trouble.
    assert window.view.overlay.startswith("No cells yet") and not window.image_banner.isVisible()


def test_an_image_replaced_by_another_size_is_shown_with_a_warning(qtbot, open_window, project_path):
    victim = project_path.parent / "slide_01.png"
    with Image.open(victim) as image:
        width, height = image.size
        image.resize((width // 2, height // 2)).save(victim)  # replaced after import
    window, controller = open_window(project_path)
    changed = _slide_named(controller, "slide_01.png")
    controller.show_slide_id(changed.id)
    wait_image(qtbot, controller, "changed")
    assert window.image_banner.isVisible() and window.image_banner.level == "warning"
    assert f"was {width}x{height}" in window.image_banner.label.text()
    assert window.view.overlay == ""  # shown as it is
    assert (window.slide_model.problem(changed.id) or "").startswith("Changed")
    assert controller.canvas.image() is None  # no crops for the inspector from the wrong pixels
    controller.step_slide(1)
    wait_image(qtbot, controller, "ok")
    assert not window.image_banner.isVisible()


def test_missing_image_offers_locate(qtbot, open_window, project_path, tmp_path, monkeypatch):
    moved_to = tmp_path / "elsewhere" / "slide_00.png"
    moved_to.parent.mkdir()
    shutil.move(project_path.parent / "slide_00.png", moved_to)
    window, controller = open_window(project_path)
    slide = _slide_named(controller, "slide_00.png")
    assert controller.slide.id == slide.id
    wait_image(qtbot, controller, "missing")
    assert window.image_banner.isVisible() and window.image_banner.button.text() == "Locate\u2026"
    assert "Image missing" in window.view.overlay
    qtbot.waitUntil(lambda: (window.slide_model.problem(slide.id) or "").startswith("Missing"))

    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(moved_to), ""))
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # File > Locate Slide Image…
    wait_image(qtbot, controller, "ok")
    assert not window.image_banner.isVisible()
    assert controller.session.store.image_path(controller.session.store.slide(slide.id)).resolve() == moved_to.resolve()
    assert window.slide_model.problem(slide.id) is None


def test_read_only_project_shows_a_banner_and_refuses_edits(qtbot, open_window, project_path):
    window, controller = open_window(project_path, read_only=True)
    assert controller.session.read_only
    assert window.read_only_banner.isVisible()
    assert "Read-only" in window.read_only_banner.label.text()
    assert not window.actions["draw"].isEnabled()
    assert not window.actions["detect_all"].isEnabled()
    assert not window.view.editable
    wait_image(qtbot, controller)


def test_image_over_pillows_guard_opens_through_opencv_in_tiles(qtbot, open_window, tmp_path, monkeypatch):
    """A scan bigger than Pillow's decompression-bomb limit opens (via OpenCV)
    as one full array plus smaller levels, and is painted in tiles.  The limit
    is lowered for this test so a small file stands in for a 20,000 px scan."""
    from core.image_levels import read_levels
    from core.imaging import BeyondPillowGuard, probe_image, read_thumbnail
    from core.store import ProjectStore

    big = make_slide_image(tmp_path / "scan" / "scan.png", width=3000, height=2000)
    with ProjectStore.create(tmp_path / "scan" / "scan.hemalabel") as store:
        store.add_slide(big, 3000, 2000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)  # 3000x2000 is now "a bomb" to Pillow
    with pytest.raises(BeyondPillowGuard):
        probe_image(big, verify_pixels=False, decode_large=False)
    image = read_levels(big)
    assert [level.shape[:2] for level in image.levels] == [(2000, 3000), (1000, 1500), (500, 750)]
    assert np.shares_memory(image.full, image.levels[0])

    from app.gui.canvas import canvas_controller
    from app.gui.imagery import ImageShown

    monkeypatch.setattr(canvas_controller, "_PREVIEW_ABOVE_PIXELS", 1_000_000)  # shown first at an eighth
    window, controller = open_window()
    shown = []
    controller.canvas.image_state_changed.connect(lambda slide_id, state, reason: shown.append(state))
    assert controller.open_project(tmp_path / "scan" / "scan.hemalabel")
    wait_image(qtbot, controller)
    assert shown[-3:] == [ImageShown.LOADING, ImageShown.PREVIEW, ImageShown.OK]
    window.view.fit()
    window.view.viewport().repaint()
    item = controller.canvas._image_item
    assert 0 < item.cached_tiles() <= 4  # a fitted view draws a coarse level in a few tiles
    window.view.zoom_actual()
    window.view.viewport().repaint()
    assert item.cached_tiles() < 4 + 24  # at 100 % only the tiles in view are made
    assert read_thumbnail(big, 96).shape == (64, 96, 3)


def test_signed_off_slide_is_locked_with_a_banner(qtbot, open_window, project_path):
    from core.store import ProjectStore

    with ProjectStore.open(project_path) as store:
        first = store.slides()[0]
        # A reviewed, classified white cell: sign-off accepts only a final count.
        store.add_cell(first.id, Box(5, 5, 40, 40), CellKind.WHITE, label="neutrophil")
        store.sign_off(first.id, "<tech1>", target=1)  # typed initials are text, not markup
    window, controller = open_window(project_path)
    assert controller.slide.id == first.id
    banner = window.read_only_banner.label.text()
    assert window.read_only_banner.isVisible() and "Signed off by &lt;tech1&gt;" in banner
    assert "unlocked with a reason (Ctrl+Shift+S)" in banner  # the way out is named
    assert not window.actions["draw"].isEnabled() and not window.view.editable
    controller.step_slide(1)
    assert not window.read_only_banner.isVisible() and window.actions["draw"].isEnabled()


def _message_box_titled(title):  # noqa: ANN001, ANN202
    from PySide6.QtWidgets import QApplication, QMessageBox

    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    return next((box for box in boxes if box.windowTitle() == title), None)


def test_a_project_edited_elsewhere_opens_read_only_on_request(qtbot, open_window, project_path, monkeypatch):
    """Two windows editing one project would undo each other's edits (the
    history is in the file), so the second is told who edits it, may read
    it, and may edit it once the other has closed it."""
    from app.gui import edited_elsewhere
    from core.store import ProjectStore

    monkeypatch.setattr(edited_elsewhere, "FREE_CHECK_INTERVAL_MS", 50)

    with ProjectStore.open(project_path, editor="hemalabel detect") as elsewhere:
        window, controller = open_window()
        assert not controller.open_project(project_path)
        assert controller.session is None
        qtbot.waitUntil(lambda: _message_box_titled("Project open elsewhere") is not None)
        box = _message_box_titled("Project open elsewhere")
        assert "open for editing in hemalabel detect (user " in box.text()
        read_only = next(b for b in box.buttons() if b.text() == "Open read-only")
        assert box.defaultButton() is read_only
        qtbot.mouseClick(read_only, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: controller.session is not None)
        assert controller.session.read_only and not window.actions["draw"].isEnabled()
        banner = window.read_only_banner.label.text()
        assert "open for editing elsewhere" in banner and "hemalabel detect" in banner
        assert elsewhere.slides()  # the editor keeps its project
        wait_image(qtbot, controller)
        assert not banner_button_shown(window)
    # Once the other editor has closed it, the window offers to edit it here.
    qtbot.waitUntil(lambda: banner_button_shown(window), timeout=2000)
    assert "no longer open for editing elsewhere" in window.read_only_banner.label.text()
    shown = controller.slide.id
    qtbot.mouseClick(window.read_only_banner.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.session is not None and not controller.session.read_only)
    assert not window.read_only_banner.isVisible() and window.actions["draw"].isEnabled()
    assert controller.slide is not None and controller.slide.id == shown
    wait_image(qtbot, controller)


def banner_button_shown(window):  # noqa: ANN001, ANN201
    return window.read_only_banner.isVisible() and window.read_only_banner.button.isVisible()


def test_a_read_only_window_follows_the_edits_saved_elsewhere(qtbot, open_window, project_path, monkeypatch):
    from app.gui import session as session_module
    from core.store import ProjectStore

    monkeypatch.setattr(session_module, "FOLLOW_INTERVAL_MS", 50)
    with ProjectStore.open(project_path) as elsewhere:
        window, controller = open_window(project_path, read_only=True)
        wait_image(qtbot, controller)
        shown, other = controller.slide, _slide_named(controller, "slide_02.png")
        before = len(controller.canvas.cells())
        row = window.slide_model.row_of(shown.id)
        new = elsewhere.add_cell(shown.id, Box(20, 20, 60, 60), CellKind.WHITE, label="monocyte")
        elsewhere.add_cell(other.id, Box(20, 20, 60, 60), CellKind.WHITE)
        qtbot.waitUntil(lambda: controller.canvas.item(new.id) is not None, timeout=3000)
        assert len(controller.canvas.cells()) == before + 1
        qtbot.waitUntil(lambda: window.slide_model.counts(other.id).white == 1)
        assert controller.slide.id == shown.id and window.slide_model.row_of(shown.id) == row
        assert window.browser.list.currentIndex().row() == row  # the list kept its selection
        controller.canvas.select(new.id, reveal=False)
        assert "Monocyte" in window.inspector.heading.text()
        elsewhere.set_label([new.id], "lymphocyte")
        qtbot.waitUntil(lambda: "Lymphocyte" in window.inspector.heading.text(), timeout=3000)  # the inspector too
        elsewhere.remove_cells([new.id])
        qtbot.waitUntil(lambda: controller.canvas.item(new.id) is None, timeout=3000)
        rows = window.slide_model.rowCount()
        added = elsewhere.add_slide(make_slide_image(project_path.parent / "late.png"), 320, 240)
        qtbot.waitUntil(lambda: window.slide_model.rowCount() == rows + 1, timeout=3000)
        assert window.slide_model.row_of(added.id) == rows and window.browser.list.currentIndex().row() == row


def test_opening_the_open_project_again_keeps_it(qtbot, open_window, project_path):
    window, controller = open_window(project_path)
    session = controller.session
    assert controller.open_project(project_path.parent)  # its folder, as from the recent menu
    assert controller.session is session and not session.read_only
    assert "already open in this window" in window.statusBar().currentMessage()
    assert _message_box_titled("Project open elsewhere") is None
    wait_image(qtbot, controller)


def test_a_full_disk_is_shown_until_an_edit_is_saved_again(qtbot, open_window, project_path):
    """A class key pressed on a full disk changes nothing, and the window
    says so in a dialog and a banner, not only in the status bar."""
    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    store = controller.session.store
    cell = store.add_cell(controller.slide.id, Box(20, 20, 60, 60), CellKind.WHITE)
    qtbot.waitUntil(lambda: controller.canvas.item(cell.id) is not None)
    controller.canvas.select(cell.id, reveal=False)
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # stands in for a full disk
    for _ in range(40):  # a few edits fit in the last free page; then the file refuses
        window.view.setFocus()
        qtbot.keyClick(window.view, Qt.Key.Key_4)
        qtbot.keyClick(window.view, Qt.Key.Key_5)
        if _message_box_titled("Not saved") is not None:
            break
    box = _message_box_titled("Not saved")
    assert box is not None and "database or disk is full" in box.text() and str(store.path) in box.text()
    banner = window.read_only_banner
    assert banner.isVisible() and banner.level == "error" and "Not saved." in banner.label.text()
    assert "was not saved" in window.statusBar().currentMessage()
    label_now = store.cell(cell.id).label
    assert controller.canvas.item(cell.id).look.tag.lower().startswith(label_now)  # the canvas shows what is saved
    box.close()

    store._db.execute("PRAGMA max_page_count = 1073741823")  # space freed
    window.view.setFocus()
    other_key, other = (Qt.Key.Key_4, "lymphocyte") if label_now != "lymphocyte" else (Qt.Key.Key_5, "monocyte")
    qtbot.keyClick(window.view, other_key)
    assert store.cell(cell.id).label == other
    qtbot.waitUntil(lambda: not banner.isVisible())


def test_slide_thumbnails_say_by_type_what_is_wrong_with_each_image(qtbot, tmp_path):
    """Missing, unreadable and too large reach the slide list as states, not
    as message text to be matched."""
    import struct
    import zlib

    from app.gui import worker
    from app.gui.imagery import ImageShown
    from app.gui.slide_browser import SlideListModel
    from app.gui.thumbnails import ThumbnailLoader

    good = make_slide_image(tmp_path / "good.png", width=120, height=90)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    header = bytearray(good.read_bytes())
    header[16:24] = struct.pack(">II", 50_000, 50_000)  # claims 2.5 gigapixels
    header[29:33] = struct.pack(">I", zlib.crc32(bytes(header[12:29])))
    huge = tmp_path / "huge.png"
    huge.write_bytes(bytes(header))
    loader = ThumbnailLoader()
    failures = {}
    loader.failed.connect(lambda slide_id, state, reason: failures.update({slide_id: (state, reason)}))
    for slide_id, path in enumerate([good, tmp_path / "gone.png", empty, huge], start=1):
        loader.request(slide_id, path)
    qtbot.waitUntil(lambda: loader.pixmap(1) is not None and len(failures) == 3 and not worker.active_jobs())
    assert {slide_id: state for slide_id, (state, _) in failures.items()} == {
        2: ImageShown.MISSING, 3: ImageShown.UNREADABLE, 4: ImageShown.TOO_LARGE}
    assert loader.failure(4) == failures[4][1] and "too many to open" in failures[4][1]

    rows = SlideListModel()
    rows.set_problem(4, *failures[4])
    assert rows.problem(4).startswith("Too large: image has more than")
    rows.set_problem(4, ImageShown.OK, "")
    assert rows.problem(4) is None
