"""Paints gallery tiles (thumbnail, class colour, confidence, review state)
and the group headers that span the view's width."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPolygon
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.gui.gallery.model import SUSPECTED_BLASTS, GroupHeader, Tile
from app.gui.presentation import BLAST_COLOUR, suspected_blast
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
# Enum arithmetic is slow in Python: a screen of tiles would pay for it ~70 times.
_LEFT = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
_RIGHT = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
_CENTRE_WRAP = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
_CENTRE = Qt.AlignmentFlag.AlignCenter
_SELECTED = QStyle.StateFlag.State_Selected
_HAS_FOCUS = QStyle.StateFlag.State_HasFocus


def header_detail(header: GroupHeader, room: int, metrics: QFontMetrics) -> str:
    """A group header's counts in at most `room` pixels: the long form, a
    short one, or the short one cut off with an ellipsis ("" if no room)."""
    if header.shown == 0:
        forms = ["no cells (drop here to move cells to this class)", "no cells"]
    else:
        count = f"{header.shown} cell{'s' if header.shown != 1 else ''}"
        if header.class_name == SUSPECTED_BLASTS:
            state = "confirm (Alt+L) or dismiss (Alt+D) each"
        elif header.class_name == UNIDENTIFIED:
            # Every cell of this group counts as Unidentified (group_of is
            # counts_as): reviewed or not, each still needs a class before
            # the slide can be signed off, so none is "reviewed" here.
            state = "need a class" if header.shown != 1 else "needs a class"
        else:
            state = f"{header.unreviewed} to review" if header.unreviewed else "all reviewed"
        forms = [f"{count}  ·  {state}", f"{header.shown}  ·  {state}"]
    fitting = next((text for text in forms if metrics.horizontalAdvance(text) <= room), None)
    return fitting if fitting is not None else metrics.elidedText(forms[-1], Qt.TextElideMode.ElideRight, max(room, 0))


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
        self._colours: dict[str, QColor] = {}
        self._metrics = QFontMetrics(self._small)
        self._bold_metrics = QFontMetrics(self._bold)
        self._tick_width = self._metrics.horizontalAdvance(" ✓") + 2

    def set_thumb_size(self, thumb_size: int) -> None:
        """Tiles of another size (the gallery's tile zoom); the view lays out again."""
        self.thumb_size = thumb_size
        self._tile = QSize(thumb_size + 2 * PADDING, thumb_size + CAPTION_HEIGHT + 2 * PADDING)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        if index.model().is_header(index.row()):  # type: ignore[attr-defined]
            # As wide as the viewport, so a header always starts its own row.
            return QSize(
                max(self._tile.width(), self.view.viewport().width() - 2 * self.view.spacing() - 2), HEADER_HEIGHT
            )
        return self._tile

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        painter.save()
        try:
            entry = index.model().entry(index.row())  # type: ignore[attr-defined]
            if isinstance(entry, GroupHeader):
                self._paint_header(painter, option.rect, entry)  # type: ignore[attr-defined]  # PySide6's stubs omit QStyleOption's fields
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
        title = self._bold_metrics.elidedText(f"{key}{header.display}", Qt.TextElideMode.ElideRight, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, title)
        # The counts get what the title leaves, in a shorter form if need be:
        # in a narrow gallery they were drawn over the class name.
        room = text_rect.width() - self._bold_metrics.horizontalAdvance(title) - 16
        painter.setFont(self._small)
        painter.setPen(_MUTED)
        detail = header_detail(header, room, self._metrics)
        if detail:
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, detail)
        painter.setPen(QPen(colour, 2))
        painter.drawLine(rect.left(), rect.bottom() - 1, rect.right(), rect.bottom() - 1)

    # ------------------------------------------------------------ cells
    def _colour(self, name: str, taxonomy) -> QColor:  # noqa: ANN001
        colour = self._colours.get(name)
        if colour is None:
            colour = self._colours[name] = QColor(taxonomy.get(name).colour if name in taxonomy else "#808080")
        return colour

    def _paint_cell(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        model = index.model()
        tile: Tile = model.entry(index.row())  # type: ignore[attr-defined]
        cell = tile.cell
        rect = option.rect  # type: ignore[attr-defined]  # PySide6's stubs omit QStyleOption's fields
        state = option.state  # type: ignore[attr-defined]  # PySide6's stubs omit QStyleOption's fields
        selected = bool(state & _SELECTED)
        colour = self._colour(tile.group, model.store.taxonomy)  # type: ignore[attr-defined]

        if selected:
            painter.fillRect(rect, _SELECTED_FILL)
        thumb = QRect(rect.left() + PADDING, rect.top() + PADDING, self.thumb_size, self.thumb_size)
        thumbnails = model.thumbnails  # type: ignore[attr-defined]
        pixmap = thumbnails.pixmap(cell) if thumbnails is not None else None
        if pixmap is not None:
            painter.drawPixmap(thumb, pixmap)
        else:
            painter.fillRect(thumb, _PLACEHOLDER)
            if thumbnails is not None and thumbnails.failed(cell):
                painter.setPen(_MUTED)
                painter.setFont(self._small)
                painter.drawText(thumb, _CENTRE_WRAP, "image\nmissing")
        # The class colour frames the crop, as on the slide canvas.
        painter.setPen(QPen(colour, 3 if not cell.reviewed else 2))
        painter.drawRect(thumb.adjusted(1, 1, -2, -2))
        if model.slide_locked(cell.slide_id):  # type: ignore[attr-defined]
            _paint_padlock(painter, thumb.right() - 16, thumb.top() + 4)
        if suspected_blast(cell):
            _paint_blast_mark(painter, thumb)

        caption = QRect(rect.left() + PADDING, thumb.bottom() + 2, self.thumb_size, CAPTION_HEIGHT)
        painter.setFont(self._small)
        painter.setPen(_TEXT)
        text = tile.caption
        if cell.reviewed:
            painter.setPen(_REVIEWED)
            painter.drawText(caption, _RIGHT, "✓")
            painter.setPen(_TEXT)
            text = self._metrics.elidedText(text, Qt.TextElideMode.ElideRight, caption.width() - self._tick_width)
        painter.drawText(caption, _LEFT, text)

        if selected:
            painter.setPen(QPen(_SELECTED_EDGE, 2))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
        elif state & _HAS_FOCUS:
            painter.setPen(QPen(_SELECTED_EDGE, 1, Qt.PenStyle.DashLine))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))


