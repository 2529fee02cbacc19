"""Training targets for the CenterNet head, built in numpy.

Per output cell (stride OUTPUT_STRIDE) the target holds, in this order:
  heat[3]      one Gaussian peak per cell (1.0 exactly at its centre cell),
  log_w, log_h box size in output cells, log-space so a platelet's error
               weighs as much as a white cell's,
  dx, dy       centre minus this cell's corner, in output cells,
  reg_weight   where size/offset are learnt: the Gaussian around each centre
               (TTFNet-style), so cells next to the peak also predict the box,
  neg_weight[3] how much a background cell of each class counts; 0 over boxes
               cut away by a crop, and lower where a source's labels are known
               to be incomplete (BCCD's red cells).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

CLASSES: tuple[str, ...] = ("white", "red", "platelet")
OUTPUT_STRIDE = 4
TARGET_CHANNELS = 11
HEAT = slice(0, 3)
SIZE = slice(3, 5)
OFFSET = slice(5, 7)
REG_WEIGHT = 7
NEG_WEIGHT = slice(8, 11)

# Gaussian spread relative to the box (TTFNet's alpha=0.54 over 6 sigmas),
# with a floor so a platelet still marks more than one cell.
_GAUSSIAN_ALPHA = 0.54
_MIN_SIGMA = 0.6
_REG_THRESHOLD = 0.3  # heat above which a cell also regresses the box


def encode_targets(
    boxes: NDArray[Any],
    classes: NDArray[Any],
    height: int,
    width: int,
    ignore_boxes: NDArray[Any] | None = None,
    negative_weights: Sequence[float] = (1.0, 1.0, 1.0),
) -> NDArray[Any]:
    """Targets for an input of height x width pixels.  `boxes` is N x 4
    (x0, y0, x1, y1) in input pixels, `classes` N indices into CLASSES;
    `ignore_boxes` are regions where no class is penalised."""
    out_h, out_w = height // OUTPUT_STRIDE, width // OUTPUT_STRIDE
    target = np.zeros((out_h, out_w, TARGET_CHANNELS), dtype=np.float32)
    target[:, :, NEG_WEIGHT] = np.asarray(negative_weights, dtype=np.float32)
    ys = np.arange(out_h, dtype=np.float32)[:, None]
    xs = np.arange(out_w, dtype=np.float32)[None, :]
    for (x0, y0, x1, y1), cls in zip(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), classes):
        w = max((x1 - x0) / OUTPUT_STRIDE, 0.25)
        h = max((y1 - y0) / OUTPUT_STRIDE, 0.25)
        cx = (x0 + x1) / 2 / OUTPUT_STRIDE
        cy = (y0 + y1) / 2 / OUTPUT_STRIDE
        ix = int(np.clip(np.floor(cx), 0, out_w - 1))
        iy = int(np.clip(np.floor(cy), 0, out_h - 1))
        sx = max(_GAUSSIAN_ALPHA * w / 6, _MIN_SIGMA)
        sy = max(_GAUSSIAN_ALPHA * h / 6, _MIN_SIGMA)
        # Work only in a window of three sigmas around the centre.
        rx, ry = int(np.ceil(3 * sx)), int(np.ceil(3 * sy))
        xa, xb = max(ix - rx, 0), min(ix + rx + 1, out_w)
        ya, yb = max(iy - ry, 0), min(iy + ry + 1, out_h)
        gx = np.exp(-((xs[:, xa:xb] - ix) ** 2) / (2 * sx * sx))
        gy = np.exp(-((ys[ya:yb] - iy) ** 2) / (2 * sy * sy))
        g = gy * gx
        heat = target[ya:yb, xa:xb, int(cls)]
        np.maximum(heat, g, out=heat)
        target[iy, ix, int(cls)] = 1.0
        # Where Gaussians of two boxes overlap, the nearer (stronger) one
        # owns the regression target.
        region = target[ya:yb, xa:xb]
        owns = (g >= _REG_THRESHOLD) & (g > region[:, :, REG_WEIGHT])
        region[:, :, 3][owns] = np.log(w)
        region[:, :, 4][owns] = np.log(h)
        region[:, :, 5][owns] = (cx - xs[:, xa:xb] + 0 * ys[ya:yb])[owns]
        region[:, :, 6][owns] = (cy - ys[ya:yb] + 0 * xs[:, xa:xb])[owns]
        region[:, :, REG_WEIGHT][owns] = g[owns]
    if ignore_boxes is not None:
        for x0, y0, x1, y1 in np.asarray(ignore_boxes, dtype=np.float32).reshape(-1, 4):
            xa, ya = int(np.floor(x0 / OUTPUT_STRIDE)), int(np.floor(y0 / OUTPUT_STRIDE))
            xb, yb = int(np.ceil(x1 / OUTPUT_STRIDE)), int(np.ceil(y1 / OUTPUT_STRIDE))
            target[max(ya, 0) : max(yb, 0), max(xa, 0) : max(xb, 0), NEG_WEIGHT] = 0.0
    return target
