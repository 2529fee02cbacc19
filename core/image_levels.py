"""A slide image as a pyramid of levels, for a viewer that zooms from the
whole scan down to single pixels: the full image plus halvings of it, so a
zoomed-out view draws from a small level instead of the full one.  Read
through core.imaging, so the pixels and errors are those of every other
reader."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import cv2
from numpy.typing import NDArray

from core.imaging import load_rgb, load_rgb_eighth

# Each level halves the one before until the image fits in this many pixels
# on its longer side; together the levels cost a third of level 0.
_SMALLEST_LEVEL_SIDE = 1024


@dataclass(slots=True)
class ImageLevels:
    """One decoded image: levels[0] is the full image (H x W x 3 uint8, the
    only full-resolution copy held), levels[i] is downscaled by 2**i."""

    levels: list[NDArray[Any]]
    preview: bool = False  # a reduced decode, shown while the full image loads

    @property
    def full(self) -> NDArray[Any]:
        return self.levels[0]

    @property
    def width(self) -> int:
        return int(self.levels[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.levels[0].shape[0])


def build_levels(full: NDArray[Any]) -> list[NDArray[Any]]:
    """Level 0 is `full` itself (not copied); each next level is half size."""
    levels = [full]
    while max(levels[-1].shape[:2]) > _SMALLEST_LEVEL_SIDE:
        previous = levels[-1]
        size = (max(1, previous.shape[1] // 2), max(1, previous.shape[0] // 2))
        levels.append(cv2.resize(previous, size, interpolation=cv2.INTER_AREA))
    return levels


def read_levels(path: str | os.PathLike[str]) -> ImageLevels:
    """The whole image and its levels; ImageReadError if it cannot be read."""
    return ImageLevels(levels=build_levels(load_rgb(path)))


def read_preview(path: str | os.PathLike[str]) -> ImageLevels:
    """An eighth-scale decode of a large scan, quick to show while the full one loads."""
    return ImageLevels(levels=[load_rgb_eighth(path)], preview=True)
