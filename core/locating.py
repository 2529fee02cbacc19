"""Finding the cell a single-cell image is about.

A lab's labelled cells mostly come as single-cell images: a CellaVision
export is 360x363 px with the cell in the middle and red cells and
platelets around it, other tools cut crops at whatever margin.  Handing
the whole image to the classifier as the cell's box shows it the cell at
a scale it never learnt, so every path that takes such an image asks the
locator for the cell first: the bundled detector looks at the image, and
the box of the wanted kind nearest the centre is the cell.

Three outcomes, counted by every caller (a fourth, given, is --locate off):
- located: a plausible box near the centre (or, with nothing there, a
  confident one elsewhere: a cell cut off-centre);
- tight: the cell fills the image (a crop cut at its box), so the whole
  image is its box, as before;
- whole: nothing plausible was found (no cell, a blank image), so the
  whole image stands in, and the caller says how many.
"""

from __future__ import annotations

import enum
import functools
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from core.box_refiner import BoxRefiner
from core.crops import crop_square
from core.detection.nms import box_areas, intersection_matrix
from core.imaging import ImageReadError, load_rgb
from core.schema import Box, CellKind
from core.wording import counted

# --locate: "auto" finds the cell in each image, "off" takes each image
# whole as its cell's box (crops known to be cut tight at the cell).
LOCATE_MODES = ("auto", "off")

# A single-cell image is shrunk to at most this longer side before the
# detector looks: the size of a CellaVision image, whose cells (60-150 px)
# are the sizes the detector learnt.  Larger images hold the cell larger.
LOCATE_SIDE = 400
# Candidates down to this score are considered: the image is known to hold
# a cell, so a weak box near the centre beats none.
MIN_SCORE = 0.1
# The cell's centre lies within this fraction of the image's shorter side
# from the image's centre: every tool centres the cell it cuts.
MAX_OFFSET = 0.25
# A cell this large in its image (its box's side over the image's) is
# already framed as the classifier frames a cell (1.3x the box, +-25% in
# training): recutting it would only add the detector's error.
TIGHT_FILL = 0.8
# An image whose cell spans this much of it already frames the cell within
# the classifier's tolerance of framing, so the classifier is shown the
# image itself rather than a recut that would carry the detector's error.
FRAMED = 0.6
# An image with nothing near its centre takes the box of its kind nearest
# the centre elsewhere, if the detector is this sure of it (about its own
# thresholds of a cell): an off-centre cell, not a stray fragment.
CONFIDENT = 0.4
# A box of another kind than the image's class says (a giant platelet
# read as a white cell) pays this fraction of the side in distance: the
# class's own kind is likelier.
OTHER_KIND = 0.05
# A box holding two more confident boxes, each this much inside it, is
# their union.
UNION_INSIDE = 0.8
# A box lying this much inside a larger white cell the detector is surer
# of (and sure, CONFIDENT) is a part of that cell (a lobe, a granule
# patch) or a platelet on it: the image is about the larger cell, wherever
# the crop put its centre.
PART_INSIDE = 0.6
# A box chosen with less than this score is checked against the framed
# look too: in a crop cut tight at its cell, the first look often finds
# only a part of the cell, with doubt.
DOUBTFUL = 0.6
# The second look at an image with no cell found pads it on each side by
# this fraction of its side, so a cell that fills a tight crop is seen
# whole, surrounded by plasma, as the detector learnt cells.
TIGHT_PAD = 0.3

# The detector's box of a platelet carries a few pixels of plasma around it,
# which cost a cell 50 px wide much of its overlap: each edge row or column
# of a platelet's box in which fewer than PLASMA_EDGE of the pixels are
# stained is plasma and is trimmed, up to PLASMA_TRIM of the box's side.
# Stained: green below STAINED of the plasma's green (a platelet's granules
# and a red cell alike absorb green; plasma barely does).
STAINED = 0.9
PLASMA_EDGE = 0.02
PLASMA_TRIM = 0.15

# A single-cell image is looked at resized only when its red cells ask for
# a factor this far from the first look's (a 224 px field with 25 px red
# cells asks for 4): the locator was tuned on CellaVision images as they
# are, whose red cells sit at the low edge of the learnt range, and resizing
# those by 1.5 moved boxes of platelet clumps (OI-PBC agreement on
# platelets 94.7% -> 92.0%).
LOCATE_RESIZE = 2.0

