"""CellGallery: the filter bar, the gallery view and what its gestures do.

Every decision goes through core.review, the door the canvas uses too, so
it is one undo step, worded and refused as on the canvas, and lands in the
correction queue the same way.  After a decision the next unreviewed cell
becomes current, so a review is one keystroke per cell: Space where the
model is right, a digit where it is not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.gallery.model import SUSPECTED_BLASTS, GalleryFilter, GalleryModel
from app.gui.gallery.thumbnails import ThumbnailProvider
from app.gui.gallery.view import GalleryView
from app.gui.review_actions import run_review, seen
from app.gui.session import ProjectSession
from app.gui.settings import app_qsettings
from core import review
from core.review import ReviewOutcome
from core.schema import CellKind
from core.store import ProjectStore, StoreError, StoreEvent, StoreEventKind

# Tile sizes the zoom steps through, in pixels of the crop: small enough to
# see a whole group, large enough to read granules.
TILE_SIZES = (56, 72, 96, 128, 160, 200, 256)
DEFAULT_TILE_SIZE = 96
SETTINGS_TILE_SIZE = "gallery/tile_size"


def remembered_tile_size() -> int:
    value = app_qsettings().value(SETTINGS_TILE_SIZE, DEFAULT_TILE_SIZE)
    if not isinstance(value, int | float | str):
        return DEFAULT_TILE_SIZE
    try:
        size = int(value)
    except ValueError:
        return DEFAULT_TILE_SIZE
    return size if size in TILE_SIZES else DEFAULT_TILE_SIZE


HINT = (
    "Digits reclassify  ·  Enter / Space confirm  ·  Tab, arrows move  ·  click a header to select its group  ·  "
    "drag onto a group to move  ·  double-click shows the cell on its slide  ·  Ctrl+Z undo  ·  "
    "Alt+S slide, Alt+C class, Alt+U unreviewed, Alt+B confidence filters, Alt+I teach first"
)


class CellGallery(QWidget):
    """Crops of every white cell, grouped by class.

    `project` is the window's ProjectSession (or a bare store, for the widget
    on its own).  `on_open_cell(cell_id)` is called on double-click (jump to
    the cell on its slide); `on_undo` / `on_redo` take Ctrl+Z / Ctrl+Shift+Z
    (the window passes its Undo and Redo actions, so the gallery and the
    canvas share one history step by step).  `slide_id`: the slide it shows
    first (None: every slide).  Signals: `current_cell_changed(int)` when the current cell
    changes, `slide_filter_changed(object)` (slide id or None) when the slide
    filter changes, `message(str)` for the status bar (refusals, hints)."""

    current_cell_changed = Signal(int)
    slide_filter_changed = Signal(object)
    message = Signal(str)
    informative_wanted = Signal()  # the order that teaches most was asked for: it needs the project's teacher

    def __init__(
        self,
        project: ProjectSession | ProjectStore,
        on_open_cell: Callable[[int], None] | None = None,
        parent: QWidget | None = None,
        thumb_size: int | None = None,
        *,
        on_undo: Callable[[], None] | None = None,
        on_redo: Callable[[], None] | None = None,
        slide_id: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = ProjectSession.of(project, self)
        self._own_session = self.session is not project
        self.store = self.session.store  # edits; reads go through the model's reader
        self.on_open_cell = on_open_cell
        self.on_undo = on_undo
        self.on_redo = on_redo
        if thumb_size is None:
            thumb_size = remembered_tile_size()
        self.thumbnails = ThumbnailProvider(self._slide_image, size=thumb_size, parent=self)
        self.model = GalleryModel(self.session, self.thumbnails, self, slide_id=slide_id)
        self.view = GalleryView(self.model, thumb_size, self)
        self._focus_after: int | None = None  # the cell to make current once the model has followed an edit
        self._kept_selection: list[int] = []
        self._kept_current: int | None = None
        self._kept_row = 0
        self._kept_scroll = 0

        self._build_filter_bar()
        self._sync_filter_bar()
        self.status = QLabel()
        self.status.setObjectName("galleryStatus")
        hint = QLabel(HINT)
        hint.setObjectName("galleryHint")
        hint.setStyleSheet("color: #5f6b7a;")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.view, 1)
        self.message_label = QLabel()
        self.message_label.setObjectName("galleryMessage")
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.setInterval(6000)
        self._message_timer.timeout.connect(self.message_label.clear)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status)
        bottom.addStretch(1)
        bottom.addWidget(self.message_label)
        layout.addLayout(bottom)
        layout.addWidget(hint)

        self.view.class_key_pressed.connect(self._on_class_key)
        self.view.confirm_pressed.connect(self.confirm_selected)
        self.view.cells_dropped.connect(self._on_drop)
        self.view.open_requested.connect(self._open_cell)
        self.view.undo_pressed.connect(self._undo)
        self.view.redo_pressed.connect(self._redo)
        self.view.tile_zoom.connect(self.zoom_tiles)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_status())
        self.model.about_to_rebuild.connect(self._keep_selection)
        self.model.rebuilt.connect(self._restore_selection)
        self.model.refreshed.connect(self._after_refresh)
        self.session.changed.connect(self._on_store_events)
        self.message.connect(self._show_message)
        self.setFocusProxy(self.view)
        self._select_first_unreviewed()
        self._update_status()

    # ------------------------------------------------------------ public API
    @property
    def slide_id(self) -> int | None:
        return self.model.filter.slide_id

    def set_slide(self, slide_id: int | None) -> None:
        """Show one slide's cells (None: every slide)."""
        index = self.slide_combo.findData(slide_id if slide_id is not None else -1)
        if index >= 0:
            self.slide_combo.setCurrentIndex(index)  # updates the model through the combo's signal

    def set_filter(self, gallery_filter: GalleryFilter) -> None:
        self.model.set_filter(gallery_filter)
        self._sync_filter_bar()

    def selected_cell_ids(self) -> list[int]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedIndexes())
        ids = [self.model.cell_id_at(row) for row in rows]
        return [cell_id for cell_id in ids if cell_id is not None]

    def current_cell_id(self) -> int | None:
        index = self.view.currentIndex()
        return self.model.cell_id_at(index.row()) if index.isValid() else None

    def select_cells(self, cell_ids: list[int], current: int | None = None) -> None:
        """Select cells by id (those shown); `current` (or the first) becomes current."""
        selection = self.view.selectionModel()
        selection.clearSelection()
        rows = [row for row in (self.model.row_of(cell_id) for cell_id in cell_ids) if row is not None]
        for row in rows:
            selection.select(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select)
        current_row = self.model.row_of(current) if current is not None else (rows[0] if rows else None)
        if current_row is not None:
            selection.setCurrentIndex(self.model.index(current_row, 0), QItemSelectionModel.SelectionFlag.NoUpdate)
            self.view.scroll_to_row(current_row)

    def reclassify_selected(self, class_name: str) -> bool:
        """Give the selected cells (or the current one) a class."""
        ids = self._targets()
        return self.reclassify(ids, class_name) if ids else False

    def reclassify(self, cell_ids: list[int], class_name: str) -> bool:
        """Give cells a class (core.review.set_class), then make the next
        unreviewed cell current."""
        return self._decide(review.set_class, cell_ids, class_name)

    def confirm_selected(self) -> bool:
        """Confirm the classes of the selected cells (or the current one)
        (core.review.confirm: Unidentified cells are left for a class)."""
        ids = self._targets()
        return self._decide(review.confirm, ids) if ids else False

    def decide_blast_selected(self, confirmed: bool) -> bool:
        """Confirm (or dismiss) the blast flag of the selected cells (or the current one)."""
        ids = self._targets()
        return self._decide(review.confirm_blast if confirmed else review.dismiss_blast, ids) if ids else False

    def set_kind_selected(self, kind: CellKind) -> bool:
        """Mark the selected cells (or the current one) as another kind: a
        white cell marked red leaves the gallery."""
        ids = self._targets()
        return (run_review(self.message.emit, review.set_kind, self.store, ids, kind, seen=self._seen(ids))
                is not None if ids else False)

    def delete_selected(self) -> bool:
        """Delete the boxes of the selected cells (or the current one)."""
        ids = self._targets()
        return (run_review(self.message.emit, review.delete, self.store, ids, seen=self._seen(ids))
                is not None if ids else False)

    def _decide(self, action: Callable[..., ReviewOutcome], cell_ids: list[int], *args: object) -> bool:
        """A decision on cells, after which the first unreviewed cell after
        them becomes current: a review is one keystroke per cell."""
        # Set before the edit: the window's session hands a GUI-thread edit on
        # at once, so the model rebuilds (and restores the focus) inside the call.
        self._focus_after = self._next_unreviewed_after(cell_ids)
        outcome = run_review(self.message.emit, action, self.store, cell_ids, *args, seen=self._seen(cell_ids))
        self._focus_after = None
        return outcome is not None

    def _seen(self, cell_ids: list[int]) -> dict[int, int]:
        """The cells' versions as the tiles show them: an action on one
        another station has changed since is refused."""
        return seen(self.model.cell(cell_id) for cell_id in cell_ids)

    @property
    def tile_size(self) -> int:
        return self.view.gallery_delegate.thumb_size

    def zoom_tiles(self, step: int) -> None:
        """Larger (step +1) or smaller (-1) tiles, within TILE_SIZES; the
        size is remembered for the next gallery.  The current cell stays in view."""
        sizes = TILE_SIZES
        here = min(range(len(sizes)), key=lambda i: abs(sizes[i] - self.tile_size))
        size = sizes[max(0, min(len(sizes) - 1, here + step))]
        if size == self.tile_size:
            return
        self.view.gallery_delegate.set_thumb_size(size)
        self.thumbnails.set_size(size)
        self.view.doItemsLayout()
        if self.view.currentIndex().isValid():
            self.view.scrollTo(self.view.currentIndex())
        app_qsettings().setValue(SETTINGS_TILE_SIZE, size)
        self.message.emit(f"Gallery tiles {size} px (Ctrl+wheel or Ctrl+= / Ctrl+- for larger or smaller)")

    def shutdown(self) -> None:
        """Stop listening and finish thumbnail work (before the store closes)."""
        with contextlib.suppress(RuntimeError, TypeError):  # already shut down
            self.session.changed.disconnect(self._on_store_events)
        self.model.detach()
        self.thumbnails.shutdown()
        if self._own_session:
            self.session.close()

    # ------------------------------------------------------------ filter bar
    def _build_filter_bar(self) -> None:
        # One row when there is room, the options on a second row when not:
        # in a row always, the filters held the window over 1,440 px wide, more
        # than a laptop's screen.  Nothing is ever hidden (behind a tool bar's
        # » button a filter cannot take the keys, and a confidence typed for
        # a hidden box reached the tiles as class keys).  The combos shrink to
        # a few letters; a slide's full path is its item's tooltip.
        self.filter_bar = QWidget()
        self.filter_bar.setObjectName("galleryFilters")
        rows = QVBoxLayout(self.filter_bar)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(4)
        self._filter_row = QHBoxLayout()
        self._filter_row.setSpacing(8)
        self._options_row = QHBoxLayout()
        rows.addLayout(self._filter_row)
        rows.addLayout(self._options_row)
        self.slide_combo = QComboBox()
        self.slide_combo.setMinimumContentsLength(8)
        self.slide_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._fill_slide_combo()
        self.class_combo = QComboBox()
        self.class_combo.setMinimumContentsLength(10)
        self.class_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.class_combo.addItem("All classes", "")
        # Next to All classes, as their group comes first: the flags still to decide.
        self.class_combo.addItem("Suspected blasts", SUSPECTED_BLASTS)
        self.class_combo.setItemData(1, "The cells whose blast flag nobody has decided yet",
                                     Qt.ItemDataRole.ToolTipRole)
        for item in self.store.taxonomy.classes:
            self.class_combo.addItem(f"{item.display}  [{item.key}]" if item.key else item.display, item.name)
        self.unreviewed_check = QCheckBox("Unreviewed only")
        self.confidence_check = QCheckBox("Confidence below")
        self.confidence_spin = QSpinBox()
        self.confidence_spin.setRange(1, 100)
        self.confidence_spin.setSuffix(" %")
        self.confidence_spin.setValue(80)
        self.confidence_spin.setEnabled(False)
        # A value is typed digit by digit: one change when Enter is pressed
        # (or the box is left), never one per digit.
        self.confidence_spin.setKeyboardTracking(False)
        self.informative_check = QCheckBox("Teach first")
        # Tab does not reach the filters (keys belong to the tiles); these
        # keys do, and choosing gives the keys back.  Shortcuts rather than
        # mnemonics: Qt turns mnemonics off on macOS.
        for widget in self._filter_widgets():
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for keys, reach in (
            ("Alt+S", self.slide_combo.setFocus),
            ("Alt+C", self.class_combo.setFocus),
            ("Alt+U", self.unreviewed_check.toggle),
            ("Alt+B", self.confidence_check.toggle),
            ("Alt+I", self.informative_check.toggle),
        ):
            shortcut = QShortcut(QKeySequence(keys), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(reach)
        self.slide_combo.setToolTip("The slide whose cells are shown (Alt+S, then arrows)")
        self.class_combo.setToolTip("The class whose cells are shown (Alt+C, then arrows)")
        self.unreviewed_check.setToolTip("Show only the cells nobody has reviewed (Alt+U)")
        self.confidence_check.setToolTip("Show only the cells the model was less sure of (Alt+B, type a value, Enter)")
        self.informative_check.setToolTip(
            "Most informative first: within each class, first the cells whose answer would teach the model most, "
            "the least certain and unlike any you have reviewed (Alt+I; needs Models > Learn From Each Decision)"
        )
        self._filter_row.addWidget(QLabel("Slide"))
        self._filter_row.addWidget(self.slide_combo, 2)
        self._filter_row.addWidget(QLabel("Class"))
        self._filter_row.addWidget(self.class_combo, 1)
        self.filter_options = QWidget()
        options = QHBoxLayout(self.filter_options)
        options.setContentsMargins(0, 0, 0, 0)
        options.setSpacing(8)
        for widget in (self.unreviewed_check, self.confidence_check, self.confidence_spin, self.informative_check):
            options.addWidget(widget)
        options.addStretch(1)
        self._filter_row.addWidget(self.filter_options)
        self.slide_combo.currentIndexChanged.connect(self._filters_changed)
        self.class_combo.currentIndexChanged.connect(self._filters_changed)
        self.unreviewed_check.toggled.connect(self._filters_changed)
        self.confidence_check.toggled.connect(self._filters_changed)
        self.confidence_spin.valueChanged.connect(self._filters_changed)
        self.confidence_check.toggled.connect(self._confidence_toggled)
        self.informative_check.toggled.connect(self._filters_changed)
        self.informative_check.toggled.connect(self._informative_toggled)
        self.confidence_spin.editingFinished.connect(self._confidence_entered)

    def _fill_slide_combo(self) -> None:
        current = self.slide_combo.currentData()
        self.slide_combo.blockSignals(True)
        self.slide_combo.clear()
        self.slide_combo.addItem("All slides", -1)
        for slide in self.model.slides():
            locked = "  (signed off)" if self.model.slide_locked(slide.id) else ""
            self.slide_combo.addItem(Path(slide.path).name + locked, slide.id)
            self.slide_combo.setItemData(self.slide_combo.count() - 1, slide.path, Qt.ItemDataRole.ToolTipRole)
        index = self.slide_combo.findData(current if current is not None else -1)
        self.slide_combo.setCurrentIndex(max(0, index))
        self.slide_combo.blockSignals(False)

    def _filters_width(self, minimum: bool) -> int:
        """The slide and class filters side by side, without the options
        (wherever they are): at their minimum or their natural widths."""
        row = self._filter_row
        items = [row.itemAt(i) for i in range(row.count()) if row.itemAt(i).widget() is not self.filter_options]
        widths = [(item.minimumSize() if minimum else item.sizeHint()).width() for item in items]
        return sum(widths) + row.spacing() * (len(widths) - 1)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """As narrow as the filters on two rows: with the options still on
        the first row (the gallery is wide), the layout's own minimum would
        keep the window from ever making it narrow enough to move them."""
        hint = super().minimumSizeHint()
        others = max(self.view.minimumSizeHint().width(), self.status.minimumSizeHint().width())
        margins = self.layout().contentsMargins()
        width = max(self._filters_width(minimum=True), self.filter_options.minimumSizeHint().width(), others)
        hint.setWidth(width + margins.left() + margins.right())
        return hint

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._place_filter_options()

    def _place_filter_options(self) -> None:
        """The options on the filters' row if all fits at its natural width,
        else on a row of their own."""
        needed = (
            self._filters_width(minimum=False) + self._filter_row.spacing() + self.filter_options.sizeHint().width()
        )
        margins = self.layout().contentsMargins()
        second_row = self.width() - margins.left() - margins.right() < needed
        target, other = (self._options_row, self._filter_row) if second_row else (self._filter_row, self._options_row)
        if target.indexOf(self.filter_options) < 0:
            other.removeWidget(self.filter_options)
            target.addWidget(self.filter_options)

    def _filter_widgets(self) -> tuple[QWidget, ...]:
        return (self.slide_combo, self.class_combo, self.unreviewed_check, self.confidence_check,
                self.confidence_spin, self.informative_check)

    def _sync_filter_bar(self) -> None:
        wanted = self.model.filter
        for widget in self._filter_widgets():
            widget.blockSignals(True)
        self.slide_combo.setCurrentIndex(
            max(0, self.slide_combo.findData(wanted.slide_id if wanted.slide_id is not None else -1))
        )
        self.class_combo.setCurrentIndex(max(0, self.class_combo.findData(wanted.class_name or "")))
        self.unreviewed_check.setChecked(wanted.unreviewed_only)
        self.confidence_check.setChecked(wanted.confidence_below is not None)
        self.confidence_spin.setEnabled(wanted.confidence_below is not None)
        if wanted.confidence_below is not None:
            self.confidence_spin.setValue(round(wanted.confidence_below * 100))
        self.informative_check.setChecked(wanted.informative_first)
        for widget in self._filter_widgets():
            widget.blockSignals(False)

    @Slot()
    def _filters_changed(self) -> None:
        slide = self.slide_combo.currentData()
        previous_slide = self.model.filter.slide_id
        self.confidence_spin.setEnabled(self.confidence_check.isChecked())
        self.model.set_filter(
            GalleryFilter(
                slide_id=None if slide in (None, -1) else int(slide),
                class_name=self.class_combo.currentData() or None,
                unreviewed_only=self.unreviewed_check.isChecked(),
                confidence_below=self.confidence_spin.value() / 100.0 if self.confidence_check.isChecked() else None,
                informative_first=self.informative_check.isChecked(),
            )
        )
        if self.model.filter.slide_id != previous_slide:
            self.slide_filter_changed.emit(self.model.filter.slide_id)
            self._select_first_unreviewed()
        if self._keys_here() and not self._typing_a_confidence():
            # Back to the tiles after a filter was chosen; never steal the keys
            # from the canvas when the window changes the slide, nor from the
            # confidence box while a value is typed: its next digit would
            # reach the tiles as a class key.
            self.view.setFocus()

    def _keys_here(self) -> bool:
        """Whether the keys are in this gallery (or nowhere) while it is on show."""
        focus = QApplication.focusWidget()
        return self.isVisible() and (focus is None or self.isAncestorOf(focus))

    def _typing_a_confidence(self) -> bool:
        focus = QApplication.focusWidget()
        return focus is not None and (focus is self.confidence_spin or self.confidence_spin.isAncestorOf(focus))

    @Slot(bool)
    def _informative_toggled(self, on: bool) -> None:
        if on:
            self.informative_wanted.emit()

    @Slot(bool)
    def _confidence_toggled(self, on: bool) -> None:
        if on and self._keys_here():
            self.confidence_spin.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.confidence_spin.selectAll()

    @Slot()
    def _confidence_entered(self) -> None:
        if self._typing_a_confidence():
            self.view.setFocus()  # Enter: the value is set, the keys go back to the tiles

    # ------------------------------------------------------------ gestures
    def _targets(self) -> list[int]:
        ids = self.selected_cell_ids()
        if not ids and (current := self.current_cell_id()) is not None:
            ids = [current]
        return ids

    @Slot(str)
    def _on_class_key(self, key: str) -> None:
        item = self.store.taxonomy.by_key(key)
        if item is None:
            self.message.emit(f"No class has the key {key}")
            return
        self.reclassify_selected(item.name)

    @Slot(object, str)
    def _on_drop(self, cell_ids: list[int], class_name: str) -> None:
        self.reclassify(cell_ids, class_name)

    @Slot(int)
    def _open_cell(self, cell_id: int) -> None:
        if self.on_open_cell is not None:
            self.on_open_cell(cell_id)

    def _undo(self) -> None:
        if self.on_undo is not None:
            self.on_undo()
            return
        self._apply(lambda: self.message.emit(f"Undid {self.store.undo() or 'nothing'}"))

    def _redo(self) -> None:
        if self.on_redo is not None:
            self.on_redo()
            return
        self._apply(lambda: self.message.emit(f"Redid {self.store.redo() or 'nothing'}"))

    def _apply(self, action: Callable[[], object]) -> bool:
        try:
            action()
        except StoreError as error:  # a signed-off slide, a read-only project: say why, change nothing
            self.message.emit(str(error))
            return False
        return True

    def _next_unreviewed_after(self, acted_on: list[int]) -> int | None:
        """The cell to look at next: the first unreviewed one after the cells
        just decided, in display order (wrapping), else the one right after."""
        order = self.model.shown_cell_ids()
        acted = set(acted_on)
        positions = [i for i, cell_id in enumerate(order) if cell_id in acted]
        if not positions:
            return None
        start = positions[-1] + 1
        candidates = order[start:] + order[:start]
        for cell_id in candidates:
            cell = self.model.cell(cell_id)
            if cell_id not in acted and cell is not None and not cell.reviewed:
                return cell_id
        return next((cell_id for cell_id in order[start:] if cell_id not in acted), None)

    def _select_first_unreviewed(self) -> None:
        order = self.model.shown_cell_ids()
        first = next((i for i in order if (c := self.model.cell(i)) is not None and not c.reviewed), None)
        if first is None and order:
            first = order[0]
        if first is not None:
            self.select_cells([first])

    # ------------------------------------------------------------ following the model
    @Slot()
    def _keep_selection(self) -> None:
        self._kept_selection = self.selected_cell_ids()
        self._kept_current = self.current_cell_id()
        self._kept_row = max(0, self.view.currentIndex().row())
        self._kept_scroll = self.view.verticalScrollBar().value()

    @Slot()
    def _restore_selection(self) -> None:
        self.view.verticalScrollBar().setValue(self._kept_scroll)
        if self._focus_after is not None and self.model.row_of(self._focus_after) is not None:
            self.select_cells([self._focus_after])
        else:
            kept = [i for i in self._kept_selection if self.model.row_of(i) is not None]
            if kept:
                current = self._kept_current if self._kept_current in kept else kept[0]
                self.select_cells(kept, current)
            elif self.model.rowCount():
                row = min(self._kept_row, self.model.rowCount() - 1)
                while row < self.model.rowCount() - 1 and self.model.is_header(row):
                    row += 1
                while row > 0 and self.model.is_header(row):
                    row -= 1
                if not self.model.is_header(row):
                    self.view.set_current_row(row)
        self._focus_after = None
        self._update_status()

    @Slot()
    def _after_refresh(self) -> None:
        """The rows stayed where they were (a confirmation): the selection is
        still right; only move on to the cell the edit asked for."""
        if self._focus_after is not None and self.model.row_of(self._focus_after) is not None:
            self.select_cells([self._focus_after])
        self._focus_after = None
        self._update_status()

    @Slot(object)
    def _on_store_events(self, events: list[StoreEvent]) -> None:
        if any(event.kind.about_a_slide or event.kind is StoreEventKind.RELOADED for event in events):
            self._fill_slide_combo()

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        cell_id = self.model.cell_id_at(current.row()) if current.isValid() else None
        if cell_id is not None:
            self.current_cell_changed.emit(cell_id)

    def _update_status(self) -> None:
        shown = self.model.shown_count()
        selected = len(self.view.selectionModel().selectedIndexes())
        self.status.setText(f"{shown} cell{'s' if shown != 1 else ''} shown  ·  {selected} selected")

    @Slot(str)
    def _show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self._message_timer.start()

    def _slide_image(self, slide_id: int) -> tuple[Path, tuple[int, int]]:
        reader = self.session.reader
        slide = reader.slide(slide_id)
        return reader.image_path(slide), (slide.width, slide.height)
