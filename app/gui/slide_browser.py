"""The slide browser: every slide of the project with its thumbnail, its
review status and its cell counts, kept current from the store's events."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.presentation import STATUS_COLOURS, STATUS_TEXT, SlideCounts
from app.gui.session import ProjectSession
from app.gui.thumbnails import ThumbnailLoader
from core.schema import Slide
from core.store import CellTally, StoreError, StoreEvent

SLIDE_ROLE = Qt.ItemDataRole.UserRole + 1
COUNTS_ROLE = Qt.ItemDataRole.UserRole + 2
THUMB_ROLE = Qt.ItemDataRole.UserRole + 3
PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 4


class SlideListModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: ProjectSession | None = None
        self._slides: list[Slide] = []
        self._rows: dict[int, int] = {}
        self._counts: dict[int, SlideCounts] = {}
        self._problems: dict[int, str] = {}
        self._dirty: set[int] = set()
        self._repaint_timer = QTimer(self)
        self._repaint_timer.setSingleShot(True)
        self._repaint_timer.setInterval(60)
        self._repaint_timer.timeout.connect(self._emit_dirty)
        self.thumbnails = ThumbnailLoader(self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.thumbnails.failed.connect(self._thumbnail_failed)

    # ------------------------------------------------------------ content
    def set_session(self, session: ProjectSession | None) -> None:
        self.beginResetModel()
        self.thumbnails.clear()
        self.session = session
        self._slides = session.reader.slides() if session else []
        self._rows = {slide.id: row for row, slide in enumerate(self._slides)}
        self._counts = {}
        self._problems = {}
        if session is not None:
            tallies = session.reader.cell_tallies()
            self._counts = {slide.id: _counts(tallies, slide.id) for slide in self._slides}
        self.endResetModel()

    def slides(self) -> list[Slide]:
        return list(self._slides)

    def slide_at(self, row: int) -> Slide | None:
        return self._slides[row] if 0 <= row < len(self._slides) else None

    def row_of(self, slide_id: int) -> int:
        return self._rows.get(slide_id, -1)

    def counts(self, slide_id: int) -> SlideCounts:
        return self._counts.get(slide_id, SlideCounts())

    def problem(self, slide_id: int) -> str | None:
        return self._problems.get(slide_id)

    def set_problem(self, slide_id: int, state: str, reason: str) -> None:
        """Mark a slide whose image is missing, unreadable or changed in size
        (state "missing"/"corrupt"/"changed"), or clear it."""
        text = {"missing": "Missing", "corrupt": "Unreadable", "changed": "Changed"}.get(state)
        if text is None:
            if self._problems.pop(slide_id, None) is not None:
                self._row_changed(slide_id)
            return
        self._problems[slide_id] = f"{text}: {reason}"
        self._row_changed(slide_id)

    def on_store_events(self, events: list[StoreEvent]) -> None:
        """Follow a batch of store events; each touched slide is recounted once."""
        if self.session is None:
            return
        if any(event.kind == "reloaded" for event in events):
            self._reload()
            return
        recount: set[int] = set()
        changed: set[int] = set()
        for event in events:
            if event.kind == "slide_added" and event.slide_id not in self._rows:
                self._append_slide(event.slide_id)
            elif event.kind == "slide_changed" and event.slide_id in self._rows:
                changed.add(event.slide_id)
            elif event.kind.startswith("cells_") and event.slide_id in self._rows:
                recount.add(event.slide_id)
        for slide_id in changed:
            row = self._rows[slide_id]
            try:
                slide = self.session.reader.slide(slide_id)
            except StoreError:
                continue
            if slide.path != self._slides[row].path:
                self.thumbnails.forget(slide.id)
            self._slides[row] = slide
        for slide_id in recount:
            self._counts[slide_id] = _counts(self.session.reader.cell_tallies(slide_id), slide_id)
        for slide_id in changed | recount:
            self._row_changed(slide_id)

    def _reload(self) -> None:
        """Anything may have changed (a new taxonomy, another window's saved
        edits every few seconds): read every slide and count again, keeping
        the rows, thumbnails and image problems of the slides that stay, so
        the list neither flickers nor loses its selection."""
        assert self.session is not None
        slides = self.session.reader.slides()
        kept = len(self._slides)
        if [slide.id for slide in slides[:kept]] != [slide.id for slide in self._slides]:
            self.set_session(self.session)  # rows went or moved: start again
            return
        tallies = self.session.reader.cell_tallies()
        for row, slide in enumerate(slides[:kept]):
            counts = _counts(tallies, slide.id)
            if slide == self._slides[row] and counts == self._counts.get(slide.id):
                continue
            if slide.path != self._slides[row].path:
                self.thumbnails.forget(slide.id)
            self._slides[row] = slide
            self._counts[slide.id] = counts
            self._row_changed(slide.id)
        for slide in slides[kept:]:
            self._append_slide(slide.id)

    def _append_slide(self, slide_id: int) -> None:
        assert self.session is not None
        try:
            slide = self.session.reader.slide(slide_id)
        except StoreError:
            return
        row = len(self._slides)
        self.beginInsertRows(QModelIndex(), row, row)
        self._slides.append(slide)
        self._rows[slide.id] = row
        self._counts[slide.id] = _counts(self.session.reader.cell_tallies(slide.id), slide.id)
        self.endInsertRows()

    def refresh_slide(self, slide_id: int) -> None:
        if self.session is not None and slide_id in self._rows:
            self._slides[self._rows[slide_id]] = self.session.reader.slide(slide_id)
            self.thumbnails.forget(slide_id)
            self._problems.pop(slide_id, None)
            self._row_changed(slide_id)

    def _row_changed(self, slide_id: int) -> None:
        # Repaints are gathered for a moment: a 100-slide run changes rows
        # faster than anyone can read them, and each repaint costs the GUI thread.
        self._dirty.add(slide_id)
        if not self._repaint_timer.isActive():
            self._repaint_timer.start()

    def _emit_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for slide_id in dirty:
            row = self._rows.get(slide_id)
            if row is not None:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def _thumbnail_ready(self, slide_id: int) -> None:
        self._row_changed(slide_id)

    def _thumbnail_failed(self, slide_id: int, reason: str) -> None:
        self.set_problem(slide_id, "missing" if reason == "file not found" else "corrupt", reason)

    # ------------------------------------------------------------ Qt model
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._slides)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._slides):
            return None
        slide = self._slides[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return slide.path.rsplit("/", 1)[-1]
        if role == SLIDE_ROLE:
            return slide
        if role == COUNTS_ROLE:
            return self.counts(slide.id)
        if role == PROBLEM_ROLE:
            return self._problems.get(slide.id)
        if role == THUMB_ROLE:
            pixmap = self.thumbnails.pixmap(slide.id)
            if pixmap is None and self.session is not None:
                # Asked for only when the row is painted: thumbnails are lazy.
                self.thumbnails.request(slide.id, self.session.store.image_path(slide))
            return pixmap
        if role == Qt.ItemDataRole.ToolTipRole:
            counts = self.counts(slide.id)
            lines = [
                slide.path,
                f"{slide.width} x {slide.height} px \u00b7 {STATUS_TEXT[slide.status]}",
                f"{counts.text()} \u00b7 {counts.review_text() or 'every box reviewed'}",
            ]
            if slide.id in self._problems:
                lines.append(self._problems[slide.id])
            return "\n".join(lines)
        return None


class SlideDelegate(QStyledItemDelegate):
    """Thumbnail, name, a status pill and the counts, in one compact row."""

    ROW_HEIGHT = 62
    THUMB = 52

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(220, self.ROW_HEIGHT)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Rows drawn once into pixmaps and reused: while a worker holds the GIL,
        # every Qt call a Python paint makes waits to get it back, so a row
        # that repaints with one call instead of thirty keeps the window fluid.
        self._rows: OrderedDict[tuple, QPixmap] = OrderedDict()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        slide: Slide = index.data(SLIDE_ROLE)
        counts: SlideCounts = index.data(COUNTS_ROLE)
        problem: str | None = index.data(PROBLEM_ROLE)
        pixmap = index.data(THUMB_ROLE)
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        key = (slide.id, slide.path, slide.status, counts, problem, pixmap.cacheKey() if pixmap is not None else 0, selected, hover,
               rect.width(), rect.height(), ratio)
        row = self._rows.get(key)
        if row is None:
            row = QPixmap(rect.size() * ratio)
            row.setDevicePixelRatio(ratio)
            row.fill(option.palette.base().color())
            row_painter = QPainter(row)
            self._render(row_painter, QRect(0, 0, rect.width(), rect.height()), option, index.data(),
                         slide, counts, problem, pixmap, selected, hover)
            row_painter.end()
            self._rows[key] = row
            while len(self._rows) > 600:
                self._rows.popitem(last=False)
        else:
            self._rows.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), row)

    def _render(self, painter: QPainter, rect: QRect, option: QStyleOptionViewItem, name: str, slide: Slide,
                counts: SlideCounts, problem: str | None, pixmap, selected: bool, hover: bool) -> None:  # noqa: ANN001
        palette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if selected:
            painter.fillRect(rect, QColor("#d6e6fa"))
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), QColor("#2f7fd8"))
        elif hover:
            painter.fillRect(rect, QColor("#eef3f8"))
        thumb_rect = QRect(rect.left() + 8, rect.top() + (rect.height() - self.THUMB) // 2, self.THUMB, self.THUMB)
        painter.fillRect(thumb_rect, QColor("#e3e6ea"))
        if pixmap is not None:
            scaled = pixmap.scaled(thumb_rect.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            x = thumb_rect.left() + (thumb_rect.width() - scaled.width()) // 2
            y = thumb_rect.top() + (thumb_rect.height() - scaled.height()) // 2
            painter.drawPixmap(x, y, scaled)
        elif problem:
            painter.setPen(QColor("#c62828"))
            painter.drawText(thumb_rect, Qt.AlignmentFlag.AlignCenter, "!")
        text_left = thumb_rect.right() + 10
        name_font = QFont(option.font)
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(palette.text().color())
        name_rect = QRect(text_left, rect.top() + 7, rect.right() - text_left - 6, 18)
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, name_rect.width()))
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        painter.setFont(small)
        # Status pill (or the image problem, which matters more).
        label = problem.split(":", 1)[0] if problem else STATUS_TEXT[slide.status]
        colour = QColor("#c62828") if problem else QColor(STATUS_COLOURS[slide.status])
        metrics = painter.fontMetrics()
        pill = QRect(text_left, rect.top() + 28, metrics.horizontalAdvance(label) + 12, 16)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(pill, 8, 8)
        painter.setPen(QColor("white"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)
        painter.setPen(QPen(QColor("#5f6b76")))
        counts_rect = QRect(pill.right() + 8, pill.top(), rect.right() - pill.right() - 12, 16)
        painter.drawText(counts_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(counts.text(), Qt.TextElideMode.ElideRight, counts_rect.width()))
        if counts.unreviewed:
            painter.setPen(QColor("#8a939c"))
            painter.drawText(QRect(text_left, rect.top() + 45, rect.right() - text_left - 6, 14),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             counts.review_text())
        painter.setPen(QColor("#e1e5e9"))
        painter.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())
        painter.restore()




class SlideBrowser(QWidget):
    """Layout only: a title and the list.  The main window wires it."""

    slide_activated = Signal(int)  # slide id
    review_requested = Signal()  # Enter (or a double-click) on a slide: the keys go to the view

    def __init__(self, model: SlideListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.title = QLabel("No project open")
        self.title.setObjectName("panelTitle")
        self.list = QListView()
        self.list.setObjectName("slideList")
        self.list.setModel(model)
        self.list.setItemDelegate(SlideDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setMouseTracking(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setToolTip("Slides of this project: arrows choose, Enter reviews the slide "
                             "(PageDown / PageUp move between slides from anywhere; in the gallery "
                             "showing All slides they page through its cells)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        self.list.selectionModel().currentChanged.connect(self._current_changed)
        self.list.activated.connect(lambda _index: self.review_requested.emit())
        model.modelReset.connect(self._update_title)
        model.rowsInserted.connect(self._update_title)
        model.dataChanged.connect(self._update_title)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        slide = self.model.slide_at(current.row()) if current.isValid() else None
        if slide is not None:
            self.slide_activated.emit(slide.id)

    def select_slide(self, slide_id: int) -> None:
        row = self.model.row_of(slide_id)
        if row >= 0 and self.list.currentIndex().row() != row:
            self.list.setCurrentIndex(self.model.index(row))
        if row >= 0:
            self.list.scrollTo(self.model.index(row))

    def _update_title(self, *_args: object) -> None:
        slides = self.model.slides()
        if self.model.session is None:
            self.title.setText("No project open")
            return
        done = sum(1 for s in slides if s.status.value == "signed_off")
        self.title.setText(f"Slides  \u00b7  {len(slides)}  \u00b7  {done} signed off")


def _counts(tallies: dict[int, CellTally], slide_id: int) -> SlideCounts:
    return SlideCounts(*tallies.get(slide_id, CellTally()))
