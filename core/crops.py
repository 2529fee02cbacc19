"""Cutting a cell out of a slide: one function, used by training and by
inference alike, so a model is trained on exactly what it will be shown."""

from __future__ import annotations

import numpy as np

from core.schema import Box

# Context around the box, as a fraction of the box's longer side on each side.
# A white cell's class shows in its cytoplasm edge and granules, and boxes
# drawn by hand or by the detector are often a little tight.
DEFAULT_MARGIN = 0.15


def crop_square(image: np.ndarray, box: Box, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """A square crop centred on the box, its side the box's longer side plus
    `margin` of it on each side.  Parts outside the image are filled by
    replicating the border, so a cell at the edge keeps its size and place.
    A zero-size box gives a crop of one pixel."""
    height, width = image.shape[:2]
    cx, cy = box.centre
    side = max(box.width, box.height) * (1.0 + 2.0 * margin)
    side = max(1, int(round(side)))
    x0 = int(round(cx - side / 2.0))
    y0 = int(round(cy - side / 2.0))
    x1, y1 = x0 + side, y0 + side
    inside = image[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    if inside.size == 0:
        # The box lies wholly outside the image: nothing to show but the
        # nearest border pixel.
        nearest = image[min(max(int(cy), 0), height - 1), min(max(int(cx), 0), width - 1)]
        return np.broadcast_to(nearest, (side, side) + image.shape[2:]).copy()
    pad = (
        (max(0, -y0), max(0, y1 - height)),
        (max(0, -x0), max(0, x1 - width)),
    ) + ((0, 0),) * (image.ndim - 2)
    if any(before or after for before, after in pad[:2]):
        inside = np.pad(inside, pad, mode="edge")
    return np.ascontiguousarray(inside)
