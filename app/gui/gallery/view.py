"""The gallery's list view: tiles flow left to right and wrap, each group
header on its own row.  Keyboard-first: digits reclassify, Enter or Space
confirm, arrows and Tab move, a click on a header selects its group.  Drag
cells onto another group to move them to that class.

The view only turns gestures into signals; CellGallery decides what they do.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QPersistentModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from app.gui.gallery.delegate import GalleryDelegate
from app.gui.gallery.model import CELL_IDS_MIME, GalleryModel, Role

LAYOUT_BATCH = 2000  # rows laid out per turn of the event loop (no turn over 15 ms with 50,000 cells)
_CONFIRM_KEYS = {Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space}
# Ctrl with these: larger or smaller tiles ("=" is "+" unshifted on most keyboards).
# Keyed by int: QKeyEvent.key() gives an int, equal to its Qt.Key.
_ZOOM_KEYS: dict[int, int] = {Qt.Key.Key_Plus: 1, Qt.Key.Key_Equal: 1, Qt.Key.Key_Minus: -1, Qt.Key.Key_Underscore: -1}


class GalleryView(QListView):
    class_key_pressed = Signal(str)  # the taxonomy hotkey
    confirm_pressed = Signal()
    cells_dropped = Signal(object, str)  # list[int] cell ids, target class
    open_requested = Signal(int)  # cell id
    undo_pressed = Signal()
    redo_pressed = Signal()
    tile_zoom = Signal(int)  # +1 larger tiles, -1 smaller: Ctrl+wheel, Ctrl+= / Ctrl+-

    def __init__(self, model: GalleryModel, thumb_size: int = 96, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gallery_delegate = GalleryDelegate(self, thumb_size)
        self.setItemDelegate(self.gallery_delegate)
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSpacing(3)
        self.setUniformItemSizes(False)  # headers span the row; tiles do not
        self.setMovement(QListView.Movement.Static)
        # Rows are laid out a batch at a time between events: laying out
        # 50,000 tiles in one go held the window for half a second at the
        # gallery's first showing and after every change that moves a row.
        # A scroll to a row not laid out yet waits for it (scrollTo).
        self._pending_scroll: tuple[QPersistentModelIndex, QAbstractItemView.ScrollHint] | None = None
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(LAYOUT_BATCH)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setMouseTracking(True)
        self.setStyleSheet("QListView { background: #ffffff; border: 1px solid #c9d0d9; }")
        # The model last: each setting above would otherwise lay out every
        # row again (twice 0.45 s for 30,000 cells).
        self.setModel(model)

    def dataChanged(  # noqa: N802 (Qt's name)
        self,
        top_left: QModelIndex | QPersistentModelIndex,
        bottom_right: QModelIndex | QPersistentModelIndex,
        roles: Sequence[int] = (),
    ) -> None:
        # QListView lays out every row again on any data change, in case a
        # size changed: 0.35 s with 30,000 cells on show, at every thumbnail
        # that arrives and every key.  A tile's size never depends on its
        # data (headers follow the viewport's width), so only repaint: one
        # row through Qt, a span by repainting what is on screen (Qt's own
        # handling of a span still asks every row its size).
        if top_left.row() == bottom_right.row():
            QAbstractItemView.dataChanged(self, top_left, bottom_right, list(roles))
        else:
            self.viewport().update()

    def gallery_model(self) -> GalleryModel:
        return self.model()  # type: ignore[return-value]

    # ------------------------------------------------------------ keys
    def keyPressEvent(self, event: QKeyEvent) -> None:
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if modifiers & Qt.KeyboardModifier.ControlModifier and event.key() in _ZOOM_KEYS:
            self.tile_zoom.emit(_ZOOM_KEYS[event.key()])
            return
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo_pressed.emit()
            return
        if event.matches(QKeySequence.StandardKey.Redo) or (
            event.key() == Qt.Key.Key_Z
            and modifiers == (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        ):
            self.redo_pressed.emit()
            return
        if modifiers == Qt.KeyboardModifier.NoModifier:
            text = event.text()
            if len(text) == 1 and text.isdigit():
                self.class_key_pressed.emit(text)
                return
            if event.key() in _CONFIRM_KEYS:
                self.confirm_pressed.emit()
                return
            if event.key() == Qt.Key.Key_Tab:
                self.step_cell(+1)
                return
        if event.key() == Qt.Key.Key_Backtab and modifiers == Qt.KeyboardModifier.ShiftModifier:
            self.step_cell(-1)
            return
        if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and modifiers & Qt.KeyboardModifier.ControlModifier:
            # Ctrl+Tab leaves the gallery, so Tab moving between cells is no keyboard trap.
            super().focusNextPrevChild(event.key() == Qt.Key.Key_Tab)
            return
        if event.key() in (Qt.Key.Key_Home, Qt.Key.Key_End) and modifiers == Qt.KeyboardModifier.NoModifier:
            # Row 0 is a header, which Qt's own Home cannot make current.
            ids = self.gallery_model().shown_cell_ids()
            if ids:
                row = self.gallery_model().row_of(ids[0] if event.key() == Qt.Key.Key_Home else ids[-1])
                if row is not None:
                    self.set_current_row(row)
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            delta = event.angleDelta().y()
            if delta:
                self.tile_zoom.emit(1 if delta > 0 else -1)
            event.accept()
            return
        super().wheelEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: A002
        # Tab moves between cells here, as in a spreadsheet; it does not leave the gallery.
        return False

    def step_cell(self, step: int) -> None:
        """Make the next (or previous) cell current and the only one selected."""
        model = self.gallery_model()
        row = self.currentIndex().row() if self.currentIndex().isValid() else -1
        row += step
        while 0 <= row < model.rowCount() and model.is_header(row):
            row += step
        if 0 <= row < model.rowCount():
            self.set_current_row(row)

    def page(self, step: int) -> None:
        """Make the cell a screenful further on (step +1) or back (-1) current,
        as Page Down does in any grid; over a header it takes the next cell
        in that direction, and past either end the last or first cell."""
        model = self.gallery_model()
        ids = model.shown_cell_ids()
        if not ids:
            return
        current = self.currentIndex()
        first = model.row_of(ids[0])
        if first is not None and (not current.isValid() or model.is_header(current.row())):
            self.set_current_row(first)
            return
        # The tile a screen height away in the same column; where that point
        # falls between tiles or past either end, the nearest tile back
        # towards the current one (4 px steps: finer than the tile spacing).
        start = self.visualRect(current).center()
        height = self.viewport().height()
        row = -1
        for back in range(0, height, 4):
            target = self.indexAt(start + QPoint(0, step * (height - back)))
            if target.isValid():
                row = target.row()
                break
        while 0 <= row < model.rowCount() and model.is_header(row):
            row += step
        if not 0 <= row < model.rowCount() or row == current.row():
            end = model.row_of(ids[-1] if step > 0 else ids[0])
            if end is None:
                return
            row = end
        self.set_current_row(row)

    def set_current_row(self, row: int, select: bool = True) -> None:
        index = self.model().index(row, 0)
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect if select else QItemSelectionModel.SelectionFlag.NoUpdate
        )
        self.selectionModel().setCurrentIndex(index, flags)
        self.scroll_to_row(row)

    def scroll_to_row(self, row: int) -> None:
        self.scrollTo(self.model().index(row, 0), QAbstractItemView.ScrollHint.EnsureVisible)

    def scrollTo(
        self,
        index: QModelIndex | QPersistentModelIndex,
        hint: QAbstractItemView.ScrollHint = QAbstractItemView.ScrollHint.EnsureVisible
    ) -> None:  # noqa: N802
        """As QListView's, but the first tile of a group brings its header into
        view, so the technician always sees which class a tile is in.  Qt calls
        this for its own delayed scrolls too.  A row that the batched layout
        has not reached yet has no place to scroll to: the scroll is made when
        the layout is done (updateGeometries), the latest request winning."""
        self._pending_scroll = None
        if index.isValid() and not self.visualRect(index).isValid():
            self._pending_scroll = (QPersistentModelIndex(index), hint)
            return
        super().scrollTo(index, hint)
        row = index.row()
        model = self.gallery_model()
        if hint == QAbstractItemView.ScrollHint.EnsureVisible and row > 0 and model.is_header(row - 1):
            header = self.visualRect(model.index(row - 1, 0))
            if header.top() < self.spacing():
                bar = self.verticalScrollBar()
                bar.setValue(bar.value() + header.top() - self.spacing())

    def updateGeometries(self) -> None:  # noqa: N802
        """Qt calls this when the batched layout has placed its last row."""
        super().updateGeometries()
        if self._pending_scroll is None:
            return
        index, hint = self._pending_scroll
        self._pending_scroll = None
        if index.isValid():  # a reset since drops it: whoever reset scrolls again
            self.scrollTo(self.model().index(index.row(), 0), hint)

    # ------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        if index.isValid() and index.data(Role.IS_HEADER) and event.button() == Qt.MouseButton.LeftButton:
            self.select_group(index.row(), add=bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        cell_id = index.data(Role.CELL_ID) if index.isValid() else None
        if cell_id is not None:
            self.open_requested.emit(int(cell_id))
            return
        super().mouseDoubleClickEvent(event)

    def select_group(self, header_row: int, add: bool = False) -> None:
        """Select every shown cell of a group (a click on its header)."""
        model = self.gallery_model()
        rows = model.cell_rows_in_group(header_row)
        if not rows:
            return
        selection = QItemSelection(model.index(rows[0], 0), model.index(rows[-1], 0))
        command = QItemSelectionModel.SelectionFlag.Select if add else QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.selectionModel().select(selection, command)
        self.selectionModel().setCurrentIndex(model.index(rows[0], 0), QItemSelectionModel.SelectionFlag.NoUpdate)

    # ------------------------------------------------------------ drop onto a group
    def group_at(self, pos: QPoint) -> str | None:
        """The class of the group under a point, headers and tiles alike; in the
        gap at the end of a row, the group of the tile to its left."""
        index = self.indexAt(pos)
        if not index.isValid():
            for dx in range(0, pos.x() + 1, 24):
                index = self.indexAt(QPoint(pos.x() - dx, pos.y()))
                if index.isValid():
                    break
        return self.gallery_model().group_at(index.row()) if index.isValid() else None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(CELL_IDS_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if not event.mimeData().hasFormat(CELL_IDS_MIME):
            event.ignore()
            return
        group = self.group_at(event.position().toPoint())
        if group != self.gallery_delegate.drop_group:
            self.gallery_delegate.drop_group = group
            self.viewport().update()
        if group is None:
            event.ignore()
        else:
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.gallery_delegate.drop_group = None
        self.viewport().update()
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.gallery_delegate.drop_group = None
        self.viewport().update()
        if not event.mimeData().hasFormat(CELL_IDS_MIME):
            event.ignore()
            return
        group = self.group_at(event.position().toPoint())
        raw = bytes(event.mimeData().data(CELL_IDS_MIME).data()).decode()
        ids = [int(part) for part in raw.split(",") if part]
        if group is None or not ids:
            event.ignore()
            return
        # Accept as a copy so the view does not try to remove the dragged rows:
        # the store decides and the model follows.
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.cells_dropped.emit(ids, group)

    def indexes_of(self, rows: list[int]) -> list[QModelIndex]:
        return [self.model().index(row, 0) for row in rows]
