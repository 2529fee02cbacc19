"""The gallery's list model: white cells grouped by class, with a header row
before each group.

Groups come in a fixed order: Suspected blasts first (the lymphoid
screen's flags nobody has decided, whatever their class; shown only when
there are any), then Unidentified (with the cells that have no class yet or
one the taxonomy lacks, as the differential counts them), then the
taxonomy's classes.  Within a group the lowest model
confidence comes first, so the doubtful cells are looked at while attention is
fresh.  Filters (slide, class, unreviewed only, confidence below a value)
are applied here rather than in a proxy, because headers and their counts
depend on what is shown.  The class filter's "Suspected blasts" shows the
undecided flags alone, for a technician going through them one by one.

The model keeps a copy of the white cells of the slides it has been asked
to show, read a slide at a time when the filter first needs it (every slide
at once for "All slides": the gallery first shown on one slide of a
500-slide project took 17 ms, and "All slides" 0.56 s for its 50,000 cells).  It follows the project
through the window's one store bridge (ProjectSession.changed): changed
cells of those slides are re-read one by one, big changes re-read what it
holds.  It reads through the session's read-only connection, so a worker's
commit never makes it wait.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QGuiApplication

from app.gui.gallery.thumbnails import ThumbKey, ThumbnailProvider
from app.gui.presentation import BLAST_COLOUR, percent, suspected_blast
from app.gui.session import ProjectSession
from core.confidence import cell_confidence
from core.differential import CountsAs, awaits_review, class_of, counts_as
from core.schema import Cell, CellKind, LabelSource, Slide, SlideStatus
from core.store import ProjectStore, StoreError, StoreEvent, StoreEventKind
from core.taxonomy import UNIDENTIFIED, Taxonomy

CELL_IDS_MIME = "application/x-hemalabel-cell-ids"
# The group of undecided blast flags: no class (a class name never starts with "!"), so nothing is dropped on it.
SUSPECTED_BLASTS = "!suspected_blasts"
RELOAD_ALL_ABOVE = 300  # re-reading more changed cells than this one by one is slower than one query
_CELL_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
_HEADER_FLAGS = Qt.ItemFlag.NoItemFlags
_ROOT_FLAGS = Qt.ItemFlag.ItemIsDropEnabled


class Role(enum.IntEnum):
    IS_HEADER = Qt.ItemDataRole.UserRole + 1
    CELL = Qt.ItemDataRole.UserRole + 2  # the Cell
    CELL_ID = Qt.ItemDataRole.UserRole + 3
    GROUP = Qt.ItemDataRole.UserRole + 4  # the class name of the row's group
    CONFIDENCE = Qt.ItemDataRole.UserRole + 5  # float | None
    HEADER = Qt.ItemDataRole.UserRole + 6  # the GroupHeader
    THUMBNAIL_FAILED = Qt.ItemDataRole.UserRole + 7
    SLIDE_LOCKED = Qt.ItemDataRole.UserRole + 8


@dataclass(frozen=True, slots=True)
class GalleryFilter:
    slide_id: int | None = None  # None: every slide
    class_name: str | None = None  # None: every class; SUSPECTED_BLASTS: the undecided flags alone
    unreviewed_only: bool = False
    confidence_below: float | None = None  # 0..1; None: no limit
    informative_first: bool = False  # within a group: the cells whose answer teaches most first


@dataclass(frozen=True, slots=True)
class GroupHeader:
    class_name: str
    display: str
    key: str
    colour: str
    shown: int
    unreviewed: int


@dataclass(frozen=True, slots=True)
class Tile:
    """What a cell's tile shows, worked out once per cell version: painting
    reads it directly instead of asking data() for one role at a time."""

    cell: Cell
    group: str
    confidence: float | None
    caption: str
    changed: bool  # a human gave it a class other than the model's top guess


@dataclass(slots=True)
class _Rows:
    kinds: list[GroupHeader | int] = field(default_factory=list)  # header or cell id, in display order
    row_of_cell: dict[int, int] = field(default_factory=dict)
    row_of_header: dict[str, int] = field(default_factory=dict)


def _same_places(new: _Rows, old: _Rows) -> bool:
    """Whether every row shows the same cell, or the same group's header
    (its counts may differ), in both."""
    if len(new.kinds) != len(old.kinds):
        return False
    for a, b in zip(new.kinds, old.kinds):
        if isinstance(a, GroupHeader):
            if not isinstance(b, GroupHeader) or a.class_name != b.class_name:
                return False
        elif a != b:
            return False
    return True


def group_of(cell: Cell, taxonomy: Taxonomy) -> str:
    """The gallery group a cell is shown in: the class it counts as, so the
    Unidentified group holds what the differential counts as Unidentified
    (no class yet, or a label the taxonomy lacks)."""
    return UNIDENTIFIED if counts_as(cell.kind, cell.label, taxonomy) is CountsAs.UNIDENTIFIED else class_of(cell.label)


class GalleryModel(QAbstractListModel):
    """Rows are group headers and cells.  `rebuilt` fires after the rows were
    rebuilt (store change or filter change) so the view can restore the
    selection by cell id; `refreshed` after a change that moved no row."""

    about_to_rebuild = Signal()
    rebuilt = Signal()
    refreshed = Signal()  # after an edit that moved no row: the rows kept their places and selection

    def __init__(
        self,
        project: ProjectSession | ProjectStore,
        thumbnails: ThumbnailProvider | None = None,
        parent: QObject | None = None,
        slide_id: int | None = None,
    ) -> None:
        """`slide_id`: the slide to show first (None: every slide)."""
        super().__init__(parent)
        self.session = ProjectSession.of(project, self)
        self._own_session = self.session is not project
        self.store = self.session.reader  # reads only; edits go to session.store
        self.thumbnails = thumbnails
        self._filter = GalleryFilter(slide_id=slide_id)
        self._cells: dict[int, Cell] = {}
        self._informative: dict[int, int] = {}  # cell id -> place in the order that teaches most
        self._slides_read: set[int] = set()  # whose white cells are in _cells
        self._every_slide_read = False
        self._slides: dict[int, Slide] = {}
        self._rows = _Rows()
        self._tiles: dict[int, Tile] = {}
        self.session.changed.connect(self._on_store_changed)
        if thumbnails is not None:
            thumbnails.ready.connect(self._on_thumbnails_ready)
        self._reload_slides()
        self._read_cells_of(slide_id)
        self._rebuild(announce=False)

    def detach(self) -> None:
        """Stop following the project (the gallery is going away); a session
        made here for a bare store is closed, the window's is left open."""
        with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
            self.session.changed.disconnect(self._on_store_changed)
        if self._own_session:
            self.session.close()

    # ------------------------------------------------------------ filters
    @property
    def filter(self) -> GalleryFilter:
        return self._filter

    def set_filter(self, gallery_filter: GalleryFilter) -> None:
        if gallery_filter != self._filter:
            self._filter = gallery_filter
            self._read_cells_of(gallery_filter.slide_id)
            self._rebuild()

    def update_filter(self, **changes: Any) -> None:
        self.set_filter(replace(self._filter, **changes))

    def set_informative_order(self, cell_ids: list[int]) -> None:
        """The unreviewed cells, those whose answer would teach the project
        most first (core.project_learning.most_informative_first)."""
        self._informative = {cell_id: place for place, cell_id in enumerate(cell_ids)}
        if self._filter.informative_first:
            self._rebuild()

    # ------------------------------------------------------------ Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows.kinds)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return _ROOT_FLAGS
        if isinstance(self._rows.kinds[index.row()], GroupHeader):
            # Not selectable, not enabled: arrow keys step over headers.  Drops
            # onto a header are handled by the view.
            return _HEADER_FLAGS
        return _CELL_FLAGS

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows.kinds):
            return None
        entry = self._rows.kinds[index.row()]
        if isinstance(entry, GroupHeader):
            if role == Role.IS_HEADER:
                return True
            if role == Role.HEADER:
                return entry
            if role == Role.GROUP:
                return entry.class_name
            if role == Qt.ItemDataRole.DisplayRole:
                return entry.display
            return None
        cell = self._cells[entry]
        if role == Role.IS_HEADER:
            return False
        if role == Role.CELL:
            return cell
        if role == Role.CELL_ID:
            return cell.id
        if role == Role.GROUP:
            return group_of(cell, self.session.taxonomy)
        if role == Role.CONFIDENCE:
            return cell_confidence(cell).value
        if role == Qt.ItemDataRole.DecorationRole:
            return None if self.thumbnails is None else self.thumbnails.pixmap(cell)
        if role == Role.THUMBNAIL_FAILED:
            return self.thumbnails is not None and self.thumbnails.failed(cell)
        if role == Role.SLIDE_LOCKED:
            slide = self._slides.get(cell.slide_id)
            return slide is not None and slide.status is SlideStatus.SIGNED_OFF
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(cell)
        return None

    def mimeTypes(self) -> list[str]:
        return [CELL_IDS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        ids = [self.cell_id_at(index.row()) for index in indexes]
        data = QMimeData()
        data.setData(CELL_IDS_MIME, QByteArray(",".join(str(i) for i in ids if i is not None).encode()))
        return data

    def supportedDragActions(self) -> Qt.DropAction:
        # The view accepts a drop as a copy, so Qt never removes the dragged
        # rows itself: the store changes the label and the model follows.
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    # ------------------------------------------------------------ lookups
    def is_header(self, row: int) -> bool:
        return 0 <= row < len(self._rows.kinds) and isinstance(self._rows.kinds[row], GroupHeader)

    def cell_id_at(self, row: int) -> int | None:
        if 0 <= row < len(self._rows.kinds):
            entry = self._rows.kinds[row]
            return None if isinstance(entry, GroupHeader) else entry
        return None

    def cell(self, cell_id: int) -> Cell | None:
        return self._cells.get(cell_id)

    def entry(self, row: int) -> GroupHeader | Tile:
        """The header or the tile at a row: the delegate's fast path."""
        entry = self._rows.kinds[row]
        if isinstance(entry, GroupHeader):
            return entry
        tile = self._tiles.get(entry)
        if tile is None:
            tile = self._tiles[entry] = _make_tile(self._cells[entry], self.session.taxonomy)
        return tile

    def slide_path(self, slide_id: int) -> str | None:
        slide = self._slides.get(slide_id)
        return slide.path if slide else None

    def row_of(self, cell_id: int) -> int | None:
        return self._rows.row_of_cell.get(cell_id)

    def group_at(self, row: int) -> str | None:
        """The class of the group a row belongs to (header or cell); None in
        Suspected blasts, which is no class to drop cells on."""
        if not 0 <= row < len(self._rows.kinds):
            return None
        entry = self._rows.kinds[row]
        if isinstance(entry, GroupHeader):
            return None if entry.class_name == SUSPECTED_BLASTS else entry.class_name
        cell = self._cells[entry]
        return None if suspected_blast(cell) else group_of(cell, self.session.taxonomy)

    def header_row(self, class_name: str) -> int | None:
        return self._rows.row_of_header.get(class_name)

    def cell_rows_in_group(self, header_row: int) -> list[int]:
        rows = []
        for row in range(header_row + 1, len(self._rows.kinds)):
            if isinstance(self._rows.kinds[row], GroupHeader):
                break
            rows.append(row)
        return rows

    def shown_count(self) -> int:
        return len(self._rows.row_of_cell)

    def shown_cell_ids(self) -> list[int]:
        return [entry for entry in self._rows.kinds if not isinstance(entry, GroupHeader)]

    def slides(self) -> list[Slide]:
        return list(self._slides.values())

    def slide_locked(self, slide_id: int) -> bool:
        slide = self._slides.get(slide_id)
        return slide is not None and slide.status is SlideStatus.SIGNED_OFF

    # ------------------------------------------------------------ following the store
    @Slot(object)
    def _on_store_changed(self, events: list[StoreEvent]) -> None:
        changed: set[int] = set()
        removed: set[int] = set()
        reload_all = False
        for event in events:
            if event.kind is StoreEventKind.RELOADED:
                reload_all = True
            elif event.kind.about_a_slide:
                self._reload_slides()
            elif not self._holds_slide(event.slide_id):
                continue  # cell events of a slide not read yet: read when a filter first shows it
            elif event.kind in (StoreEventKind.CELLS_ADDED, StoreEventKind.CELLS_CHANGED):
                changed.update(event.cell_ids)
                removed.difference_update(event.cell_ids)
            elif event.kind is StoreEventKind.CELLS_REMOVED:
                removed.update(event.cell_ids)
                changed.difference_update(event.cell_ids)
        if not (reload_all or changed or removed or any(e.kind.about_a_slide for e in events)):
            return  # history_changed alone: the cells it touched came as their own events
        if reload_all or len(changed) > RELOAD_ALL_ABOVE:
            self._reload_all()
        else:
            before = {cell_id: self._cells.get(cell_id) for cell_id in changed}
            for cell_id in removed:
                self._cells.pop(cell_id, None)
                self._tiles.pop(cell_id, None)
            for cell_id in changed:
                self._tiles.pop(cell_id, None)
                self._reread(cell_id)
            slides_changed = any(e.kind.about_a_slide for e in events)
            if not removed and self._update_in_place(before, repaint_all=slides_changed):
                return
        self._rebuild(touched=changed if not (reload_all or removed) else ())

    def _update_in_place(self, before: dict[int, Cell | None], repaint_all: bool = False) -> bool:
        """After an edit that moved no cell (the commonest, a confirmation),
        mend the headers' counts and repaint the rows it touched, without
        grouping every cell again (60 ms a key with 50,000 cells on show).
        `repaint_all`: a slide changed (signed off: every tile of it shows
        the lock).  False, having changed nothing, if a cell came, went or
        moved."""
        unreviewed_delta: dict[str, int] = {}
        for cell_id, old in before.items():
            new = self._cells.get(cell_id)
            place = self._place(new) if new is not None else None
            if place != (self._place(old) if old is not None else None):
                return False
            if place is not None and old is not None and new is not None and old.reviewed != new.reviewed:
                unreviewed_delta[place[0]] = unreviewed_delta.get(place[0], 0) + (1 if old.reviewed else -1)
        repaint = [self._rows.row_of_cell[cell_id] for cell_id in before if cell_id in self._rows.row_of_cell]
        for group, delta in unreviewed_delta.items():
            row = self._rows.row_of_header[group]
            header = self._rows.kinds[row]
            assert isinstance(header, GroupHeader), "row_of_header points at a header"
            self._rows.kinds[row] = replace(header, unreviewed=header.unreviewed + delta)
            repaint.append(row)
        if repaint_all and self._rows.kinds:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows.kinds) - 1))
        else:
            for row in repaint:
                self.dataChanged.emit(self.index(row), self.index(row))
        self.refreshed.emit()
        return True

    def _reread(self, cell_id: int) -> None:
        try:
            cell = self.store.cell(cell_id)
        except StoreError:
            self._cells.pop(cell_id, None)
            return
        if cell.kind is CellKind.WHITE:
            self._cells[cell_id] = cell
        else:
            self._cells.pop(cell_id, None)  # its kind was changed on the canvas

    def _holds_slide(self, slide_id: int | None) -> bool:
        """Whether the cells of a slide are held (None, a slide not named: yes)."""
        return self._every_slide_read or slide_id is None or slide_id in self._slides_read

    def _read_cells_of(self, slide_id: int | None) -> None:
        """Read the white cells of a slide (None: of every slide) unless held."""
        if self._every_slide_read or (slide_id is not None and slide_id in self._slides_read):
            return
        if slide_id is None:
            # The whole project's (0.56 s for 50,000 with the grouping): the
            # wait cursor says the window is working, not stuck.
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                self._cells = {cell.id: cell for cell in self.store.cells(kind=CellKind.WHITE)}
            finally:
                QGuiApplication.restoreOverrideCursor()
            self._every_slide_read = True
            self._slides_read.clear()
        else:
            self._cells.update((cell.id, cell) for cell in self.store.cells(slide_id, kind=CellKind.WHITE))
            self._slides_read.add(slide_id)

    def _reload_all(self) -> None:
        """Read again everything held (the file changed under it, or many cells did)."""
        every_slide, slides = self._every_slide_read, set(self._slides_read)
        self._cells, self._tiles = {}, {}
        self._every_slide_read, self._slides_read = False, set()
        self._reload_slides()
        for slide_id in [None] if every_slide else sorted(slides):
            self._read_cells_of(slide_id)

    def _reload_slides(self) -> None:
        self._slides = {slide.id: slide for slide in self.store.slides()}

    @Slot(object)
    def _on_thumbnails_ready(self, keys: Iterable[ThumbKey]) -> None:
        rows = [row for row in (self._rows.row_of_cell.get(key[0]) for key in keys) if row is not None]
        if rows:
            # One signal for the span: the view repaints what it shows of it.
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [Qt.ItemDataRole.DecorationRole])

    # ------------------------------------------------------------ grouping and sorting
    def _rebuild(self, announce: bool = True, touched: Iterable[int] = ()) -> None:
        """Group and sort the cells again.  `touched`: the cells whose data
        changed, when that is all that changed."""
        rows = self._build_rows()
        if announce and _same_places(rows, self._rows):
            # Nothing moved (a filter that gave the same rows, or an edit that
            # _update_in_place could not judge alone): repaint the touched rows
            # and the headers whose counts changed.  A reset makes the view
            # lay out every row again (0.37 s with 50,000 cells on show).
            old, self._rows = self._rows, rows
            repaint = [
                row for row, (a, b) in enumerate(zip(rows.kinds, old.kinds)) if isinstance(a, GroupHeader) and a != b
            ]
            repaint += [rows.row_of_cell[cell_id] for cell_id in touched if cell_id in rows.row_of_cell]
            for row in repaint:
                self.dataChanged.emit(self.index(row), self.index(row))
            self.refreshed.emit()
            return
        if announce:
            self.about_to_rebuild.emit()
            self.beginResetModel()
        self._rows = rows
        if announce:
            self.endResetModel()
            self.rebuilt.emit()

    def _place(self, cell: Cell) -> tuple[str, float] | None:
        """Where the filter puts a cell: its group and its place in the group
        (lowest confidence first, no confidence before all); None: not shown."""
        wanted = self._filter
        if wanted.slide_id is not None and cell.slide_id != wanted.slide_id:
            return None
        group = group_of(cell, self.session.taxonomy)
        if wanted.class_name == SUSPECTED_BLASTS:
            if not suspected_blast(cell):
                return None
        elif wanted.class_name is not None and group != wanted.class_name:
            return None
        if suspected_blast(cell):
            group = SUSPECTED_BLASTS
        if wanted.unreviewed_only and cell.reviewed:
            return None
        confidence = cell_confidence(cell).value
        if wanted.confidence_below is not None and confidence is not None and confidence >= wanted.confidence_below:
            return None
        if wanted.informative_first:
            # Ranked cells first in their order; the rest (reviewed, or not
            # ranked yet) after them, least confident first.
            place = self._informative.get(cell.id)
            if place is not None:
                return group, float(place) - len(self._informative) - 2.0
        return group, -1.0 if confidence is None else confidence

    def _build_rows(self) -> _Rows:
        wanted = self._filter
        taxonomy = self.session.taxonomy
        order = [SUSPECTED_BLASTS, UNIDENTIFIED] + [name for name in taxonomy.names if name != UNIDENTIFIED]
        groups: dict[str, list[tuple[float, int]]] = {name: [] for name in order}
        unreviewed: dict[str, int] = dict.fromkeys(order, 0)
        for cell in self._cells.values():
            place = self._place(cell)
            if place is None:
                continue
            # Every group is a class of the taxonomy: a label it lacks is in Unidentified.
            group, sort_key = place
            groups[group].append((sort_key, cell.id))
            if awaits_review(cell.kind, cell.reviewed):
                unreviewed[group] += 1
        rows = _Rows()
        for name, members in groups.items():
            if name == SUSPECTED_BLASTS:
                if not members:
                    continue
                header = GroupHeader(name, "Suspected blasts", "", BLAST_COLOUR, len(members), unreviewed[name])
            elif wanted.class_name is not None and name != wanted.class_name:
                continue
            else:
                item = taxonomy.get(name)
                header = GroupHeader(name, item.display, item.key, item.colour, len(members), unreviewed[name])
            rows.row_of_header[name] = len(rows.kinds)
            rows.kinds.append(header)
            members.sort()
            for _, cell_id in members:
                rows.row_of_cell[cell_id] = len(rows.kinds)
                rows.kinds.append(cell_id)
        return rows

    # ------------------------------------------------------------ text
    def _tooltip(self, cell: Cell) -> str:
        taxonomy = self.session.taxonomy
        slide = self._slides.get(cell.slide_id)
        lines = [f"Cell {cell.id} on {slide.path if slide else cell.slide_id}"]
        label = taxonomy.get(cell.label).display if cell.label in taxonomy else (cell.label or "no class yet")
        lines.append(f"Class: {label} ({cell.source.value}{', reviewed' if cell.reviewed else ', not reviewed'})")
        for name, probability in cell.top_classes(3):
            shown = taxonomy.display_of(name)
            lines.append(f"  {shown}: {percent(probability)}")
        if cell.model_version:
            lines.append(f"Model: {cell.model_version}")
        return "\n".join(lines)


def _make_tile(cell: Cell, taxonomy: Taxonomy) -> Tile:
    changed = bool(cell.probabilities) and cell.label is not None and cell.top_classes(1)[0][0] != cell.label
    return Tile(cell, group_of(cell, taxonomy), cell_confidence(cell).value, _caption(cell, taxonomy), changed)


def _caption(cell: Cell, taxonomy: Taxonomy) -> str:
    if not cell.probabilities:
        return "manual" if cell.source is not LabelSource.MODEL else ""
    if cell.label in (None, UNIDENTIFIED) or cell.source is LabelSource.HUMAN:
        # What the model thought, so the technician sees how close it came.
        name, probability = cell.top_classes(1)[0]
        if name == cell.label:
            return percent(probability)
        short = _short_name(taxonomy.get(name).display) if name in taxonomy else name[:6]
        return f"{short}? {percent(probability)}"
    confidence = cell_confidence(cell).value
    return "" if confidence is None else percent(confidence)


def _short_name(display: str) -> str:
    if display.startswith("Immature"):
        return "IG"
    word = display.split(" ")[0]
    return word if len(word) <= 7 else word[:6] + "."
