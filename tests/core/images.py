"""Small generated images for tests: no test depends on files in the repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def smear(width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """A pinkish field with a few darker discs, enough to look like a smear."""
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = (236, 210, 214)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(4):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(4, 10)
        image[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = (150, 80, 140)
    return image


def write_image(path: Path, width: int = 64, height: int = 48, seed: int = 0, **save_options: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smear(width, height, seed)).save(path, **save_options)
    return path


def write_truncated_jpeg(path: Path) -> Path:
    write_image(path, 200, 150, seed=7, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