# boxes N x 4 (image pixels), scores N, kinds N (CellKind values)
Proposals = tuple[NDArray[Any], NDArray[Any], NDArray[Any]]


class Placement(str, enum.Enum):
    LOCATED = "located"
    TIGHT = "tight"
    WHOLE = "whole"
    GIVEN = "given"  # not looked for (--locate off): the image is the cell's box


@dataclass(frozen=True, slots=True)
class LocatedCell:
    box: Box  # in the image's own pixels
    placement: Placement
    score: float = 0.0  # the detector's, for a located cell
    kind: str | None = None  # the detector's kind (CellKind value) of a located cell's box


@dataclass(slots=True)
class LocateCounts:
    """How the cells of a batch of single-cell images were found."""

    located: int = 0
    tight: int = 0
    whole: int = 0
    given: int = 0

    def add(self, cell: LocatedCell) -> None:
        setattr(self, cell.placement.value, getattr(self, cell.placement.value) + 1)

    def as_dict(self) -> dict[str, int]:
        return {"located": self.located, "tight": self.tight, "whole_image_fallbacks": self.whole}

    def describe(self) -> str:
        """One line for a report: 'cell found in 7,980 images, 12 tight
        crops kept whole, no cell found in 8 (whole image used)'."""
        parts = [f"cell found in {counted(self.located, 'image')}"]
        if self.tight:
            parts.append(f"{counted(self.tight, 'tight crop')} kept whole")
        parts.append(f"no cell found in {self.whole} (whole image used)" if self.whole else "no fallbacks")
        return ", ".join(parts)


class CellProposer(Protocol):
    def propose(self, images: Sequence[NDArray[Any]]) -> list[Proposals]:
        """Every candidate box of each RGB uint8 image, in its pixels."""


def whole_image_box(width: int, height: int) -> Box:
    return Box(0.0, 0.0, float(width), float(height))


def choose_cell(proposals: Proposals, width: int, height: int, kind: CellKind | None) -> LocatedCell | None:
    """The box of `kind` (white cell or platelet when None) nearest the
    image's centre, within MAX_OFFSET; tight when it fills the image; None
    when no box is plausible."""
    wanted = _wanted(kind)
    boxes, scores, kinds = _without_parts(_without_unions(proposals, wanted), kind)
    best: tuple[float, int] | None = None
    reach = MAX_OFFSET * min(width, height)
    for index, (box, score, box_kind) in enumerate(zip(boxes, scores, kinds)):
        if box_kind not in wanted or score < MIN_SCORE:
            continue
        offset = _offset(box, width, height)
        if offset > reach:
            continue
        cost = _cost(offset, float(score), width, height)
        if kind is not None and box_kind != kind.value:
            cost += OTHER_KIND * min(width, height)
        if best is None or cost < best[0]:
            best = (cost, index)
    if best is None:
        return None
    box = _clipped(boxes[best[1]], width, height)
    if box is None:
        return None
    score = float(scores[best[1]])
    if max(box.width / width, box.height / height) >= TIGHT_FILL:
        return LocatedCell(whole_image_box(width, height), Placement.TIGHT, score)
    return LocatedCell(box, Placement.LOCATED, score, str(kinds[best[1]]))


def choose_off_centre(proposals: Proposals, width: int, height: int, kind: CellKind | None) -> LocatedCell | None:
    """The confident box of `kind` nearest the centre wherever it lies: for
    an image with nothing near its centre, whose cell a tool cut off-centre
    (the cell at an edge of a CellaVision image), before the whole image
    stands in for it."""
    wanted = _wanted(kind)
    boxes, scores, kinds = _without_parts(_without_unions(proposals, wanted), kind)
    confident = [i for i in range(len(boxes)) if kinds[i] in wanted and scores[i] >= CONFIDENT]
    if not confident:
        return None
    nearest = min(confident, key=lambda i: _cost(_offset(boxes[i], width, height), float(scores[i]), width, height))
    box = _clipped(boxes[nearest], width, height)
    return None if box is None else LocatedCell(box, Placement.LOCATED, float(scores[nearest]), str(kinds[nearest]))


def _offset(box: NDArray[Any], width: int, height: int) -> float:
    """How far the box's centre lies from the image's."""
    return float(np.hypot((box[0] + box[2]) / 2 - width / 2.0, (box[1] + box[3]) / 2 - height / 2.0))


