"""Single-cell images changed as other analysers and exports change them:
pixel size, JPEG quality, framing.  Shared by the variants benchmark and
any check of a locator rule on another split than test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
from numpy.typing import NDArray

from core.training.samples import LabelledCell

Image = NDArray[Any]  # BGR uint8, as cv2 reads and writes


def _resized(factor: float) -> Callable[[Image], Image]:
    def change(image: Image) -> Image:
        height, width = image.shape[:2]
        method = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        return cv2.resize(image, (round(width * factor), round(height * factor)), interpolation=method)

    return change


def _cropped(share: float, dx: float, dy: float) -> Callable[[Image], Image]:
    """A window `share` of each side, its centre moved by dx, dy of the
    side: dx = dy = 0.1 keeps a centred cell of up to about half the image
    inside the window."""

    def change(image: Image) -> Image:
        height, width = image.shape[:2]
        w, h = round(width * share), round(height * share)
        x0 = round((width - w) / 2 + dx * width)
        y0 = round((height - h) / 2 + dy * height)
        return image[y0 : y0 + h, x0 : x0 + w].copy()

    return change


def _padded(share: float, value: int) -> Callable[[Image], Image]:
    def change(image: Image) -> Image:
        height, width = image.shape[:2]
        x, y = round(share * width), round(share * height)
        return cv2.copyMakeBorder(image, y, y, x, x, cv2.BORDER_CONSTANT, value=(value, value, value))

    return change


# name: the change, applied to the decoded image before it is saved as PNG
# (None: the pixels as decoded), so only the named change differs.
VARIANTS: dict[str, Callable[[Image], Image] | None] = {
    "untouched": None,
    "resized 0.5x": _resized(0.5),
    "resized 0.75x": _resized(0.75),
    "resized 1.5x": _resized(1.5),
    "resized 2x": _resized(2.0),
    "JPEG quality 50": None,
    "central 70%": _cropped(0.7, 0.0, 0.0),
    "off-centre 70%": _cropped(0.7, 0.1, 0.1),
    "white border 25%": _padded(0.25, 255),
    "black border 25%": _padded(0.25, 0),
}
# The variants saved as JPEG instead, at this quality.
JPEG_QUALITY = {"JPEG quality 50": 50}


def write_tree(cells: list[LabelledCell], variant: str, root: Path) -> Path:
    """The cells, changed as `variant` says, in class folders under root."""
    change = VARIANTS[variant]
    for cell in cells:
        folder = root / cell.label
        folder.mkdir(parents=True, exist_ok=True)
        image = cv2.imread(str(cell.path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"{cell.path}: not readable as an image")
        if change is not None:
            image = change(image)
        if variant in JPEG_QUALITY:
            cv2.imwrite(str(folder / f"{cell.path.stem}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY[variant]])
        else:
            cv2.imwrite(str(folder / f"{cell.path.stem}.png"), image)
    return root
