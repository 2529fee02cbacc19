"""The screen on a project's slides: each lymphoid white cell (the
differential called it lymphocyte, monocyte or Unidentified, or any white
cell when asked) scored for blast, counted per slide, and, when asked,
recorded in the project as each cell's verdict and flag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.detection.colour_turns import project_turn
from core.imaging import ImageReadError
from core.jobs import CancelToken, Job, Progress
from core.schema import Cell, CellKind, SlideStatus
from core.screen.model import CellScreen, cut_crops
from core.slide_pixels import load_slide_for_models
from core.store import ProjectStore
from core.taxonomy import UNIDENTIFIED

# Where a lymphoblast ends up in an eight-class differential without a
# blast class (issue 31): the cells the screen looks at by default.
LYMPHOID_LABELS = frozenset({"lymphocyte", "monocyte", UNIDENTIFIED})


class Screener(Protocol):
    """What screening a slide needs of a screen model (core.screen.model.ScreenModel)."""

    @property
    def card(self) -> Any: ...  # name, version, input_size and crop_margin are read

    @property
    def threshold(self) -> float: ...

    def screen_crops(self, crops: Any) -> list[CellScreen]: ...


@dataclass(slots=True)
class SlideScreen:
    slide_id: int
    path: str
    lymphoid_cells: int
    screened: list[tuple[int, CellScreen]] = field(default_factory=list)  # (cell id, what the screen says)
    problem: str = ""  # why the slide could not be screened, "" when it was
    recorded: bool = False  # its verdicts were written to the project as the slide's screen from now on

    @property
    def suspected(self) -> list[tuple[int, CellScreen]]:
        return [(cell_id, verdict) for cell_id, verdict in self.screened if verdict.suspected]

    def summary_line(self) -> str:
        """The line a report and the differential panel show."""
        return f"Blasts suspected: {len(self.suspected)} of {self.lymphoid_cells} lymphoid cells"


def is_lymphoid(cell: Cell, all_white: bool = False) -> bool:
    """A white cell the screen looks at: lymphocyte, monocyte or not yet
    classified (Unidentified), or every white cell with `all_white`."""
    if cell.kind is not CellKind.WHITE:
        return False
    return all_white or cell.label is None or str(cell.label) in LYMPHOID_LABELS


def screen_slides(store: ProjectStore, model: Screener, slide_ids: Sequence[int], all_white: bool = False,
                  cancel: CancelToken | None = None, threshold: float | None = None,
                  record: bool = False) -> Job[list[SlideScreen]]:
    """A job: each slide's lymphoid cells screened, a cell suspected at
    P(blast) >= `threshold` (None: the card's).  A slide without any, or
    whose image cannot be read, says so in its result; none stops the run.
    With `record` each slide's verdicts are written to the project
    (ProjectStore.record_screen, one undo step a slide); a signed-off slide
    is neither screened nor changed.  The window and `classify --project`
    screen in the classification's pass instead (core.screen.after_classifying);
    this pass, which reads each slide again, is the reference that one is
    checked against (tests, tests/benchmarks/bench_classify_screen.py)."""
    cancel = cancel or CancelToken()
    point = model.threshold if threshold is None else threshold
    version = f"{model.card.name} {model.card.version}"
    lab_turn = project_turn(store.slides())
    results: list[SlideScreen] = []
    for index, slide_id in enumerate(slide_ids, start=1):
        cancel.raise_if_cancelled()
        slide = store.slide(slide_id)
        cells = [cell for cell in store.cells(slide_id) if is_lymphoid(cell, all_white)]
        result = SlideScreen(slide_id, str(slide.path), len(cells))
        results.append(result)
        if record and slide.status is SlideStatus.SIGNED_OFF:
            result.problem = "signed off; its screen is kept as it was"
        elif not cells:
            result.problem = "no lymphoid white cell to screen"
        else:
            try:
                image = load_slide_for_models(store, slide, lab_turn)
            except ImageReadError as error:
                result.problem = error.reason
            else:
                result.screened = screen_cells(model, image, cells, point)
        if record and slide.status is not SlideStatus.SIGNED_OFF and (result.screened or not cells):
            store.record_screen(slide_id, [(cell_id, v.p_blast, v.subtype, v.suspected)
                                           for cell_id, v in result.screened], version)
            result.recorded = True
        yield Progress(index, len(slide_ids), f"{slide.path}: {result.problem or result.summary_line()}",
                       payload=slide_id)
    return results


def screen_cells(model: Screener, image: Any, cells: Sequence[Cell], point: float) -> list[tuple[int, CellScreen]]:
    """Each cell's verdict, cut from the slide's RGB `image` as the model was
    trained, suspected at P(blast) >= `point`: one call of the model."""
    if not cells:
        return []
    crops = cut_crops(image, [cell.box for cell in cells], model.card.input_size, model.card.crop_margin)
    return [(cell.id, replace(verdict, suspected=verdict.p_blast >= point))
            for cell, verdict in zip(cells, model.screen_crops(crops))]
