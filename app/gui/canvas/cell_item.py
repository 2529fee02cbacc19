"""One cell box on the canvas: coloured by class, dashed while it is an
unreviewed model proposal, with a name-and-confidence tag and, when
selected, resize handles.  The item only draws; the view handles the mouse
and the controller writes to the store."""

from __future__ import annotations

import functools

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.gui.presentation import BLAST_COLOUR, CellLook

HANDLE_PX = 8.0  # on screen, whatever the zoom
MIN_TAGGED_BOX_PX = 28.0  # on screen: a box smaller than this shows its tag only when selected
# Handle names, clockwise from the top-left corner; each says which edges it moves.
HANDLES: dict[str, tuple[bool, bool, bool, bool]] = {  # left, top, right, bottom
    "tl": (True, True, False, False),
    "t": (False, True, False, False),
    "tr": (False, True, True, False),
    "r": (False, False, True, False),
    "br": (False, False, True, True),
    "b": (False, False, False, True),
    "bl": (True, False, False, True),
    "l": (True, False, False, False),
}


def handle_points(rect: QRectF) -> dict[str, QPointF]:
    cx, cy = rect.center().x(), rect.center().y()
    return {
        "tl": rect.topLeft(),
        "t": QPointF(cx, rect.top()),
        "tr": rect.topRight(),
        "r": QPointF(rect.right(), cy),
        "br": rect.bottomRight(),
        "b": QPointF(cx, rect.bottom()),
        "bl": rect.bottomLeft(),
        "l": QPointF(rect.left(), cy),
    }


class TagItem(QGraphicsItem):
    """The class name and confidence above a box, the same size at any zoom."""

    _font: QFont | None = None

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._text = ""
        self._colour = QColor("white")
        if TagItem._font is None:
            TagItem._font = QFont()
            TagItem._font.setPointSizeF(8.5)
            TagItem._font.setBold(True)
        self._font_of_tag: QFont = TagItem._font
        self._metrics = QFontMetricsF(self._font_of_tag)
        self._rect = QRectF()

    def set_text(self, text: str, colour: QColor) -> None:
        self.prepareGeometryChange()
        self._text = text
        self._colour = colour
        width = self._metrics.horizontalAdvance(text) + 8
        height = self._metrics.height() + 2
        self._rect = QRectF(-1, -height - 1, width, height)
        self.setVisible(bool(text))
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        box = self.parentItem()
        if isinstance(box, CellItem) and not box.tag_readable():
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        background = QColor(self._colour)
        background.setAlpha(225)
        painter.setBrush(background)
        painter.drawRoundedRect(self._rect, 3, 3)
        painter.setFont(self._font_of_tag)
        painter.setPen(QColor("#111111") if self._colour.lightnessF() > 0.6 else QColor("white"))
        painter.drawText(self._rect.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, self._text)


