"""The one door for reading image files: every reader in core and app goes
through here, so an image reads the same everywhere and every failure is an
ImageReadError whose subclass says what went wrong and whose message names
the file.

Microscope software writes grayscale, 16-bit, RGBA, palette and CMYK files
and phones write EXIF-rotated JPEGs; everything past this module sees an
upright H x W x 3 uint8 array.

Pillow's decompression-bomb guard stays on (about 179 megapixels), yet a
whole-slide scan of 20,000 x 20,000 pixels is a real input.  Images the guard
refuses are decoded with OpenCV instead, whose own ceiling
(OPENCV_IO_MAX_IMAGE_PIXELS, 2^30 pixels by default) is checked before it
allocates: a 50,000 x 50,000 file is refused with a message, never by
exhausting memory.  Pillow's global limit is never raised.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})

# EXIF orientations 5-8 rotate by 90 degrees and so swap width and height.
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}

_T = TypeVar("_T")


def _opencv_limit(variable: str, default: int) -> int:
    """A ceiling of OpenCV's image codecs, read from the environment as
    OpenCV reads it (digits, optionally KB or MB), to quote it in messages."""
    match = re.fullmatch(r"(\d+)(KB|Kb|kb|MB|Mb|mb)?", os.environ.get(variable, "").strip())
    if match is None:
        return default
    digits, suffix = match.groups()
    return int(digits) * {"": 1, "KB": 1 << 10, "MB": 1 << 20}[(suffix or "").upper()]


OPENCV_PIXEL_LIMIT = _opencv_limit("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30)
OPENCV_WIDTH_LIMIT = _opencv_limit("OPENCV_IO_MAX_IMAGE_WIDTH", 1 << 20)


class ImageState(StrEnum):
    """What reading an image came to."""

    READ = "read"
    CHANGED = "changed"  # read, but no longer the size its boxes were drawn on
    MISSING = "missing"
    UNREADABLE = "unreadable"  # damaged, truncated, not an image, or the file cannot be read
    TOO_LARGE = "too large"  # more pixels than can be opened (or than memory holds)


class ImageReadError(Exception):
    """An image that cannot be used, with the file and the reason.  Raised as
    one of the subclasses below; `state` says which trouble it is, so no
    caller has to read the message."""

    state: ClassVar[ImageState] = ImageState.UNREADABLE

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class MissingImage(ImageReadError):
    state = ImageState.MISSING


class UnreadableImage(ImageReadError):
    state = ImageState.UNREADABLE


class ImageTooLarge(ImageReadError):
    state = ImageState.TOO_LARGE


class BeyondPillowGuard(ImageReadError):
    """Past Pillow's decompression-bomb guard: only OpenCV can measure or read it."""

    state = ImageState.TOO_LARGE


class ChangedSize(ImageReadError):
    """The file is no longer the size its slide's boxes were drawn on."""

    state = ImageState.CHANGED


@dataclass(frozen=True, slots=True)
class ImageRead(Generic[_T]):
    """One attempt at reading an image: what was read, or why not."""

    state: ImageState
    image: _T | None = None
    reason: str = ""  # empty when read


def try_read(read: Callable[[Path], _T], path: str | os.PathLike[str]) -> ImageRead[_T]:
    """`read(path)` as an ImageRead, for views that show a state rather than raise."""
    try:
        return ImageRead(ImageState.READ, read(Path(path)))
    except ImageReadError as error:
        return ImageRead(error.state, reason=error.reason)
    except MemoryError:
        return ImageRead(ImageState.TOO_LARGE, reason="not enough memory to open this image")


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
    OpenCV (seconds for a scan); with decode_large=False BeyondPillowGuard
    is raised instead."""
    try:
        return _probe_with_pillow(path, verify_pixels)
    except BeyondPillowGuard:
        if not decode_large:
            raise
    # Only OpenCV can read it; decoding in gray is the cheapest exact check.
    gray = _decode_with_opencv(Path(path), cv2.IMREAD_GRAYSCALE)
    return ImageInfo(width=int(gray.shape[1]), height=int(gray.shape[0]), mode="large")


def stored_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Width and height as stored in the file's header, before any EXIF
    rotation (what formats that normalise boxes to the file mean by its
    size); reads the header only."""
    with _reading(path), Image.open(path) as image:
        width, height = image.size
    return int(width), int(height)


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
        raise UnreadableImage(path, f"image has no pixels ({width}x{height})")
    return ImageInfo(width=width, height=height, mode=mode)


