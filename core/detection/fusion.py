"""Fusing the detections of one field seen at several working scales.

Why: a platelet 30 px wide is 15 network pixels at half scale and 18 at 0.6,
and the network's score for such a small cell depends on where it falls on
the stride-4 grid; two looks at different scales disagree most on the
doubtful ones.  Averaging their scores (a box only one look found keeps
1/n of its score) ranks the cells both looks see above the debris that only
one believes.  On the validation fields this lifted platelet and red-cell AP50
by about 0.01 (models/README.md, "Two looks per field").

This is weighted box fusion (Solovyev et al. 2021) reduced to what the
detector needs: per class, each look's box joins the cluster it overlaps
most, at most one box per look per cluster."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.detection.nms import iou_matrix
from core.detection.tiling import Detections

# Boxes of one cell seen at two scales overlap far above this; neighbours
# touching each other stay well below it.
FUSION_IOU = 0.55


def fuse_detections(looks: Sequence[Detections], iou_threshold: float = FUSION_IOU) -> Detections:
    """One set of detections from several looks at the same image.  A fused
    box is the score-weighted mean of its cluster's boxes; its score is the
    sum of their scores divided by the number of looks."""
    if len(looks) == 1:
        return looks[0]
    fused_boxes, fused_scores, fused_classes = [], [], []
    all_classes = np.unique(np.concatenate([np.asarray(look[2]) for look in looks]))
    for cls in all_classes:
        box_sum = np.zeros((0, 4))
        weight = np.zeros(0)
        for boxes, scores, classes in looks:
            mine = np.asarray(classes) == cls
            boxes, scores = np.asarray(boxes, np.float64)[mine], np.asarray(scores, np.float64)[mine]
            joined = _match(boxes, box_sum / np.maximum(weight, 1e-12)[:, None], iou_threshold)
            into = joined >= 0
            np.add.at(box_sum, joined[into], boxes[into] * scores[into, None])
            np.add.at(weight, joined[into], scores[into])
            box_sum = np.concatenate([box_sum, boxes[~into] * scores[~into, None]])
            weight = np.concatenate([weight, scores[~into]])
        fused_boxes.append(box_sum / np.maximum(weight, 1e-12)[:, None])
        fused_scores.append(weight / len(looks))
        fused_classes.append(np.full(len(weight), cls, dtype=np.int64))
    if not fused_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = np.concatenate(fused_scores)
    order = np.argsort(-scores, kind="stable")
    return (
        np.concatenate(fused_boxes)[order].astype(np.float32),
        scores[order].astype(np.float32),
        np.concatenate(fused_classes)[order],
    )


def _match(boxes: NDArray[Any], clusters: NDArray[Any], iou_threshold: float) -> NDArray[Any]:
    """For each box, the cluster it joins (-1: none), pairing the most
    overlapping box and cluster first so that each cluster takes at most one."""
    joined = np.full(len(boxes), -1, dtype=np.int64)
    if not len(boxes) or not len(clusters):
        return joined
    overlaps = iou_matrix(boxes, clusters)
    rows, cols = np.nonzero(overlaps >= iou_threshold)
    taken: set[int] = set()
    for k in np.argsort(-overlaps[rows, cols], kind="stable"):
        row, col = int(rows[k]), int(cols[k])
        if joined[row] < 0 and col not in taken:
            joined[row] = col
            taken.add(col)
    return joined
