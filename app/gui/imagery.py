"""Reading slide images for the viewer: full images as one array plus a
pyramid of smaller levels, and thumbnails.  Plain numpy, no Qt: the worker
threads call these.

Why two decoders: core.imaging.load_rgb uses Pillow, whose decompression-bomb
guard (about 179 megapixels) must stay on for every file that comes from
outside.  A whole-slide scan of 20,000 x 20,000 pixels (400 megapixels) is
over that limit, yet it is exactly what a technician opens in the viewer.
For images whose header says they are that large we decode with OpenCV
instead, which has its own ceiling (CV_IO_MAX_IMAGE_PIXELS, 2^30 pixels by
default) and decodes straight into one uint8 array.  Pillow's global limit is
never raised, so nothing else in the process loses the guard.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from core.imaging import ImageReadError, load_rgb, to_rgb_array

# Each pyramid level halves the one before until the image fits in this many
# pixels on its longer side; together the levels cost a third of level 0.
_SMALLEST_LEVEL_SIDE = 1024
THUMBNAIL_SIDE = 96


@dataclass(slots=True)
class SlideImage:
    """One decoded slide: levels[0] is the full image (H x W x 3 uint8, the
    only full-resolution copy held), levels[i] is downscaled by 2**i."""

    levels: list[np.ndarray]
    preview: bool = False  # a reduced decode shown while the full image loads

    @property
    def full(self) -> np.ndarray:
        return self.levels[0]

    @property
    def width(self) -> int:
        return int(self.levels[0].shape[1])

    @property
    def height(self) -> int:
        return int(self.levels[0].shape[0])


def too_large_for_pillow(path: Path) -> bool:
    """True when Pillow's guard refuses the file.  Image.open reads only the
    header, and the guard fires there, before any pixel is decoded."""
    try:
        with Image.open(path):
            return False
    except Image.DecompressionBombError:
        return True
    except Exception:
        return False  # load_rgb will report what is wrong with it


def read_full_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """The whole image, upright RGB uint8; large scans through OpenCV."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "file not found")
    if too_large_for_pillow(path):
        return _read_large_with_opencv(path)
    return load_rgb(path)


def _read_large_with_opencv(path: Path) -> np.ndarray:
    # np.fromfile + imdecode rather than imread so that non-ASCII paths work
    # on Windows.  IMREAD_COLOR applies the EXIF orientation like load_rgb.
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(path, f"cannot read file ({error})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    del data
    if image is None:
        raise ImageReadError(path, "damaged, truncated or too large to decode")
    cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)  # in place: no second full copy
    return image


def build_levels(full: np.ndarray) -> list[np.ndarray]:
    """Level 0 is `full` itself (not copied); each next level is half size."""
    levels = [full]
    while max(levels[-1].shape[:2]) > _SMALLEST_LEVEL_SIDE:
        previous = levels[-1]
        size = (max(1, previous.shape[1] // 2), max(1, previous.shape[0] // 2))
        levels.append(cv2.resize(previous, size, interpolation=cv2.INTER_AREA))
    return levels


def read_slide_image(path: str | os.PathLike[str]) -> SlideImage:
    full = read_full_rgb(path)
    return SlideImage(levels=build_levels(full))


def read_preview(path: str | os.PathLike[str]) -> SlideImage:
    """A quick 1/8-scale decode of a large scan, to show while the full one loads."""
    path = Path(path)
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_8)
    if image is None:
        raise ImageReadError(path, "damaged, truncated or too large to decode")
    cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)
    return SlideImage(levels=[image], preview=True)


def read_thumbnail(path: str | os.PathLike[str], side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """A small RGB preview, decoded at reduced size where the format allows
    (JPEG draft mode), so a folder of scans is browsed without decoding them whole."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(path, "file not found")
    if too_large_for_pillow(path):
        data = np.fromfile(path, dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_8)
        if image is None:
            raise ImageReadError(path, "damaged, truncated or too large to decode")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        scale = side / max(image.shape[:2])
        return cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft("RGB", (side * 2, side * 2))
            image = ImageOps.exif_transpose(image)
            image.thumbnail((side, side))
            return to_rgb_array(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageReadError(path, f"damaged or truncated image ({error})") from None
