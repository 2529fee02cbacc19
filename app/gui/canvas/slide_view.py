"""The canvas widget: zoom to the cursor, pan, fit, and the mouse gestures
for selecting, drawing, moving and resizing boxes.  A gesture shows its
preview locally and reports once, when the mouse is released, so the
controller writes one store edit (one undo step) per drag."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsRectItem, QGraphicsScene, QGraphicsView, QLabel

from app.gui.canvas.cell_item import HANDLES, CellItem

_MIN_SCALE, _MAX_SCALE = 0.005, 40.0
_DRAG_START_PX = 3
MIN_BOX_PX = 3.0  # boxes smaller than this (image pixels) are a slip of the mouse


class SlideView(QGraphicsView):
    box_drawn = Signal(QRectF)
    box_edited = Signal(int, QRectF)  # cell id, new rect; once per drag
    selection_changed = Signal()
    zoom_changed = Signal(float)
    cursor_moved = Signal(float, float)
    cell_step = Signal(bool)  # Tab / Shift+Tab: True when backwards
    # Shift+arrow moves the selected box, Alt+arrow moves its right or bottom
    # edge: (dx, dy) in screen pixels, and whether it is a resize.
    box_nudged = Signal(int, int, bool)
    draw_mode_changed = Signal(bool)

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setObjectName("slideView")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor("#24282c"))
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.editable = True
        self._draw_mode = False
        self._gesture: str | None = None  # "pan", "draw", "move", "resize", "select"
        self._press_view = QPoint()
        self._press_scene = QPointF()
        self._target: CellItem | None = None
        self._handle: str | None = None
        self._start_rect = QRectF()
        self._rubber: QGraphicsRectItem | None = None
        self._space_down = False
        self._fitted = True
        self._overlay = ""
        # A corner note that stays put over the image (a child of the view,
        # not of its viewport, which scrolling moves): which kinds of box
        # are hidden, so an empty-looking slide is not taken for a bare one.
        self.corner_note = QLabel(self)
        self.corner_note.setObjectName("canvasCornerNote")
        self.corner_note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.corner_note.setStyleSheet(
            "QLabel { background: rgba(20, 24, 28, 200); color: #f3f5f7; padding: 3px 8px; border-radius: 4px; }"
        )
        self.corner_note.hide()
        self.scene().selectionChanged.connect(self.selection_changed)

    # ------------------------------------------------------------ placeholder text
    def set_overlay(self, text: str) -> None:
        """A message drawn over the canvas (image loading, missing, unreadable)."""
        self._overlay = text
        # A scrolled viewport is blitted, which would drag the message along.
        self.setViewportUpdateMode(
            QGraphicsView.ViewportUpdateMode.FullViewportUpdate
            if text
            else QGraphicsView.ViewportUpdateMode.SmartViewportUpdate
        )
        self.viewport().update()

    @property
    def overlay(self) -> str:
        return self._overlay

    def set_corner_note(self, text: str) -> None:
        """A short note in the canvas's top-left corner ("" hides it)."""
        self.corner_note.setText(text)
        self.corner_note.setVisible(bool(text))
        self._place_corner_note()

    def _place_corner_note(self) -> None:
        self.corner_note.adjustSize()
        origin = self.viewport().geometry().topLeft()
        self.corner_note.move(origin.x() + 8, origin.y() + 8)
        self.corner_note.raise_()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        if not self._overlay:
            return
        painter.save()
        painter.resetTransform()
        area = self.viewport().rect()
        metrics = painter.fontMetrics()
        box = metrics.boundingRect(area.adjusted(40, 0, -40, 0), Qt.TextFlag.TextWordWrap, self._overlay)
        box.moveCenter(area.center())
        frame = box.adjusted(-18, -12, 18, 12)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 24, 28, 215))
        painter.drawRoundedRect(frame, 6, 6)
        painter.setPen(QColor("#e8ecef"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._overlay)
        painter.restore()

    # ------------------------------------------------------------ zoom
    def scale_factor(self) -> float:
        return self.transform().m11()

    def _apply_zoom(self, factor: float) -> None:
        current = self.scale_factor()
        target = min(max(current * factor, _MIN_SCALE), _MAX_SCALE)
        if target == current:
            return
        self.scale(target / current, target / current)
        self._fitted = False
        self._zoom_updated()

    def _zoom_updated(self) -> None:
        # A box's bounds hold its handles, a fixed size on screen, so they
        # follow view_scale.  Qt is told of each box before the scale changes:
        # it takes an item out of its index by the bounds the item has when
        # told, and entries under the old bounds, left behind, made the next
        # paint after that box was deleted read freed memory.
        for item in self.scene().items():
            if isinstance(item, CellItem):
                item.zoom_changed()
        CellItem.view_scale = self.scale_factor()
        self.zoom_changed.emit(self.scale_factor())

    def zoom_in(self) -> None:
        self._zoom_about_centre(1.25)

    def zoom_out(self) -> None:
        self._zoom_about_centre(0.8)

    def _zoom_about_centre(self, factor: float) -> None:
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self._apply_zoom(factor)
        self.setTransformationAnchor(anchor)

    def zoom_actual(self) -> None:
        self._zoom_about_centre(1.0 / self.scale_factor())

    def fit(self) -> None:
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True
        self._zoom_updated()

    def centre_on_rect(self, rect: QRectF) -> None:
        """Bring a box into view, zooming in only if it would be tiny."""
        if rect.width() * self.scale_factor() < 24 and not rect.isEmpty():
            self.resetTransform()
            factor = min(_MAX_SCALE, 80 / max(rect.width(), rect.height(), 1.0))
            self.scale(factor, factor)
            self._fitted = False
            self._zoom_updated()
        self.ensureVisible(rect, 60, 60)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        self._place_corner_note()
        if self._fitted:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self._apply_zoom(1.0015**delta)  # zoom under the cursor (AnchorUnderMouse)
        event.accept()

    # ------------------------------------------------------------ modes
    @property
    def draw_mode(self) -> bool:
        return self._draw_mode

    def set_draw_mode(self, on: bool) -> None:
        on = on and self.editable
        if on == self._draw_mode:
            return
        self._draw_mode = on
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.draw_mode_changed.emit(on)

    # ------------------------------------------------------------ keys
    def event(self, event: QEvent) -> bool:
        # Tab belongs to cell navigation here, not to moving the focus away.
        if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress and event.key() in _TAB_KEYS:
            self.cell_step.emit(event.key() == Qt.Key.Key_Backtab)
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() in _STEP_KEYS:
            modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if modifiers == Qt.KeyboardModifier.NoModifier:
                # Arrows move between cells, like Tab (panning is the mouse's or Space's job).
                self.cell_step.emit(event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Up))
                return
            if modifiers in (Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.AltModifier):
                dx, dy = _ARROW_STEPS[event.key()]
                self.box_nudged.emit(dx, dy, modifiers == Qt.KeyboardModifier.AltModifier)
                return
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._draw_mode and self.editable
                and not self._gesture):
            self._draw_in_the_middle()
            return
        if event.key() == Qt.Key.Key_Escape:
            if self._gesture:
                self._cancel_gesture()
            elif self._draw_mode:
                self.set_draw_mode(False)
            else:
                self.scene().clearSelection()
            return
        super().keyPressEvent(event)

    def _draw_in_the_middle(self) -> None:
        """Draw mode's Enter: a box in the middle of what is on screen, a
        sixth of its shorter side, for Shift+arrows to move and Alt+arrows
        to size; drawing needs no mouse."""
        shown = self.mapToScene(self.viewport().rect()).boundingRect().intersected(self.sceneRect())
        side = max(float(MIN_BOX_PX), min(shown.width(), shown.height()) / 6)
        if shown.width() < side or shown.height() < side:
            return  # no image on screen
        centre = shown.center()
        self.box_drawn.emit(QRectF(centre.x() - side / 2, centre.y() - side / 2, side, side))

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.viewport().setCursor(Qt.CursorShape.CrossCursor if self._draw_mode else Qt.CursorShape.ArrowCursor)
            return
        super().keyReleaseEvent(event)

    # ------------------------------------------------------------ mouse
    def _cell_at(self, scene_point: QPointF) -> CellItem | None:
        """The smallest visible box under the point: nested cells stay reachable."""
        hits = [
            item
            for item in self.scene().items(scene_point)
            if isinstance(item, CellItem) and item.isVisible() and item.contains_point(scene_point)
        ]
        return min(hits, key=lambda item: item.rect.width() * item.rect.height()) if hits else None

    def _selected_with_handle(self, scene_point: QPointF) -> tuple[CellItem, str] | None:
        for item in self.scene().selectedItems():
            if isinstance(item, CellItem) and item.isVisible():
                handle = item.handle_at(scene_point)
                if handle:
                    return item, handle
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._press_view = event.position().toPoint()
        self._press_scene = self.mapToScene(self._press_view)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._gesture = "pan"
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if button == Qt.MouseButton.RightButton:
            # Right-click acts on the box under the cursor (the context menu follows).
            item = self._cell_at(self._press_scene)
            if item is not None and not item.isSelected():
                self.scene().clearSelection()
                item.setSelected(True)
            return
        if button != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        modifiers = event.modifiers()
        drawing = self.editable and (self._draw_mode or modifiers & Qt.KeyboardModifier.ShiftModifier)
        if drawing:
            self._gesture = "draw"
            return
        grabbed = self._selected_with_handle(self._press_scene) if self.editable else None
        if grabbed:
            self._target, self._handle = grabbed
            self._start_rect = self._target.rect
            self._gesture = "resize"
            return
        item = self._cell_at(self._press_scene)
        if item is None:
            if not modifiers & Qt.KeyboardModifier.ControlModifier:
                self.scene().clearSelection()
            self._gesture = "pan"
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            item.setSelected(not item.isSelected())
            self._gesture = None
            return
        if not item.isSelected():
            self.scene().clearSelection()
            item.setSelected(True)
        self._target = item
        self._start_rect = item.rect
        self._gesture = "select"  # becomes "move" once the mouse travels

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        view_point = event.position().toPoint()
        scene_point = self.mapToScene(view_point)
        self.cursor_moved.emit(scene_point.x(), scene_point.y())
        gesture = self._gesture
        if gesture is None:
            if self.editable and not self._draw_mode and not self._space_down:
                over_handle = self._selected_with_handle(scene_point)
                self.viewport().setCursor(
                    _HANDLE_CURSORS[over_handle[1]] if over_handle else Qt.CursorShape.ArrowCursor
                )
            return super().mouseMoveEvent(event)
        travelled = (view_point - self._press_view).manhattanLength()
        if gesture == "pan":
            delta = view_point - self._press_view
            self._press_view = view_point
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            self._fitted = False
        elif gesture == "draw":
            if self._rubber is None and travelled >= _DRAG_START_PX:
                self._rubber = QGraphicsRectItem()
                pen = QPen(QColor("#00e5ff"), 1.5, Qt.PenStyle.DashLine)
                pen.setCosmetic(True)
                self._rubber.setPen(pen)
                self._rubber.setBrush(QColor(0, 229, 255, 35))
                self._rubber.setZValue(100)
                self.scene().addItem(self._rubber)
            if self._rubber is not None:
                self._rubber.setRect(self._clamped(QRectF(self._press_scene, scene_point).normalized()))
        elif gesture == "select" and self.editable and travelled >= _DRAG_START_PX:
            self._gesture = "move"
            gesture = "move"
        if gesture == "move" and self._target is not None:
            shift = scene_point - self._press_scene
            moved = self._start_rect.translated(shift)
            bounds = self.scene().sceneRect()
            dx = min(max(moved.left(), bounds.left()), bounds.right() - moved.width()) - moved.left()
            dy = min(max(moved.top(), bounds.top()), bounds.bottom() - moved.height()) - moved.top()
            self._target.set_rect(moved.translated(dx, dy))
        elif gesture == "resize" and self._target is not None and self._handle:
            self._target.set_rect(self._clamped(_resized(self._start_rect, self._handle, scene_point)))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        gesture, target = self._gesture, self._target
        self._gesture, self._target, self._handle = None, None, None
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if self._draw_mode else Qt.CursorShape.ArrowCursor)
        if gesture == "draw":
            rubber, self._rubber = self._rubber, None
            if rubber is not None:
                rect = rubber.rect()
                self.scene().removeItem(rubber)
                if rect.width() >= MIN_BOX_PX and rect.height() >= MIN_BOX_PX:
                    self.box_drawn.emit(rect)
            return
        if gesture in ("move", "resize") and target is not None:
            rect = target.rect
            if rect != self._start_rect and rect.width() >= 1 and rect.height() >= 1:
                self.box_edited.emit(target.cell_id, rect)
            else:
                target.set_rect(self._start_rect)
            return
        if gesture is None:
            super().mouseReleaseEvent(event)

    def _cancel_gesture(self) -> None:
        if self._gesture in ("move", "resize") and self._target is not None:
            self._target.set_rect(self._start_rect)
        if self._rubber is not None:
            self.scene().removeItem(self._rubber)
            self._rubber = None
        self._gesture, self._target, self._handle = None, None, None

    def _clamped(self, rect: QRectF) -> QRectF:
        return rect.intersected(self.scene().sceneRect())


