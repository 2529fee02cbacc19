"""The detector's working scale: images are shrunk before the network sees
them, and boxes scaled back.  Half resolution keeps a platelet (20-40 px in
the training fields) at 10-20 px, several output cells wide, while cutting
the work four-fold."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

DEFAULT_WORK_SCALE = 0.5
# The network downsamples by 32, so its input sides are padded to this.
SIZE_MULTIPLE = 32


def to_work_scale(image: NDArray[Any], scale: float) -> NDArray[Any]:
    """The image resized by `scale`: shrunk by area averaging, enlarged (an
    image taken at a low magnification, core.detection.magnification)
    bilinearly, since area averaging enlarges as blocks."""
    if scale == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def pad_to_multiple(image: NDArray[Any], multiple: int = SIZE_MULTIPLE, minimum: int = SIZE_MULTIPLE) -> NDArray[Any]:
    """Pad bottom and right with the image's mean colour (the plasma
    background, mostly), so the padding looks like empty smear, as in
    training."""
    height, width = image.shape[:2]
    target_h = max(minimum, -(-height // multiple) * multiple)
    target_w = max(minimum, -(-width // multiple) * multiple)
    if (target_h, target_w) == (height, width):
        return image
    fill = image.reshape(-1, image.shape[2]).mean(axis=0).astype(image.dtype)
    padded = np.empty((target_h, target_w, image.shape[2]), dtype=image.dtype)
    padded[:] = fill
    padded[:height, :width] = image
    return padded
