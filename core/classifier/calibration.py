"""Calibration and operating points, in numpy (no TensorFlow needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def softmax(logits: NDArray[Any], temperature: float = 1.0) -> NDArray[Any]:
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    probabilities: NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return probabilities


def nll(logits: NDArray[Any], labels: NDArray[Any], temperature: float,
        weights: NDArray[Any] | None = None) -> float:
    """Mean negative log-likelihood, weighted per cell when weights are given."""
    p = softmax(logits, temperature)[np.arange(len(labels)), labels]
    return float(-np.average(np.log(np.maximum(p, 1e-12)), weights=weights))


def fit_temperature(logits: NDArray[Any], labels: NDArray[Any], weights: NDArray[Any] | None = None) -> float:
    """The temperature minimising validation NLL (Guo et al. 2017): a grid in
    log space then a golden-section refinement; one scalar cannot overfit."""
    if len(labels) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))
    best = min(grid, key=lambda t: nll(logits, labels, t, weights))
    lo, hi = best / 1.06, best * 1.06
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if nll(logits, labels, a, weights) < nll(logits, labels, b, weights):
            hi = b
        else:
            lo = a
    return float((lo + hi) / 2)


def expected_calibration_error(probabilities: NDArray[Any], labels: NDArray[Any], bins: int = 15) -> float:
    """ECE over equal-width confidence bins of the top class."""
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def ece_of_calibrated_model(probabilities: NDArray[Any], bins: int = 15, draws: int = 200,
                            seed: int = 0) -> tuple[float, float]:
    """The ECE a perfectly calibrated model would show on these cells: each
    cell's label drawn from its own predicted probabilities, median and 95th
    percentile over `draws`.  On a few hundred cells ECE is biased upwards
    by the bins' sampling noise alone, so a measured ECE near this floor says
    no more than "calibrated as far as these cells can tell"."""
    probabilities = np.asarray(probabilities, np.float64)
    if len(probabilities) == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    cumulative = probabilities.cumsum(axis=1)
    cumulative[:, -1] = 1.0  # rounding must not leave a draw above every class
    values = []
    for _ in range(draws):
        drawn = (rng.random((len(probabilities), 1)) > cumulative).sum(axis=1)
        values.append(expected_calibration_error(probabilities, drawn, bins))
    return float(np.median(values)), float(np.percentile(values, 95))


def threshold_for_accuracy(probabilities: NDArray[Any], labels: NDArray[Any], target: float = 0.995,
                           floor: float = 0.4, ceiling: float = 0.9) -> float:
    """The lowest confidence threshold at which the accepted predictions reach
    `target` accuracy, kept within [floor, ceiling]: below `floor` the top
    class is not even a clear winner; above `ceiling` too many cells would go
    to Unidentified for review to stay quick."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    for threshold in np.round(np.arange(floor, ceiling + 1e-9, 0.01), 2):
        accepted = confidence >= threshold
        if not accepted.any() or correct[accepted].mean() >= target:
            return float(round(threshold, 2))
    return ceiling


def threshold_for_recall(
    probabilities: NDArray[Any], labels: NDArray[Any], class_index: int, target: float
) -> tuple[float, float]:
    """The highest threshold for one class at which that class's recall
    (predicted as it and above the threshold) still reaches `target`.
    Returns (threshold, recall reached).  If even threshold 0 misses the
    target, returns 0 and the recall that the top-class choice allows."""
    mask = labels == class_index
    if not mask.any():
        return 0.0, 0.0
    hits = probabilities[mask].argmax(axis=1) == class_index
    confidence = probabilities[mask, class_index]
    for threshold in np.round(np.arange(0.99, -1e-9, -0.01), 2):
        recall = float((hits & (confidence >= threshold)).mean())
        if recall >= target:
            return float(round(threshold, 2)), recall
    return 0.0, float(hits.mean())
