"""The cell gallery and the differential panel, driven with real key and
mouse events: a reclassification reaches the store, the correction queue and
the counts; filters, drops, double-clicks and undo work; 5,000 cells build
quickly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QModelIndex, QPointF, QSize, Qt  # noqa: E402
from PySide6.QtGui import QDropEvent, QPixmap  # noqa: E402
from PySide6.QtWidgets import QListView, QStyleOptionViewItem  # noqa: E402

from app.gui.differential import DifferentialPanel  # noqa: E402
from app.gui.gallery import CellGallery, GalleryFilter, GalleryModel  # noqa: E402
from app.gui.gallery.model import CELL_IDS_MIME, GroupHeader, Role, _Rows  # noqa: E402
from app.gui.gallery.view import LAYOUT_BATCH  # noqa: E402
from core.schema import Box, CellKind, CorrectionAction, LabelSource, NewCell  # noqa: E402
from core.store import ProjectStore  # noqa: E402


@pytest.fixture
def gallery(qtbot, review_store: ProjectStore):
    opened: list[int] = []
    widget = CellGallery(review_store, on_open_cell=opened.append)
    widget.opened = opened  # type: ignore[attr-defined]
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def white_ids(store: ProjectStore, slide_id: int = 1) -> list[int]:
    return [c.id for c in store.cells(slide_id, kind=CellKind.WHITE)]


def header_row(model: GalleryModel, class_name: str) -> int:
    row = model.header_row(class_name)
    assert row is not None, f"the gallery shows no {class_name} group"
    return row


def row_of(model: GalleryModel, cell_id: int) -> int:
    row = model.row_of(cell_id)
    assert row is not None, f"the gallery does not show cell {cell_id}"
    return row


def cell_id_at(model: GalleryModel, row: int) -> int:
    cell_id = model.cell_id_at(row)
    assert cell_id is not None, f"row {row} of the gallery is a header"
    return cell_id


def confidence_at(model: GalleryModel, row: int) -> float:
    value = model.data(model.index(row, 0), Role.CONFIDENCE)
    assert isinstance(value, float), f"row {row} has no confidence"
    return value


def test_groups_unidentified_first_then_lowest_confidence(gallery: CellGallery, review_store: ProjectStore) -> None:
    model = gallery.model
    headers = [model.data(model.index(r, 0), Role.GROUP) for r in range(model.rowCount()) if model.is_header(r)]
    assert headers[0] == "unidentified"
    assert headers[1:] == [n for n in review_store.taxonomy.names if n != "unidentified"]
    neutrophil_row = header_row(model, "neutrophil")
    rows = model.cell_rows_in_group(neutrophil_row)
    confidences = [confidence_at(model, r) for r in rows]
    assert confidences == sorted(confidences)
    assert len(rows) == 4  # three from slide 1, one from slide 2
    # Red cells and platelets are not in the gallery.
    assert len(model.shown_cell_ids()) == 8


def test_digit_reclassifies_and_updates_queue_and_counts(qtbot, gallery: CellGallery,
                                                         review_store: ProjectStore) -> None:
    panel = DifferentialPanel(review_store, slide_id=1)
    qtbot.addWidget(panel)
    before = panel.count.counts["lymphocyte"]
    target = white_ids(review_store)[0]  # a neutrophil at 95 %
    gallery.select_cells([target])
    gallery.view.setFocus()
    qtbot.keyClick(gallery.view, "4")  # lymphocyte
    assert review_store.cell(target).label == "lymphocyte"
    qtbot.waitUntil(lambda: panel.count.counts["lymphocyte"] == before + 1, timeout=3000)
    assert panel.table.item(panel._classes.index("lymphocyte"), 1).text() == str(before + 1)
    (correction,) = review_store.corrections()
    assert (correction.action, correction.old_label, correction.new_label) == (
        CorrectionAction.RELABEL,
        "neutrophil",
        "lymphocyte",
    )
    assert correction.model_version == "test-model-1"
    # The model followed: the cell sits in the lymphocyte group, and the next
    # unreviewed cell is current.
    qtbot.waitUntil(lambda: gallery.model.group_at(row_of(gallery.model, target)) == "lymphocyte", timeout=3000)
    current = gallery.current_cell_id()
    assert current is not None and current != target and not review_store.cell(current).reviewed


def test_enter_confirms_selection_and_space_the_current_cell(qtbot, gallery: CellGallery,
                                                             review_store: ProjectStore) -> None:
    model = gallery.model
    header = header_row(model, "neutrophil")
    rect = gallery.view.visualRect(model.index(header, 0))
    qtbot.mouseClick(gallery.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    group = [cell_id_at(model, r) for r in model.cell_rows_in_group(header)]
    assert sorted(gallery.selected_cell_ids()) == sorted(group)
    qtbot.keyClick(gallery.view, Qt.Key.Key_Return)
    assert all(review_store.cell(i).reviewed for i in group)
    actions = {c.action for c in review_store.corrections()}
    assert actions == {CorrectionAction.CONFIRM}
    qtbot.waitUntil(lambda: gallery.current_cell_id() not in group, timeout=3000)
    current = gallery.current_cell_id()
    assert current is not None
    qtbot.keyClick(gallery.view, Qt.Key.Key_Space)
    assert review_store.cell(current).reviewed


def test_unidentified_cells_are_not_confirmed_as_they_are(qtbot, gallery: CellGallery,
                                                          review_store: ProjectStore) -> None:
    unidentified = [c.id for c in review_store.cells(1) if c.label == "unidentified"]
    gallery.select_cells(unidentified)
    messages: list[str] = []
    gallery.message.connect(messages.append)
    qtbot.keyClick(gallery.view, Qt.Key.Key_Space)
    assert not review_store.cell(unidentified[0]).reviewed
    assert "need a class" in messages[-1]


def test_drop_onto_a_group_reclassifies(qtbot, gallery: CellGallery, review_store: ProjectStore) -> None:
    ids = white_ids(review_store)[:2]
    header = header_row(gallery.model, "monocyte")
    gallery.view.scrollTo(gallery.model.index(header, 0))
    pos = gallery.view.visualRect(gallery.model.index(header, 0)).center()
    mime = QMimeData()
    mime.setData(CELL_IDS_MIME, ",".join(map(str, ids)).encode())
    event = QDropEvent(QPointF(pos), Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    gallery.view.dropEvent(event)
    assert [review_store.cell(i).label for i in ids] == ["monocyte", "monocyte"]
    # Both moves are one undo step, undone with Ctrl+Z in the gallery.
    qtbot.keyClick(gallery.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [review_store.cell(i).label for i in ids] == ["neutrophil", "neutrophil"]
    assert review_store.corrections() == []


def test_drag_carries_the_selected_cell_ids(gallery: CellGallery, review_store: ProjectStore) -> None:
    ids = white_ids(review_store)[:3]
    gallery.select_cells(ids)
    indexes = gallery.view.selectionModel().selectedIndexes()
    data = gallery.model.mimeData(indexes)
    assert sorted(int(i) for i in bytes(data.data(CELL_IDS_MIME).data()).decode().split(",")) == sorted(ids)


def test_double_click_opens_the_cell_on_its_slide(qtbot, gallery: CellGallery, review_store: ProjectStore) -> None:
    target = white_ids(review_store, 2)[0]
    row = row_of(gallery.model, target)
    gallery.view.scrollTo(gallery.model.index(row, 0))
    pos = gallery.view.visualRect(gallery.model.index(row, 0)).center()
    qtbot.mouseDClick(gallery.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert gallery.opened == [target]  # type: ignore[attr-defined]


def test_filters(qtbot, gallery: CellGallery, review_store: ProjectStore) -> None:
    model = gallery.model
    slides: list[object] = []
    gallery.slide_filter_changed.connect(slides.append)
    gallery.set_slide(2)
    assert sorted(model.shown_cell_ids()) == sorted(white_ids(review_store, 2))
    assert slides == [2]
    gallery.set_slide(None)
    gallery.class_combo.setCurrentIndex(gallery.class_combo.findData("neutrophil"))
    assert {model.cell(i).label for i in model.shown_cell_ids()} == {"neutrophil"}
    assert [model.data(model.index(r, 0), Role.GROUP) for r in range(model.rowCount()) if model.is_header(r)] == [
        "neutrophil"
    ]
    gallery.class_combo.setCurrentIndex(0)
    gallery.confidence_check.setChecked(True)
    gallery.confidence_spin.setValue(75)
    assert sorted(confidence_at(model, row_of(model, i)) for i in model.shown_cell_ids()) == [0.41, 0.62, 0.70]
    gallery.confidence_check.setChecked(False)
    review_store.confirm([white_ids(review_store)[0]])
    gallery.unreviewed_check.setChecked(True)
    qtbot.waitUntil(lambda: white_ids(review_store)[0] not in model.shown_cell_ids(), timeout=3000)
    assert len(model.shown_cell_ids()) == 7


def test_signed_off_slide_refuses_reclassification(qtbot, gallery: CellGallery, review_store: ProjectStore) -> None:
    ids = white_ids(review_store, 2)
    review_store.confirm(ids)
    review_store.sign_off(2, "AB", target=2)
    gallery.select_cells([ids[0]])
    messages: list[str] = []
    gallery.message.connect(messages.append)
    qtbot.keyClick(gallery.view, "5")
    assert review_store.cell(ids[0]).label == "lymphocyte"
    assert "signed off" in messages[-1]


def test_thumbnails_are_made_off_the_gui_thread_and_cached(qtbot, gallery: CellGallery) -> None:
    provider = gallery.thumbnails
    gallery.resize(900, 1200)  # every tile on screen: only painted tiles ask for thumbnails
    qtbot.waitUntil(lambda: provider.idle and provider.cached_count() == 8, timeout=5000)
    index = gallery.model.index(row_of(gallery.model, gallery.model.shown_cell_ids()[0]), 0)
    pixmap = gallery.model.data(index, Qt.ItemDataRole.DecorationRole)
    assert isinstance(pixmap, QPixmap) and pixmap.width() == provider.size
    batches = provider.batches_started
    gallery.view.viewport().repaint()
    assert provider.batches_started == batches  # answered from the cache


def _gallery_with_thumbnails(qtbot, store: ProjectStore) -> CellGallery:
    """Every tile on screen and every thumbnail made: slide 1's six white
    cells (slide 2's are the ones the tests spoil)."""
    widget = CellGallery(store)
    qtbot.addWidget(widget)
    widget.resize(900, 1200)
    widget.show()
    qtbot.waitUntil(lambda: widget.thumbnails.idle and widget.thumbnails.cached_count() == 6, timeout=5000)
    return widget


def _thumbnail_failed(widget: CellGallery, cell_id: int) -> bool:
    return bool(widget.model.data(widget.model.index(row_of(widget.model, cell_id), 0), Role.THUMBNAIL_FAILED))


def test_missing_slide_image_shows_a_placeholder(qtbot, review_store: ProjectStore, tmp_path: Path) -> None:
    (tmp_path / "slide1.png").unlink()
    widget = _gallery_with_thumbnails(qtbot, review_store)
    assert _thumbnail_failed(widget, white_ids(review_store, 2)[0])
    widget.shutdown()


def test_a_slide_image_replaced_by_another_size_shows_placeholders(qtbot, review_store: ProjectStore,
                                                                   tmp_path: Path) -> None:
    """Its boxes were drawn on the old image: crops of the new one would
    show the wrong cells, so the gallery shows none."""
    from PIL import Image

    with Image.open(tmp_path / "slide1.png") as image:
        image.resize((image.width // 2, image.height // 2)).save(tmp_path / "slide1.png")
    widget = _gallery_with_thumbnails(qtbot, review_store)
    assert _thumbnail_failed(widget, white_ids(review_store, 2)[0])
    assert not _thumbnail_failed(widget, white_ids(review_store, 1)[0])
    widget.shutdown()


def _big_store(path: Path, slides: int, cells_per_slide: int) -> ProjectStore:
    store = ProjectStore.create(path)
    classes = ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "unidentified"]
    rng = np.random.default_rng(1)
    with store.edit("build", record_history=False):
        for s in range(slides):
            slide = store.add_slide(path.parent / f"s{s}.png", 640, 480)
            added = store.add_cells(
                slide.id, [NewCell(Box(10, 10, 60, 60), CellKind.WHITE, source=LabelSource.MODEL)] * cells_per_slide
            )
            store.set_predictions(
                [(c.id, classes[i % 5], {classes[i % 5]: float(rng.uniform(0.3, 1.0))}) for i, c in enumerate(added)],
                "m1",
            )
    return store


def test_model_of_5000_cells_lists_and_refilters_them_all(qtbot, tmp_path: Path) -> None:
    # How long this takes is measured in tests/benchmarks/bench_open_project.py.
    store = _big_store(tmp_path / "big.hemalabel", slides=10, cells_per_slide=500)
    model = GalleryModel(store)
    assert len(model.shown_cell_ids()) == 5000
    model.set_filter(GalleryFilter(slide_id=3))
    assert len(model.shown_cell_ids()) == 500
    model.set_filter(GalleryFilter())
    assert len(model.shown_cell_ids()) == 5000
    model.detach()
    store.close()


def test_end_pressed_before_the_layout_is_done_still_reaches_the_last_cell(qtbot, tmp_path: Path) -> None:
    # More rows than one layout batch: the last ones have no place on screen
    # until later turns of the event loop, and the scroll must wait for them.
    store = _big_store(tmp_path / "big.hemalabel", slides=2, cells_per_slide=LAYOUT_BATCH)
    widget = CellGallery(store, on_open_cell=lambda _cell_id: None)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    view = widget.view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_End)
    model = widget.model
    last = model.index(row_of(model, model.shown_cell_ids()[-1]), 0)
    assert last.row() > LAYOUT_BATCH
    assert view.currentIndex() == last

    def last_cell_on_screen() -> bool:
        return view.viewport().rect().intersects(view.visualRect(last))

    qtbot.waitUntil(last_cell_on_screen, timeout=10_000)
    widget.shutdown()
    store.close()


def test_arrows_tab_and_home_step_over_headers(qtbot, gallery: CellGallery) -> None:
    model = gallery.model
    unidentified = model.cell_rows_in_group(header_row(model, "unidentified"))
    gallery.view.set_current_row(unidentified[-1])
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Tab):
        gallery.view.set_current_row(unidentified[-1])
        qtbot.keyClick(gallery.view, key)
        assert model.group_at(gallery.view.currentIndex().row()) == "neutrophil"
        assert not model.is_header(gallery.view.currentIndex().row())
    qtbot.keyClick(gallery.view, Qt.Key.Key_End)
    qtbot.keyClick(gallery.view, Qt.Key.Key_Home)
    assert gallery.view.currentIndex().row() == unidentified[0]
    assert gallery.view.verticalScrollBar().value() == 0  # the group's header is in view