def _cost(offset: float, score: float, width: int, height: int) -> float:
    # Nearest the centre, a weak box paying for its doubt in distance:
    # a confident cell a little off-centre beats a faint blob on it.
    return offset + (1.0 - score) * 0.1 * min(width, height)


def _wanted(kind: CellKind | None) -> set[str]:
    # A platelet image may be about a giant platelet, which the detector
    # reads as a small white cell: so a platelet is looked for as an
    # unknown kind is, among white cells and platelets.
    if kind is None or kind is CellKind.PLATELET:
        return {CellKind.WHITE.value, CellKind.PLATELET.value}
    return {kind.value}


def _without_unions(proposals: Proposals, wanted: set[str]) -> Proposals:
    """The proposals less any box of a wanted kind that holds two more
    confident boxes of wanted kinds: the detector's box around two touching
    cells, not a cell (on a centred pair it lies nearest the centre)."""
    boxes, scores, kinds = proposals
    if len(boxes) < 3:
        return proposals
    candidates = np.array([k in wanted for k in kinds])
    shared, areas = intersection_matrix(boxes, boxes), np.maximum(box_areas(boxes), 1e-6)
    # holds[i, j]: box j lies (80% of it) inside box i and is more confident
    holds = (shared >= UNION_INSIDE * areas[None, :]) & (scores[None, :] > scores[:, None])
    holds &= candidates[None, :] & candidates[:, None]
    keep = holds.sum(axis=1) < 2
    return boxes[keep], scores[keep], kinds[keep]


def _without_parts(proposals: Proposals, kind: CellKind | None) -> Proposals:
    """The proposals less any box of a wanted kind that lies PART_INSIDE
    inside a larger, more confident, sure white-cell box: a part of that cell or
    something on it, which a crop cut off-centre can leave nearest the
    image's centre.  Not for a platelet image: its platelet may lie on a
    white cell."""
    boxes, scores, kinds = proposals
    if len(boxes) < 2 or kind is CellKind.PLATELET:
        return proposals
    wanted = _wanted(kind)
    shared, areas = intersection_matrix(boxes, boxes), np.maximum(box_areas(boxes), 1e-6)
    # within[i, j]: box i lies PART_INSIDE inside the larger, surer white box j
    within = (shared >= PART_INSIDE * areas[:, None]) & (areas[None, :] > areas[:, None])
    within &= (scores[None, :] > scores[:, None]) & (scores[None, :] >= CONFIDENT)
    within &= kinds[None, :] == CellKind.WHITE.value
    within &= np.array([k in wanted for k in kinds])[:, None]
    keep = ~within.any(axis=1)
    return boxes[keep], scores[keep], kinds[keep]


def _clipped(values: NDArray[Any], width: int, height: int) -> Box | None:
    x0, y0, x1, y1 = (float(v) for v in values)
    box = Box(max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))
    return None if box.is_empty() else box


def classifier_view(image: NDArray[Any], cell: LocatedCell, margin: float) -> NDArray[Any]:
    """What the classifier is shown of a single-cell image: the crop of the
    cell found, as for a cell on a slide, or the image itself when the cell
    fills or frames it, or none was found."""
    box = classifier_box(cell, image.shape[1], image.shape[0])
    return image if box is None else crop_square(image, box, margin)


def classifier_box(cell: LocatedCell, width: int, height: int) -> Box | None:
    """The box the classifier's crop is cut from, None for the whole image:
    training from class folders and classify --images share this rule."""
    if cell.placement is not Placement.LOCATED or _frames_image(cell.box, width, height):
        return None
    return cell.box


def _frames_image(box: Box, width: int, height: int) -> bool:
    return max(box.width / width, box.height / height) >= FRAMED


def plasma_colour(image: NDArray[Any]) -> NDArray[Any]:
    """The smear's background: the mean colour of the brightest tenth of
    the image (plasma is the lightest thing on a stained smear)."""
    pixels = image.reshape(-1, 3).astype(np.float32)
    brightness = pixels.sum(axis=1)
    bright = pixels[brightness >= np.percentile(brightness, 90)]
    colour: NDArray[np.uint8] = bright.mean(axis=0).round().astype(np.uint8)
    return colour


