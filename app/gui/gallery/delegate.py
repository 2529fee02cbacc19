"""Paints gallery tiles (thumbnail, class colour, confidence, review state)
and the group headers that span the view's width."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.gui.gallery.model import GroupHeader, Role
from core.schema import Cell, LabelSource
from core.taxonomy import UNIDENTIFIED

HEADER_HEIGHT = 30
CAPTION_HEIGHT = 18
PADDING = 4

_TEXT = QColor("#1d2733")
_MUTED = QColor("#5f6b7a")
_REVIEWED = QColor("#1e8e3e")
_PLACEHOLDER = QColor("#e4e8ee")
_SELECTED_FILL = QColor(38, 110, 205, 60)
_SELECTED_EDGE = QColor("#266ecd")
_DROP_FILL = QColor("#fff4cc")


class GalleryDelegate(QStyledItemDelegate):
    def __init__(self, view: QListView, thumb_size: int) -> None:
        super().__init__(view)
        self.view = view
        self.thumb_size = thumb_size
        self.drop_group: str | None = None  # the group a drag hovers over
        self._tile = QSize(thumb_size + 2 * PADDING, thumb_size + CAPTION_HEIGHT + 2 * PADDING)
        self._small = QFont()
        self._small.setPointSizeF(max(7.0, self._small.pointSizeF() - 1.0))
        self._bold = QFont()
        self._bold.setBold(True)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        if index.data(Role.IS_HEADER):
            # As wide as the viewport, so a header always starts its own row.
            return QSize(max(self._tile.width(), self.view.viewport().width() - 2 * self.view.spacing() - 2), HEADER_HEIGHT)
        return self._tile

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        try:
            header = index.data(Role.HEADER)
            if header is not None:
                self._paint_header(painter, option.rect, header)
            else:
                self._paint_cell(painter, option, index)
        finally:
            painter.restore()

    # ------------------------------------------------------------ headers
    def _paint_header(self, painter: QPainter, rect: QRect, header: GroupHeader) -> None:
        if header.class_name == self.drop_group:
            painter.fillRect(rect, _DROP_FILL)
        colour = QColor(header.colour)
        swatch = QRect(rect.left() + 2, rect.top() + 8, 14, 14)
        painter.fillRect(swatch, colour)
        painter.setPen(_TEXT)
        painter.setFont(self._bold)
        key = f"[{header.key}]  " if header.key else ""
        text_rect = rect.adjusted(24, 0, -8, -2)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{key}{header.display}")
        painter.setFont(self._small)
        painter.setPen(_MUTED)
        if header.shown == 0:
            detail = "no cells (drop here to move cells to this class)"
        else:
            detail = f"{header.shown} cell{'s' if header.shown != 1 else ''}"
            detail += f"  ·  {header.unreviewed} to review" if header.unreviewed else "  ·  all reviewed"
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, detail)
        painter.setPen(QPen(colour, 2))
        painter.drawLine(rect.left(), rect.bottom() - 1, rect.right(), rect.bottom() - 1)

    # ------------------------------------------------------------ cells
    def _paint_cell(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        cell: Cell = index.data(Role.CELL)
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        taxonomy = index.model().store.taxonomy  # type: ignore[attr-defined]
        group = index.data(Role.GROUP)
        colour = QColor(taxonomy.get(group).colour) if group in taxonomy else QColor("#808080")

        if selected:
            painter.fillRect(rect, _SELECTED_FILL)
        thumb = QRect(rect.left() + PADDING, rect.top() + PADDING, self.thumb_size, self.thumb_size)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if pixmap is not None:
            painter.drawPixmap(thumb, pixmap)
        else:
            painter.fillRect(thumb, _PLACEHOLDER)
            if index.data(Role.THUMBNAIL_FAILED):
                painter.setPen(_MUTED)
                painter.setFont(self._small)
                painter.drawText(thumb, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, "image\nmissing")
        # The class colour frames the crop, as on the slide canvas.
        painter.setPen(QPen(colour, 3 if not cell.reviewed else 2))
        painter.drawRect(thumb.adjusted(1, 1, -2, -2))
        if index.data(Role.SLIDE_LOCKED):
            painter.fillRect(QRect(thumb.right() - 15, thumb.top() + 3, 13, 13), QColor(0, 0, 0, 140))
            painter.setPen(Qt.GlobalColor.white)
            painter.setFont(self._small)
            painter.drawText(QRect(thumb.right() - 15, thumb.top() + 3, 13, 13), Qt.AlignmentFlag.AlignCenter, "L")

        caption = QRect(rect.left() + PADDING, thumb.bottom() + 2, self.thumb_size, CAPTION_HEIGHT)
        painter.setFont(self._small)
        painter.setPen(_TEXT)
        painter.drawText(caption, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self._caption(cell, taxonomy))
        if cell.reviewed:
            painter.setPen(_REVIEWED)
            mark = "✓ changed" if self._changed(cell) else "✓"
            painter.drawText(caption, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, mark)

        if selected:
            painter.setPen(QPen(_SELECTED_EDGE, 2))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
        elif option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(_SELECTED_EDGE, 1, Qt.PenStyle.DashLine))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))

    @staticmethod
    def _caption(cell: Cell, taxonomy) -> str:  # noqa: ANN001
        if not cell.probabilities:
            return "manual" if cell.source is not LabelSource.MODEL else ""
        if cell.label in (None, UNIDENTIFIED) or cell.source is LabelSource.HUMAN:
            # What the model thought, so the technician sees how close it was.
            name, probability = cell.top_classes(1)[0]
            short = taxonomy.get(name).display.split(" ")[0][:6] if name in taxonomy else name[:6]
            return f"{short}? {probability:.0%}" if cell.label != name else f"{probability:.0%}"
        return f"{cell.probabilities.get(cell.label, 0.0):.0%}"

    @staticmethod
    def _changed(cell: Cell) -> bool:
        if not cell.probabilities or cell.label is None:
            return False
        return cell.top_classes(1)[0][0] != cell.label
