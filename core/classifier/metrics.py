"""Classification metrics for `hemalabel evaluate` and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.classifier.calibration import ece_of_calibrated_model, expected_calibration_error, softmax


def classification_report(
    logits: NDArray[Any], labels: NDArray[Any], classes: Sequence[str], temperature: float, thresholds: Sequence[float]
) -> dict[str, Any]:
    """accuracy, balanced_accuracy (mean recall over classes present),
    macro_f1 (over classes present), per_class precision/recall/f1/support,
    confusion_matrix (rows true, columns predicted), ece (calibrated),
    ece_before_calibration, ece_floor (median and 95th percentile of the ECE
    a perfectly calibrated model shows on as many cells), and accuracy/coverage of predictions at or above
    their class's confidence threshold (the rest go to Unidentified).
    Accuracy and balanced accuracy come with 95% intervals (recall_intervals)."""
    k = len(classes)
    raw = softmax(logits)
    calibrated = softmax(logits, temperature)
    predicted = calibrated.argmax(1)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class: dict[str, dict[str, float]] = {}
    recalls, f1s = [], []
    for i, name in enumerate(classes):
        support = int(confusion[i].sum())
        predicted_count = int(confusion[:, i].sum())
        tp = int(confusion[i, i])
        precision = tp / predicted_count if predicted_count else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support:
            recalls.append(recall)
            f1s.append(f1)
    confidence = calibrated.max(1)
    accepted = confidence >= np.asarray(thresholds)[predicted]
    correct = predicted == labels
    n = len(labels)
    intervals = recall_intervals(confusion)
    return {
        "cells": int(n),
        "accuracy": float(correct.mean()) if n else 0.0,
        "accuracy_ci95": intervals.get("accuracy"),
        "balanced_accuracy": float(np.mean(recalls)) if recalls else 0.0,
        "balanced_accuracy_ci95": intervals.get("balanced_accuracy"),
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_class": per_class,
        "classes": list(classes),
        "confusion_matrix": confusion.tolist(),
        "ece": expected_calibration_error(calibrated, labels),
        "ece_before_calibration": expected_calibration_error(raw, labels),
        "ece_floor": list(ece_of_calibrated_model(calibrated)),
        "temperature": float(temperature),
        "accuracy_above_threshold": float(correct[accepted].mean()) if accepted.any() else 0.0,
        "coverage_above_threshold": float(accepted.mean()) if n else 0.0,
        "unidentified": int(n - accepted.sum()),
    }


def recall_intervals(
    confusion: NDArray[Any] | Sequence[Sequence[int]],
    classes: Sequence[int] | None = None,
    draws: int = 4000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, list[float]]:
    """95% intervals of accuracy and balanced accuracy over `classes`
    (indices; default: every class with cells), from a confusion matrix
    (rows true): what the model's figures on unlimited cells from the same
    source could be, given these cells.

    Accuracy: the Jeffreys interval of K right of N, the quantiles of
    Beta(K + 1/2, N - K + 1/2).  Balanced accuracy: each class's recall drawn
    from its own Jeffreys posterior and the draws averaged.  Why not
    resample the cells: a class with every cell right would then add no doubt
    at all, and in a 99% model most classes are."""
    confusion = np.asarray(confusion)
    support = confusion.sum(axis=1)
    chosen = [i for i in (range(len(support)) if classes is None else classes) if support[i]]
    if not chosen:
        return {}
    n = support[chosen].astype(float)
    right = np.diag(confusion)[chosen].astype(float)
    rng = np.random.default_rng(seed)
    tail = (1.0 - level) / 2.0 * 100.0
    samples = {
        "accuracy": rng.beta(right.sum() + 0.5, n.sum() - right.sum() + 0.5, size=draws),
        "balanced_accuracy": rng.beta(right + 0.5, n - right + 0.5, size=(draws, len(chosen))).mean(axis=1),
    }
    return {name: [float(np.percentile(v, tail)), float(np.percentile(v, 100.0 - tail))] for name, v in samples.items()}
