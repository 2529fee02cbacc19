"""Turning crops of any size into the model's input: one function for
training, evaluation and inference, so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray


def resize_square(crop: NDArray[Any], size: int) -> NDArray[Any]:
    """An RGB uint8 crop resized to size x size.  Non-square crops (a folder
    of ready-made crops) are padded square by replicating the border first,
    so a cell keeps its shape.  INTER_AREA when shrinking keeps granules from
    aliasing into noise; linear when enlarging (platelets)."""
    if crop.ndim == 2:
        crop = np.repeat(crop[:, :, None], 3, axis=2)
    crop = crop[:, :, :3]
    height, width = crop.shape[:2]
    if height != width:
        side = max(height, width)
        top, left = (side - height) // 2, (side - width) // 2
        crop = cv2.copyMakeBorder(crop, top, side - height - top, left, side - width - left, cv2.BORDER_REPLICATE)
    if crop.shape[0] == size:
        return np.ascontiguousarray(crop, dtype=np.uint8)
    interpolation = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=interpolation)


# Fewer crops than this per thread are resized on the calling thread: a
# thread's start costs about what resizing a few crops does.
_CROPS_PER_THREAD = 16


def batch_of(crops: Sequence[NDArray[Any]] | NDArray[Any], size: int, threads: int = 1) -> NDArray[Any]:
    """N x size x size x 3 uint8, resized on up to `threads` threads
    (OpenCV releases the interpreter lock while it resizes)."""
    out = np.empty((len(crops), size, size, 3), dtype=np.uint8)

    def fill(part: range) -> None:
        for index in part:
            out[index] = resize_square(np.asarray(crops[index]), size)

    threads = max(1, min(threads, len(crops) // _CROPS_PER_THREAD))
    if threads == 1:
        fill(range(len(crops)))
        return out
    bounds = np.linspace(0, len(crops), threads + 1).astype(int)
    with ThreadPoolExecutor(threads, thread_name_prefix="resize") as pool:
        for done in [pool.submit(fill, range(lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]:
            done.result()
    return out
