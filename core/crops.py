"""Cutting a cell out of a slide: one function, used by training and by
inference alike, so a model is trained on exactly what it will be shown."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.schema import Box

# Context around the box, as a fraction of the box's longer side on each side.
# A white cell's class shows in its cytoplasm edge and granules, and boxes
# drawn by hand or by the detector are often a little tight.
DEFAULT_MARGIN = 0.15


# What a person is shown beyond the slide's edge: the canvas's own colour
# outside the image.  Replicated border pixels read as a smeared cell.
OUTSIDE_FOR_DISPLAY = (36, 40, 44)


def crop_square(image: NDArray[Any], box: Box, margin: float = DEFAULT_MARGIN,
                outside: tuple[int, ...] | None = None) -> NDArray[Any]:
    """A square crop centred on the box, its side the box's longer side plus
    `margin` of it on each side.  Parts outside the image are filled by
    replicating the border, so a cell at the edge keeps its size and place
    (what the classifier is trained on and shown), or with the colour
    `outside` for crops a person looks at (OUTSIDE_FOR_DISPLAY).  A zero-size
    box gives a crop of one pixel."""
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
        # nearest border pixel (or the outside colour).
        fill = (image[min(max(int(cy), 0), height - 1), min(max(int(cx), 0), width - 1)] if outside is None
                else _colour(image, outside))
        return np.broadcast_to(fill, (side, side) + image.shape[2:]).copy()
    pad = (
        (max(0, -y0), max(0, y1 - height)),
        (max(0, -x0), max(0, x1 - width)),
    ) + ((0, 0),) * (image.ndim - 2)
    if any(before or after for before, after in pad[:2]):
        if outside is None:
            inside = np.pad(inside, pad, mode="edge")
        else:
            filled = np.empty((side, side) + image.shape[2:], image.dtype)
            filled[...] = _colour(image, outside)
            top, left = pad[0][0], pad[1][0]
            filled[top : top + inside.shape[0], left : left + inside.shape[1]] = inside
            inside = filled
    return np.ascontiguousarray(inside)


def display_tile(image: NDArray[Any], box: Box, side: int) -> NDArray[Any]:
    """The crop a person is shown for a cell (the outside colour past the
    slide's edge), resized to side x side pixels."""
    crop = crop_square(image, box, outside=OUTSIDE_FOR_DISPLAY)
    interpolation = cv2.INTER_AREA if crop.shape[0] > side else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(crop, (side, side), interpolation=interpolation))


def _colour(image: NDArray[Any], colour: tuple[int, ...]) -> NDArray[Any]:
    """`colour` in the image's channels and type: its first value for a grey
    image, opaque where the image has an alpha channel."""
    if image.ndim == 2:
        return np.asarray(colour[0], image.dtype)
    channels = image.shape[2]
    return np.asarray((list(colour) + [255] * channels)[:channels], image.dtype)
