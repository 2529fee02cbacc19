"""A large PNG read in bands of rows, so that detection over a whole-slide
scan holds a band rather than the whole image.

A 30,000 x 30,000 RGB scan is 2.7 GB decoded, and OpenCV's decoder needs
about twice that at its peak.  No decoder we ship reads a PNG in parts, so
the zlib stream is inflated here, a band of scanlines at a time, and each
band is handed to OpenCV as a small PNG of its own: the band's rows, still
filtered, behind the unfiltered row above them (filter None), which is all
the PNG filters of the band's first row refer to.  Every byte is decoded by
zlib and libpng as before, so the pixels are those of a whole decode.

Only what is common in scans takes this path: 8-bit grey, RGB or RGBA, not
interlaced, without an EXIF orientation.  For anything else open_bands
returns None and the caller decodes the image whole.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.imaging import OPENCV_PIXEL_LIMIT, OPENCV_WIDTH_LIMIT, MissingImage, UnreadableImage

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type -> channels, for the 8-bit types read in bands.
_CHANNELS = {0: 1, 2: 3, 6: 4}
# Images past this many pixels are worth reading in bands (about 190 MB decoded).
LARGE_IMAGE_PIXELS = 64_000_000
_READ_CHUNK = 1 << 20


class PngBands:
    """An 8-bit PNG whose RGB rows can be read top to bottom in bands."""

    def __init__(self, path: Path, width: int, height: int, color_type: int, first_idat: int) -> None:
        self.path = path
        self.width = width
        self.height = height
        self._channels = _CHANNELS[color_type]
        self._color_type = color_type
        self._first_idat = first_idat

    def bands(self, rows: int = 256) -> Iterator[NDArray[Any]]:
        """RGB uint8 bands of up to `rows` rows, top to bottom, covering the
        image; UnreadableImage if the file is damaged or ends early."""
        stride = 1 + self.width * self._channels  # filter byte + pixels
        previous: bytes | None = None
        pending = bytearray()
        done = 0
        for data in self._inflated():
            pending += data
            while len(pending) >= stride * min(rows, self.height - done) and done < self.height:
                count = min(rows, self.height - done)
                block = bytes(pending[: stride * count])
                del pending[: stride * count]
                raw = self._decode(block, count, previous)
                previous = b"\x00" + raw[-1].tobytes()
                done += count
                yield self._to_rgb(raw)
        if done < self.height:
            raise UnreadableImage(self.path, f"damaged or truncated image (ends after row {done} of {self.height})")

    def _inflated(self) -> Iterator[bytes]:
        inflater = zlib.decompressobj()
        try:
            with open(self.path, "rb") as file:
                file.seek(self._first_idat)
                while True:
                    header = file.read(8)
                    if len(header) < 8:
                        raise UnreadableImage(self.path, "damaged or truncated image (no end chunk)")
                    length, kind = struct.unpack(">I4s", header)
                    if kind == b"IEND":
                        break
                    if kind != b"IDAT":
                        file.seek(length + 4, os.SEEK_CUR)
                        continue
                    left = length
                    while left:
                        chunk = file.read(min(left, _READ_CHUNK))
                        if not chunk:
                            raise UnreadableImage(self.path, "damaged or truncated image (a data chunk ends early)")
                        left -= len(chunk)
                        yield inflater.decompress(chunk)
                    file.seek(4, os.SEEK_CUR)  # CRC: libpng checks each band's own
            yield inflater.flush()
        except zlib.error as error:
            raise UnreadableImage(self.path, f"damaged image ({error})") from None
        except FileNotFoundError:
            raise MissingImage(self.path, "file not found") from None
        except OSError as error:
            raise UnreadableImage(self.path, f"cannot read file ({error.strerror or error})") from None

    def _decode(self, block: bytes, count: int, previous: bytes | None) -> NDArray[Any]:
        """The band's rows as OpenCV gives them unchanged (grey, BGR or BGRA)."""
        rows = count + (previous is not None)
        header = struct.pack(">IIBBBBB", self.width, rows, 8, self._color_type, 0, 0, 0)
        body = (previous or b"") + block
        png = _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(body, 0)) + _chunk(b"IEND", b"")
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise UnreadableImage(self.path, "damaged image (a band of rows could not be decoded)")
        image = image[1:] if previous is not None else image
        if image.ndim == 2:
            return image
        # Back to the file's own byte order (RGB, RGBA): the next band's filters refer to it.
        return np.ascontiguousarray(image[:, :, [2, 1, 0, 3][: self._channels]])

    def _to_rgb(self, raw: NDArray[Any]) -> NDArray[Any]:
        if raw.ndim == 2:
            return np.repeat(raw[:, :, None], 3, axis=2)
        if self._channels == 3:
            return raw
        # Transparent pixels become white, like the glass around a smear (as core.imaging does).
        alpha = raw[:, :, 3:4].astype(np.uint16)
        blended = (raw[:, :, :3].astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255
        return blended.astype(np.uint8)


def open_bands(path: str | os.PathLike[str], min_pixels: int | None = None) -> PngBands | None:
    """A band reader for a PNG of at least min_pixels (default
    LARGE_IMAGE_PIXELS) that can be read in bands, else None (decode the
    image whole).  Reads the header chunks only."""
    path = Path(path)
    min_pixels = LARGE_IMAGE_PIXELS if min_pixels is None else min_pixels
    try:
        with open(path, "rb") as file:
            if file.read(8) != _SIGNATURE:
                return None
            length, kind = struct.unpack(">I4s", file.read(8))
            if kind != b"IHDR" or length != 13:
                return None
            width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", file.read(13))
            file.seek(4, os.SEEK_CUR)
            if depth != 8 or color_type not in _CHANNELS or interlace or width * height < min_pixels:
                return None
            if width * height > OPENCV_PIXEL_LIMIT or width > OPENCV_WIDTH_LIMIT:
                return None  # refused, as a whole decode refuses it: the rest of the app could not open it
            while True:
                header = file.read(8)
                if len(header) < 8:
                    return None
                length, kind = struct.unpack(">I4s", header)
                if kind == b"IDAT":
                    return PngBands(path, width, height, color_type, file.tell() - 8)
                if kind in (b"eXIf", b"IEND"):
                    return None  # an orientation to apply: decoded whole, as before
                file.seek(length + 4, os.SEEK_CUR)
    except (OSError, struct.error):
        return None


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
