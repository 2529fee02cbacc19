"""The scale an image's cells are at, measured with the red cells as a ruler.

Labs image at other pixel sizes (objective, camera, scanner): a red cell is
75-160 px wide in the detector's training fields and 25 px in a 224x224
field of another set, where the detector, never shown cells that small,
finds almost nothing.  Red cells vary little in size from one person to
the next, and nearly every field holds many, so the median side of the red
cells the detector finds says how far the image is from the sizes it
learnt (its card's red_cell_range); an image outside them is looked at
resized by the factor that brings its red cells to the middle of that range.

One rule, estimate_magnification, used by every path that detects (a
slide's fields, `detect --images`, single-cell images): a first look as the
image is; if it holds enough red cells of a learnt size, that look is the
answer and the estimate costs a median (or one check, see UPPER_CHECK).
Otherwise the image is looked at again at the factor its red cells ask for
(a look far from the learnt scale misjudges sizes, so the new look is
measured again, REFINEMENTS looks at most), or, with too few red cells to
measure, at a few probe factors, the one whose red cells come nearest the
middle winning.  With no ruler anywhere the image is taken as it is.

A lab images every field with the same objective and camera, so within
one run of its fields (a `detect`, a Detect All) the magnification is
agreed (LabMagnification): once most of the fields measured are found at
another one, each later field is first looked at by the lab's factor,
which brings the lab's median red cell to the typical training field's.
One field's red cells measure its lab with noise, as red cells vary in
size from field to field; brought each to the middle on its own, fields
of one lab land at scales up to 1.2x apart, and BCCD's platelets lose
AP50 there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from core.schema import Slide
from core.wording import counted

# (boxes N x 4 in the image's own pixels, scores N, class indices N)
Detections = tuple[NDArray[Any], NDArray[Any], NDArray[Any]]

RED = 1  # index of red cells in targets.CLASSES
# Red boxes scoring this much count as the ruler: confident ones only,
# since a doubtful box is often a fragment or a clump.
RED_SCORE = 0.3
MIN_RED_CELLS = 5
# A look reads red cells too large for it as smaller than they are (at
# 2.5x, 0.55-0.75 of their size), so a reading above this multiple of the
# learnt middle is checked with a look that brings them to the middle; a
# check that reads them CHECK_GAIN larger or more shows the first was short.
UPPER_CHECK = 1.1
CHECK_GAIN = 1.05
# Factors tried when the first look finds too few red cells to measure.
PROBES = (2.0, 4.0, 0.5)
REFINEMENTS = 2  # new looks at the factor the last look's red cells asked for
# An image found to be at another magnification is brought this near the
# middle of the learnt sizes, not merely inside them: the learnt range spans
# several labs, and one lab's fields at another lab's size lose AP50.
NEAR_MIDDLE = 1.15
FACTOR_LIMITS = (0.25, 4.0)


@dataclass(frozen=True, slots=True)
class RedRuler:
    """The red-cell sizes a detector learnt, image pixels, as the detector
    reads them on its training fields (a network draws a lab's red cells a
    few percent smaller or larger than its labels do, so the ruler is read
    in the same units it is used in): the range of the training fields'
    own median red side (its labs image at different pixel sizes), from
    the 2nd percentile (the smallest lab's fields sit at the 5th) to the
    95th (a look reads large cells short, so a reading near the top may
    hide a larger cell); the middle a field outside it is brought to (the
    geometric mean of the two); and the typical training field's side (the
    median), which a lab's fields agreed to be at another magnification
    are brought to (LabMagnification).  typical None: not known (cards
    before 2.2.2), the middle stands for it."""

    low: float
    high: float
    typical: float | None = None

    @property
    def middle(self) -> float:
        return math.sqrt(self.low * self.high)

    @property
    def lab_target(self) -> float:
        return self.typical if self.typical is not None else self.middle

    def holds(self, side: float, factor: float) -> bool:
        """Whether red cells `side` px wide, looked at resized by `factor`,
        are of a size the detector learnt.  Not wider: fields of one lab
        shrunk to another lab's size lose AP50 (BCCD's at 0.63x: platelets
        -0.07), the detector having learnt each size from its own lab."""
        return self.low <= side * factor <= self.high


@runtime_checkable
class MagnifyingDetector(Protocol):
    """A detector that measures each image's magnification by a ruler."""

    def ruler(self) -> RedRuler | None: ...

    def detect_magnified(self, image: NDArray[Any], start: float = 1.0) -> tuple[Magnification, list[Any]]: ...


# A slide attribute: the magnification its proposals were found at
# (Magnification.to_attribute), which a later run over the project's other
# slides agrees with (LabMagnification.observe).
SLIDE_KEY = "magnification"


