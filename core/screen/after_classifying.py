"""Classifying a project's slides with the lymphoid screen: the one door
the window's classify and `hemalabel classify --project` go through.

With a screen model (the project's setting on, or asked for), each slide's
lymphoid cells, as the classification just called them, are screened from
the image the classification decoded, and the verdicts written in the same
transaction and undo step as the slide's predictions.  Without one nothing
is screened, and the flags an earlier screen left stay as they are: a
decided flag (confirmed, dismissed) is the technician's decision; an open
one no longer says what this run looked at, but it may be a blast, and
dropping a suspected blast unseen is the worst mistake a smear review can
make.  So it stays open, sign-off still waits for it, and the run says how
many cells keep one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from numpy.typing import NDArray

from core.inference import CellClassifier, SlideFailure, classify_slides
from core.jobs import CancelToken, Job
from core.schema import CellKind, Slide, SlideStatus
from core.screen.slides import Screener, SlideScreen, is_lymphoid, screen_cells
from core.store import ProjectStore
from core.wording import counted_verb


@dataclass(slots=True)
class ClassifiedAndScreened:
    failures: list[SlideFailure] = field(default_factory=list)  # slides the classification skipped, and why
    slides: list[SlideScreen] = field(default_factory=list)  # empty: nothing screened this time
    kept_open: int = 0  # open flags of an earlier screen this run did not look at again

    def kept_open_line(self) -> str:
        """What the run says of the open flags it kept ("" when none)."""
        if not self.kept_open:
            return ""
        return (counted_verb(self.kept_open, "cell", "keeps", "keep") + " an open blast flag from an earlier "
                "screen; sign-off waits until each is decided")


def classify_and_screen(store: ProjectStore, classifier: CellClassifier, slide_ids: Sequence[int],
                        model: Screener | None, all_white: bool = False, threshold: float | None = None,
                        cancel: CancelToken | None = None) -> Job[ClassifiedAndScreened]:
    """Classify the slides' white cells and screen them with `model` (None:
    the screen is off or its model missing), then count the open flags
    left from an earlier screen on them.  `threshold`: the operating point
    (None: the card's).  Progress is the classification's, a step a slide."""
    if model is None:
        failures = yield from classify_slides(store, classifier, slide_ids, cancel)
        return ClassifiedAndScreened(failures, [], _kept_open(store, slide_ids, {}))
    screen = _SlideScreening(store, model, all_white, model.threshold if threshold is None else threshold)
    failures = yield from classify_slides(store, classifier, slide_ids, cancel, follow_up=screen)
    skipped = {failure.slide_id: failure.reason for failure in failures}
    slides = [screen.done.get(slide_id) or screen.skipped(slide_id, skipped.get(slide_id, "not classified"))
              for slide_id in slide_ids]
    renewed = {result.slide_id: {cell_id for cell_id, _ in result.screened} for result in slides if result.recorded}
    return ClassifiedAndScreened(failures, slides, _kept_open(store, slide_ids, renewed))


class _SlideScreening:
    """The screen's part of each slide, run by classify_slides inside the
    transaction that writes the slide's predictions (so the cells read here
    carry the labels just predicted)."""

    def __init__(self, store: ProjectStore, model: Screener, all_white: bool, point: float) -> None:
        self.store, self.model, self.all_white, self.point = store, model, all_white, point
        self.version = f"{model.card.name} {model.card.version}"
        self.done: dict[int, SlideScreen] = {}

    def __call__(self, slide: Slide, image: NDArray[Any] | None) -> None:
        cells = [cell for cell in self.store.cells(slide.id, CellKind.WHITE) if is_lymphoid(cell, self.all_white)]
        result = SlideScreen(slide.id, str(slide.path), len(cells))
        self.done[slide.id] = result
        if slide.status is SlideStatus.SIGNED_OFF:
            result.problem = "signed off; its screen is kept as it was"
            return
        if not cells or image is None:  # no image: the slide had no cell to classify, so none to screen
            result.problem = "no lymphoid white cell to screen"
        else:
            result.screened = screen_cells(self.model, image, cells, self.point)
        # Nothing screened on a slide that holds no verdict: recording it would change nothing.
        if result.screened or self.store.blast_tally(slide.id).screened:
            self.store.record_screen(slide.id, [(cell_id, v.p_blast, v.subtype, v.suspected)
                                                for cell_id, v in result.screened], self.version)
        result.recorded = True

    def skipped(self, slide_id: int, reason: str) -> SlideScreen:
        """A slide the classification passed by: not screened, for its reason."""
        slide = self.store.slide(slide_id)
        lymphoid = sum(1 for cell in self.store.cells(slide_id, CellKind.WHITE) if is_lymphoid(cell, self.all_white))
        return SlideScreen(slide_id, str(slide.path), lymphoid, problem=reason)


def _kept_open(store: ProjectStore, slide_ids: Sequence[int], renewed: dict[int, set[int]]) -> int:
    """Open flags on the slides that no verdict of this run stands behind:
    on a slide screened now, those of cells it did not screen (no longer
    lymphoid); on any other, every open flag."""
    return sum(1 for slide_id in slide_ids for cell_id in store.open_blast_flags(slide_id)
               if cell_id not in renewed.get(slide_id, ()))