def _paint_blast_mark(painter: QPainter, thumb: QRect) -> None:
    """A red corner at the tile's top left, "B?" on it: an undecided flag of the lymphoid screen."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(BLAST_COLOUR))
    corner = QPolygon([thumb.topLeft(), QPoint(thumb.left() + 26, thumb.top()), QPoint(thumb.left(), thumb.top() + 26)])
    painter.drawPolygon(corner)
    painter.setPen(Qt.GlobalColor.white)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPointSizeF(7.0)
    painter.setFont(font)
    painter.drawText(QRect(thumb.left() + 1, thumb.top(), 16, 12), _CENTRE, "B?")
    painter.restore()


def _paint_padlock(painter: QPainter, x: int, y: int) -> None:
    """A small padlock: the cell's slide is signed off and read-only."""
    painter.save()  # the brush set here must not fill the selection frame drawn later
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(QColor(0, 0, 0, 150))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(QRect(x, y, 14, 15), 3, 3)
    painter.setPen(QPen(Qt.GlobalColor.white, 1.5))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawArc(QRect(x + 4, y + 2, 6, 7), 0, 180 * 16)
    painter.setBrush(Qt.GlobalColor.white)
    painter.drawRect(QRect(x + 3, y + 7, 8, 5))
    painter.restore()
