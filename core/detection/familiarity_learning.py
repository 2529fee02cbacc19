"""Learning what a detector's training fields look like
(core.detection.familiarity), and writing it into the detector's card.

The reference is every REFERENCE_STRIDE-th training field, as the detector
proposes on it.  The threshold is chosen on fields apart from those
points: the larger of the reference fields' own distances with each left
out and the validation fields' distances, at THRESHOLD_PERCENTILE.  The
test fields are never looked at."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.detection.familiarity import NEIGHBOURS, FamiliarityReference, field_colours
from core.imaging import load_rgb
from core.inference import CellDetector
from core.jobs import CancelToken, Job, Progress
from core.models.resolver import resolve_detector_card

# One training field in four: the points travel in the card.
REFERENCE_STRIDE = 4
# The share of familiar fields let through unflagged, in percent.
THRESHOLD_PERCENTILE = 99.5


def colours_of(
    detector: CellDetector, paths: Sequence[Path], what: str, cancel: CancelToken
) -> Job[NDArray[np.float64]]:
    """field_colours of each image with the detector's proposals (N x 6)."""
    rows = []
    for index, path in enumerate(paths, start=1):
        cancel.raise_if_cancelled()
        image = load_rgb(path)
        rows.append(field_colours(image, detector.detect(image)))
        if index % 16 == 0 or index == len(paths):
            yield Progress(index, len(paths), f"looked at {index} of {len(paths)} {what}")
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


def reference_from(points: NDArray[np.float64], held_out: NDArray[np.float64]) -> FamiliarityReference:
    """The reference of these training fields' colours, its threshold
    chosen on them (each left out) and on the held-out fields' colours."""
    if len(points) <= NEIGHBOURS:
        raise ValueError(f"{len(points)} reference fields are too few to judge by {NEIGHBOURS} neighbours")
    # Rounded as the card keeps them, so the threshold is that of the card's numbers.
    points = np.round(points, 1)
    spread = np.round(points.std(axis=0), 3)
    spread[spread <= 0] = 1.0  # a feature constant over the training fields: distances in its own units
    reference = FamiliarityReference(points, spread, threshold=0.0)
    scaled = points / spread
    mutual = np.sqrt(((scaled[:, None, :] - scaled[None, :, :]) ** 2).sum(axis=2))
    left_out = np.sort(mutual, axis=1)[:, NEIGHBOURS]  # column 0 is each field's distance to itself
    held = np.array([reference.unlikeness(row) for row in held_out])
    threshold = max(float(np.percentile(left_out, THRESHOLD_PERCENTILE)),
                    float(np.percentile(held, THRESHOLD_PERCENTILE)) if len(held) else 0.0)
    return FamiliarityReference(points, spread, threshold)


def learn_familiarity(
    card_path: str | os.PathLike[str] | None,
    training: Sequence[Path],
    validation: Sequence[Path],
    cancel: CancelToken | None = None,
) -> Job[FamiliarityReference]:
    """Learn the detector's reference on its training and validation
    fields (their image paths) and write it into its card (the weights and
    everything else in the card are left as they are).  card_path: as
    KerasCellDetector.load takes it (None: user-trained, else bundled)."""
    from core.detection.detector import KerasCellDetector

    cancel = cancel or CancelToken()
    path = resolve_detector_card(card_path)
    detector = KerasCellDetector.load(path)
    chosen = list(training)[::REFERENCE_STRIDE]
    points = yield from colours_of(detector, chosen, "training fields", cancel)
    held_out = yield from colours_of(detector, validation, "validation fields", cancel)
    reference = reference_from(points, held_out)
    chosen_on: dict[str, Any] = {
        "reference_fields": len(chosen),
        "of_training_fields": len(training),
        "validation_fields": len(validation),
        "percentile": THRESHOLD_PERCENTILE,
    }
    detector.card.familiarity = reference.to_card(chosen_on)
    detector.card.save(path)
    return reference
