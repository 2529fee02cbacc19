"""From the network's raw stride-4 map to scored boxes."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.detection.nms import class_nms
from core.detection.targets import CLASSES, OUTPUT_STRIDE

# A field holds at most a few hundred cells; more peaks than this are noise.
MAX_PEAKS = 1000


def sigmoid(x: NDArray[Any]) -> NDArray[Any]:
    out: NDArray[Any] = 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))
    return out


def decode_head(
    raw: NDArray[Any], min_score: float = 0.05, nms_iou: float = 0.5
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Boxes (N x 4, x0 y0 x1 y1 in input pixels), scores and class indices
    from one image's raw head output (h x w x 7)."""
    n_classes = len(CLASSES)
    heat = sigmoid(raw[:, :, :n_classes].astype(np.float32))
    # A peak is a cell that is the maximum of its 3x3 neighbourhood
    # (CenterNet's max-pool NMS).
    pooled = cv2.dilate(heat, np.ones((3, 3), np.uint8))
    peaks = (heat >= pooled) & (heat >= min_score)
    ys, xs, cs = np.nonzero(peaks)
    scores = heat[ys, xs, cs]
    if scores.size > MAX_PEAKS:
        top = np.argpartition(-scores, MAX_PEAKS)[:MAX_PEAKS]
        ys, xs, cs, scores = ys[top], xs[top], cs[top], scores[top]
    geometry = raw[ys, xs, n_classes:].astype(np.float32)
    w = np.exp(np.clip(geometry[:, 0], -5, 8)) * OUTPUT_STRIDE
    h = np.exp(np.clip(geometry[:, 1], -5, 8)) * OUTPUT_STRIDE
    cx = (xs + geometry[:, 2]) * OUTPUT_STRIDE
    cy = (ys + geometry[:, 3]) * OUTPUT_STRIDE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keep = class_nms(boxes, scores, cs, nms_iou)
    return boxes[keep], scores[keep], cs[keep]
