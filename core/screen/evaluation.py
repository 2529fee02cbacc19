"""How well the screen does what a lab needs, on fields with known diagnoses.

Field level is the figure that matters: a field is suspected when any of
its white cells is.  Cell level is reported too, though a cell's label is
its field's (a normal lymphocyte in a leukaemic field counts as a missed
blast there): read it as a lower bound of the cell sensitivity.  Intervals:
Jeffreys for proportions, a bootstrap over fields for ROC AUC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.screen.cells import FieldCells
from core.screen.fields import BENIGN, DIAGNOSES, SUBTYPES
from core.screen.pooling import attention_subtype, blast_logits, field_scores, sigmoid


def proportion(right: int, total: int, level: float = 0.95) -> dict[str, Any]:
    """A share with its Jeffreys interval: the quantiles of Beta(k+1/2, n-k+1/2),
    from seeded draws as core.classifier.metrics.recall_intervals takes them."""
    if total == 0:
        return {"value": None, "count": 0, "of": 0, "ci95": None}
    draws = np.random.default_rng(0).beta(right + 0.5, total - right + 0.5, size=20000)
    tail = (1.0 - level) / 2.0 * 100.0
    low = float(np.percentile(draws, tail)) if right > 0 else 0.0
    high = float(np.percentile(draws, 100.0 - tail)) if right < total else 1.0
    return {"value": right / total, "count": int(right), "of": int(total), "ci95": [low, high]}


def roc_auc(scores: NDArray[Any], positive: NDArray[Any]) -> float | None:
    """The chance a random positive outscores a random negative (ties half)."""
    positive = np.asarray(positive, bool)
    pos, neg = np.asarray(scores)[positive], np.asarray(scores)[~positive]
    if not len(pos) or not len(neg):
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    # Average ranks over ties.
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or values[end] != values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2.0
            start = end
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg)))


def auc_with_interval(scores: NDArray[Any], positive: NDArray[Any], draws: int = 1000, seed: int = 0
                      ) -> dict[str, Any]:
    value = roc_auc(scores, positive)
    if value is None:
        return {"value": None, "ci95": None}
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(draws):
        pick = rng.integers(0, len(scores), len(scores))
        drawn = roc_auc(scores[pick], positive[pick])
        if drawn is not None:
            samples.append(drawn)
    return {"value": value, "ci95": [float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))]}


def screen_report(fields: Sequence[FieldCells], logits: Sequence[NDArray[Any]], threshold: float,
                  sharpness: float) -> dict[str, Any]:
    """Field- and cell-level figures from each field's cells' four logits."""
    cell_p = [sigmoid(blast_logits(cells)) if len(cells) else np.zeros(0) for cells in logits]
    scores = field_scores(cell_p)
    malignant = np.array([bag.field.label != BENIGN for bag in fields], bool)
    flagged = scores >= threshold
    cells_p = np.concatenate(cell_p) if cell_p else np.zeros(0)
    cells_malignant = (np.concatenate([np.full(len(p), m) for p, m in zip(cell_p, malignant)]) if cell_p
                       else np.zeros(0)).astype(bool)
    cells_flagged = cells_p >= threshold
    confusion = np.zeros((len(SUBTYPES), len(SUBTYPES)), int)
    for bag, cells in zip(fields, logits):
        if bag.field.label != BENIGN and len(cells):
            predicted = attention_subtype(cells, blast_logits(cells), sharpness)
            confusion[DIAGNOSES.index(bag.field.label) - 1, predicted] += 1
    per_diagnosis = {label: proportion(int(flagged[[b.field.label == label for b in fields]].sum()),
                                       int(sum(b.field.label == label for b in fields))) for label in DIAGNOSES}
    return {
        "threshold": threshold,
        "fields": len(fields),
        "fields_without_white_cell": {label: int(sum(1 for b in fields if b.field.label == label and not len(b.crops)))
                                      for label in DIAGNOSES},
        "field_sensitivity": proportion(int(flagged[malignant].sum()), int(malignant.sum())),
        "field_specificity": proportion(int((~flagged[~malignant]).sum()), int((~malignant).sum())),
        "field_roc_auc": auc_with_interval(scores, malignant),
        "fields_suspected_by_diagnosis": per_diagnosis,
        "cells": int(len(cells_p)),
        "cell_sensitivity": proportion(int(cells_flagged[cells_malignant].sum()), int(cells_malignant.sum())),
        "cell_specificity": proportion(int((~cells_flagged[~cells_malignant]).sum()), int((~cells_malignant).sum())),
        "cell_roc_auc": auc_with_interval(cells_p, cells_malignant),
        "subtypes": list(SUBTYPES),
        "subtype_confusion": confusion.tolist(),
        "subtype_accuracy": proportion(int(np.trace(confusion)), int(confusion.sum())),
    }


def evaluate_folder(model: Any, root: str, detector: Any, skipped: list[tuple[str, str]] | None = None,
                    fields: Sequence[Any] | None = None) -> Any:
    """A job: the screen `model` (core.screen.model.ScreenModel) on every
    field under root/<diagnosis>/ (or on `fields`, a split's), its cells
    found as in training; returns screen_report's figures."""
    from core.jobs import Progress
    from core.screen.cells import field_cells
    from core.screen.fields import list_fields

    yield Progress(0, 1, "grouping duplicate fields")
    chosen = list(fields) if fields is not None else list_fields(root, skipped)
    if not chosen:
        raise ValueError(f"{root}: no readable fields in its diagnosis folders")
    bags = yield from field_cells(chosen, detector, detector.card.sha256, model.card.input_size,
                                  model.card.crop_margin)
    logits = [model.logits(bag.crops) for bag in bags]
    report = screen_report(bags, logits, model.threshold, float(model.card.sharpness))
    return {"model": f"{model.card.name} {model.card.version}", "images": str(root), **report}
