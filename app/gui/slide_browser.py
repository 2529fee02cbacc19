"""The slide browser: every slide of the project with its thumbnail, its
review status and its cell counts, kept current from the store's events;
a search field, a filter and a sort find one slide among hundreds."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QKeyEvent, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.imagery import ImageShown
from app.gui.presentation import STATUS_COLOURS, STATUS_TEXT, SlideCounts
from app.gui.session import ProjectSession
from app.gui.slide_claims import claimed_words
from app.gui.thumbnails import ThumbnailLoader
from core.detection.familiarity import UNRELIABLE, slide_colour_turn, slide_is_unlike
from core.detection.magnification import slide_scale_note
from core.schema import Slide, SlideStatus
from core.store import CellTally, StoreError, StoreEvent, StoreEventKind
from core.store.claims import ClaimHolder

SLIDE_ROLE = Qt.ItemDataRole.UserRole + 1
COUNTS_ROLE = Qt.ItemDataRole.UserRole + 2
THUMB_ROLE = Qt.ItemDataRole.UserRole + 3
PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 4

# How a slide's row names the trouble with its image.
_PROBLEM_WORDS = {
    ImageShown.MISSING: "Missing",
    ImageShown.UNREADABLE: "Unreadable",
    ImageShown.TOO_LARGE: "Too large",
    ImageShown.CHANGED: "Changed",
}


class SlideListModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: ProjectSession | None = None
        self._slides: list[Slide] = []
        self._rows: dict[int, int] = {}
        self._counts: dict[int, SlideCounts] = {}
        self._problems: dict[int, str] = {}
        self._claims: dict[int, ClaimHolder] = {}  # slides in review at other stations (a server project)
        self._dirty: set[int] = set()
        self._repaint_timer = QTimer(self)
        self._repaint_timer.setSingleShot(True)
        self._repaint_timer.setInterval(60)
        self._repaint_timer.timeout.connect(self._emit_dirty)
        self.thumbnails = ThumbnailLoader(self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.thumbnails.failed.connect(self.set_problem)

    # ------------------------------------------------------------ content
    def set_session(self, session: ProjectSession | None) -> None:
        self.beginResetModel()
        self.thumbnails.clear()
        self.session = session
        self._slides = session.reader.slides() if session else []
        self._rows = {slide.id: row for row, slide in enumerate(self._slides)}
        self._counts = {}
        self._problems = {}
        self._claims = {}
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

    def set_claims(self, claims: Mapping[int, ClaimHolder]) -> None:
        """The slides other stations have open for review, and who: said in
        each row's tooltip and to a screen reader."""
        changed = {slide_id for slide_id in {*claims, *self._claims}
                   if claims.get(slide_id) != self._claims.get(slide_id)}
        self._claims = dict(claims)
        for slide_id in changed:
            self._row_changed(slide_id)

    def claim(self, slide_id: int) -> ClaimHolder | None:
        return self._claims.get(slide_id)

    def set_problem(self, slide_id: int, state: ImageShown, reason: str) -> None:
        """Mark a slide whose image is missing, unreadable, too large or
        changed in size, or clear the mark for any other state."""
        text = _PROBLEM_WORDS.get(state)
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
        if any(event.kind is StoreEventKind.RELOADED for event in events):
            self._reload()
            return
        recount: set[int] = set()
        changed: set[int] = set()
        for event in events:
            if event.kind is StoreEventKind.SLIDE_ADDED and event.slide_id is not None:
                if event.slide_id not in self._rows:
                    self._append_slide(event.slide_id)
            elif event.kind is StoreEventKind.SLIDE_CHANGED and event.slide_id in self._rows:
                changed.add(event.slide_id)
            elif event.kind.about_cells and event.slide_id in self._rows:
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
            if slide_is_unlike(slide):
                lines.append(f"{UNRELIABLE}.")
            if (turn := slide_colour_turn(slide)) is not None:
                lines.append(f"Proposals found with the field's {turn}.")
            if (scale := slide_scale_note(slide)) is not None:
                lines.append(scale)
            if slide.id in self._claims:
                lines.append(claimed_words(self._claims[slide.id]))
            return "\n".join(lines)
        if role == Qt.ItemDataRole.AccessibleDescriptionRole:
            notes = [f"{UNRELIABLE}."] if slide_is_unlike(slide) else []
            if slide.id in self._claims:
                notes.append(claimed_words(self._claims[slide.id]))
            return " ".join(notes) or None
        return None


