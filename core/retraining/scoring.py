"""Comparing the candidate with the model in use on the same cells."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# The candidate must beat the current model by this much balanced accuracy
# before we advise promoting it: smaller gaps are within a few cells' noise.
MIN_GAIN = 0.01
# A standard set may drop at most this much (the lab's own set must not be
# traded for the new cells).
MAX_STANDARD_DROP = 0.01
# Fewer held-out cells than this and a comparison is too noisy to advise on.
MIN_CELLS_TO_JUDGE = 10


@dataclass(slots=True)
class ModelScores:
    model: str
    cells: int
    accuracy: float
    balanced_accuracy: float
    per_class_recall: dict[str, float]
    confusion: list[list[int]]
    classes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelScores:
        return cls(**data)


@dataclass(slots=True)
class Comparison:
    held_out: tuple[ModelScores, ModelScores] | None
    standard: tuple[ModelScores, ModelScores] | None
    recommendation: str
    promote_advised: bool

    def to_dict(self) -> dict[str, Any]:
        pair = lambda p: None if p is None else [p[0].to_dict(), p[1].to_dict()]  # noqa: E731
        return {"held_out": pair(self.held_out), "standard": pair(self.standard),
                "recommendation": self.recommendation, "promote_advised": self.promote_advised}


def score(model: str, predicted: np.ndarray, truth: np.ndarray, classes: list[str]) -> ModelScores:
    """Top-1 scores over `classes`; balanced accuracy averages the recall of
    the classes present in `truth`."""
    n = len(classes)
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    support = confusion.sum(1)
    recall = {classes[i]: float(confusion[i, i] / support[i]) for i in range(n) if support[i]}
    return ModelScores(
        model=model,
        cells=int(len(truth)),
        accuracy=float((predicted == truth).mean()) if len(truth) else 0.0,
        balanced_accuracy=float(np.mean(list(recall.values()))) if recall else 0.0,
        per_class_recall=recall,
        confusion=confusion.tolist(),
        classes=list(classes),
    )


def recommend(held_out: tuple[ModelScores, ModelScores] | None,
              standard: tuple[ModelScores, ModelScores] | None) -> tuple[str, bool]:
    """A plain sentence a technician can act on, and whether it says promote."""
    parts: list[str] = []
    judged = [(name, pair) for name, pair in (("held-out slides", held_out), ("the standard set", standard))
              if pair is not None and pair[0].cells >= MIN_CELLS_TO_JUDGE]
    for name, (current, candidate) in judged:
        parts.append(f"balanced accuracy on {name} {current.balanced_accuracy:.1%} -> {candidate.balanced_accuracy:.1%}"
                     f" ({candidate.cells} cells)")
    if not judged:
        cells = held_out[0].cells if held_out else 0
        return (f"Too few held-out cells to judge ({cells}; {MIN_CELLS_TO_JUDGE} needed): review more slides, "
                "or set a standard set, before promoting.", False)
    primary = dict(judged).get("the standard set") or dict(judged)["held-out slides"]
    gain = primary[1].balanced_accuracy - primary[0].balanced_accuracy
    worse = [name for name, (current, candidate) in judged
             if candidate.balanced_accuracy < current.balanced_accuracy - MAX_STANDARD_DROP]
    detail = "; ".join(parts)
    if worse:
        return f"Discard: the candidate is worse on {', '.join(worse)} ({detail}).", False
    if gain >= MIN_GAIN:
        return f"Promote: {detail}.", True
    return f"Keep the current model: no clear gain ({detail}).", False
