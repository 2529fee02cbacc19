"""Evaluating a detector against annotated images: the job behind
`hemalabel evaluate-detector` and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.detection.colour_turns import ColourTurner
from core.detection.data import GroundTruth
from core.detection.evaluation import ImageResult, evaluate
from core.detection.targets import CLASSES
from core.imaging import ImageReadError, load_rgb
from core.jobs import CancelToken, Job, Progress


def evaluate_detector(
    detector: Any, samples: Sequence[GroundTruth], cancel: CancelToken | None = None
) -> Job[dict[str, Any]]:
    """Run `detector` (a KerasCellDetector, or anything with detect_arrays and
    a card) over the samples; returns per-class AP50, AP50:95 and precision /
    recall at the card's operating thresholds, each of AP50, recall and
    precision with a 95% bootstrap interval over the images, plus timing."""
    cancel = cancel or CancelToken()
    results: list[ImageResult] = []
    skipped: list[dict[str, str]] = []
    latencies: list[float] = []
    for index, gt in enumerate(samples, start=1):
        cancel.raise_if_cancelled()
        try:
            image = load_rgb(gt.path)
        except ImageReadError as error:
            skipped.append({"path": str(gt.path), "reason": error.reason})
            continue
        started = time.perf_counter()
        boxes, scores, classes = detector.detect_arrays(image)
        latencies.append(time.perf_counter() - started)
        results.append(ImageResult(gt.boxes, gt.classes, boxes, scores, classes))
        if index % 8 == 0 or index == len(samples):
            yield Progress(index, len(samples), f"evaluated {index} of {len(samples)} images")
    per_class = evaluate(results, detector.card.thresholds, with_intervals=True)
    return {
        "model": detector.version,
        "images": len(results),
        "duplicate_boxes_ignored": sum(int(gt.attributes.get("duplicate_boxes", 0)) for gt in samples),
        "skipped": skipped,
        "per_class": per_class,
        "mean_ap50": float(np.nanmean([per_class[c]["ap50"] for c in CLASSES])),
        "median_latency_ms": float(np.median(latencies) * 1000) if latencies else None,
    }


def predict_results(
    detector: Any, samples: Sequence[GroundTruth], min_score: float = 0.05, turner: ColourTurner | None = None
) -> list[ImageResult]:
    """Predictions (down to min_score) beside the ground truth of each
    readable image; with a turner, in the colours `detect` would find the
    cells in (core.detection.colour_turns)."""
    results = []
    for gt in samples:
        try:
            image = load_rgb(gt.path)
        except ImageReadError:
            continue
        if turner is not None:
            image = turner.colours_for(image)
        boxes, scores, classes = detector.detect_arrays(image, min_score=min_score)
        results.append(ImageResult(gt.boxes, gt.classes, boxes, scores, classes))
    return results