class SlideDelegate(QStyledItemDelegate):
    """Thumbnail, name, a status pill and the counts, in one compact row."""

    ROW_HEIGHT = 62
    THUMB = 52

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(220, self.ROW_HEIGHT)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Rows drawn once into pixmaps and reused: while a worker holds the GIL,
        # every Qt call a Python paint makes waits to get it back, so a row
        # that repaints with one call instead of thirty keeps the window fluid.
        self._rows: OrderedDict[tuple, QPixmap] = OrderedDict()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        slide: Slide = index.data(SLIDE_ROLE)
        counts: SlideCounts = index.data(COUNTS_ROLE)
        problem: str | None = index.data(PROBLEM_ROLE)
        pixmap = index.data(THUMB_ROLE)
        # PySide6's stubs leave out QStyleOption's fields (rect, state, palette, font).
        rect = option.rect  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)  # type: ignore[attr-defined]
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        key = (
            slide.id,
            slide.path,
            slide.status,
            slide_is_unlike(slide),
            counts,
            problem,
            pixmap.cacheKey() if pixmap is not None else 0,
            selected,
            hover,
            rect.width(),
            rect.height(),
            ratio,
        )
        row = self._rows.get(key)
        if row is None:
            row = QPixmap(rect.size() * ratio)
            row.setDevicePixelRatio(ratio)
            row.fill(option.palette.base().color())  # type: ignore[attr-defined]
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
        palette = option.palette  # type: ignore[attr-defined]
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
        name_font = QFont(option.font)  # type: ignore[attr-defined]
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(palette.text().color())
        name_rect = QRect(text_left, rect.top() + 7, rect.right() - text_left - 6, 18)
        if slide_is_unlike(slide):
            # The detector found the field unlike its training fields: an
            # amber mark at the name's end (the tooltip says why).
            mark = QRect(name_rect.right() - 15, name_rect.top() + 1, 16, 16)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e0a100"))
            painter.drawEllipse(mark)
            painter.setPen(QColor("white"))
            painter.drawText(mark, Qt.AlignmentFlag.AlignCenter, "!")
            painter.setPen(palette.text().color())
            name_rect.setRight(mark.left() - 4)
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, name_rect.width()))
        small = QFont(option.font)  # type: ignore[attr-defined]
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1))
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




# What the Show filter offers: key, text.  "Unsigned" is every slide not yet
# signed off; "With Unidentified cells" counts by the differential's rule
# (store.cell_tallies), so it agrees with the panel and the sign-off.
FILTERS: tuple[tuple[str, str], ...] = (
    ("all", "All slides"),
    ("unsigned", "Unsigned"),
    ("unidentified", "With Unidentified cells"),
    ("in_review", "In review"),
    ("signed_off", "Signed off"),
)
# What the Sort offers: key, text.  "added" is the project's own order.
SORTS: tuple[tuple[str, str], ...] = (
    ("added", "Sort: as added"),
    ("name", "Sort: name"),
    ("status", "Sort: status"),
    ("to_review", "Sort: most to review"),
)
_STATUS_ORDER = {status: n for n, status in enumerate(SlideStatus)}


