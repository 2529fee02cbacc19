"""A project's reviewed fields as the detector's ground truth: what a
detector fine-tune learns from and is compared on.

A field counts when a person stood behind every box on it: the slide is
signed off, or a person drew, deleted, moved or re-kinded a box on it (the
correction queue says so).  Its boxes as they are now, each of its kind
(white, red or platelet), are its ground truth; boxes nobody touched on
such a slide are the detector's proposals the person left standing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from core.detection.data import KIND_INDEX, GroundTruth
from core.schema import Correction, CorrectionAction, Slide, SlideStatus
from core.store import ProjectStore

# The correction actions that change what the detector should have found.
BOX_ACTIONS = {CorrectionAction.ADD: "drawn", CorrectionAction.DELETE: "deleted", CorrectionAction.MOVE: "moved"}
REKINDED = "re-kinded"


@dataclass(slots=True)
class ProjectFields:
    """The reviewed fields (each GroundTruth's source is its slide's stored
    path, its attributes carry the slide id) and how many box corrections of
    each kind the project holds."""

    fields: list[GroundTruth]
    box_corrections: dict[str, int] = field(default_factory=dict)
    slides_in_project: int = 0


def box_action(correction: Correction) -> str | None:
    """'drawn', 'deleted', 'moved' or 're-kinded' for a correction of a box,
    None for a correction of a class.  A kind change is queued as a relabel
    that keeps the label (ProjectStore.set_kind)."""
    if correction.action in BOX_ACTIONS:
        return BOX_ACTIONS[correction.action]
    if correction.action is CorrectionAction.RELABEL and correction.old_label == correction.new_label:
        return REKINDED
    return None


def box_corrections(store: ProjectStore) -> tuple[Counter[str], list[int]]:
    """How many box corrections of each action the project holds, and the
    slides they were made on, the most lately corrected first."""
    counts: Counter[str] = Counter()
    last: dict[int, int] = {}
    for correction in store.corrections():
        action = box_action(correction)
        if action is not None:
            counts[action] += 1
            last[correction.slide_id] = correction.id
    return counts, sorted(last, key=lambda slide_id: -last[slide_id])


def is_reviewed(slide: Slide, corrected: Collection[int]) -> bool:
    """Whether a person stood behind every box on the slide: it is signed
    off, or is among the slides with box corrections."""
    return slide.status is SlideStatus.SIGNED_OFF or slide.id in corrected


def project_fields(store: ProjectStore) -> ProjectFields:
    """Every reviewed field of the project with its current boxes."""
    counts, corrected_order = box_corrections(store)
    corrected = set(corrected_order)
    slides = store.slides()
    fields = []
    for slide in slides:
        if not is_reviewed(slide, corrected):
            continue
        cells = [cell for cell in store.cells(slide.id) if cell.kind in KIND_INDEX]
        boxes = np.array([cell.box.as_tuple() for cell in cells], np.float32).reshape(-1, 4)
        classes = np.array([KIND_INDEX[cell.kind] for cell in cells], np.int64)
        fields.append(GroundTruth(store.image_path(slide), boxes, classes, slide.path,
                                  attributes={"slide_id": str(slide.id)}))
    return ProjectFields(fields, dict(counts), len(slides))


def split_fields(fields: list[GroundTruth], held_out_share: float, seed: int) -> tuple[list[GroundTruth],
                                                                                      list[GroundTruth]]:
    """(train, held out), by field: each field is one slide, so no slide is
    on both sides.  At least one field is held out and one trained on when
    there are two; the draw depends only on the seed and the slides."""
    if len(fields) < 2:
        return list(fields), []
    order = np.random.default_rng(seed).permutation(len(fields))
    held = min(len(fields) - 1, max(1, round(len(fields) * held_out_share)))
    chosen = set(order[:held].tolist())
    train = [gt for i, gt in enumerate(fields) if i not in chosen]
    return train, [gt for i, gt in enumerate(fields) if i in chosen]