def _resized(rect: QRectF, handle: str, point: QPointF) -> QRectF:
    left, top, right, bottom = rect.left(), rect.top(), rect.right(), rect.bottom()
    moves_left, moves_top, moves_right, moves_bottom = HANDLES[handle]
    if moves_left:
        left = point.x()
    if moves_top:
        top = point.y()
    if moves_right:
        right = point.x()
    if moves_bottom:
        bottom = point.y()
    return QRectF(QPointF(left, top), QPointF(right, bottom)).normalized()


_STEP_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down)
_TAB_KEYS = (Qt.Key.Key_Tab, Qt.Key.Key_Backtab)
# Keyed by int: QKeyEvent.key() gives an int, equal to its Qt.Key.
_ARROW_STEPS: dict[int, tuple[int, int]] = {
    Qt.Key.Key_Left: (-1, 0),
    Qt.Key.Key_Right: (1, 0),
    Qt.Key.Key_Up: (0, -1),
    Qt.Key.Key_Down: (0, 1),
}

_HANDLE_CURSORS = {
    "tl": Qt.CursorShape.SizeFDiagCursor,
    "br": Qt.CursorShape.SizeFDiagCursor,
    "tr": Qt.CursorShape.SizeBDiagCursor,
    "bl": Qt.CursorShape.SizeBDiagCursor,
    "t": Qt.CursorShape.SizeVerCursor,
    "b": Qt.CursorShape.SizeVerCursor,
    "l": Qt.CursorShape.SizeHorCursor,
    "r": Qt.CursorShape.SizeHorCursor,
}
