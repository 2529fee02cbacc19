"""Scoring a detector on test fields changed in memory (colours turned,
sizes changed), with the same labels moved along; nothing is written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from core.detection.augment import greyed, turned_hue
from core.detection.colour_turns import ColourTurner
from core.detection.data import GroundTruth
from core.detection.evaluation import ImageResult, evaluate
from core.detection.magnification import LabMagnification
from core.imaging import load_rgb

# An image and its boxes in, the changed image and its boxes out.
Change = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def changed_results(
    detector: Any, samples: Sequence[GroundTruth], change: Change, turner: ColourTurner | None = None
) -> list[ImageResult]:
    """The detector's proposals down to its AP floor on each changed field,
    the fields taken as one run of `detect` takes them: each looked at
    first by the magnification the run's fields agreed on
    (LabMagnification), and, with a turner (one detection run's), in the
    colours it looks at an unlike field in."""
    lab = LabMagnification(detector.ruler())
    results = []
    for gt in samples:
        image, boxes = change(load_rgb(gt.path), gt.boxes)
        if turner is not None:
            image = turner.colours_for(image)
        magnification, (found, scores, classes) = detector.magnified(image, detector.card.min_score, lab.start())
        lab.observe(magnification)
        results.append(ImageResult(boxes, gt.classes, found, scores, classes))
    return results


def figures(detector: Any, results: Sequence[ImageResult]) -> dict[str, dict[str, Any]]:
    """Per class: AP50, and recall and precision at the card's thresholds."""
    return evaluate(results, detector.card.thresholds)


def unchanged(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return image, boxes


def channels_swapped(image: np.ndarray) -> np.ndarray:
    """RGB read as BGR."""
    return np.ascontiguousarray(image[:, :, ::-1])


def blue_grey_red_cells(image: np.ndarray) -> np.ndarray:
    """The field as a lab whose red cells stain blue-grey (all-taleqani's
    early pre-B fields; the lab of issue 30, whose red cells the detector
    boxed as white cells): pinks and reds go blue-grey and paler, purples
    (nuclei) stay.  No hue turn of the whole field undoes it, since the
    nuclei would turn with the red cells."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    hue, saturation = hsv[..., 0], hsv[..., 1]
    pink = (hue >= 160) | (hue <= 15)  # OpenCV's hue runs 0-179: 320-30 degrees
    hsv[..., 0] = np.where(pink, 108, hue)  # 216 degrees
    hsv[..., 1] = np.where(pink, saturation * 0.55, saturation)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


# Test fields in colours that are not any lab's (issue 30): the untouched
# fields first, then their hues turned, greyed and with channels swapped.
COLOUR_VARIANTS: dict[str, Change] = {
    "untouched": unchanged,
    "hue +60": lambda image, boxes: (turned_hue(image, 60), boxes),
    "hue +120": lambda image, boxes: (turned_hue(image, 120), boxes),
    "hue +180": lambda image, boxes: (turned_hue(image, 180), boxes),
    "grey": lambda image, boxes: (greyed(image), boxes),
    "channels swapped": lambda image, boxes: (channels_swapped(image), boxes),
}

# Labs made of the test fields for issue 30's teaching benchmarks: the
# colour variants, and red cells stained blue-grey, which no turn undoes.
LAB_COLOURS: dict[str, Change] = {
    **COLOUR_VARIANTS, "blue-grey red cells": lambda image, boxes: (blue_grey_red_cells(image), boxes),
}
