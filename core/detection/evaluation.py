"""Detection metrics: AP at IoU 0.5 and averaged over 0.5:0.95 (COCO's
101-point interpolation), and precision/recall at the operating thresholds.

Matching is greedy by score, each ground-truth box matched at most once, as
in the COCO and VOC tools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.detection.nms import iou_matrix
from core.detection.targets import CLASSES

IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


@dataclass(slots=True)
class ImageResult:
    """Ground truth and predictions of one image (boxes N x 4 in pixels)."""

    gt_boxes: NDArray[Any]
    gt_classes: NDArray[Any]
    boxes: NDArray[Any]
    scores: NDArray[Any]
    classes: NDArray[Any]


def _match_image(r: ImageResult, cls: int, iou_threshold: float) -> tuple[NDArray[Any], NDArray[Any], int]:
    """Scores and true-positive flags of one image's predictions of a class,
    and its number of ground-truth boxes of that class."""
    gt = r.gt_boxes[r.gt_classes == cls]
    mask = r.classes == cls
    boxes, scores = r.boxes[mask], r.scores[mask]
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
    return scores, tp, len(gt)


def _pooled(matches: Sequence[tuple[NDArray[Any], NDArray[Any], int]]) -> tuple[NDArray[Any], NDArray[Any], int]:
    """Per-image matches joined and sorted by score, highest first."""
    scores = np.concatenate([m[0] for m in matches]) if matches else np.zeros(0)
    tp = np.concatenate([m[1] for m in matches]) if matches else np.zeros(0, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    return scores[order], tp[order], sum(m[2] for m in matches)


def _match(results: Sequence[ImageResult], cls: int, iou_threshold: float) -> tuple[NDArray[Any], NDArray[Any], int]:
    """Scores and true-positive flags of all predictions of a class, and the
    number of ground-truth boxes."""
    return _pooled([_match_image(r, cls, iou_threshold) for r in results])


def average_precision(tp: NDArray[Any], n_gt: int) -> float:
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


def evaluate(
    results: Sequence[ImageResult], thresholds: Mapping[str, float], with_intervals: bool = False
) -> dict[str, dict[str, Any]]:
    """Per class: ap50, ap50_95, and precision, recall at IoU 0.5 for the
    predictions scoring at least the class's operating threshold.  With
    with_intervals, also `ap50_ci95`, `recall_ci95` and `precision_ci95`
    (bootstrap_intervals, from the same matches)."""
    per_class: dict[str, dict[str, Any]] = {}
    for cls, name in enumerate(CLASSES):
        threshold = thresholds.get(name, 0.0)
        at_half = [_match_image(r, cls, 0.5) for r in results]
        scores, tp, n_gt = _pooled(at_half)
        kept = scores >= threshold
        n_tp = int(tp[kept].sum())
        aps = [average_precision(tp, n_gt)]
        aps += [average_precision(*_match(results, cls, iou)[1:]) for iou in IOU_THRESHOLDS if iou != 0.5]
        per_class[name] = {
            "ap50": aps[0],
            "recall": n_tp / n_gt if n_gt else float("nan"),
            "precision": n_tp / int(kept.sum()) if kept.any() else (1.0 if n_gt == 0 else 0.0),
            "ground_truth": n_gt,
            "predicted": int(kept.sum()),
            "threshold": float(threshold),
            "ap50_95": float(np.mean(aps)),
        }
        if with_intervals:
            for metric, bounds in _bootstrap(at_half, threshold, len(results)).items():
                per_class[name][f"{metric}_ci95"] = [round(bound, 4) for bound in bounds]
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


def bootstrap_intervals(
    results: Sequence[ImageResult],
    thresholds: Mapping[str, float],
    repeats: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per class, percentile-bootstrap intervals of AP50, recall and precision
    (at the operating thresholds), resampling whole images.

    Why images and not boxes: the cells of one field share its stain, focus
    and labeller, so they do not err independently.  With 70 platelets in a
    test split, AP50 moves by several hundredths between resamples, which is
    what a gap of 0.01 to a goal has to be read against."""
    return {
        name: _bootstrap([_match_image(r, cls, 0.5) for r in results], thresholds.get(name, 0.0), len(results),
                         repeats, level, seed)
        for cls, name in enumerate(CLASSES)
    }


def _bootstrap(
    matches: Sequence[tuple[NDArray[Any], NDArray[Any], int]],
    threshold: float,
    images: int,
    repeats: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """bootstrap_intervals for one class, from its per-image matches at IoU
    0.5.  The same seed draws the same images for every class."""
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, images, images) for _ in range(repeats)] if images else []
    tail = (1.0 - level) / 2.0 * 100.0
    samples: dict[str, list[float]] = {"ap50": [], "recall": [], "precision": []}
    for pick in picks:
        scores, tp, n_gt = _pooled([matches[i] for i in pick])
        if n_gt == 0:
            continue
        kept = scores >= threshold
        samples["ap50"].append(average_precision(tp, n_gt))
        samples["recall"].append(float(tp[kept].sum()) / n_gt)
        if kept.any():
            samples["precision"].append(float(tp[kept].mean()))
    return {
        metric: (float(np.percentile(values, tail)), float(np.percentile(values, 100.0 - tail)))
        for metric, values in samples.items()
        if values
    }
