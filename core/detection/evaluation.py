"""Detection metrics: AP at IoU 0.5 and averaged over 0.5:0.95 (COCO's
101-point interpolation), and precision/recall at the operating thresholds.

Matching is greedy by score, each ground-truth box matched at most once, as
in the COCO and VOC tools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.detection.nms import iou_matrix
from core.detection.targets import CLASSES

IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


@dataclass(slots=True)
class ImageResult:
    """Ground truth and predictions of one image (boxes N x 4 in pixels)."""

    gt_boxes: np.ndarray
    gt_classes: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def _match(results: Sequence[ImageResult], cls: int, iou_threshold: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores and true-positive flags of all predictions of a class, and the
    number of ground-truth boxes."""
    all_scores, all_tp, n_gt = [], [], 0
    for r in results:
        gt = r.gt_boxes[r.gt_classes == cls]
        mask = r.classes == cls
        boxes, scores = r.boxes[mask], r.scores[mask]
        n_gt += len(gt)
        order = np.argsort(-scores, kind="stable")
        boxes, scores = boxes[order], scores[order]
        tp = np.zeros(len(boxes), dtype=bool)
        if len(gt) and len(boxes):
            ious = iou_matrix(boxes, gt)
            taken = np.zeros(len(gt), dtype=bool)
            for i in range(len(boxes)):
                candidates = np.where(taken, -1.0, ious[i])
                j = int(np.argmax(candidates))
                if candidates[j] >= iou_threshold:
                    taken[j] = True
                    tp[i] = True
        all_scores.append(scores)
        all_tp.append(tp)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    return scores[order], tp[order], n_gt


def average_precision(tp: np.ndarray, n_gt: int) -> float:
    """COCO-style 101-point interpolated AP from score-sorted TP flags."""
    if n_gt == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    tps = np.cumsum(tp)
    recall = tps / n_gt
    precision = tps / np.arange(1, len(tp) + 1)
    # Precision envelope: the best precision at this recall or beyond.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    points = np.linspace(0, 1, 101)
    index = np.searchsorted(recall, points, side="left")
    sampled = np.where(index < len(precision), precision[np.minimum(index, len(precision) - 1)], 0.0)
    return float(sampled.mean())


def evaluate(results: Sequence[ImageResult], thresholds: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Per class: ap50, ap50_95, and precision, recall at IoU 0.5 for the
    predictions scoring at least the class's operating threshold."""
    per_class: dict[str, dict[str, float]] = {}
    for cls, name in enumerate(CLASSES):
        aps = []
        for iou in IOU_THRESHOLDS:
            scores, tp, n_gt = _match(results, cls, iou)
            aps.append(average_precision(tp, n_gt))
            if iou == 0.5:
                kept = scores >= thresholds.get(name, 0.0)
                n_tp = int(tp[kept].sum())
                per_class[name] = {
                    "ap50": aps[0],
                    "recall": n_tp / n_gt if n_gt else float("nan"),
                    "precision": n_tp / int(kept.sum()) if kept.any() else (1.0 if n_gt == 0 else 0.0),
                    "ground_truth": n_gt,
                    "predicted": int(kept.sum()),
                    "threshold": float(thresholds.get(name, 0.0)),
                }
        per_class[name]["ap50_95"] = float(np.mean(aps))
    return per_class


def choose_thresholds(results: Sequence[ImageResult], white_recall: float = 0.99) -> dict[str, float]:
    """Operating thresholds from validation results.  White cells: the
    highest threshold that still finds `white_recall` of them (a missed white
    cell is a missed differential count, a false one costs a keystroke), unless
    that ruins precision, then the best F1.  Red cells and platelets: best F1."""
    chosen = {}
    for cls, name in enumerate(CLASSES):
        scores, tp, n_gt = _match(results, cls, 0.5)
        if n_gt == 0 or len(scores) == 0:
            chosen[name] = 0.3
            continue
        tps = np.cumsum(tp)
        recall = tps / n_gt
        precision = tps / np.arange(1, len(tp) + 1)
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
        best = int(np.argmax(f1))
        if name == "white":
            reaching = np.flatnonzero(recall >= white_recall)
            if reaching.size and precision[reaching[0]] >= 0.9:
                best = int(reaching[0])
        chosen[name] = float(scores[best])
    return chosen
