"""Keeps the canvas in step with the store for the slide on show, and turns
the technician's gestures and keys into store edits.

Items never change the store themselves: an edit goes to the store, the
store announces it, and the items follow the announcement.  So undo, a
detection run on a worker thread and a hand edit all update the canvas
through one path."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QObject, QRectF, Signal

from app.gui.canvas.cell_item import CellItem
from app.gui.canvas.slide_view import SlideView
from app.gui.canvas.tiled_image import TiledImageItem
from app.gui.imagery import ImageShown
from app.gui.presentation import cell_look
from app.gui.review_actions import run_review, seen
from app.gui.session import ProjectSession
from app.gui.worker import JobHandle, start_job
from core import review
from core.image_levels import ImageLevels, read_levels, read_preview
from core.imaging import ImageRead, ImageState, try_read
from core.jobs import CancelToken, Progress
from core.schema import Box, Cell, CellKind, Slide, SlideStatus
from core.slide_pixels import changed_size
from core.store import StoreEvent, StoreEventKind

# Decoded slides kept for quick back-and-forth, bounded by pixels so one
# whole-slide scan is never held twice.
_CACHE_PIXELS = 40_000_000
# Above this many pixels a quick reduced preview is shown while the full image decodes.
_PREVIEW_ABOVE_PIXELS = 30_000_000

_KIND_RANK = {CellKind.WHITE: 0, CellKind.PLATELET: 1, CellKind.RED: 2}
_Result = TypeVar("_Result")


def rect_of(box: Box) -> QRectF:
    return QRectF(box.x0, box.y0, box.width, box.height)


def box_of(rect: QRectF) -> Box:
    rect = rect.normalized()
    return Box(rect.left(), rect.top(), rect.right(), rect.bottom())


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A slide's image read on a worker thread, with what it was read for:
    a result for another session or path is not shown."""

    slide_id: int
    session: ProjectSession
    path: Path
    read: ImageRead[ImageLevels]


