"""Reading smear images into RGB numpy arrays, whatever their file mode.

Microscope software writes grayscale, 16-bit, RGBA, palette and CMYK files
and phones write EXIF-rotated JPEGs; everything past this module sees an
upright H x W x 3 uint8 array.

Pillow's decompression-bomb guard stays on (about 179 megapixels), yet a
whole-slide scan of 20,000 x 20,000 pixels is a real input.  Images the guard
refuses are decoded with OpenCV instead, whose own ceiling
(CV_IO_MAX_IMAGE_PIXELS, 2^30 pixels by default) is checked before it
allocates: a 50,000 x 50,000 file is refused with a message, never by
exhausting memory.  Pillow's global limit is never raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# OpenCV's default ceiling, quoted in messages (env CV_IO_MAX_IMAGE_PIXELS overrides it).
_OPENCV_PIXEL_LIMIT = int(os.environ.get("CV_IO_MAX_IMAGE_PIXELS", 1 << 30))

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})

# EXIF orientations 5-8 rotate by 90 degrees and so swap width and height.
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}


class ImageReadError(Exception):
    """An image that cannot be used, with the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str, too_large_for_pillow: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason
        self.too_large_for_pillow = too_large_for_pillow


@dataclass(frozen=True, slots=True)
class ImageInfo:
    width: int
    height: int
    mode: str


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def probe_image(path: str | os.PathLike[str], verify_pixels: bool = True, decode_large: bool = True) -> ImageInfo:
    """Size (as displayed, after EXIF rotation) and mode of an image.  With
    verify_pixels the whole file is decoded, so a truncated file is caught
    now rather than in the middle of a review.  An image past Pillow's
    decompression-bomb limit can only be measured by decoding it with
    OpenCV (seconds for a scan); with decode_large=False the
    ImageReadError (too_large_for_pillow) is raised instead."""
    try:
        return _probe_with_pillow(path, verify_pixels)
    except ImageReadError as error:
        if not error.too_large_for_pillow or not decode_large:
            raise
    # Only OpenCV can read it; decoding in gray is the cheapest exact check.
    gray = _decode_with_opencv(Path(path), cv2.IMREAD_GRAYSCALE)
    return ImageInfo(width=int(gray.shape[1]), height=int(gray.shape[0]), mode="large")


def _probe_with_pillow(path: str | os.PathLike[str], verify_pixels: bool) -> ImageInfo:
    with _reading(path), Image.open(path) as image:
        width, height = image.size
        mode = image.mode
        orientation = image.getexif().get(0x0112, 1)
        if verify_pixels:
            if image.format == "JPEG":
                # Decoding at 1/8 scale still reads every byte of the stream.
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    if orientation in _TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    if width < 1 or height < 1:
        raise ImageReadError(path, f"image has no pixels ({width}x{height})")
    return ImageInfo(width=width, height=height, mode=mode)


def load_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """The image as an upright H x W x 3 uint8 array."""
    try:
        with _reading(path), Image.open(path) as image:
            return to_rgb_array(ImageOps.exif_transpose(image))
    except ImageReadError as error:
        if not error.too_large_for_pillow:
            raise
    image = _decode_with_opencv(Path(path), cv2.IMREAD_COLOR)
    cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)  # in place: no second full copy
    return image


def _decode_with_opencv(path: Path, flags: int) -> np.ndarray:
    """Decode a file Pillow's guard refuses.  np.fromfile + imdecode rather
    than imread so that non-ASCII paths work on Windows; IMREAD_COLOR and
    IMREAD_GRAYSCALE apply the EXIF orientation as Pillow's path does."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(path, f"cannot read file ({error.strerror or error})") from None
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error as error:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(error):
            raise ImageReadError(
                path, f"image has more than {_OPENCV_PIXEL_LIMIT:,} pixels, too many to open; split or downscale it"
            ) from None
        raise ImageReadError(path, f"damaged image ({str(error).strip().splitlines()[-1]})") from None
    if image is None:
        raise ImageReadError(
            path, "damaged or truncated image (OpenCV could not decode it)"
        )
    return image


@contextmanager
def _reading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn Pillow's many failure modes into one error naming file and reason."""
    try:
        yield
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except Image.DecompressionBombError as error:
        raise ImageReadError(path, f"image too large for Pillow ({error})", too_large_for_pillow=True) from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image Pillow can read (unknown or damaged format)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageReadError(path, f"damaged or truncated image ({error})") from None


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to 8-bit RGB.  16-bit and float images are
    scaled by their own range rather than clipped, so they do not come out
    white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        data = np.asarray(image, dtype=np.float64)
        low, high = float(data.min()), float(data.max())
        scaled = np.zeros_like(data) if high <= low else (data - low) * (255.0 / (high - low))
        gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white, like the glass around a smear.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        background.alpha_composite(image.convert("RGBA"))
        image = background
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