def test_tab_steps_cells_and_ctrl_tab_leaves_the_gallery(qtbot, gallery: CellGallery, monkeypatch) -> None:
    left: list[bool] = []

    def focus_next_prev_child(_view: QListView, forward: bool) -> bool:
        left.append(forward)
        return True

    monkeypatch.setattr(QListView, "focusNextPrevChild", focus_next_prev_child)
    row = gallery.view.currentIndex().row()
    qtbot.keyClick(gallery.view, Qt.Key.Key_Tab)
    assert gallery.view.currentIndex().row() > row and left == []
    row = gallery.view.currentIndex().row()
    qtbot.keyClick(gallery.view, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert gallery.view.currentIndex().row() == row and left == [True]


def test_a_confirmation_repaints_rows_without_laying_out_the_gallery_again(qtbot, tmp_path: Path, monkeypatch) -> None:
    """With 50,000 cells on show a reset, or QListView's own reaction to a
    data change, lays out every row again (0.35-0.6 s a key), and grouping
    the cells again takes 60 ms; a confirmation moves no row, so it only
    repaints what is on screen."""
    from app.gui.gallery.delegate import GalleryDelegate

    store = _big_store(tmp_path / "big.hemalabel", slides=2, cells_per_slide=300)
    gallery = CellGallery(store, on_open_cell=lambda _cell_id: None)
    qtbot.addWidget(gallery)
    gallery.resize(900, 600)
    gallery.show()
    model = gallery.model
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    sizes: list[int] = []
    real_size_hint = GalleryDelegate.sizeHint

    def size_hint(delegate: GalleryDelegate, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        sizes.append(index.row())
        return real_size_hint(delegate, option, index)

    monkeypatch.setattr(GalleryDelegate, "sizeHint", size_hint)
    regroupings: list[int] = []
    real_build_rows = GalleryModel._build_rows

    def build_rows(gallery_model: GalleryModel) -> _Rows:
        regroupings.append(1)
        return real_build_rows(gallery_model)

    monkeypatch.setattr(GalleryModel, "_build_rows", build_rows)
    neutrophils = model.cell_rows_in_group(header_row(model, "neutrophil"))
    first = cell_id_at(model, neutrophils[0])
    gallery.select_cells([first])
    qtbot.wait(20)
    sizes.clear()
    qtbot.keyClick(gallery.view, Qt.Key.Key_Space)  # the slide's first edit: the slide changes too
    qtbot.wait(20)
    assert store.cell(first).reviewed and resets == [] and regroupings == []
    assert gallery.current_cell_id() != first  # moved on to the next cell to review
    assert len(sizes) < model.rowCount() / 4  # the tiles on screen, not every row
    header = model.data(model.index(header_row(model, "neutrophil"), 0), Role.HEADER)
    assert isinstance(header, GroupHeader)
    assert header.unreviewed == len(neutrophils) - 1  # the header's count was mended
    qtbot.keyClick(gallery.view, Qt.Key.Key_4)  # a class key moves the cell: the rows are made again
    assert resets == [1] and regroupings == [1]
    gallery.shutdown()
    store.close()


@pytest.mark.parametrize(
    "wanted",
    [GalleryFilter(), GalleryFilter(slide_id=1), GalleryFilter(class_name="neutrophil"),
     GalleryFilter(unreviewed_only=True), GalleryFilter(confidence_below=0.8)],
    ids=["all", "slide", "class", "unreviewed", "confidence"],
)
def test_rows_after_any_edit_are_those_a_full_regrouping_gives(
    qtbot, gallery: CellGallery, review_store: ProjectStore, wanted: GalleryFilter
) -> None:
    """Edits that move no row mend the rows in place; whatever the edit and
    the filter, the rows must be what grouping every cell again gives."""
    model = gallery.model
    model.set_filter(wanted)
    rng = np.random.default_rng(7)
    classes = ["neutrophil", "lymphocyte", "monocyte", "unidentified"]
    for step in range(40):
        cells = review_store.cells()
        chosen = [int(i) for i in rng.choice([c.id for c in cells], size=int(rng.integers(1, 3)), replace=False)]
        edit = step % 6
        if edit in (0, 1):
            review_store.confirm([i for i in chosen if review_store.cell(i).label != "unidentified"] or chosen[:0])
        elif edit == 2:
            name = str(rng.choice(classes))  # a class is only for the cells it fits: the store refuses a red one
            review_store.set_label([i for i in chosen if review_store.cell(i).kind is CellKind.WHITE], name)
        elif edit == 3:
            review_store.set_kind(chosen, CellKind.WHITE if rng.random() < 0.7 else CellKind.RED)
        elif edit == 4:
            review_store.undo()
        else:
            review_store.redo()
        assert model._rows == model._build_rows(), f"after edit {edit} at step {step}"



def test_a_gallery_made_on_one_slide_reads_the_others_when_first_shown(qtbot, review_store: ProjectStore) -> None:
    """A 500-slide project's 50,000 white cells took 0.5 s to read when the
    gallery first showed one slide of them."""
    widget = CellGallery(review_store, slide_id=1)
    qtbot.addWidget(widget)
    model = widget.model
    on_slide_2 = white_ids(review_store, 2)
    assert widget.slide_combo.currentData() == 1
    assert sorted(model.shown_cell_ids()) == sorted(white_ids(review_store, 1))
    assert all(model.cell(cell_id) is None for cell_id in on_slide_2)  # not read
    review_store.set_label([on_slide_2[0]], "monocyte")  # while slide 2 is not held
    review_store.confirm([white_ids(review_store, 1)[0]])
    review_store.remove_cells([on_slide_2[1]])
    widget.set_slide(2)
    assert model.shown_cell_ids() == [on_slide_2[0]]
    assert model.cell(on_slide_2[0]).label == "monocyte"
    review_store.undo()  # the deleted cell comes back on a slide now held
    assert sorted(model.shown_cell_ids()) == sorted(on_slide_2)
    widget.set_slide(None)
    fresh = GalleryModel(review_store)
    assert model._rows == fresh._rows and model._cells == fresh._cells
    fresh.detach()
    widget.shutdown()


def test_many_changed_cells_are_read_again_only_on_the_slides_held(qtbot, review_store: ProjectStore,
                                                                   monkeypatch) -> None:
    from app.gui.gallery import model as gallery_model

    monkeypatch.setattr(gallery_model, "RELOAD_ALL_ABOVE", 0)  # any change is "many"
    model = GalleryModel(review_store, slide_id=1)
    review_store.set_label(white_ids(review_store, 1)[:2], "basophil")
    assert [model.cell(i).label for i in white_ids(review_store, 1)[:2]] == ["basophil", "basophil"]
    assert all(model.cell(cell_id) is None for cell_id in white_ids(review_store, 2))
    model.set_filter(GalleryFilter())
    review_store.confirm(white_ids(review_store, 2))
    assert all(model.cell(cell_id).reviewed for cell_id in white_ids(review_store, 2))
    assert model._rows == model._build_rows()
    model.detach()


def test_a_header_in_a_narrow_gallery_shortens_its_counts_to_the_room_left(qapp) -> None:
    from PySide6.QtGui import QFont, QFontMetrics

    from app.gui.gallery.delegate import header_detail
    from app.gui.gallery.model import GroupHeader

    metrics = QFontMetrics(QFont())
    empty = GroupHeader("basophil", "Basophil", "3", "#800080", shown=0, unreviewed=0)
    busy = GroupHeader("neutrophil", "Neutrophil", "1", "#0000ff", shown=12, unreviewed=3)
    assert header_detail(empty, 2000, metrics) == "no cells (drop here to move cells to this class)"
    assert header_detail(busy, 2000, metrics) == "12 cells  ·  3 to review"
    for room in (200, 90, 40, 0):
        for header in (empty, busy):
            text = header_detail(header, room, metrics)
            assert metrics.horizontalAdvance(text) <= room, (room, text)  # never drawn over the class name
    assert header_detail(empty, 90, metrics) == "no cells"


def _type(qtbot, keys: list[Qt.Key | str], modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Each key to whichever widget has the focus then, as a keyboard does."""
    from PySide6.QtWidgets import QApplication

    for key in keys:
        qtbot.keyClick(QApplication.focusWidget(), key, modifier)


def test_every_filter_is_reached_from_the_keyboard_and_gives_the_keys_back(
    qtbot, gallery: CellGallery, review_store: ProjectStore
) -> None:
    gallery.activateWindow()
    gallery.view.setFocus()
    qtbot.waitUntil(gallery.view.hasFocus)
    _type(qtbot, [Qt.Key.Key_U], Qt.KeyboardModifier.AltModifier)
    assert gallery.model.filter.unreviewed_only and gallery.view.hasFocus()
    _type(qtbot, [Qt.Key.Key_U], Qt.KeyboardModifier.AltModifier)
    _type(qtbot, [Qt.Key.Key_S], Qt.KeyboardModifier.AltModifier)
    assert gallery.slide_combo.hasFocus()
    _type(qtbot, [Qt.Key.Key_Down])  # All slides -> the first slide
    assert gallery.model.filter.slide_id == review_store.slides()[0].id and gallery.view.hasFocus()
    _type(qtbot, [Qt.Key.Key_C], Qt.KeyboardModifier.AltModifier)
    assert gallery.class_combo.hasFocus()
    _type(qtbot, [Qt.Key.Key_Down])
    assert gallery.model.filter.class_name is not None and gallery.view.hasFocus()


@pytest.mark.parametrize("width", [900, 360], ids=["one row", "two rows"])
def test_a_confidence_typed_digit_by_digit_never_reaches_the_tiles_as_class_keys(
    qtbot, gallery: CellGallery, review_store: ProjectStore, width: int
) -> None:
    """Typing 85 applied the filter at "8", gave the keys back to the tiles,
    and the "5" set the current cell's class.  In a narrow gallery the box
    was hidden behind a tool bar's » button and could not take the keys."""
    gallery.resize(width, 600)
    qtbot.waitUntil(gallery.confidence_spin.isVisible)
    labels = {cell.id: cell.label for cell in review_store.cells()}
    gallery.activateWindow()
    gallery.view.setFocus()
    qtbot.waitUntil(gallery.view.hasFocus)
    _type(qtbot, [Qt.Key.Key_B], Qt.KeyboardModifier.AltModifier)  # Confidence below: on, the box has the keys
    assert gallery.confidence_check.isChecked() and gallery.confidence_spin.hasFocus()
    _type(qtbot, [Qt.Key.Key_8, Qt.Key.Key_5])
    assert gallery.confidence_spin.hasFocus() and gallery.model.filter.confidence_below == 0.80  # not yet
    _type(qtbot, [Qt.Key.Key_Return])
    assert gallery.model.filter.confidence_below == 0.85 and gallery.view.hasFocus()
    assert {cell.id: cell.label for cell in review_store.cells()} == labels


def test_a_read_only_gallery_follows_edits_saved_elsewhere_on_the_slides_it_holds(
    qtbot, review_store: ProjectStore, monkeypatch
) -> None:
    """Another window edits the project; this one, read-only, reloads what it
    holds (one slide) and reads the rest when it is first shown."""
    from app.gui import session as session_module

    monkeypatch.setattr(session_module, "FOLLOW_INTERVAL_MS", 50)
    path = review_store.path
    with ProjectStore.open(path, read_only=True) as reader:
        model = GalleryModel(reader, slide_id=1)
        first, other = white_ids(review_store, 1)[0], white_ids(review_store, 2)[0]
        review_store.set_label([first], "basophil")
        review_store.set_label([other], "monocyte")
        qtbot.waitUntil(lambda: model.cell(first).label == "basophil", timeout=5000)
        assert model.cell(other) is None  # slide 2 is not held
        assert model._rows == model._build_rows()
        model.set_filter(GalleryFilter())
        assert model.cell(other).label == "monocyte"
        fresh = GalleryModel(reader)
        assert model._rows == fresh._rows and model._cells == fresh._cells
        fresh.detach()
        model.detach()
