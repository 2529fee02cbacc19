"""From cells to fields, in numpy: the field-level rules the screen is
judged by, and the operating point chosen on validation fields.

A field is suspected when any of its white cells is: the field's score is
its highest cell's P(blast).  A field with no white cell scores 0, so it is
a missed field when malignant, never an invented flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

# The threshold sits this far below the score of the last malignant field it
# must suspect: the app's fast kernels score a cell ~1e-5 off the training
# graph, which put that very field on the wrong side of a threshold equal
# to its score.
SCORE_NOISE = 1e-4


def field_scores(cell_probabilities: Sequence[NDArray[Any]]) -> NDArray[np.float64]:
    """Each field's highest cell P(blast); 0 for a field without cells."""
    return np.array([float(np.max(p)) if len(p) else 0.0 for p in cell_probabilities], np.float64)


def threshold_for_field_recall(scores: NDArray[Any], malignant: NDArray[Any], target: float) -> tuple[float, float]:
    """The highest cell threshold at which at least `target` of the malignant
    fields are suspected (score >= threshold), and the recall reached.  The
    threshold is the k-th highest malignant score, k = ceil(target x count),
    less SCORE_NOISE, so it is exact rather than a grid step; fields scoring
    0 (no cell) cannot be reached by any threshold above 0."""
    positives = np.sort(np.asarray(scores, np.float64)[np.asarray(malignant, bool)])[::-1]
    if not len(positives):
        raise ValueError("no malignant fields to choose an operating point on")
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target recall {target!r} must be above 0 and at most 1")
    needed = int(np.ceil(target * len(positives) - 1e-9))
    threshold = max(0.0, float(positives[needed - 1]) - SCORE_NOISE)
    reached = float((positives >= threshold).mean())
    return threshold, reached


def attention_subtype(cell_logits: NDArray[Any], blast_logits: NDArray[Any], sharpness: float) -> int:
    """A field's subtype: its cells' subtype logits weighted by how strongly
    each cell is a blast (softmax of sharpness x blast logit), the same
    pooling the model is trained with.  Index into the subtypes."""
    weights = np.exp(sharpness * (blast_logits - blast_logits.max()))
    weights = weights / weights.sum()
    return int(np.argmax((weights[:, None] * cell_logits[:, 1:]).sum(axis=0)))


def blast_logits(cell_logits: NDArray[Any]) -> NDArray[np.float64]:
    """Per cell: log P(any subtype) - log P(benign) of the model's four logits."""
    logits = np.asarray(cell_logits, np.float64)
    malignant = logits[:, 1:]
    top = malignant.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(malignant - top).sum(axis=1))
    result: NDArray[np.float64] = lse - logits[:, 0]
    return result


def sigmoid(x: NDArray[Any]) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def scores_by_diagnosis(scores: NDArray[Any], malignant: NDArray[Any]) -> dict[str, list[float]]:
    """Validation fields' scores as a screen card keeps them, so that the
    sensitivity and specificity of any operating point can be read later."""
    positive = np.asarray(malignant, bool)
    values = np.asarray(scores, np.float64)
    return {"malignant": sorted(round(float(s), 6) for s in values[positive]),
            "benign": sorted(round(float(s), 6) for s in values[~positive])}


def measured_at(scores: Mapping[str, Sequence[float]], threshold: float) -> tuple[float, float] | None:
    """(field sensitivity, field specificity) at `threshold` from
    scores_by_diagnosis's record; None when it lacks either diagnosis."""
    positive, negative = np.asarray(scores.get("malignant", [])), np.asarray(scores.get("benign", []))
    if not len(positive) or not len(negative):
        return None
    return float((positive >= threshold).mean()), float((negative < threshold).mean())
