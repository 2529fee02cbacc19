"""Running models over a project: what the detector and the classifier must
offer, and the jobs that apply them to slides and write the results into the
store.  The real models (core.classifier, core.detection) and the tests'
fakes both satisfy these protocols."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.crops import DEFAULT_MARGIN, crop_square
from core.imaging import ImageReadError, load_rgb
from core.jobs import CancelToken, Job, Progress
from core.schema import Box, Cell, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from core.taxonomy import UNIDENTIFIED


@dataclass(frozen=True, slots=True)
class Detection:
    box: Box
    kind: CellKind
    score: float


class CellDetector(Protocol):
    version: str

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Every cell in an RGB uint8 image, after non-maximum suppression."""


class CellClassifier(Protocol):
    version: str
    classes: Sequence[str]
    crop_margin: float

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated class probabilities, one row per crop (N x len(classes))."""

    def threshold_for(self, label: str) -> float:
        """The confidence below which a prediction of `label` goes to Unidentified."""


@dataclass(slots=True)
class SlideFailure:
    slide_id: int
    path: str
    reason: str


def detect_slides(
    store: ProjectStore,
    detector: CellDetector,
    slide_ids: Sequence[int],
    cancel: CancelToken | None = None,
    replace_proposals: bool = True,
) -> Job[list[SlideFailure]]:
    """Propose cells on each slide.  Unreviewed model proposals from an earlier
    run are replaced; anything a human touched or imported stays.  Yields
    Progress with the slide id as payload after each slide is written."""
    cancel = cancel or CancelToken()
    failures: list[SlideFailure] = []
    for index, slide_id in enumerate(slide_ids, start=1):
        cancel.raise_if_cancelled()
        slide = store.slide(slide_id)
        try:
            image = load_rgb(store.image_path(slide))
        except ImageReadError as error:
            failures.append(SlideFailure(slide_id, slide.path, error.reason))
            yield Progress(index, len(slide_ids), f"{slide.path}: {error.reason}", payload=slide_id)
            continue
        detections = detector.detect(image)
        cancel.raise_if_cancelled()
        with store.edit("Detect cells"):
            if replace_proposals:
                stale = [
                    cell.id
                    for cell in store.cells(slide_id)
                    if cell.source is LabelSource.MODEL and not cell.reviewed and _is_bare_proposal(cell)
                ]
                store.remove_model_proposals(stale)
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
                    for d in detections
                ],
                description="Detect cells",
            )
            store.update_slide_attributes(slide_id, detector_version=detector.version)
        yield Progress(index, len(slide_ids), f"detected {len(detections)} cells on {slide.path}", payload=slide_id)
    return failures


def _is_bare_proposal(cell: Cell) -> bool:
    """A box as detection left it: unlabelled, or a platelet with the label
    detection itself gives platelets (without this, every re-run of the
    detector added its platelets again)."""
    return cell.label is None or (cell.kind is CellKind.PLATELET and cell.label == "platelet" and not cell.probabilities)


def label_from_probabilities(classifier: CellClassifier, probabilities: np.ndarray) -> str:
    """The top class, or Unidentified when it is below its threshold: a cell
    the model is unsure of is never silently given a class."""
    best = int(np.argmax(probabilities))
    label = classifier.classes[best]
    return label if probabilities[best] >= classifier.threshold_for(label) else UNIDENTIFIED


def classify_slides(
    store: ProjectStore,
    classifier: CellClassifier,
    slide_ids: Sequence[int],
    cancel: CancelToken | None = None,
    kinds: Sequence[CellKind] = (CellKind.WHITE,),
) -> Job[list[SlideFailure]]:
    """Classify the cells of the given kinds on each slide and write the
    predictions (labels of cells a human decided are kept)."""
    cancel = cancel or CancelToken()
    failures: list[SlideFailure] = []
    margin = getattr(classifier, "crop_margin", DEFAULT_MARGIN)
    for index, slide_id in enumerate(slide_ids, start=1):
        cancel.raise_if_cancelled()
        slide = store.slide(slide_id)
        cells = [cell for cell in store.cells(slide_id) if cell.kind in kinds]
        if not cells:
            yield Progress(index, len(slide_ids), f"no cells to classify on {slide.path}", payload=slide_id)
            continue
        try:
            image = load_rgb(store.image_path(slide))
        except ImageReadError as error:
            failures.append(SlideFailure(slide_id, slide.path, error.reason))
            yield Progress(index, len(slide_ids), f"{slide.path}: {error.reason}", payload=slide_id)
            continue
        probabilities = classifier.predict([crop_square(image, cell.box, margin) for cell in cells])
        cancel.raise_if_cancelled()
        predictions = [
            (cell.id, label_from_probabilities(classifier, row), dict(zip(classifier.classes, map(float, row))))
            for cell, row in zip(cells, probabilities)
        ]
        store.set_predictions(predictions, classifier.version)
        yield Progress(index, len(slide_ids), f"classified {len(cells)} cells on {slide.path}", payload=slide_id)
    return failures
