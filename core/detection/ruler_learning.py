"""Reading a detector's red-cell ruler (core.detection.magnification.RedRuler)
off its training fields as the detector itself draws their red cells, and
writing it into its card.

The ruler is used on the detector's own boxes, which draw a lab's red
cells a few percent smaller or larger than its labels do (BCCD's 5%
smaller), so it is read in those units.  Each field is looked at as it
is: the training fields are the scale the detector learnt."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.detection.magnification import RED_SCORE, Detections, RedRuler, red_cell_side, ruler_of_sides
from core.imaging import load_rgb
from core.jobs import CancelToken, Job, Progress
from core.models.resolver import resolve_detector_card

if TYPE_CHECKING:  # imported where a ruler is learnt, as familiarity_learning does
    from core.detection.detector import KerasCellDetector


def read_ruler(
    look: Callable[[Path], Detections], paths: Sequence[Path], cancel: CancelToken | None = None
) -> Job[RedRuler]:
    """The ruler of the fields at `paths` (ruler_of_sides of each field's
    median red side), look(path) being the detector's detections on the
    field as it is.  ValueError when no field holds enough red cells."""
    cancel = cancel or CancelToken()
    sides = []
    for index, path in enumerate(paths, start=1):
        cancel.raise_if_cancelled()
        side, _ = red_cell_side(look(path))
        if side is not None:
            sides.append(side)
        if index % 32 == 0 or index == len(paths):
            yield Progress(index, len(paths), f"measured the red cells of {index} of {len(paths)} training fields")
    return ruler_of_sides(sides)


def detector_ruler(
    detector: KerasCellDetector, training: Sequence[Path], cancel: CancelToken | None = None
) -> Job[RedRuler]:
    """read_ruler with the detector's looks, each field as it is."""
    return read_ruler(
        lambda field: detector.detect_arrays(load_rgb(field), min_score=RED_SCORE, factor=1.0), training, cancel)


def learn_ruler(
    card_path: str | os.PathLike[str] | None, training: Sequence[Path], cancel: CancelToken | None = None
) -> Job[RedRuler]:
    """Read the detector's ruler on its training fields (their image
    paths) and write it into its card (red_cell_range, red_cell_median);
    everything else in the card is left as it is.  card_path: as
    KerasCellDetector.load takes it (None: user-trained, else bundled).
    ValueError, the card untouched, when no field holds enough red cells
    as the detector sees them."""
    from core.detection.detector import KerasCellDetector

    path = resolve_detector_card(card_path)
    detector = KerasCellDetector.load(path)
    ruler = yield from detector_ruler(detector, training, cancel)
    detector.card.red_cell_range = [ruler.low, ruler.high]
    detector.card.red_cell_median = ruler.typical
    detector.card.save(path)
    return ruler