def padded_for_tight_look(image: NDArray[Any]) -> tuple[NDArray[Any], int, int]:
    """The image framed in plasma, and the frame's left and top widths."""
    height, width = image.shape[:2]
    pad_x, pad_y = round(TIGHT_PAD * width), round(TIGHT_PAD * height)
    framed = np.empty((height + 2 * pad_y, width + 2 * pad_x, 3), np.uint8)
    framed[:] = plasma_colour(image)
    framed[pad_y : pad_y + height, pad_x : pad_x + width] = image
    return framed, pad_x, pad_y


class CellLocator:
    """Finds the cell of each single-cell image with a proposer (the
    detector, DetectorProposer) and the rules of choose_cell, then, with a
    refiner, brings each located box to the classifier's box convention
    (core.box_refiner)."""

    def __init__(self, proposer: CellProposer, version: str = "", refiner: BoxRefiner | None = None) -> None:
        self.proposer = proposer
        self.refiner = refiner
        self.version = version if refiner is None else f"{version}+{refiner.version}"

    def locate(
        self, images: Sequence[NDArray[Any]], kinds: Sequence[CellKind | None] | None = None
    ) -> list[LocatedCell]:
        """One LocatedCell per image (RGB uint8).  kinds: what each image's
        cell is when known (its class folder says), else None."""
        if kinds is None:
            kinds = [None] * len(images)
        if len(kinds) != len(images):
            raise ValueError(f"{len(images)} images but {len(kinds)} kinds")
        results: list[LocatedCell | None] = [None] * len(images)
        looked = [index for index, image in enumerate(images) if _lookable(image)]
        proposals = self.proposer.propose([images[i] for i in looked]) if looked else []
        first_looks = dict(zip(looked, proposals))
        second: list[int] = []
        for index, found in first_looks.items():
            height, width = images[index].shape[:2]
            chosen = results[index] = choose_cell(found, width, height, kinds[index])
            if chosen is None or chosen.score < DOUBTFUL:
                second.append(index)
        if second:
            # Nothing sure near the centre: perhaps the cell fills the image,
            # and a cell cut at its edges is not what the detector learnt.
            framed = [padded_for_tight_look(images[i]) for i in second]
            for index, (_, pad_x, pad_y), found in zip(
                second, framed, self.proposer.propose([f[0] for f in framed])
            ):
                height, width = images[index].shape[:2]
                framed_cell = _tight_or_none(found, pad_x, pad_y, width, height, kinds[index])
                if results[index] is None or (framed_cell is not None and framed_cell.placement is Placement.TIGHT):
                    # A doubtful box inside a cell that fills the image is a
                    # part of that cell (a lobe, a granule-free patch).
                    results[index] = framed_cell
                if results[index] is None:
                    # Nor a tight crop: perhaps a cell cut off-centre.
                    results[index] = choose_off_centre(first_looks[index], width, height, kinds[index])
        for index, cell in enumerate(results):
            if cell is not None and _is_platelet(cell, kinds[index]):
                results[index] = replace(cell, box=trimmed_to_stain(images[index], cell.box))
        if self.refiner is not None:
            self._refine(images, results)
        return [
            result if result is not None else LocatedCell(whole_image_box(*_size(image)), Placement.WHOLE)
            for result, image in zip(results, images)
        ]

    def _refine(self, images: Sequence[NDArray[Any]], results: list[LocatedCell | None]) -> None:
        """Located boxes to the classifier's box convention; not a cell that
        frames its image, which the classifier is shown whole (classifier_box)
        however its box is drawn: a crop cut at another tool's box keeps it."""
        assert self.refiner is not None
        located = [
            i for i, cell in enumerate(results)
            if cell is not None and cell.placement is Placement.LOCATED
            and not _frames_image(cell.box, *_size(images[i]))
        ]
        boxes = self.refiner.refine([images[i] for i in located], [results[i].box for i in located])  # type: ignore[union-attr]
        for index, box in zip(located, boxes):
            results[index] = replace(results[index], box=box)  # type: ignore[type-var]


def _is_platelet(cell: LocatedCell, kind: CellKind | None) -> bool:
    """A located platelet: a platelet image's cell (a giant one may be read
    as a white cell) or, with no class known, a platelet box."""
    if cell.placement is not Placement.LOCATED:
        return False
    return kind is CellKind.PLATELET or (kind is None and cell.kind == CellKind.PLATELET.value)


