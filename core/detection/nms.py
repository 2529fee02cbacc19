"""Non-maximum suppression in numpy (the detector's boxes are few: hundreds
per field, so the O(n^2) worst case is never a concern)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def intersection_matrix(a: NDArray[Any], b: NDArray[Any]) -> NDArray[Any]:
    """The area every box in a (N x 4, x0 y0 x1 y1) shares with every box in b (M x 4)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    iy = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    intersections: NDArray[Any] = np.clip(ix, 0, None) * np.clip(iy, 0, None)
    return intersections


def box_areas(boxes: NDArray[Any]) -> NDArray[Any]:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    areas: NDArray[Any] = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return areas


def iou_matrix(a: NDArray[Any], b: NDArray[Any]) -> NDArray[Any]:
    """IoU of every box in a (N x 4, x0 y0 x1 y1) with every box in b (M x 4)."""
    inter = intersection_matrix(a, b)
    union = box_areas(a)[:, None] + box_areas(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: NDArray[Any], scores: NDArray[Any], iou_threshold: float) -> NDArray[Any]:
    """Indices of the boxes kept, highest score first."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        overlaps = iou_matrix(boxes[best : best + 1], boxes[order[1:]])[0]
        order = order[1:][overlaps <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def class_nms(boxes: NDArray[Any], scores: NDArray[Any], classes: NDArray[Any], iou_threshold: float) -> NDArray[Any]:
    """NMS within each class; indices kept, highest score first."""
    classes = np.asarray(classes)
    keep = [
        np.flatnonzero(classes == c)[nms(boxes[classes == c], scores[classes == c], iou_threshold)]
        for c in np.unique(classes)
    ]
    if not keep:
        return np.zeros(0, dtype=np.int64)
    merged = np.concatenate(keep)
    ordered: NDArray[Any] = merged[np.argsort(-np.asarray(scores)[merged], kind="stable")]
    return ordered