def load_rgb(path: str | os.PathLike[str]) -> NDArray[Any]:
    """The image as an upright H x W x 3 uint8 array."""
    try:
        with _reading(path), Image.open(path) as image:
            return to_rgb_array(ImageOps.exif_transpose(image))
    except BeyondPillowGuard:
        pass
    image = _decode_with_opencv(Path(path), cv2.IMREAD_COLOR)
    cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)  # in place: no second full copy
    return image


def load_rgb_eighth(path: str | os.PathLike[str]) -> NDArray[Any]:
    """The image at an eighth of its width and height, upright RGB uint8: a
    JPEG is decoded at that size, cheaply, other formats whole and then shrunk."""
    image = _decode_with_opencv(Path(path), cv2.IMREAD_REDUCED_COLOR_8)
    cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)
    return image


def read_thumbnail(path: str | os.PathLike[str], side: int) -> NDArray[Any]:
    """The image shrunk to fit `side` x `side`, upright RGB uint8, decoded
    at reduced size where the format allows, so a folder of scans is browsed
    without decoding any of them whole."""
    try:
        with _reading(path), Image.open(path) as image:
            if image.format == "JPEG":
                image.draft("RGB", (side * 2, side * 2))
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((side, side))
            return to_rgb_array(upright)
    except BeyondPillowGuard:
        pass
    reduced = load_rgb_eighth(path)
    scale = min(1.0, side / max(reduced.shape[:2]))
    size = (max(1, round(reduced.shape[1] * scale)), max(1, round(reduced.shape[0] * scale)))
    return cv2.resize(reduced, size, interpolation=cv2.INTER_AREA)


def _decode_with_opencv(path: Path, flags: int) -> NDArray[Any]:
    """Decode with OpenCV.  np.fromfile + imdecode rather than imread so that
    non-ASCII paths work on Windows; the colour and grey flags apply the EXIF
    orientation as Pillow's path does."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise MissingImage(path, "file not found") from None
    except OSError as error:
        raise UnreadableImage(path, f"cannot read file ({error.strerror or error})") from None
    if data.size == 0:
        raise UnreadableImage(path, "empty file (0 bytes)")
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error as error:
        message = str(error)
        if "CV_IO_MAX_IMAGE_PIXELS" in message:  # the text of OpenCV's failed check
            raise ImageTooLarge(
                path, f"image has more than {OPENCV_PIXEL_LIMIT:,} pixels, too many to open; split or downscale it"
            ) from None
        if "CV_IO_MAX_IMAGE_WIDTH" in message or "CV_IO_MAX_IMAGE_HEIGHT" in message:
            raise ImageTooLarge(path, "image is too wide or too tall to open; split or downscale it") from None
        raise UnreadableImage(path, f"damaged image ({message.strip().splitlines()[-1]})") from None
    if image is None:
        raise UnreadableImage(path, "damaged or truncated image (OpenCV could not decode it)")
    return image


@contextmanager
def _reading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn Pillow's many failure modes into one error naming file and reason."""
    try:
        yield
    except FileNotFoundError:
        raise MissingImage(path, "file not found") from None
    except Image.DecompressionBombError as error:
        raise BeyondPillowGuard(path, f"image too large for Pillow ({error})") from None
    except UnidentifiedImageError:
        raise UnreadableImage(path, "not an image Pillow can read (unknown or damaged format)") from None
    except OSError as error:
        if error.errno is not None:  # the file system's refusal, not Pillow's decoder
            raise UnreadableImage(path, f"cannot read file ({error.strerror or error})") from None
        raise UnreadableImage(path, f"damaged or truncated image ({error})") from None
    except (SyntaxError, ValueError) as error:
        raise UnreadableImage(path, f"damaged or truncated image ({error})") from None


def to_rgb_array(image: Image.Image) -> NDArray[Any]:
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