def trimmed_to_stain(image: NDArray[Any], box: Box) -> Box:
    """The box less its edge rows and columns of plasma (PLASMA_EDGE),
    at most PLASMA_TRIM of its side from each edge."""
    x0, y0 = math.floor(box.x0), math.floor(box.y0)
    x1, y1 = math.ceil(box.x1), math.ceil(box.y1)
    inside = image[y0:y1, x0:x1, 1].astype(np.float32)
    if inside.size == 0:
        return box
    # every fourth pixel each way: the plasma's colour as surely, at 1/16 of the cost
    stained = inside < STAINED * float(plasma_colour(image[::4, ::4])[1])
    left, right = _plasma_run(stained.mean(axis=0))
    top, bottom = _plasma_run(stained.mean(axis=1))
    return Box(max(box.x0, x0 + left), max(box.y0, y0 + top), min(box.x1, x1 - right), min(box.y1, y1 - bottom))


def _plasma_run(stained_share: NDArray[Any]) -> tuple[int, int]:
    """How many rows (or columns) of plasma lie at each end, up to PLASMA_TRIM
    of them; none when the whole box is plasma (nothing there to trim to)."""
    plasma, limit = stained_share < PLASMA_EDGE, int(PLASMA_TRIM * len(stained_share))
    if plasma.all():
        return 0, 0
    first, last = int(np.argmin(plasma)), int(np.argmin(plasma[::-1]))
    return min(first, limit), min(last, limit)


def _size(image: NDArray[Any]) -> tuple[int, int]:
    return int(image.shape[1]), int(image.shape[0])


def _lookable(image: NDArray[Any]) -> bool:
    return image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 8


def _tight_or_none(
    found: Proposals, pad_x: int, pad_y: int, width: int, height: int, kind: CellKind | None
) -> LocatedCell | None:
    """From the framed look: tight if the cell found there fills the
    original image, else a box inside it (clipped), else None."""
    boxes, scores, kinds = found
    shifted = boxes - np.array([pad_x, pad_y, pad_x, pad_y], np.float32) if len(boxes) else boxes
    return choose_cell((shifted, scores, kinds), width, height, kind)


# ---------------------------------------------------------------- the detector


_KIND_OF_CLASS = np.array([CellKind.WHITE.value, CellKind.RED.value, CellKind.PLATELET.value])


class DetectorProposer:
    """The bundled detector over single-cell images: each image shrunk to
    at most LOCATE_SIDE, then to the detector's working scale, images of one
    padded shape run as one batch (a batch of 32 costs a third of 32 single
    calls on 2 cores)."""

    def __init__(self, detector: object, batch_size: int = 32) -> None:
        from core.detection.detector import KerasCellDetector

        if not isinstance(detector, KerasCellDetector):
            raise TypeError("DetectorProposer needs the Keras cell detector")
        self.detector = detector
        self.batch_size = batch_size

    def propose(self, images: Sequence[NDArray[Any]]) -> list[Proposals]:
        """Each image looked at shrunk to at most LOCATE_SIDE, then, where its
        red cells say it was imaged at another magnification than the
        detector learnt, or are too few to say, again as the rule of
        core.detection.magnification asks (a tight crop, with no red cell
        at any scale, keeps the first look)."""
        from core.detection.magnification import estimate_magnification, red_cell_side

        starts = [min(1.0, LOCATE_SIDE / max(image.shape[:2])) for image in images]
        first = self._looks(list(zip(images, starts)))
        ruler = self.detector.ruler()
        results = []
        for image, start, found in zip(images, starts, first):
            side, _count = red_cell_side(_as_classes(found))
            measurable = side is not None or not _fills_with_a_sure_cell(found, image)
            if ruler is not None and measurable and (side is None or not ruler.holds(side, start)):
                def look(factor: float, image: NDArray[Any] = image) -> Proposals:
                    return _as_classes(self._looks([(image, factor)])[0])

                magnified, best = estimate_magnification(look, ruler, first=_as_classes(found), start=start)
                if abs(math.log(magnified.factor / start)) >= math.log(LOCATE_RESIZE):
                    found = (best[0], best[1], _KIND_OF_CLASS[best[2]])
            results.append(found)
        return results

    def _looks(self, images: Sequence[tuple[NDArray[Any], float]]) -> list[Proposals]:
        """Proposals of each image looked at resized by its factor, images of
        one padded shape run as one batch."""
        from core.detection.decode import decode_head
        from core.detection.scale import pad_to_multiple

        card = self.detector.card
        prepared: list[tuple[NDArray[Any], float, int, int]] = []
        for image, factor in images:
            height, width = image.shape[:2]
            scale = card.work_scale * factor
            size = (max(8, round(width * scale)), max(8, round(height * scale)))
            method = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR  # as to_work_scale
            work = cv2.resize(np.ascontiguousarray(image), size, interpolation=method)
            prepared.append((pad_to_multiple(work), scale, size[0], size[1]))
        results: list[Proposals | None] = [None] * len(images)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, (padded, *_rest) in enumerate(prepared):
            by_shape.setdefault(padded.shape, []).append(index)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                part = indices[start : start + self.batch_size]
                raw = self.detector.heads(np.stack([prepared[i][0] for i in part]))
                for i, head in zip(part, raw):
                    _padded, scale, width, height = prepared[i]
                    boxes, scores, classes = decode_head(head, min_score=MIN_SCORE, nms_iou=card.nms_iou)
                    centres_x = (boxes[:, 0] + boxes[:, 2]) / 2
                    centres_y = (boxes[:, 1] + boxes[:, 3]) / 2
                    inside = (centres_x < width) & (centres_y < height)
                    results[i] = (boxes[inside] / scale, scores[inside], _KIND_OF_CLASS[classes[inside]])
        return [r for r in results if r is not None]