def natural_key(name: str) -> list[int | str]:
    """slide_2 before slide_10, as a file manager sorts them."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.casefold())]


def slide_text(slide: Slide) -> str:
    """What the search field looks in: the image's path (its folders often
    name the sample), who signed it, its comment and any other text the
    slide carries, in lower case."""
    parts = [slide.path, slide.signed_off_by or ""]
    parts += [str(value) for value in slide.attributes.values() if isinstance(value, (str, int))]
    return " ".join(parts).casefold()


class SlideFilterModel(QSortFilterProxyModel):
    """The slides the list shows, in the order chosen.  The slide on show is
    always kept (pinned): a filter that dropped it would move the list's
    current row, and with it the slide, under the technician's hands."""

    def __init__(self, source: SlideListModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.slides_model = source
        self.text = ""
        self.show = "all"
        self.order = "added"
        self.pinned: int | None = None
        self.sort(0)

    def set_filter(self, text: str | None = None, show: str | None = None, pinned: int | None | bool = False) -> None:
        """Change any of the search text, the Show filter and the pinned
        slide (False: leave it), then filter again once."""
        if text is not None:
            self.text = text
        if show is not None:
            self.show = show
        if pinned is not False:
            self.pinned = pinned  # type: ignore[assignment]
        self.invalidateFilter()

    def set_order(self, order: str) -> None:
        self.order = order
        self.invalidate()
        self.sort(0)

    def matches(self, slide: Slide) -> bool:
        """Whether a slide passes the search and the filter (pin aside)."""
        words = self.text.casefold().split()
        if words:
            haystack = slide_text(slide)
            if not all(word in haystack for word in words):
                return False
        if self.show == "unsigned":
            return slide.status is not SlideStatus.SIGNED_OFF
        if self.show == "signed_off":
            return slide.status is SlideStatus.SIGNED_OFF
        if self.show == "in_review":
            return slide.status is SlideStatus.IN_REVIEW
        if self.show == "unidentified":
            return self.slides_model.counts(slide.id).unidentified > 0
        return True

    @property
    def filtering(self) -> bool:
        return bool(self.text.strip()) or self.show != "all"

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        slide = self.slides_model.slide_at(source_row)
        return slide is not None and (slide.id == self.pinned or self.matches(slide))

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,
                 right: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        return self._key(left.row()) < self._key(right.row())

    def _key(self, row: int) -> tuple:
        slide = self.slides_model.slide_at(row)
        if slide is None or self.order == "added":
            return (row,)
        name = natural_key(slide.path.rsplit("/", 1)[-1])
        if self.order == "status":
            return (_STATUS_ORDER[slide.status], name, row)
        if self.order == "to_review":
            # The white cells that stand between a slide and its sign-off
            # (core.differential.awaits_review), most first; then Unidentified.
            counts = self.slides_model.counts(slide.id)
            return (-counts.unreviewed_white, -counts.unidentified, name, row)
        return (name, row)

    def slide_at(self, row: int) -> Slide | None:
        return (
            self.slides_model.slide_at(self.mapToSource(self.index(row, 0)).row())
            if 0 <= row < self.rowCount()
            else None
        )

    def row_of(self, slide_id: int) -> int:
        source_row = self.slides_model.row_of(slide_id)
        return self.mapFromSource(self.slides_model.index(source_row)).row() if source_row >= 0 else -1


class SlideBrowser(QWidget):
    """Layout only: a title, the search, filter and sort, and the list.  The
    main window wires it."""

    slide_activated = Signal(int)  # slide id
    review_requested = Signal()  # Enter (or a double-click) on a slide: the keys go to the view

    def __init__(self, model: SlideListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.shown = SlideFilterModel(model, self)
        self._following = False  # True while the list follows the window's slide: no slide_activated
        self.title = QLabel("No project open")
        self.title.setObjectName("panelTitle")
        self.search = QLineEdit()
        self.search.setObjectName("slideSearch")
        self.search.setPlaceholderText("Find: file name or text (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Show the slides whose file name, folder, signer or comment holds every word typed "
                               "(Ctrl+F).  ↓ / ↑ choose among them, Enter reviews, Esc clears")
        self.search.installEventFilter(self)
        self.filter_combo = _combo(FILTERS, "Show slides", "Show only these slides (Alt+O, then arrows); "
                                   "the slide on show stays listed")
        self.sort_combo = _combo(SORTS, "Sort slides", "Order the list (Alt+T, then arrows): as added, by name, by "
                                 "status, or the slides with the most white cells still to review first")
        # Keys rather than labels with mnemonics: two labels would not leave
        # the combos room in a 290 px dock, and Qt turns mnemonics off on macOS.
        for keys, combo in (("Alt+O", self.filter_combo), ("Alt+T", self.sort_combo)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(lambda combo=combo: self._reach(combo))
        controls = QWidget()
        controls.setObjectName("slideControls")
        grid = QVBoxLayout(controls)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setSpacing(4)
        grid.addWidget(self.search)
        choices = QHBoxLayout()
        choices.setSpacing(4)
        choices.addWidget(self.filter_combo, 4)
        choices.addWidget(self.sort_combo, 3)
        grid.addLayout(choices)
        self.list = QListView()
        self.list.setObjectName("slideList")
        self.list.setModel(self.shown)
        self.list.setItemDelegate(SlideDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setMouseTracking(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setToolTip("Slides of this project: arrows choose, Enter reviews the slide "
                             "(PageDown / PageUp move between the slides listed from anywhere; in the gallery "
                             "showing All slides they page through its cells)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(controls)
        layout.addWidget(self.list)
        self.list.selectionModel().currentChanged.connect(self._current_changed)
        self.list.activated.connect(lambda _index: self.review_requested.emit())
        self.search.textChanged.connect(lambda text: self._refilter(text=text))
        self.filter_combo.currentIndexChanged.connect(lambda _i: self._refilter(show=self.filter_combo.currentData()))
        self.sort_combo.currentIndexChanged.connect(self._resort)
        model.modelReset.connect(self._project_changed)
        for signal in (model.modelReset, model.rowsInserted, model.dataChanged, self.shown.rowsInserted,
                       self.shown.rowsRemoved, self.shown.modelReset):
            signal.connect(self._update_title)
        self._session: object | None = None

    def _project_changed(self) -> None:
        """Another project: its slides are found afresh (the search text of the
        last one would hide them); the filter and sort chosen stay."""
        if self.model.session is not self._session:
            self._session = self.model.session
            self.shown.pinned = None
            self.search.clear()

    # ------------------------------------------------------------ following the window
    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._following:
            return
        slide = self.shown.slide_at(current.row()) if current.isValid() else None
        if slide is not None:
            self.slide_activated.emit(slide.id)

    def select_slide(self, slide_id: int) -> None:
        """Show the window's slide as the list's current row, keeping it
        listed whatever the filter (it is pinned until another is shown)."""
        self._following = True
        try:
            if self.shown.pinned != slide_id:
                self.shown.set_filter(pinned=slide_id)
            row = self.shown.row_of(slide_id)
            if row >= 0 and self.list.currentIndex().row() != row:
                self.list.setCurrentIndex(self.shown.index(row, 0))
        finally:
            self._following = False
        if row >= 0:
            self.list.scrollTo(self.shown.index(row, 0))

    def slide_after(self, slide_id: int, step: int) -> Slide | None:
        """The slide `step` rows after (or before) this one in the list as
        shown, filtered and sorted: what PageDown and PageUp go to."""
        row = self.shown.row_of(slide_id)
        return self.shown.slide_at(row + step) if row >= 0 else None

    # ------------------------------------------------------------ search, filter, sort
    def _reach(self, combo: QComboBox) -> None:
        """Alt+O / Alt+T: the keys to the Show or Sort list; arrows choose."""
        combo.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def focus_search(self) -> None:
        """Ctrl+F: the keys to the search field, its text selected to type over."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _refilter(self, text: str | None = None, show: str | None = None) -> None:
        self._following = True  # rows come and go; the slide on show is pinned and stays current
        try:
            self.shown.set_filter(text=text, show=show)
        finally:
            self._following = False
        self._scroll_to_current()

    def _resort(self, _index: int) -> None:
        self._following = True
        try:
            self.shown.set_order(self.sort_combo.currentData())
        finally:
            self._following = False
        self._scroll_to_current()

    def _scroll_to_current(self) -> None:
        if self.list.currentIndex().isValid():
            self.list.scrollTo(self.list.currentIndex())

    def _choose_first_match(self) -> None:
        """Enter in the search field: the slide on show if it matches what was
        typed, else the first listed slide that does; then review it."""
        current = self.shown.slide_at(self.list.currentIndex().row())
        if current is None or not self.shown.matches(current):
            for row in range(self.shown.rowCount()):
                slide = self.shown.slide_at(row)
                if slide is not None and self.shown.matches(slide):
                    self.list.setCurrentIndex(self.shown.index(row, 0))
                    break
            else:
                return  # nothing matches: the keys stay here to type again
        self.review_requested.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        # The arrows in the search field move through the list below, as in a
        # launcher: the slides are found and chosen without leaving the field.
        if watched is self.search and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
                if not self.list.currentIndex().isValid() and self.shown.rowCount():
                    self.list.setCurrentIndex(self.shown.index(0, 0))
                else:
                    QApplication.sendEvent(self.list, QKeyEvent(event.type(), key, event.modifiers()))
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose_first_match()
                return True
            if key == Qt.Key.Key_Escape and self.search.text():
                self.search.clear()
                return True
        return super().eventFilter(watched, event)

    def _update_title(self, *_args: object) -> None:
        slides = self.model.slides()
        if self.model.session is None:
            self.title.setText("No project open")
            return
        done = sum(1 for s in slides if s.status.value == "signed_off")
        listed = f"{self.shown.rowCount()} of {len(slides)}" if self.shown.filtering else f"{len(slides)}"
        self.title.setText(f"Slides  \u00b7  {listed}  \u00b7  {done} signed off")


def _combo(items: tuple[tuple[str, str], ...], name: str, tip: str) -> QComboBox:
    combo = QComboBox()
    for key, text in items:
        combo.addItem(text, key)
    combo.setAccessibleName(name)
    combo.setToolTip(tip)
    # Narrow when closed (the dock is 290 px wide at 1366x768); the open list
    # shows each choice whole.
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(6)
    return combo


def _counts(tallies: dict[int, CellTally], slide_id: int) -> SlideCounts:
    return SlideCounts(*tallies.get(slide_id, CellTally()))
