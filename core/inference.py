"""Running models over a project: what the detector and the classifier must
offer, and the jobs that apply them to slides and write the results into the
store.  The real models (core.classifier, core.detection) and the tests'
fakes both satisfy these protocols."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from core.crops import DEFAULT_MARGIN, crop_square
from core.detection.colour_turns import ColourTurner, HueTurn, in_model_colours, project_turn
from core.detection.familiarity import SLIDE_KEY as FAMILIARITY_KEY
from core.detection.familiarity import FieldVerdict, judge_field
from core.detection.magnification import SLIDE_KEY as MAGNIFICATION_KEY
from core.detection.magnification import Magnification, slide_magnification
from core.detection.proposal_learning import SLIDE_KEY as PROPOSALS_TAUGHT_KEY
from core.detection.proposal_learning import Changed, ProposalLesson, learn_proposals
from core.detection.withheld_proposals import WITHHELD_KEY
from core.image_bands import open_bands
from core.imaging import ImageReadError
from core.jobs import CancelToken, Job, Progress
from core.schema import Box, Cell, CellKind, CorrectionAction, LabelSource, NewCell, Slide, SlideStatus
from core.slide_pixels import load_slide_rgb
from core.store import ProjectStore
from core.taxonomy import UNIDENTIFIED, Taxonomy
from core.wording import counted


@dataclass(frozen=True, slots=True)
class Detection:
    box: Box
    kind: CellKind
    score: float


class CellDetector(Protocol):
    version: str

    def detect(self, image: NDArray[Any]) -> list[Detection]:
        """Every cell in an RGB uint8 image, after non-maximum suppression."""


class CellClassifier(Protocol):
    version: str
    crop_margin: float

    @property
    def classes(self) -> Sequence[str]:
        """The output classes in order (read-only: a tuple or a list will do)."""

    def predict(self, crops: Sequence[NDArray[Any]]) -> NDArray[Any]:
        """Calibrated class probabilities, one row per crop (N x len(classes))."""

    def threshold_for(self, label: str) -> float:
        """The confidence below which a prediction of `label` goes to Unidentified."""


# More work on a slide just classified, given its pixels (None: it had no
# cell to classify), done in the transaction and undo step of its
# predictions: the lymphoid screen reuses the decoded image and adds no
# commit of its own.
FollowUp = Callable[[Slide, NDArray[Any] | None], None]


@dataclass(slots=True)
class SlideFailure:
    slide_id: int
    path: str
    reason: str


def _left_locked(store: ProjectStore, slide: Slide, failures: list[SlideFailure]) -> bool:
    """A signed-off slide is locked, and so, to a window's run, is a slide
    another station has open for review: a run over many slides passes it
    by, saying so, instead of stopping at it."""
    if slide.status is SlideStatus.SIGNED_OFF:
        failures.append(SlideFailure(slide.id, slide.path,
                                     "signed off, so left as it is (unlock it to change its cells)"))
        return True
    holder = store.held_elsewhere(slide.id)
    if holder is not None:
        failures.append(SlideFailure(slide.id, slide.path, f"{holder.describe()}, so left as it is"))
        return True
    return False


def _load_or_record(store: ProjectStore, slide: Slide, failures: list[SlideFailure]) -> NDArray[Any] | None:
    """The slide's pixels, or None with the reason recorded: one unreadable
    image must not stop a run over many slides."""
    try:
        return load_slide_rgb(store, slide)
    except ImageReadError as error:
        failures.append(SlideFailure(slide.id, slide.path, error.reason))
        return None


def detect_in_bands(
    detector: CellDetector,
    path: str | os.PathLike[str],
    label: str,
    done: int,
    total: int,
    cancel: CancelToken,
    size: tuple[int, int] | None = None,
) -> Generator[Progress, None, tuple[list[Detection], int, int] | None]:
    """Detect on a large image read in bands of rows (core.image_bands), so
    a whole-slide scan is never held whole, when the detector can take
    bands and the file can be read so; None otherwise (decode it whole).
    Yields Progress(done, total, no payload) after each row of tiles;
    returns the detections and the image's width and height.  `size`: the
    (width, height) the image must have; for any other, None, so that the
    whole decode names the change."""
    detect_bands = getattr(detector, "detect_bands", None)
    source = open_bands(path) if detect_bands is not None else None
    if detect_bands is None or source is None:
        return None
    if size is not None and (source.width, source.height) != size:
        return None  # the whole decode names the change in size
    steps = detect_bands(source.bands(), source.height, source.width)
    while True:
        cancel.raise_if_cancelled()
        try:
            tiles_done, tiles = next(steps)
        except StopIteration as finished:
            return finished.value, source.width, source.height
        yield Progress(done, total, f"{label}: {tiles_done} of {counted(tiles, 'tile')} searched")


@dataclass(slots=True)
class _Found:
    detections: list[Detection]
    verdict: FieldVerdict | None  # None: not judged (see judge_detections)
    taught: Changed | None  # what the project's lesson changed; None: not applied
    turn: HueTurn | None = None  # the colours the field was looked at in (core.detection.colour_turns)
    magnification: Magnification | None = None  # None: not measured (a scan read in bands, or no ruler)


def _detect_slide(
    store: ProjectStore,
    detector: CellDetector,
    slide: Slide,
    failures: list[SlideFailure],
    done: int,
    total: int,
    cancel: CancelToken,
    lesson: ProposalLesson | None,
    turner: ColourTurner,
) -> Generator[Progress, None, _Found | None]:
    """The slide's detections, in bands where it is large (see
    detect_in_bands), whether the field is unlike the detector's training
    fields (and if so, found in the colours it learnt where a hue turn
    brings them back: core.detection.colour_turns), and the detections as
    the project's box corrections taught
    (core.detection.proposal_learning; not on a reviewed slide, whose
    proposals are the teaching, nor on a scan read in bands); or None with
    the reason recorded."""
    try:
        banded = yield from detect_in_bands(
            detector, store.image_path(slide), slide.path, done, total, cancel, size=(slide.width, slide.height)
        )
    except ImageReadError as error:
        failures.append(SlideFailure(slide.id, slide.path, error.reason))
        return None
    if banded is not None:
        return _Found(banded[0], None, None)
    image = _load_or_record(store, slide, failures)
    if image is None:
        return None
    seen = turner.detect(image)  # the verdict is of the field's own colours
    if lesson is None or slide.id in lesson.reviewed_slides:
        return _Found(seen.detections, seen.verdict, None, seen.turn, seen.magnification)
    taught, changed = lesson.apply(image, seen.detections)
    return _Found(taught, seen.verdict, changed, seen.turn, seen.magnification)


def judge_detections(
    detector: CellDetector, image: NDArray[Any], detections: Sequence[Detection]
) -> FieldVerdict | None:
    """Whether the field is unlike the fields the detector learnt from, by
    the reference its card carries; None for a detector without one.  A
    scan read in bands is not judged: its colours would need it whole."""
    return judge_field(image, detections, getattr(detector, "familiarity", None))


# A detection overlapping a kept cell this much is that cell found again.
_SAME_CELL_IOU = 0.5


def _already_boxed(detection: Detection, kept: Sequence[Cell], deleted: Sequence[Box]) -> bool:
    """Whether a detection is a cell already there (of its kind, or of any
    kind a person gave it) or a box a person deleted: proposing either
    again would undo a decision, and the decisions teach the detector
    (core.detection.proposal_learning)."""
    return any(
        (cell.kind is detection.kind or cell.reviewed or cell.source is not LabelSource.MODEL)
        and cell.box.iou(detection.box) >= _SAME_CELL_IOU
        for cell in kept
    ) or any(box.iou(detection.box) >= _SAME_CELL_IOU for box in deleted)


def _deleted_boxes(store: ProjectStore) -> dict[int, list[Box]]:
    """The boxes people deleted, by slide."""
    deleted: dict[int, list[Box]] = {}
    for correction in store.corrections():
        if correction.action is CorrectionAction.DELETE and correction.old_box is not None:
            deleted.setdefault(correction.slide_id, []).append(correction.old_box)
    return deleted


def detect_slides(
    store: ProjectStore,
    detector: CellDetector,
    slide_ids: Sequence[int],
    cancel: CancelToken | None = None,
    replace_proposals: bool = True,
) -> Job[list[SlideFailure]]:
    """Propose cells on each slide.  Unreviewed model proposals from an earlier
    run are replaced; anything a human touched or imported stays, and is not
    proposed a second time, nor is a box a person deleted.  What the
    project's box corrections teach is applied to the proposals on slides
    nobody reviewed (learn_proposals), and what it changed is kept in the
    slide's attributes (PROPOSALS_TAUGHT_KEY).  Yields Progress with the
    slide id as payload after each slide is written, and without one after
    each row of tiles of a large slide read in bands."""
    cancel = cancel or CancelToken()
    failures: list[SlideFailure] = []
    lesson = learn_proposals(store, detector.version)
    deleted = _deleted_boxes(store)
    turner = ColourTurner(detector)  # one run: its fields vote on the turn that brings their colours back
    # and agree on their lab's magnification, with the project's other slides.
    running = set(slide_ids)
    for other in store.slides():
        seen_at = slide_magnification(other, detector.version)
        if other.id not in running and seen_at is not None:
            turner.lab.observe(seen_at)
    for index, slide_id in enumerate(slide_ids, start=1):
        cancel.raise_if_cancelled()
        slide = store.slide(slide_id)
        found = None
        if not _left_locked(store, slide, failures):
            found = yield from _detect_slide(store, detector, slide, failures, index - 1, len(slide_ids), cancel,
                                             lesson, turner)
        if found is None:
            yield Progress(index, len(slide_ids), f"{slide.path}: {failures[-1].reason}", payload=slide_id)
            continue
        detections, verdict = found.detections, found.verdict
        cancel.raise_if_cancelled()
        with store.edit("Detect cells"):
            existing = store.cells(slide_id)
            stale = [c.id for c in existing if c.source is LabelSource.MODEL and not c.reviewed]
            if replace_proposals:
                store.remove_model_proposals(stale)
            kept = [c for c in existing if not (replace_proposals and c.id in stale)]
            fresh = [d for d in detections if not _already_boxed(d, kept, deleted.get(slide_id, []))]
            store.add_cells(
                slide_id,
                [
                    NewCell(
                        box=d.box,
                        kind=d.kind,
                        label="platelet" if d.kind is CellKind.PLATELET and "platelet" in store.taxonomy else None,
                        source=LabelSource.MODEL,
                        model_version=detector.version,
                        score=d.score,
                    )
                    for d in fresh
                ],
                description="Detect cells",
            )
            store.mark_detected(slide_id, detector.version)
            # The last run's verdict replaces an earlier run's, null when not judged.
            turn = found.turn.describe() if found.turn is not None else None
            check = verdict.to_attribute(detector.version, found.turn) if verdict is not None else None
            store.update_slide_attributes(slide_id, **{FAMILIARITY_KEY: check})
            magnification = found.magnification
            if magnification is not None or MAGNIFICATION_KEY in slide.attributes:
                recorded = None if magnification is None else magnification.to_attribute(detector.version)
                store.update_slide_attributes(slide_id, **{MAGNIFICATION_KEY: recorded})
            taught = None if found.taught is None or lesson is None else found.taught.to_attribute(lesson.examples)
            if taught is not None or PROPOSALS_TAUGHT_KEY in slide.attributes:
                store.update_slide_attributes(slide_id, **{PROPOSALS_TAUGHT_KEY: taught})
            if replace_proposals and slide.attributes.get(WITHHELD_KEY) is not None:
                # What the lesson withheld was among the proposals just replaced.
                store.update_slide_attributes(slide_id, **{WITHHELD_KEY: None})
        message = f"detected {counted(len(detections), 'cell')} on {slide.path}" + (
            f" (in turned colours: {turn})" if turn is not None else "")
        yield Progress(index, len(slide_ids), message, payload=slide_id)
    return failures


def label_from_probabilities(classifier: CellClassifier, probabilities: NDArray[Any]) -> str:
    """The top class, or Unidentified when it is below its threshold: a cell
    the model is unsure of is never silently given a class."""
    best = int(np.argmax(probabilities))
    label = classifier.classes[best]
    return label if probabilities[best] >= classifier.threshold_for(label) else UNIDENTIFIED


# Which taxonomy groups a classifier's answer may come from, by the kind the
# detector gave the cell.  The bundled classifier learnt PBC's eight classes,
# platelet among them; for a cell the detector boxed as white, "platelet" is
# not an answer (platelets are the detector's own class), and letting it win
# is how a blurry neutrophil from another lab became a platelet.
GROUPS_FOR_KIND: dict[CellKind, frozenset[str]] = {
    CellKind.WHITE: frozenset({"white", "other"}),
    CellKind.PLATELET: frozenset({"platelet", "other"}),
}


def allowed_classes(classes: Sequence[str], kind: CellKind | None, taxonomy: Taxonomy) -> NDArray[Any]:
    """A mask over `classes`: True where a cell of `kind` may take the class.
    Classes the taxonomy does not know, and cells of no known kind (a
    ready-made crop), allow everything: nothing to go on."""
    groups = GROUPS_FOR_KIND.get(kind) if kind is not None else None
    mask = np.array([groups is None or name not in taxonomy or taxonomy.get(name).group in groups for name in classes])
    return mask if mask.any() else np.ones(len(classes), bool)


def rule_out_logits(logits: NDArray[Any], mask: NDArray[Any]) -> NDArray[Any]:
    """Logits with the classes `mask` rules out pushed to minus a billion,
    so that argmax and softmax never pick them (restrict_to_kind's
    counterpart for scoring code that works on logits)."""
    return np.where(mask, logits, -1e9)


def restrict_to_kind(probabilities: NDArray[Any], mask: NDArray[Any]) -> NDArray[Any]:
    """Probabilities renormalised over the allowed classes (the same as
    dropping the other classes' logits before the softmax)."""
    kept = np.where(mask, probabilities, 0.0)
    total = kept.sum(axis=-1, keepdims=True)
    return np.where(total > 0, kept / np.maximum(total, 1e-12), probabilities).astype(np.float32)


def classify_slides(
    store: ProjectStore,
    classifier: CellClassifier,
    slide_ids: Sequence[int],
    cancel: CancelToken | None = None,
    kinds: Sequence[CellKind] = (CellKind.WHITE,),
    follow_up: FollowUp | None = None,
) -> Job[list[SlideFailure]]:
    """Classify the cells of the given kinds on each slide and write the
    predictions (labels of cells a human decided are kept), each slide
    looked at as the models see it (core.detection.colour_turns.
    in_model_colours).  `follow_up`
    runs on each slide classified, with those pixels, inside the transaction
    that writes its predictions, and on each slide without a cell to
    classify, with None; not on a slide skipped (signed off, unreadable)."""
    cancel = cancel or CancelToken()
    failures: list[SlideFailure] = []
    margin = getattr(classifier, "crop_margin", DEFAULT_MARGIN)
    lab_turn = project_turn(store.slides())
    for index, slide_id in enumerate(slide_ids, start=1):
        cancel.raise_if_cancelled()
        slide = store.slide(slide_id)
        cells = [cell for cell in store.cells(slide_id) if cell.kind in kinds]
        if not cells:
            if follow_up is not None:
                follow_up(slide, None)
            yield Progress(index, len(slide_ids), f"no cells to classify on {slide.path}", payload=slide_id)
            continue
        image = None if _left_locked(store, slide, failures) else _load_or_record(store, slide, failures)
        if image is None:
            yield Progress(index, len(slide_ids), f"{slide.path}: {failures[-1].reason}", payload=slide_id)
            continue
        image = in_model_colours(image, slide, lab_turn)
        probabilities = classifier.predict([crop_square(image, cell.box, margin) for cell in cells])
        cancel.raise_if_cancelled()
        masks = {kind: allowed_classes(classifier.classes, kind, store.taxonomy) for kind in kinds}
        rows = [restrict_to_kind(row, masks[cell.kind]) for cell, row in zip(cells, probabilities)]
        predictions = [
            (cell.id, label_from_probabilities(classifier, row), dict(zip(classifier.classes, map(float, row))))
            for cell, row in zip(cells, rows)
        ]
        with store.edit("Classify"):
            store.set_predictions(predictions, classifier.version)
            if follow_up is not None:
                follow_up(slide, image)
        message = f"classified {counted(len(cells), 'cell')} on {slide.path}"
        yield Progress(index, len(slide_ids), message, payload=slide_id)
    return failures