class CanvasController(QObject):
    selection_changed = Signal()
    image_state_changed = Signal(int, object, str)  # slide id, ImageShown, reason
    slide_shown = Signal(int)  # the slide's image (or its placeholder) is in place
    message = Signal(str)

    def __init__(self, view: SlideView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.scene = view.scene()
        self.session: ProjectSession | None = None
        self.slide: Slide | None = None
        self.threshold = 0.0
        self.draw_kind = CellKind.WHITE
        self._items: dict[int, CellItem] = {}
        self._cells: dict[int, Cell] = {}
        self._visible_kinds = {CellKind.WHITE, CellKind.RED, CellKind.PLATELET}
        self.held_elsewhere = False  # another station has the slide on show in review (app.gui.slide_claims)
        self._image_item = TiledImageItem()
        self.scene.addItem(self._image_item)
        self._image_state: tuple[ImageShown, str] = (ImageShown.NONE, "")
        self._cache: OrderedDict[int, ImageLevels] = OrderedDict()
        self._loads: dict[tuple[int, str], JobHandle] = {}  # by (slide id, image path)
        self.switch_started = 0.0
        self.last_switch_ms = 0.0
        view.box_drawn.connect(self._on_box_drawn)
        view.box_edited.connect(self._on_box_edited)
        view.box_nudged.connect(self.nudge_selected)
        view.selection_changed.connect(self.selection_changed)

    # ------------------------------------------------------------ project and slide
    def set_session(self, session: ProjectSession | None) -> None:
        self.session = session
        self._cache.clear()
        self.show_slide(None)

    @property
    def editable(self) -> bool:
        """Edits are possible: a writable project and a slide that is not
        signed off nor in review at another station."""
        return bool(
            self.session is not None
            and not self.session.read_only
            and self.slide is not None
            and self.slide.status is not SlideStatus.SIGNED_OFF
            and not self.held_elsewhere
        )

    def set_held_elsewhere(self, held: bool) -> None:
        self.held_elsewhere = held
        self._apply_editable()

    def _apply_editable(self) -> None:
        editable = self.editable
        self.view.editable = editable
        if not editable:
            self.view.set_draw_mode(False)
        for item in self._items.values():
            item.editable = editable
            item.update()

    def show_slide(self, slide: Slide | None) -> None:
        self.switch_started = time.perf_counter()
        self.view.set_draw_mode(False) if slide is None else None
        self.scene.clearSelection()
        for item in self._items.values():
            self.scene.removeItem(item)
        self._items.clear()
        self._cells.clear()
        self.slide = slide
        self._apply_editable()
        if slide is None or self.session is None:
            self._image_item.set_image(None, 0, 0)
            self.scene.setSceneRect(QRectF(0, 0, 1, 1))
            self._set_image_state(0, ImageShown.NONE, "")
            self.selection_changed.emit()
            return
        self.scene.setSceneRect(QRectF(0, 0, slide.width, slide.height))
        cached = self._cache.get(slide.id)
        if cached is not None:
            self._cache.move_to_end(slide.id)
            self._image_item.set_image(cached)
            self._set_image_state(slide.id, *_state_of(slide, cached))
        else:
            self._image_item.set_image(None, slide.width, slide.height)
            self._set_image_state(slide.id, ImageShown.LOADING, "")
            self._load(slide)
        self._sync_cells()
        self.view.fit()
        self.selection_changed.emit()
        if cached is not None:
            self._shown(slide.id)

    def _shown(self, slide_id: int) -> None:
        self.last_switch_ms = (time.perf_counter() - self.switch_started) * 1000.0
        self.slide_shown.emit(slide_id)

    def refresh_slide(self, slide: Slide) -> None:
        """The slide record changed (status, path): keep showing it, reload if it moved."""
        moved = self.slide is not None and self.slide.path != slide.path
        self.slide = slide
        self._apply_editable()
        if moved:
            self._cache.pop(slide.id, None)
            self.show_slide(slide)

    def forget_images(self, slide_ids: Collection[int]) -> None:
        """Drop these slides' decoded images: they are looked for elsewhere
        now (an image folder mapped); the cache knows slides, not paths."""
        for slide_id in slide_ids:
            self._cache.pop(slide_id, None)

    def image(self) -> ImageLevels | None:
        """The full image on show, to cut cells from (None while loading,
        during a preview, when unreadable, or when it changed size since its
        boxes were drawn)."""
        image = self._image_item.image
        return None if image is None or image.preview or self._image_state[0] == ImageShown.CHANGED else image

    @property
    def image_state(self) -> tuple[ImageShown, str]:
        return self._image_state

    def _set_image_state(self, slide_id: int, state: ImageShown, reason: str) -> None:
        self._image_state = (state, reason)
        self.image_state_changed.emit(slide_id, state, reason)

    def _load(self, slide: Slide) -> None:
        assert self.session is not None
        path = self.session.store.image_path(slide)
        key = (slide.id, str(path))  # a relocated slide is a new load, not the old one
        if key in self._loads:
            return

        session = self.session
        slide_id = slide.id
        large = slide.width * slide.height > _PREVIEW_ABOVE_PIXELS

        def read(token: CancelToken) -> Generator[Progress, None, _Loaded]:
            if large:
                # A whole-slide scan takes seconds to decode: show a 1/8 preview first.
                preview = try_read(read_preview, path)
                if preview.state == ImageState.READ:
                    yield Progress(0, 1, "preview", payload=_Loaded(slide_id, session, path, preview))
            return _Loaded(slide_id, session, path, try_read(read_levels, path))

        # Bound methods of GUI-thread objects: Qt queues these calls to the GUI thread.
        handle = start_job(
            f"Open {slide.path}",
            read,
            self,
            on_progress=self._preview,
            on_result=self._loaded,
            on_finished=self._prune_loads,
        )
        self._loads[key] = handle

    def _preview(self, progress: Progress) -> None:
        loaded: _Loaded = progress.payload
        slide_id = loaded.slide_id
        if self._is_current(slide_id, loaded.session, loaded.path):
            self._image_item.set_image(loaded.read.image, self.slide.width, self.slide.height)
            self._set_image_state(slide_id, ImageShown.PREVIEW, "")
            self.message.emit("Showing a preview while the full-resolution image loads…")

    def _prune_loads(self) -> None:
        for key in [key for key, handle in self._loads.items() if not handle.running]:
            del self._loads[key]

    def prefetch(self, slides: Sequence[Slide]) -> None:
        """Decode neighbouring small slides ahead, so PageDown is instant."""
        for slide in slides:
            if slide.id not in self._cache and slide.width * slide.height <= _CACHE_PIXELS // 4:
                self._load(slide)

    def _is_current(self, slide_id: int, session: ProjectSession | None, path: object) -> bool:
        return (
            session is self.session
            and self.session is not None
            and self.slide is not None
            and self.slide.id == slide_id
            and self.session.store.image_path(self.slide) == path
        )

    def _loaded(self, loaded: _Loaded) -> None:
        slide_id, session, image = loaded.slide_id, loaded.session, loaded.read.image
        if session is not self.session or self.session is None:
            return
        on_show = self.slide is not None and self.slide.id == slide_id
        if on_show and not self._is_current(slide_id, session, loaded.path):
            return  # read from where the image used to be
        if image is not None:
            self._cache[slide_id] = image
            self._cache.move_to_end(slide_id)
            while len(self._cache) > 1 and sum(i.width * i.height for i in self._cache.values()) > _CACHE_PIXELS:
                self._cache.popitem(last=False)
        if self.slide is None or self.slide.id != slide_id:
            return
        self._image_item.set_image(image, self.slide.width, self.slide.height)
        if image is not None and (image.width, image.height) != (self.slide.width, self.slide.height):
            # The file changed size since it was added: show it as it is, and say so.
            self.scene.setSceneRect(QRectF(0, 0, image.width, image.height))
            self.view.fit()
        if image is not None:
            self._set_image_state(slide_id, *_state_of(self.slide, image))
        else:
            self._set_image_state(slide_id, ImageShown.of(loaded.read.state), loaded.read.reason)
        self._shown(slide_id)
        self.selection_changed.emit()  # the inspector can show the crop now

    # ------------------------------------------------------------ following the store
    def on_store_events(self, events: list[StoreEvent]) -> None:
        if self.session is None or self.slide is None:
            return
        slide_id = self.slide.id
        # Undo and redo announce the cells they restore with their slide, so
        # history_changed alone needs no refresh here.
        if any(
            event.kind is StoreEventKind.RELOADED or (event.kind.about_cells and event.slide_id == slide_id)
            for event in events
        ):
            self._sync_cells()

    def _sync_cells(self) -> None:
        if self.session is None or self.slide is None:
            return
        taxonomy = self.session.taxonomy
        cells = {cell.id: cell for cell in self.session.reader.cells(self.slide.id)}
        for cell_id in [cid for cid in self._items if cid not in cells]:
            self.scene.removeItem(self._items.pop(cell_id))
            self._cells.pop(cell_id, None)
        editable = self.editable
        for cell_id, cell in cells.items():
            item = self._items.get(cell_id)
            if item is None:
                item = CellItem(cell_id, rect_of(cell.box), cell_look(cell, taxonomy, self.threshold))
                item.editable = editable
                item.setVisible(cell.kind in self._visible_kinds)
                self.scene.addItem(item)
                self._items[cell_id] = item
            elif self._cells.get(cell_id) != cell:
                item.set_rect(rect_of(cell.box))
                item.set_look(cell_look(cell, taxonomy, self.threshold))
                item.setVisible(cell.kind in self._visible_kinds)
            self._cells[cell_id] = cell
        self.selection_changed.emit()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        if self.session is not None:
            for cell_id, item in self._items.items():
                item.set_look(cell_look(self._cells[cell_id], self.session.taxonomy, threshold))

    # ------------------------------------------------------------ visibility and selection
    def set_kind_visible(self, kind: CellKind, visible: bool) -> None:
        (self._visible_kinds.add if visible else self._visible_kinds.discard)(kind)
        for cell_id, item in self._items.items():
            if self._cells[cell_id].kind is kind:
                item.setVisible(visible)
                if not visible:
                    item.setSelected(False)

    def kind_visible(self, kind: CellKind) -> bool:
        return kind in self._visible_kinds

    def cells(self) -> list[Cell]:
        return list(self._cells.values())

    def item(self, cell_id: int) -> CellItem | None:
        return self._items.get(cell_id)

    def selected_ids(self) -> list[int]:
        return sorted(item.cell_id for item in self.scene.selectedItems() if isinstance(item, CellItem))

    def selected_cells(self) -> list[Cell]:
        return [self._cells[cid] for cid in self.selected_ids() if cid in self._cells]

    def select(self, cell_id: int, reveal: bool = True) -> None:
        self.select_cells([cell_id], reveal)

    def select_cells(self, cell_ids: Sequence[int], reveal: bool = True) -> None:
        """Select the cells of `cell_ids` that are on show (none on show: the
        selection stays); `reveal` centres the view on the first."""
        items = [item for item in (self._items.get(cell_id) for cell_id in cell_ids) if item is not None]
        if not items:
            return
        self.scene.clearSelection()
        for item in items:
            item.setSelected(True)
        if reveal:
            self.view.centre_on_rect(items[0].rect)

    def step(self, backwards: bool = False) -> None:
        """Tab / Shift+Tab: the next visible cell in reading order, white cells first."""
        order = sorted(
            (c for c in self._cells.values() if c.kind in self._visible_kinds),
            key=lambda c: (_KIND_RANK[c.kind], round(c.box.centre[1] / 40.0), c.box.centre[0]),
        )
        if not order:
            return
        ids = [c.id for c in order]
        selected = self.selected_ids()
        if not selected or selected[0] not in ids:
            index = len(ids) - 1 if backwards else 0
        else:
            index = (ids.index(selected[-1 if not backwards else 0]) + (-1 if backwards else 1)) % len(ids)
        self.select(ids[index])

    # ------------------------------------------------------------ edits
    def _review(self, action: Callable[..., _Result], *args: object, **options: object) -> _Result | None:
        """Run a review action (core.review) on the project; a refusal is
        said in the status bar and the boxes are drawn from the store again,
        dropping a drag the store refused."""
        if self.session is None:
            return None
        result = run_review(self.message.emit, action, self.session.store, *args, **options)
        if result is None:
            self._sync_cells()
        return result

    def _on_box_drawn(self, rect: QRectF) -> None:
        if self.slide is None or self.session is None:
            return
        cell = self._review(review.draw_box, self.slide.id, box_of(rect), self.draw_kind)
        if cell is not None:
            self.select(cell.id, reveal=False)

    def _on_box_edited(self, cell_id: int, rect: QRectF) -> None:
        self._review(review.move_box, cell_id, box_of(rect), seen=self._seen([cell_id]))

    def nudge_selected(self, dx: int, dy: int, resize: bool = False) -> None:
        """Move the selected box, or its right or bottom edge, by (dx, dy)
        screen pixels (at least one image pixel): boxes are adjusted from
        the keyboard as well as by dragging.  Kept inside the image."""
        if self.session is None or self.slide is None or not self.editable:
            return
        ids = self.selected_ids()
        if len(ids) != 1 or ids[0] not in self._cells:
            self.message.emit("Select one box (Tab), then Shift+arrows move it and Alt+arrows resize it")
            return
        step = max(1, round(1 / max(self.view.scale_factor(), 1e-6)))
        box = self._cells[ids[0]].box
        width, height = self.slide.width, self.slide.height
        if resize:
            fitted = _clipped(_resized(box, dx * step, dy * step), width, height)
        else:
            fitted = _shifted_inside(_moved(box, dx * step, dy * step), width, height)
        if fitted != box:
            self._review(review.nudge_box, ids[0], fitted, seen=self._seen(ids))

    def set_class(self, name: str) -> None:
        """Give the selected cells a class: one undo step (core.review.set_class)."""
        ids = self.selected_ids()
        if ids:
            self._review(review.set_class, ids, name, seen=self._seen(ids))

    def set_kind(self, kind: CellKind) -> None:
        """Mark the selected cells as another kind."""
        ids = self.selected_ids()
        if ids:
            self._review(review.set_kind, ids, kind, seen=self._seen(ids))

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self._review(review.delete, ids, seen=self._seen(ids))

    def decide_blast(self, confirmed: bool) -> None:
        """Confirm (or dismiss) the lymphoid screen's flag on the selected cells."""
        ids = self.selected_ids()
        if ids:
            self._review(review.confirm_blast if confirmed else review.dismiss_blast, ids, seen=self._seen(ids))

    def accept_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self._review(review.accept, ids, seen=self._seen(ids))

    def accept_all(self) -> None:
        if self.slide is not None:
            self._review(review.accept_slide, self.slide.id)

    def _seen(self, cell_ids: Sequence[int]) -> dict[int, int]:
        """The cells' versions as drawn: an edit on one another station has
        changed since is refused, and the boxes are drawn again."""
        return seen(self._cells.get(cell_id) for cell_id in cell_ids)


def _state_of(slide: Slide, image: ImageLevels) -> tuple[ImageShown, str]:
    """OK, or CHANGED and why when the file no longer has the size its boxes
    were drawn on."""
    reason = changed_size(slide, image.width, image.height)
    return (ImageShown.OK, "") if reason is None else (ImageShown.CHANGED, reason)


_MIN_SIDE = 2.0  # image pixels: a box the keyboard shrinks stays a box


def _moved(box: Box, dx: float, dy: float) -> Box:
    return Box(box.x0 + dx, box.y0 + dy, box.x1 + dx, box.y1 + dy)


def _resized(box: Box, dx: float, dy: float) -> Box:
    return Box(box.x0, box.y0, max(box.x1 + dx, box.x0 + _MIN_SIDE), max(box.y1 + dy, box.y0 + _MIN_SIDE))


def _shifted_inside(box: Box, width: int, height: int) -> Box:
    """A moved box shifted back into the image where the move took it out
    (a box wider than the image stays where it is)."""
    x_shift = max(0.0, -box.x0) - max(0.0, box.x1 - width) if box.x1 - box.x0 <= width else 0.0
    y_shift = max(0.0, -box.y0) - max(0.0, box.y1 - height) if box.y1 - box.y0 <= height else 0.0
    return _moved(box, x_shift, y_shift)


def _clipped(box: Box, width: int, height: int) -> Box:
    """A resized box cut to the image; one lying wholly outside it (an
    imported box can) is left as it is rather than turned inside out."""
    x0, y0, x1, y1 = max(0.0, box.x0), max(0.0, box.y0), min(float(width), box.x1), min(float(height), box.y1)
    return Box(x0, y0, x1, y1) if x1 > x0 and y1 > y0 else box