@dataclass(frozen=True, slots=True)
class Magnification:
    factor: float  # the image was looked at resized by this (1: as it is)
    red_side: float | None  # median side of the ruler's red cells, the image's own pixels
    red_cells: int  # how many red cells made the ruler
    looks: int  # looks the estimate took, the one kept included

    @property
    def resized(self) -> bool:
        return self.factor != 1.0

    def to_attribute(self, detector_version: str) -> dict[str, Any]:
        side = None if self.red_side is None else round(self.red_side, 1)
        return {"detector": detector_version, "factor": round(self.factor, 4), "red_side": side,
                "red_cells": self.red_cells, "looks": self.looks}

    @classmethod
    def from_attribute(cls, value: Any, detector_version: str | None) -> Magnification | None:
        """The magnification a slide attribute records, if the detector
        `detector_version` measured it (another detector reads red cells
        at sizes of its own; None: any detector); None otherwise, or when
        it is not one."""
        if not isinstance(value, dict) or detector_version not in (None, value.get("detector")):
            return None
        factor, side, cells, looks = (value.get(key) for key in ("factor", "red_side", "red_cells", "looks"))
        if not _positive(factor) or not (side is None or _positive(side)):
            return None
        if not isinstance(cells, int) or not isinstance(looks, int):
            return None
        return cls(float(factor), None if side is None else float(side), cells, looks)


