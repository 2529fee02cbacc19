"""Core's images as the GUI shows them: RGB arrays as QImages, and what the
canvas says about the image of the slide on show.  Reading files is core's
(core/imaging.py, core/image_levels.py); nothing here opens one."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from PySide6.QtGui import QImage

from core.imaging import ImageState


def rgb_to_qimage(array: np.ndarray) -> QImage:
    """A QImage that owns a copy of an H x W x 3 uint8 array."""
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    return QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class ImageShown(StrEnum):
    """What the canvas shows for the slide's image."""

    NONE = "none"  # no slide
    LOADING = "loading"
    PREVIEW = "preview"  # a reduced decode while the full image loads
    OK = "ok"
    CHANGED = "changed"  # shown as it is, but its boxes were drawn on another size
    MISSING = "missing"
    UNREADABLE = "corrupt"
    TOO_LARGE = "too large"

    @classmethod
    def of(cls, state: ImageState) -> ImageShown:
        return _SHOWN_FOR[state]


_SHOWN_FOR = {
    ImageState.READ: ImageShown.OK,
    ImageState.CHANGED: ImageShown.CHANGED,
    ImageState.MISSING: ImageShown.MISSING,
    ImageState.UNREADABLE: ImageShown.UNREADABLE,
    ImageState.TOO_LARGE: ImageShown.TOO_LARGE,
}
