"""Scoring a retrain on every reviewed cell, none of them withheld.

The project's reviewed cells are split into k folds, grouped by slide; for
each fold a model taught by the other folds predicts it.  Every cell is
then predicted by a model that never saw its slide, and the candidate
itself is trained on all of them: a small queue (a crops import is one
cell a slide) loses none of its teaching to the comparison.

Three ways of labelling the lab's cells are scored on the same cells:
- the model in use, which never learnt from any of them;
- the instant path (core.project_learning), taught fold by fold, as the
  window would have predicted each cell before it was reviewed;
- the fine-tune, one fit per fold (core.retraining.child).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.project_learning import ProjectLearner, log_softmax
from core.schema import CellKind

# Folds of reviewed cells; fewer when the project has fewer slides.
DEFAULT_FOLDS = 3


def slide_folds(groups: Sequence[str], k: int, seed: int = 0) -> list[int]:
    """A fold index per cell, all cells of a slide (group) in one fold, the
    folds as equal in cells as the slides allow: the largest slides are
    placed first, each in the fold with fewest cells so far (ties broken
    by a seeded shuffle)."""
    sizes = Counter(groups)
    k = min(k, len(sizes))
    if k < 2:
        raise ValueError("out-of-fold scoring needs cells from at least two slides")
    names = sorted(sizes)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda name: -sizes[name])
    load = [0] * k
    fold_of: dict[str, int] = {}
    for name in names:
        fold = min(range(k), key=lambda i: (load[i], i))
        fold_of[name] = fold
        load[fold] += sizes[name]
    return [fold_of[group] for group in groups]


def network_log_probabilities(logits: NDArray[Any], temperature: float, masks: NDArray[Any]) -> NDArray[Any]:
    """Calibrated log-probabilities with the classes each cell's kind rules
    out at minus a billion (masks: N x C booleans)."""
    return log_softmax(np.where(masks, logits / temperature, -1e9))


def instant_out_of_fold(
    embeddings: NDArray[Any], network_logp: NDArray[Any], labels: NDArray[Any], kinds: Sequence[CellKind | None],
    folds: Sequence[int],
) -> NDArray[Any]:
    """Probabilities N x C of the instant path for each cell, taught by the
    white cells of the other folds (as core.project_learning teaches only
    from white cells; other cells keep the network's view).  `labels` holds
    -1 for a class the network has no output for: such a cell teaches
    nothing."""
    folds_array = np.asarray(folds)
    white = np.array([kind is CellKind.WHITE for kind in kinds], bool)
    probabilities: NDArray[Any] = np.exp(network_logp)
    for fold in np.unique(folds_array):
        teachers = white & (folds_array != fold) & (labels >= 0)
        pupils = white & (folds_array == fold)
        if not pupils.any() or not teachers.any():
            continue
        learner = ProjectLearner(network_logp.shape[1]).fit(
            embeddings[teachers], labels[teachers], network_logp[teachers])
        probabilities[pupils] = learner.predict(embeddings[pupils], network_logp[pupils])
    return probabilities