def _fills_with_a_sure_cell(found: Proposals, image: NDArray[Any]) -> bool:
    """Whether a sure white cell or platelet fills the image: a crop cut
    tight at its cell, with no red cell to measure it by and no need of one
    (other scales see only parts of it)."""
    height, width = image.shape[:2]
    cell = choose_cell(found, width, height, None)
    return cell is not None and cell.placement is Placement.TIGHT and cell.score >= DOUBTFUL


def _as_classes(found: Proposals) -> Proposals:
    """Proposals with kinds as the detector's class indices, as the ruler reads them."""
    boxes, scores, kinds = found
    classes = np.select([kinds == CellKind.RED.value, kinds == CellKind.PLATELET.value], [1, 2], 0)
    return boxes, scores, classes.astype(np.int64)


def load_locator(model: str | None = None) -> CellLocator:
    """The locator over the detector in use (or the one `model` names) and
    the bundled box refiner; ModelCardError if a card and its weights
    disagree."""
    from core.detection.detector import KerasCellDetector

    detector = KerasCellDetector.load(model)
    return CellLocator(DetectorProposer(detector), detector.version, BoxRefiner.load())


def kind_of_label(label: str | None) -> CellKind | None:
    """The detector's kind of a class's cell (the default taxonomy's group),
    None when unknown: the locator then takes a white cell or a platelet."""
    if label is None:
        return None
    return {"white": CellKind.WHITE, "platelet": CellKind.PLATELET}.get(_default_groups().get(label, ""))


@functools.cache
def _default_groups() -> dict[str, str]:
    from core.taxonomy import default_taxonomy

    return {item.name: item.group for item in default_taxonomy().classes}


@dataclass(frozen=True, slots=True)
class ReadCell:
    """One single-cell image read and its cell found; `error` instead when
    the file could not be read."""

    path: Path
    image: NDArray[Any] | None
    cell: LocatedCell | None
    error: str | None = None


def read_and_locate(
    paths: Sequence[str | os.PathLike[str]],
    locator: CellLocator | None,
    kinds: Sequence[CellKind | None] | None = None,
    chunk: int = 64,
) -> Iterator[ReadCell]:
    """Every single-cell image decoded and its cell found, in order, a
    chunk at a time (bounded memory, batched detection).  Without a locator
    (--locate off) each image is its own cell's box."""
    kinds = list(kinds) if kinds is not None else [None] * len(paths)
    for start in range(0, len(paths), chunk):
        read: list[ReadCell] = []
        for path in paths[start : start + chunk]:
            try:
                read.append(ReadCell(Path(path), load_rgb(path), None))
            except ImageReadError as error:
                read.append(ReadCell(Path(path), None, None, error.reason))
        good = [i for i, item in enumerate(read) if item.image is not None]
        images = [read[i].image for i in good]
        if locator is not None:
            found = locator.locate(images, [kinds[start + i] for i in good])  # type: ignore[arg-type]
        else:
            found = [LocatedCell(whole_image_box(*_size(image)), Placement.GIVEN) for image in images]  # type: ignore[arg-type]
        for i, cell in zip(good, found):
            read[i] = ReadCell(read[i].path, read[i].image, cell)
        yield from read
