"""Large images in overlapping tiles, with boxes merged across the seams.

Each tile keeps only the boxes whose centre lies in its own core (the tile
minus half the overlap on every side it shares with a neighbour), so a cell
cut by one tile's edge is taken from the tile that sees it whole; a final
class-wise NMS removes the few duplicates a cell straddling a core border can
still give.  The overlap must exceed the largest cell (at working scale).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.detection.nms import class_nms

Detections = tuple[NDArray[Any], NDArray[Any], NDArray[Any]]  # boxes N x 4, scores, classes


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering [0, length), evenly spread, each pair
    overlapping by at least `overlap`."""
    if length <= tile:
        return [0]
    step = tile - overlap
    count = -(-(length - tile) // step) + 1
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def tile_grid(height: int, width: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(y0, x0, y1, x1) of every tile."""
    return [
        (y, x, min(y + tile, height), min(x + tile, width))
        for y in tile_starts(height, tile, overlap)
        for x in tile_starts(width, tile, overlap)
    ]


def detect_tiled(
    image: NDArray[Any],
    detect_tile: Callable[[NDArray[Any]], Detections],
    tile: int,
    overlap: int,
    nms_iou: float = 0.5,
    should_stop: Callable[[], bool] | None = None,
) -> Detections:
    """Run `detect_tile` over every tile of `image` and merge the results in
    image coordinates.  Memory stays that of one tile at a time."""
    height, width = image.shape[:2]
    steps = detect_tiled_rows(
        height, width, lambda y0, y1, x0, x1: image[y0:y1, x0:x1], detect_tile, tile, overlap, nms_iou, should_stop
    )
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            merged: Detections = finished.value
            return merged


def detect_tiled_rows(
    height: int,
    width: int,
    pixels: Callable[[int, int, int, int], NDArray[Any]],
    detect_tile: Callable[[NDArray[Any]], Detections],
    tile: int,
    overlap: int,
    nms_iou: float = 0.5,
    should_stop: Callable[[], bool] | None = None,
) -> Generator[tuple[int, int], None, Detections]:
    """detect_tiled over an image known by its size and `pixels(y0, y1,
    x0, x1)`, which gives one tile and is asked for tiles row by row, top
    to bottom, so a reader of bands (BandWindow) can hold only the rows of
    one row of tiles.  Yields (tiles done, tiles in all) after each row of tiles
    and returns the merged detections."""
    grid = tile_grid(height, width, tile, overlap)
    ys = sorted({g[0] for g in grid})
    xs = sorted({g[1] for g in grid})
    all_boxes, all_scores, all_classes = [], [], []
    done = 0
    for y0 in ys:
        y1 = min(y0 + tile, height)
        for x0 in xs:
            if should_stop is not None and should_stop():
                break
            x1 = min(x0 + tile, width)
            boxes, scores, classes = detect_tile(pixels(y0, y1, x0, x1))
            done += 1
            if len(boxes) == 0:
                continue
            boxes = boxes + np.array([x0, y0, x0, y0], dtype=boxes.dtype)
            cx = (boxes[:, 0] + boxes[:, 2]) / 2
            cy = (boxes[:, 1] + boxes[:, 3]) / 2
            cx0, cx1 = _core(xs, x0, x1, width)
            cy0, cy1 = _core(ys, y0, y1, height)
            inside = (cx >= cx0) & (cx < cx1) & (cy >= cy0) & (cy < cy1)
            all_boxes.append(boxes[inside])
            all_scores.append(scores[inside])
            all_classes.append(classes[inside])
        if should_stop is not None and should_stop():
            break
        yield done, len(grid)
    if not all_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    boxes = np.concatenate(all_boxes)
    scores = np.concatenate(all_scores)
    classes = np.concatenate(all_classes)
    if len(grid) > 1:
        keep = class_nms(boxes, scores, classes, nms_iou)
        boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    return boxes, scores, classes


class BandWindow:
    """rows(y0, y1) and tile(y0, y1, x0, x1) over an iterator of bands
    read top to bottom, holding only the rows from the last y0 asked for
    to the end of the last band read."""

    def __init__(self, bands: Iterator[NDArray[Any]], width: int) -> None:
        self._bands = bands
        self._top = 0  # image row of self._held[0]
        self._held = np.zeros((0, width, 3), np.uint8)

    def rows(self, y0: int, y1: int) -> NDArray[Any]:
        if y0 < self._top:
            raise ValueError(f"rows {y0}-{y1} asked for after row {self._top}: bands are read top to bottom")
        # Drop what is above y0 before reading on, so only one window is held.
        self._held = self._held[y0 - self._top :]
        self._top = y0
        parts = [self._held]
        held = len(self._held)
        while self._top + held < y1:
            band = next(self._bands, None)
            if band is None:
                break
            parts.append(band)
            held += len(band)
        if len(parts) > 1:
            self._held = np.concatenate(parts)
        return self._held[: y1 - self._top]

    def tile(self, y0: int, y1: int, x0: int, x1: int) -> NDArray[Any]:
        return self.rows(y0, y1)[:, x0:x1]


def _core(starts: list[int], start: int, end: int, length: int) -> tuple[float, float]:
    """The part of [start, end) this tile owns: up to the midpoint of its
    overlap with each neighbour."""
    index = starts.index(start)
    low = -np.inf if index == 0 else (start + _end_of(starts, index - 1, end - start, length)) / 2
    high = np.inf if index == len(starts) - 1 else (starts[index + 1] + end) / 2
    return low, high


def _end_of(starts: list[int], index: int, tile: int, length: int) -> int:
    return min(starts[index] + tile, length)
