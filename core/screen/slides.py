"""The screen on a project's slides: each lymphoid white cell (the
differential called it lymphocyte, monocyte or Unidentified, or any white
cell when asked) scored for blast, counted per slide."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.classifier.preprocess import resize_square
from core.crops import crop_square
from core.imaging import ImageReadError
from core.jobs import CancelToken, Job, Progress
from core.schema import Cell, CellKind
from core.screen.model import CellScreen, ScreenModel
from core.slide_pixels import load_slide_rgb
from core.store import ProjectStore
from core.taxonomy import UNIDENTIFIED

# Where a lymphoblast ends up in an eight-class differential without a
# blast class (issue 31): the cells the screen looks at by default.
LYMPHOID_LABELS = frozenset({"lymphocyte", "monocyte", UNIDENTIFIED})


@dataclass(slots=True)
class SlideScreen:
    slide_id: int
    path: str
    lymphoid_cells: int
    suspected: list[tuple[int, CellScreen]] = field(default_factory=list)  # (cell id, what the screen says)
    problem: str = ""  # why the slide could not be screened, "" when it was

    def summary_line(self) -> str:
        """The line a report and the differential panel show."""
        return f"Blasts suspected: {len(self.suspected)} of {self.lymphoid_cells} lymphoid cells"


def is_lymphoid(cell: Cell, all_white: bool = False) -> bool:
    """A white cell the screen looks at: lymphocyte, monocyte or not yet
    classified (Unidentified), or every white cell with `all_white`."""
    if cell.kind is not CellKind.WHITE:
        return False
    return all_white or cell.label is None or str(cell.label) in LYMPHOID_LABELS


def screen_slides(store: ProjectStore, model: ScreenModel, slide_ids: Sequence[int], all_white: bool = False,
                  cancel: CancelToken | None = None) -> Job[list[SlideScreen]]:
    """A job: each slide's lymphoid cells screened.  A slide without any, or
    whose image cannot be read, says so in its result; none stops the run."""
    cancel = cancel or CancelToken()
    results: list[SlideScreen] = []
    for index, slide_id in enumerate(slide_ids, start=1):
        cancel.raise_if_cancelled()
        slide = store.slide(slide_id)
        cells = [cell for cell in store.cells(slide_id) if is_lymphoid(cell, all_white)]
        result = SlideScreen(slide_id, str(slide.path), len(cells))
        results.append(result)
        if not cells:
            result.problem = "no lymphoid white cell to screen"
        else:
            try:
                image = load_slide_rgb(store, slide)
            except ImageReadError as error:
                result.problem = error.reason
            else:
                screened = _screen(model, image, cells)
                result.suspected = [(cell.id, verdict) for cell, verdict in zip(cells, screened) if verdict.suspected]
        yield Progress(index, len(slide_ids), f"{slide.path}: {result.problem or result.summary_line()}",
                       payload=slide_id)
    return results


def _screen(model: ScreenModel, image: Any, cells: Sequence[Cell]) -> list[CellScreen]:
    size, margin = model.card.input_size, model.card.crop_margin
    crops = np.stack([resize_square(crop_square(image, cell.box, margin), size) for cell in cells])
    return model.screen_crops(crops)
