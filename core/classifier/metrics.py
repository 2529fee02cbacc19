"""Classification metrics for `hemalabel evaluate` and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.classifier.calibration import expected_calibration_error, softmax


def classification_report(
    logits: np.ndarray, labels: np.ndarray, classes: Sequence[str], temperature: float, thresholds: Sequence[float]
) -> dict[str, Any]:
    """accuracy, balanced_accuracy (mean recall over classes present),
    macro_f1 (over classes present), per_class precision/recall/f1/support,
    confusion_matrix (rows true, columns predicted), ece (calibrated),
    ece_before_calibration, and accuracy/coverage of predictions at or above
    their class's confidence threshold (the rest go to Unidentified)."""
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
    return {
        "cells": int(n),
        "accuracy": float(correct.mean()) if n else 0.0,
        "balanced_accuracy": float(np.mean(recalls)) if recalls else 0.0,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_class": per_class,
        "classes": list(classes),
        "confusion_matrix": confusion.tolist(),
        "ece": expected_calibration_error(calibrated, labels),
        "ece_before_calibration": expected_calibration_error(raw, labels),
        "temperature": float(temperature),
        "accuracy_above_threshold": float(correct[accepted].mean()) if accepted.any() else 0.0,
        "coverage_above_threshold": float(accepted.mean()) if n else 0.0,
        "unidentified": int(n - accepted.sum()),
    }