def _positive(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def red_cell_side(detections: Detections, min_score: float = RED_SCORE) -> tuple[float | None, int]:
    """Median side (the longer of width and height) of the confident red
    boxes, and how many there are; None when fewer than MIN_RED_CELLS."""
    boxes, scores, classes = detections
    red = boxes[(classes == RED) & (scores >= min_score)]
    if len(red) < MIN_RED_CELLS:
        return None, int(len(red))
    return float(np.median(_sides(red))), int(len(red))


def _sides(boxes: NDArray[Any]) -> NDArray[Any]:
    """Each box's longer side."""
    sides: NDArray[Any] = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    return sides


def learnt_ruler(boxes_of_fields: Sequence[tuple[NDArray[Any], NDArray[Any]]]) -> RedRuler:
    """The ruler of training fields by their labels ((boxes, classes) each,
    image pixels): what a detector starts from before it can read its own
    (core.detection.ruler_learning)."""
    medians = []
    for boxes, classes in boxes_of_fields:
        red = boxes[classes == RED]
        if len(red) >= MIN_RED_CELLS:
            medians.append(float(np.median(_sides(red))))
    return ruler_of_sides(medians)


def ruler_of_sides(medians: Sequence[float]) -> RedRuler:
    """The ruler of training fields' median red sides, one per field that
    holds MIN_RED_CELLS red cells or more."""
    if not medians:
        raise ValueError(f"no training field holds {MIN_RED_CELLS} red cells to learn their size from")
    low, high = np.percentile(medians, [2, 95])
    return RedRuler(round(float(low), 1), round(float(high), 1), round(float(np.median(medians)), 1))


def _clipped(factor: float) -> float:
    return float(min(max(factor, FACTOR_LIMITS[0]), FACTOR_LIMITS[1]))


def estimate_magnification(
    look: Callable[[float], Detections],
    ruler: RedRuler | None,
    first: Detections | None = None,
    probe: bool = True,
    start: float = 1.0,
    probe_look: Callable[[float], Detections] | None = None,
) -> tuple[Magnification, Detections]:
    """The factor to look at an image at, and the detections of that look.

    look(factor): the detector's detections on the image resized by factor,
    boxes in the image's own pixels.  ruler: the detector's learnt red-cell
    sizes (None: unknown, the image is taken as it is).  first: the look at
    factor `start` when the caller has it already.  probe: whether to try
    PROBES (times start) when the first look finds too few red cells (a
    single-cell image cut tight holds none, and is taken as it is).
    start: the factor of the first look (1: the image as it is).
    probe_look(factor): detections good enough to measure red cells by, at
    less cost than look's (a part of the image); the factor a probe finds
    is then looked at whole.  Default: look."""
    current = first if first is not None else look(start)
    looks = 1
    side, count = red_cell_side(current)
    factor = start
    if ruler is None:
        return Magnification(factor, side, count, looks), current
    if side is None:
        if not probe:
            return Magnification(factor, None, count, looks), current
        best: tuple[float, float, Detections, float, int] | None = None
        for candidate in (start * p for p in PROBES):
            seen = (probe_look or look)(candidate)
            looks += 1
            probe_side, probe_count = red_cell_side(seen)
            if probe_side is None:
                continue
            distance = abs(math.log(probe_side * candidate / ruler.middle))
            if best is None or distance < best[0]:
                best = (distance, candidate, seen, probe_side, probe_count)
        if best is None:
            return Magnification(factor, None, count, looks), current
        _, factor, current, side, count = best
        if probe_look is not None:
            current = look(factor)
            looks += 1
            side, count = red_cell_side(current)
            if side is None:  # the whole image disagrees with its part: no ruler
                return Magnification(factor, None, count, looks), current
    elif ruler.holds(side, factor):
        if side * factor <= UPPER_CHECK * ruler.middle:
            return Magnification(factor, side, count, looks), current
        check_factor = _clipped(ruler.middle / side)
        seen = look(check_factor)
        looks += 1
        check_side, check_count = red_cell_side(seen)
        if check_side is None or check_side < CHECK_GAIN * side:
            return Magnification(factor, side, count, looks), current
        factor, current, side, count = check_factor, seen, check_side, check_count
    for _ in range(REFINEMENTS):
        if abs(math.log(side * factor / ruler.middle)) <= math.log(NEAR_MIDDLE):
            break
        wanted = _clipped(ruler.middle / side)
        if abs(math.log(wanted / factor)) < 0.05:
            break  # at the limit, or as near as a look can tell
        seen = look(wanted)
        looks += 1
        new_side, new_count = red_cell_side(seen)
        if new_side is None:
            break  # the ruler vanished at that factor: keep the look that had one
        factor, current, side, count = wanted, seen, new_side, new_count
    return Magnification(factor, side, count, looks), current


# Fields measured before a run's magnification is taken as agreed (as the
# colour turn's votes, core.detection.colour_turns.VOTES).
LAB_FIELDS = 3


class LabMagnification:
    """The magnification of one lab's fields, agreed over a run of them.

    Each field's own estimate is observed; once LAB_FIELDS or more have a
    ruler and more than half of them were looked at resized, start() is
    the factor that brings the median of their red sides (each in its
    image's own pixels) to the ruler's lab_target, and each later field is
    first looked at by it (estimate_magnification's `start`): a field whose
    red cells are of a learnt size there is kept at the lab's factor, one
    that is not (a field of another lab in the same run) is measured on
    its own.  While most fields are of a learnt size as they are, each is
    looked at as it is first.  Not shared between threads."""

    def __init__(self, ruler: RedRuler | None) -> None:
        self.ruler = ruler
        self._sides: list[float] = []
        self._resized = 0

    def start(self) -> float:
        if self.ruler is None or len(self._sides) < LAB_FIELDS or 2 * self._resized <= len(self._sides):
            return 1.0
        return _clipped(self.ruler.lab_target / float(np.median(self._sides)))

    def observe(self, magnification: Magnification) -> None:
        if magnification.red_side is None:
            return  # no ruler on this field: it says nothing of its lab
        self._sides.append(magnification.red_side)
        self._resized += magnification.resized


def slide_magnification(slide: Slide, detector_version: str | None = None) -> Magnification | None:
    """The magnification the slide's last detection recorded
    (Magnification.from_attribute: by `detector_version`, None for any)."""
    return Magnification.from_attribute(slide.attributes.get(SLIDE_KEY), detector_version)


def slide_scale_note(slide: Slide) -> str | None:
    """What the slide's last detection says of its scale, for the slide
    list; None when its field was looked at as it is, or not measured."""
    magnification = slide_magnification(slide)
    if magnification is None or not magnification.resized:
        return None
    side = f" (its red cells {magnification.red_side:.0f} px wide)" if magnification.red_side is not None else ""
    return f"Proposals found with the field looked at x{magnification.factor:.2f}{side}."


def resized_summary(magnifications: Sequence[Magnification | None]) -> dict[str, Any]:
    """What `detect` reports of its fields' scale: how many were measured
    by their red cells, how many of those were looked at resized, and the
    median factor of those (None when none was)."""
    measured = [m for m in magnifications if m is not None]
    factors = [m.factor for m in measured if m.resized]
    median = round(float(np.median(factors)), 3) if factors else None
    return {"measured": len(measured), "resized": len(factors), "median_factor": median}


def resized_sentence(summary: dict[str, Any]) -> str | None:
    """resized_summary in words; None when no field was looked at resized."""
    if not summary["resized"]:
        return None
    factor = summary["median_factor"]
    sizes = "larger" if factor < 1 else "smaller"
    return (f"{counted(summary['resized'], 'field')} of {summary['measured']} looked at resized (median "
            f"x{factor:.2f}): their red cells are {sizes} than in the fields the detector learnt from")
