"""Comparing the candidate with the model in use on the same cells."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# The candidate must beat the current model by this much balanced accuracy
# before we advise promoting it: smaller gaps are within a few cells' noise.
MIN_GAIN = 0.01
# A standard set may drop at most this much (the lab's own set must not be
# traded for the new cells).
MAX_STANDARD_DROP = 0.01
# Fewer scored cells than this and a comparison is too noisy to advise on.
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
    # The model in use and the candidate on the project's reviewed cells,
    # the candidate's predictions out of fold (core.retraining.out_of_fold).
    out_of_fold: tuple[ModelScores, ModelScores] | None
    standard: tuple[ModelScores, ModelScores] | None
    recommendation: str
    promote_advised: bool
    # The instant path (the model in use taught by the other folds) on the
    # same cells: what the window already gives without a fine-tune.
    instant: ModelScores | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"out_of_fold": _pair_dicts(self.out_of_fold), "standard": _pair_dicts(self.standard),
                "instant": None if self.instant is None else self.instant.to_dict(),
                "recommendation": self.recommendation, "promote_advised": self.promote_advised}


def _pair_dicts(pair: tuple[ModelScores, ModelScores] | None) -> list[dict[str, Any]] | None:
    return None if pair is None else [pair[0].to_dict(), pair[1].to_dict()]


def score(model: str, predicted: NDArray[Any], truth: NDArray[Any], classes: list[str]) -> ModelScores:
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


def recommend(out_of_fold: tuple[ModelScores, ModelScores] | None,
              standard: tuple[ModelScores, ModelScores] | None,
              instant: ModelScores | None = None) -> tuple[str, bool]:
    """A plain sentence a technician can act on, and whether it says promote.
    The candidate must beat the model in use, and on the reviewed cells also
    the instant path, which the window already applies without it."""
    parts: list[str] = []
    judged = [
        (name, pair)
        for name, pair in (("the reviewed cells (out of fold)", out_of_fold), ("the standard set", standard))
        if pair is not None and pair[0].cells >= MIN_CELLS_TO_JUDGE
    ]
    for name, (current, candidate) in judged:
        parts.append(f"balanced accuracy on {name} {current.balanced_accuracy:.1%} -> {candidate.balanced_accuracy:.1%}"
                     f" ({candidate.cells} cells)")
    if not judged:
        cells = out_of_fold[0].cells if out_of_fold else 0
        return (f"Too few reviewed cells to judge ({cells}; {MIN_CELLS_TO_JUDGE} needed): review more cells, "
                "or set a standard set, before promoting.", False)
    by_name = dict(judged)
    primary = by_name.get("the standard set") or by_name["the reviewed cells (out of fold)"]
    gain = primary[1].balanced_accuracy - primary[0].balanced_accuracy
    worse = [name for name, (current, candidate) in judged
             if candidate.balanced_accuracy < current.balanced_accuracy - MAX_STANDARD_DROP]
    detail = "; ".join(parts)
    if worse:
        return f"Discard: the candidate is worse on {', '.join(worse)} ({detail}).", False
    reviewed = by_name.get("the reviewed cells (out of fold)")
    if instant is not None and reviewed is not None and instant.cells >= MIN_CELLS_TO_JUDGE \
            and reviewed[1].balanced_accuracy < instant.balanced_accuracy + MIN_GAIN:
        return (f"Keep the current model: what this project teaches it at once does as well "
                f"({instant.balanced_accuracy:.1%} out of fold; {detail}).", False)
    if gain >= MIN_GAIN:
        return f"Promote: {detail}.", True
    return f"Keep the current model: no clear gain ({detail}).", False