class CellItem(QGraphicsItem):
    """A cell's box.  `view_scale` (screen pixels per image pixel) is shared by
    all items so handles and the hit margin stay a fixed size on screen."""

    view_scale = 1.0

    def __init__(self, cell_id: int, rect: QRectF, look: CellLook) -> None:
        super().__init__()
        self.cell_id = cell_id
        self._rect = QRectF(rect)
        self._look = look
        self.editable = True
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(False)
        self._tag: TagItem | None = None  # made only when shown: a scan can hold thousands of boxes
        self._bounds = QRectF()
        self._bounds_scale = -1.0  # the view_scale _bounds was made for; -1: none yet
        self.set_look(look)

    # ------------------------------------------------------------ state
    @property
    def rect(self) -> QRectF:
        return QRectF(self._rect)

    @property
    def look(self) -> CellLook:
        return self._look

    def set_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(rect).normalized()
        self._bounds_scale = -1.0
        if self._tag is not None:
            self._tag.setPos(self._rect.topLeft())
        self.update()

    def set_look(self, look: CellLook) -> None:
        self._look = look
        self._update_tag(self.isSelected())
        self.setZValue(2 if look.kind == "white" else 1 if look.kind == "platelet" else 0)
        self.update()

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self._update_tag(bool(value))
            self.setZValue(
                5 if value else 2 if self._look.kind == "white" else 1 if self._look.kind == "platelet" else 0
            )
        return super().itemChange(change, value)

    def _update_tag(self, selected: bool) -> None:
        text = self._look.tag if (self._look.show_tag or selected) else ""
        if not text and self._tag is None:
            return
        if self._tag is None:
            self._tag = TagItem(self)
        self._tag.set_text(text, QColor(self._look.colour))
        self._tag.setPos(self._rect.topLeft())

    @property
    def tag_text(self) -> str:
        return self._tag._text if self._tag is not None and self._tag.isVisible() else ""

    def tag_readable(self) -> bool:
        """Whether the tag is worth drawing: the box is selected, or big
        enough on screen.  Zoomed out on a scan, hundreds of tags wider than
        their boxes hid the image."""
        return (
            self.isSelected() or max(self._rect.width(), self._rect.height()) * CellItem.view_scale >= MIN_TAGGED_BOX_PX
        )

    def zoom_changed(self) -> None:
        """Call before view_scale changes (the bounds follow it)."""
        self.prepareGeometryChange()

    # ------------------------------------------------------------ geometry
    def _margin(self) -> float:
        return (HANDLE_PX + 2) / max(CellItem.view_scale, 1e-6)

    def boundingRect(self) -> QRectF:
        # Asked about four times per box per repaint (some 8,000 calls on a
        # scan), so kept until the box or the zoom changes.
        if self._bounds_scale != CellItem.view_scale:
            m = self._margin()
            self._bounds = self._rect.adjusted(-m, -m, m, m)
            self._bounds_scale = CellItem.view_scale
        return self._bounds

    def shape(self):  # noqa: ANN201 - QPainterPath
        from PySide6.QtGui import QPainterPath

        path = QPainterPath()
        path.addRect(self.boundingRect())
        return path

    def handle_at(self, scene_point: QPointF) -> str | None:
        """The handle under a point, if the item is selected and editable."""
        if not (self.isSelected() and self.editable):
            return None
        reach = (HANDLE_PX / 2 + 3) / max(CellItem.view_scale, 1e-6)
        for name, point in handle_points(self._rect).items():
            if abs(point.x() - scene_point.x()) <= reach and abs(point.y() - scene_point.y()) <= reach:
                return name
        return None

    def contains_point(self, scene_point: QPointF) -> bool:
        slack = 3 / max(CellItem.view_scale, 1e-6)
        return self._rect.adjusted(-slack, -slack, slack, slack).contains(scene_point)

    # ------------------------------------------------------------ drawing
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        look = self._look
        selected = self.isSelected()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if selected:
            fill = QColor(look.colour)
            fill.setAlpha(28)
            painter.fillRect(self._rect, fill)
        # A dark halo under the coloured line keeps boxes visible on pale and dark stains alike.
        painter.setPen(_pen(HALO_COLOUR, 4.0 if selected else 3.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self._rect)
        painter.setPen(_pen(look.colour, 2.5 if selected else look.line_width, look.proposal))
        painter.drawRect(self._rect)
        if look.suspected_blast:
            self._paint_blast_mark(painter)
        if selected and self.editable:
            colour = QColor(look.colour)
            side = HANDLE_PX / max(CellItem.view_scale, 1e-6)
            handle_pen = QPen(colour.darker(150), 1.0)
            handle_pen.setCosmetic(True)
            painter.setPen(handle_pen)
            painter.setBrush(QBrush(QColor("white")))
            for point in handle_points(self._rect).values():
                painter.drawRect(QRectF(point.x() - side / 2, point.y() - side / 2, side, side))

    def _paint_blast_mark(self, painter: QPainter) -> None:
        """A red corner triangle inside the box's top right, the same size at
        any zoom: an undecided flag of the lymphoid screen."""
        side = BLAST_MARK_PX / max(CellItem.view_scale, 1e-6)
        side = min(side, self._rect.width(), self._rect.height())
        corner = self._rect.topRight()
        triangle = QPolygonF([corner, QPointF(corner.x() - side, corner.y()), QPointF(corner.x(), corner.y() + side)])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(QColor(BLAST_COLOUR)))
        painter.drawPolygon(triangle)


BLAST_MARK_PX = 12

# Pens are made once per look: on a scan, a repaint draws about 2,000 boxes,
# and making two QPens and a QColor for each was a fifth of the paint.
HALO_COLOUR = "#6e000000"  # black at alpha 110 (#AARRGGBB)


@functools.cache
def _pen(colour: str, width: float, dashed: bool = False) -> QPen:
    pen = QPen(QColor(colour), width)
    pen.setCosmetic(True)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen
