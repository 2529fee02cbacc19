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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

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
    """The red-cell sizes a detector learnt, image pixels: the range of the
    training fields' own median red side (its labs image at different pixel
    sizes), from the 2nd percentile (the smallest lab's fields sit at the
    5th) to the 95th (a look reads large cells short, so a reading near
    the top may hide a larger cell), and the middle an image outside it is
    brought to (the geometric mean of the two)."""

    low: float
    high: float

    @property
    def middle(self) -> float:
        return math.sqrt(self.low * self.high)

    def holds(self, side: float, factor: float) -> bool:
        """Whether red cells `side` px wide, looked at resized by `factor`,
        are of a size the detector learnt.  Not wider: fields of one lab
        shrunk to another lab's size lose AP50 (BCCD's at 0.63x: platelets
        -0.07), the detector having learnt each size from its own lab."""
        return self.low <= side * factor <= self.high


@dataclass(frozen=True, slots=True)
class Magnification:
    factor: float  # the image was looked at resized by this (1: as it is)
    red_side: float | None  # median side of the ruler's red cells, the image's own pixels
    red_cells: int  # how many red cells made the ruler
    looks: int  # looks the estimate took, the one kept included

    @property
    def resized(self) -> bool:
        return self.factor != 1.0


def red_cell_side(detections: Detections, min_score: float = RED_SCORE) -> tuple[float | None, int]:
    """Median side (the longer of width and height) of the confident red
    boxes, and how many there are; None when fewer than MIN_RED_CELLS."""
    boxes, scores, classes = detections
    red = boxes[(classes == RED) & (scores >= min_score)]
    if len(red) < MIN_RED_CELLS:
        return None, int(len(red))
    sides = np.maximum(red[:, 2] - red[:, 0], red[:, 3] - red[:, 1])
    return float(np.median(sides)), int(len(red))


def learnt_ruler(boxes_of_fields: Sequence[tuple[NDArray[Any], NDArray[Any]]]) -> RedRuler:
    """The ruler of training fields ((boxes, classes) each, image pixels),
    from the median red side of each field holding MIN_RED_CELLS or more."""
    medians = []
    for boxes, classes in boxes_of_fields:
        red = boxes[classes == RED]
        if len(red) >= MIN_RED_CELLS:
            medians.append(float(np.median(np.maximum(red[:, 2] - red[:, 0], red[:, 3] - red[:, 1]))))
    if not medians:
        raise ValueError(f"no training field holds {MIN_RED_CELLS} red cells to learn their size from")
    low, high = np.percentile(medians, [2, 95])
    return RedRuler(round(float(low), 1), round(float(high), 1))


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
