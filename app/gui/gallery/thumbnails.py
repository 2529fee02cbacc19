"""Cell thumbnails made off the GUI thread and kept in an LRU cache.

The view asks for a thumbnail when it paints a tile; a miss queues the cell
and the tile shows a placeholder until the batch arrives.  One worker thread
makes batches of the most recently asked-for cells, grouped by slide so each
slide image is decoded once per batch (and the last few decoded slides are
kept for the next batch, since a gallery scrolls through one slide's cells
at a time).  Only QImage is made on the worker; QPixmap is made on the GUI
thread, as Qt requires.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from core.crops import crop_square
from core.imaging import ImageReadError, load_rgb
from core.schema import Box, Cell

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


class _BatchSignals(QObject):
    done = Signal(object)  # list[tuple[ThumbKey, QImage | None]]


class _BatchJob(QRunnable):
    def __init__(self, requests: list[_Request], size: int, decoded: OrderedDict[Path, np.ndarray | None],
                 budget: int = DECODED_BUDGET_BYTES) -> None:
        super().__init__()
        self.requests = requests
        self.size = size
        self.decoded = decoded  # shared with later batches; only one batch runs at a time
        self.budget = budget
        self.signals = _BatchSignals()

    def run(self) -> None:
        results: list[tuple[ThumbKey, QImage | None]] = []
        by_slide: dict[Path, list[_Request]] = {}
        for request in self.requests:
            by_slide.setdefault(request.image_path, []).append(request)
        for path, requests in by_slide.items():
            pixels = self._decode(path)
            for request in requests:
                results.append((request.key, None if pixels is None else self._thumbnail(pixels, request.box)))
        try:
            self.signals.done.emit(results)
        except RuntimeError:
            pass  # the provider went away while this batch ran

    def _decode(self, path: Path) -> np.ndarray | None:
        if path in self.decoded:
            self.decoded.move_to_end(path)
            return self.decoded[path]
        try:
            pixels: np.ndarray | None = load_rgb(path)
        except ImageReadError as error:
            log.warning("no thumbnails for %s", error)
            pixels = None
        size = 0 if pixels is None else pixels.nbytes
        if size <= self.budget:
            self.decoded[path] = pixels
            while sum(0 if p is None else p.nbytes for p in self.decoded.values()) > self.budget:
                self.decoded.popitem(last=False)
        return pixels

    def _thumbnail(self, pixels: np.ndarray, box: Box) -> QImage:
        crop = crop_square(pixels, box)
        side = crop.shape[0]
        interpolation = cv2.INTER_AREA if side > self.size else cv2.INTER_LINEAR
        small = np.ascontiguousarray(cv2.resize(crop, (self.size, self.size), interpolation=interpolation))
        image = QImage(small.data, self.size, self.size, 3 * self.size, QImage.Format.Format_RGB888)
        return image.copy()  # own the pixels: `small` is freed when this returns


class ThumbnailProvider(QObject):
    """`pixmap(cell)` answers from the cache or queues the cell; `ready(keys)`
    fires when queued thumbnails have arrived.  `image_path(slide_id)` tells
    where a slide's image is."""

    ready = Signal(object)  # list[ThumbKey]

    def __init__(
        self,
        image_path: Callable[[int], Path],
        size: int = 96,
        capacity: int = 2500,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.size = size
        self.capacity = capacity
        self._image_path = image_path
        self._paths: dict[int, Path] = {}
        self._cache: OrderedDict[ThumbKey, QPixmap] = OrderedDict()
        self._failed: set[ThumbKey] = set()
        self._pending: OrderedDict[ThumbKey, _Request] = OrderedDict()
        self._in_flight: set[ThumbKey] = set()
        self._decoded: OrderedDict[Path, np.ndarray | None] = OrderedDict()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one decoder: the machine is shared with training
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._start_batch)
        self.batches_started = 0

    # ------------------------------------------------------------ asking
    def pixmap(self, cell: Cell) -> QPixmap | None:
        key = thumb_key(cell)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if key in self._failed or key in self._in_flight:
            return None
        if key in self._pending:
            self._pending.move_to_end(key)  # asked again: it is on screen now
        else:
            path = self._paths.get(cell.slide_id)
            if path is None:
                path = self._paths[cell.slide_id] = self._image_path(cell.slide_id)
            self._pending[key] = _Request(key, path, cell.box)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        if not self._flush_timer.isActive():
            self._flush_timer.start()
        return None

    def failed(self, cell: Cell) -> bool:
        return thumb_key(cell) in self._failed

    def forget_slide_images(self) -> None:
        """Slide images changed on disk or were relinked: decode them afresh."""
        self._decoded.clear()
        self._failed.clear()
        self._paths.clear()

    @property
    def idle(self) -> bool:
        return not self._pending and not self._in_flight

    def cached_count(self) -> int:
        return len(self._cache)

    def shutdown(self) -> None:
        """Drop queued work and wait for the batch in flight (window closing)."""
        self._pending.clear()
        self._flush_timer.stop()
        self._pool.waitForDone(5000)

    # ------------------------------------------------------------ working
    @Slot()
    def _start_batch(self) -> None:
        if self._in_flight or not self._pending:
            return
        requests = []
        while self._pending and len(requests) < BATCH_SIZE:
            _, request = self._pending.popitem(last=True)  # newest first: what is on screen now
            requests.append(request)
        self._in_flight = {request.key for request in requests}
        job = _BatchJob(requests, self.size, self._decoded)
        job.signals.done.connect(self._batch_done)
        self.batches_started += 1
        self._pool.start(job)

    @Slot(object)
    def _batch_done(self, results: list[tuple[ThumbKey, QImage | None]]) -> None:
        arrived = []
        for key, image in results:
            if image is None:
                self._failed.add(key)
            else:
                self._cache[key] = QPixmap.fromImage(image)
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
            arrived.append(key)
        self._in_flight = set()
        if self._pending:
            self._flush_timer.start()
        self.ready.emit(arrived)
