"""Cell thumbnails made off the GUI thread and kept in an LRU cache.

The view asks for a thumbnail when it paints a tile; a miss queues the cell
and the tile shows a placeholder until the batch arrives.  One worker thread
makes batches of the most recently asked-for cells, grouped by slide so each
slide image is decoded once per batch (and the last few decoded slides are
kept for the next batch, since a gallery scrolls through one slide's cells
at a time).  Only QImage is made on the worker; QPixmap is made on the GUI
thread, as Qt requires.  Batches run through the window's one worker helper
(app/gui/worker.py), so closing the window waits for them and a test that
leaves one running fails.

This cache is not the slide browser's (app/gui/thumbnails.py) on purpose: a
slide thumbnail is the whole field decoded at reduced size, keyed by slide;
a cell tile is a square crop around one box from the full-resolution image,
keyed by cell and box.  Neither can be made from the other's pixels without
either decoding every browser thumbnail at full size or blurring the tiles.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from app.gui.imagery import rgb_to_qimage
from app.gui.worker import JobHandle, start_call
from core.crops import display_tile
from core.imaging import ImageReadError
from core.schema import Box, Cell
from core.slide_pixels import load_rgb_sized

log = logging.getLogger(__name__)

ThumbKey = tuple[int, tuple[float, float, float, float]]  # cell id and its box: a moved box is a new thumbnail

BATCH_SIZE = 32
MAX_PENDING = 160  # about two screens; older requests are dropped, their tiles have scrolled away
# Decoded slides kept between batches.  A gallery of every slide grouped by
# class needs crops from many slides per screen; 50 microscope fields of
# 640x480 fit in 50 MB, while one whole-slide scan may not fit at all.
DECODED_BUDGET_BYTES = 384 * 1024 * 1024


def thumb_key(cell: Cell) -> ThumbKey:
    return (cell.id, cell.box.as_tuple())


@dataclass(frozen=True, slots=True)
class _Request:
    key: ThumbKey
    image_path: Path
    box: Box
    image_size: tuple[int, int]  # width, height its boxes were drawn on


def _make_batch(requests: list[_Request], size: int, decoded: OrderedDict[Path, np.ndarray | None],
                budget: int = DECODED_BUDGET_BYTES) -> list[tuple[ThumbKey, QImage | None]]:
    """Runs on a worker thread.  `decoded` is shared with later batches; only
    one batch runs at a time."""
    results: list[tuple[ThumbKey, QImage | None]] = []
    by_slide: dict[Path, list[_Request]] = {}
    for request in requests:
        by_slide.setdefault(request.image_path, []).append(request)
    for path, slide_requests in by_slide.items():
        pixels = _decode(path, slide_requests[0].image_size, decoded, budget)
        for request in slide_requests:
            tile = None if pixels is None else rgb_to_qimage(display_tile(pixels, request.box, size))
            results.append((request.key, tile))
    return results


def _decode(path: Path, image_size: tuple[int, int], decoded: OrderedDict[Path, np.ndarray | None],
            budget: int) -> np.ndarray | None:
    if path in decoded:
        decoded.move_to_end(path)
        return decoded[path]
    try:
        # A file replaced by one of another size since its boxes were drawn
        # is refused: its crops would show the wrong cells.
        pixels: np.ndarray | None = load_rgb_sized(path, image_size)
    except ImageReadError as error:
        log.warning("no thumbnails for %s", error)
        pixels = None
    nbytes = 0 if pixels is None else pixels.nbytes
    if nbytes <= budget:
        decoded[path] = pixels
        while sum(0 if p is None else p.nbytes for p in decoded.values()) > budget:
            decoded.popitem(last=False)
    return pixels


class ThumbnailProvider(QObject):
    """`pixmap(cell)` answers from the cache or queues the cell; `ready(keys)`
    fires when queued thumbnails have arrived.  `slide_image(slide_id)` tells
    where a slide's image is and the size (width, height) its boxes were
    drawn on."""

    ready = Signal(object)  # list[ThumbKey]

    def __init__(
        self,
        slide_image: Callable[[int], tuple[Path, tuple[int, int]]],
        size: int = 96,
        capacity: int = 2500,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.size = size
        self.capacity = capacity
        self._slide_image = slide_image
        self._slide_images: dict[int, tuple[Path, tuple[int, int]]] = {}
        self._cache: OrderedDict[ThumbKey, QPixmap] = OrderedDict()
        self._failed: set[ThumbKey] = set()
        self._pending: OrderedDict[ThumbKey, _Request] = OrderedDict()
        self._in_flight: set[ThumbKey] = set()
        self._decoded: OrderedDict[Path, np.ndarray | None] = OrderedDict()
        self._job: JobHandle | None = None  # one batch at a time: the machine is shared with training
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._start_batch)
        self.batches_started = 0
        self._shut = False

    # ------------------------------------------------------------ asking
    def pixmap(self, cell: Cell) -> QPixmap | None:
        key = thumb_key(cell)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if key in self._failed or key in self._in_flight or self._shut:
            return None
        if key in self._pending:
            self._pending.move_to_end(key)  # asked again: it is on screen now
        else:
            where = self._slide_images.get(cell.slide_id)
            if where is None:
                where = self._slide_images[cell.slide_id] = self._slide_image(cell.slide_id)
            self._pending[key] = _Request(key, where[0], cell.box, where[1])
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        if not self._flush_timer.isActive():
            self._flush_timer.start()
        return None

    def set_size(self, size: int) -> None:
        """Thumbnails of another size from now on: those made are dropped
        (a tile drawn larger from a small one would be blurred), and a batch
        in flight at the old size is not kept."""
        if size == self.size:
            return
        self.size = size
        self._cache.clear()
        self._failed.clear()
        self._pending.clear()

    def failed(self, cell: Cell) -> bool:
        return thumb_key(cell) in self._failed

    def forget_slide_images(self) -> None:
        """Slide images changed on disk or were relinked: decode them afresh."""
        self._decoded.clear()
        self._failed.clear()
        self._slide_images.clear()

    @property
    def idle(self) -> bool:
        return not self._pending and not self._in_flight and self._job is None

    def cached_count(self) -> int:
        return len(self._cache)

    def shutdown(self) -> None:
        """Drop queued work, wait for the batch in flight and start no more:
        the gallery may still be painted once before it goes (window closing)."""
        self._shut = True
        self._pending.clear()
        self._flush_timer.stop()
        if self._job is not None:
            self._job.wait(5.0)

    # ------------------------------------------------------------ working
    @Slot()
    def _start_batch(self) -> None:
        if self._job is not None or self._in_flight or not self._pending:
            return
        requests: list[_Request] = []
        while self._pending and len(requests) < BATCH_SIZE:
            _, request = self._pending.popitem(last=True)  # newest first: what is on screen now
            requests.append(request)
        self._in_flight = {request.key for request in requests}
        size, decoded = self.size, self._decoded
        self.batches_started += 1
        self._job = start_call(
            "Cell thumbnails",
            lambda: (size, _make_batch(requests, size, decoded)),
            self,
            on_result=self._batch_done,
            on_finished=self._batch_finished,
        )

    @Slot()
    def _batch_finished(self) -> None:
        self._job = None
        if self._in_flight:  # the batch failed: show those tiles as unreadable rather than wait forever
            self._failed.update(self._in_flight)
            arrived = list(self._in_flight)
            self._in_flight = set()
            self.ready.emit(arrived)
        if self._pending:
            self._flush_timer.start()

    @Slot(object)
    def _batch_done(self, sized: tuple[int, list[tuple[ThumbKey, QImage | None]]]) -> None:
        size, results = sized
        arrived = []
        for key, image in results:
            if size != self.size:
                pass  # made before the tiles changed size: asked again at the new size when painted
            elif image is None:
                self._failed.add(key)
            else:
                self._cache[key] = QPixmap.fromImage(image)
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
            arrived.append(key)
        self._in_flight = set()
        self.ready.emit(arrived)  # the next batch starts once the job has finished
