"""Learning what a detector's training fields look like
(core.detection.familiarity), and writing it into the detector's card.

The reference is every REFERENCE_STRIDE-th training field, as the detector
proposes on it.  The threshold is chosen on fields apart from those
points: the larger of the reference fields' own distances with each left
out and the validation fields' distances, at THRESHOLD_PERCENTILE (once
comparing white boxes' colours, once the darkest colour as for a field
without a white proposal).  Too many white proposals: one more than any
of these fields holds, at a share above their median share.  The test
fields are never looked at."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.detection.familiarity import (
    FEATURES,
    NEIGHBOURS,
    WHITE_A,
    FamiliarityReference,
    field_colours,
    white_share,
)
from core.imaging import load_rgb
from core.inference import CellDetector
from core.jobs import CancelToken, Job, Progress
from core.models.resolver import resolve_detector_card

# One training field in four: the points travel in the card.
REFERENCE_STRIDE = 4
# The share of familiar fields let through unflagged, in percent.
THRESHOLD_PERCENTILE = 99.5


def described(
    detector: CellDetector, paths: Sequence[Path], what: str, cancel: CancelToken
) -> Job[tuple[NDArray[np.float64], list[tuple[int, float]]]]:
    """field_colours (N x len(FEATURES)) and white_share of each image,
    with the detector's proposals."""
    rows, shares = [], []
    for index, path in enumerate(paths, start=1):
        cancel.raise_if_cancelled()
        image = load_rgb(path)
        detections = detector.detect(image)
        rows.append(field_colours(image, detections))
        shares.append(white_share(detections))
        if index % 16 == 0 or index == len(paths):
            yield Progress(index, len(paths), f"looked at {index} of {len(paths)} {what}")
    return np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES)), shares


def reference_from(
    points: NDArray[np.float64],
    held_out: NDArray[np.float64],
    shares: Sequence[tuple[int, float]] = (),
) -> FamiliarityReference:
    """The reference of these training fields' colours (those without a
    white proposal left out: they cannot be compared on white colours),
    its thresholds chosen on them (each left out) and on the held-out
    fields' colours; the white-proposal rule on the white_share of both
    sets' fields (none given: no rule)."""
    # Rounded as the card keeps them, so the thresholds are those of the card's numbers.
    points = np.round(points[~np.isnan(points[:, WHITE_A])], 1)
    if len(points) <= NEIGHBOURS:
        raise ValueError(f"{len(points)} reference fields with a white proposal are too few to judge by "
                         f"{NEIGHBOURS} neighbours")
    spread = np.round(points.std(axis=0), 3)
    spread[spread <= 0] = 1.0  # a feature constant over the training fields: distances in its own units
    reference = FamiliarityReference(points, spread, 0.0, 0.0, white_share=1.0, min_white=0)
    held_white = held_out[~np.isnan(held_out[:, WHITE_A])]
    # With a white proposal: the held-out fields that have one.  Without:
    # every held-out field, compared as if it had none.
    threshold = _percentile_of(reference.distances(points, True, leave_out_self=True),
                               reference.distances(held_white, True))
    without = _percentile_of(reference.distances(points, False, leave_out_self=True),
                             reference.distances(held_out, False))
    # More white proposals than any of these fields holds, at a share above
    # the typical one; with no shares given a limit of 1, which no share passes.
    most_white = max((white for white, _ in shares), default=0)
    typical_share = float(np.median([share for _, share in shares])) if shares else 1.0
    return FamiliarityReference(points, spread, threshold, without, round(typical_share, 3), most_white + 1)


def _percentile_of(*samples: NDArray[np.float64]) -> float:
    """The largest of the samples' THRESHOLD_PERCENTILE-th percentiles."""
    return max((float(np.percentile(values, THRESHOLD_PERCENTILE)) for values in samples if len(values)),
               default=0.0)


def fine_tune_reference(
    detector: CellDetector,
    reviewed: Sequence[Path],
    replayed: Sequence[Path],
    cancel: CancelToken | None = None,
) -> Job[tuple[FamiliarityReference, dict[str, Any]]]:
    """The reference of a detector fine-tuned on a lab's reviewed fields
    and a replay of its original ones (their image paths), as it proposes
    on them, with what made it (the card's chosen_on).  Every reviewed
    field is a point, as the lab's few fields are what it was taught, and
    every REFERENCE_STRIDE-th replayed one; the thresholds are chosen as
    learn_familiarity chooses them, the other replayed fields standing for
    the validation fields.  ValueError when too few of the points hold a
    white proposal (reference_from)."""
    cancel = cancel or CancelToken()
    chosen = [*reviewed, *list(replayed)[::REFERENCE_STRIDE]]
    others = [path for index, path in enumerate(replayed) if index % REFERENCE_STRIDE]
    points, shares = yield from described(detector, chosen, "fields trained on", cancel)
    held_out, held_out_shares = yield from described(detector, others, "other replayed fields", cancel)
    reference = reference_from(points, held_out, shares + held_out_shares)
    chosen_on: dict[str, Any] = {
        "reference_fields": len(reference.points),  # those with a white proposal
        "reviewed_fields": len(reviewed),
        "replayed_fields": len(replayed),
        "percentile": THRESHOLD_PERCENTILE,
    }
    return reference, chosen_on


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
    points, shares = yield from described(detector, chosen, "training fields", cancel)
    held_out, held_out_shares = yield from described(detector, validation, "validation fields", cancel)
    reference = reference_from(points, held_out, shares + held_out_shares)
    chosen_on: dict[str, Any] = {
        "reference_fields": len(reference.points),  # those with a white proposal
        "of_training_fields": len(training),
        "validation_fields": len(validation),
        "percentile": THRESHOLD_PERCENTILE,
    }
    detector.card.familiarity = reference.to_card(chosen_on)
    detector.card.save(path)
    return reference
