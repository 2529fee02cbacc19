"""The lymphoid screen's part of classifying a project's slides: the one
door the window's classify and `hemalabel classify --project` go through.

With a screen model (the project's setting on, or asked for), each slide's
lymphoid cells are screened again and the verdicts recorded.  Without one
nothing is screened, and the flags an earlier screen left stay as they are:
a decided flag (confirmed, dismissed) is the technician's decision; an open
one no longer says what this run looked at, but it may be a blast, and
dropping a suspected blast unseen is the worst mistake a smear review can
make.  So it stays open, sign-off still waits for it, and the run says how
many cells keep one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.jobs import CancelToken, Job
from core.schema import BlastFlag
from core.screen.slides import Screener, SlideScreen, screen_slides
from core.store import ProjectStore
from core.wording import counted_verb


@dataclass(slots=True)
class ScreenAfterClassifying:
    slides: list[SlideScreen] = field(default_factory=list)  # empty: nothing screened this time
    kept_open: int = 0  # open flags of an earlier screen this run did not look at again

    def kept_open_line(self) -> str:
        """What the run says of the open flags it kept ("" when none)."""
        if not self.kept_open:
            return ""
        return (counted_verb(self.kept_open, "cell", "keeps", "keep") + " an open blast flag from an earlier "
                "screen; sign-off waits until each is decided")


def screen_after_classifying(store: ProjectStore, slide_ids: Sequence[int], model: Screener | None,
                             all_white: bool = False, threshold: float | None = None,
                             cancel: CancelToken | None = None) -> Job[ScreenAfterClassifying]:
    """Screen the slides just classified with `model` (None: the screen is
    off or its model missing) and count the open flags left from an earlier
    screen on them.  `threshold`: the operating point (None: the card's)."""
    slides: list[SlideScreen] = []
    if model is not None:
        slides = yield from screen_slides(store, model, slide_ids, all_white, cancel, threshold, record=True)
    renewed = {result.slide_id: {cell_id for cell_id, _ in result.screened} for result in slides if result.recorded}
    return ScreenAfterClassifying(slides, _kept_open(store, slide_ids, renewed))


def _kept_open(store: ProjectStore, slide_ids: Sequence[int], renewed: dict[int, set[int]]) -> int:
    """Open flags on the slides that no verdict of this run stands behind:
    on a slide screened now, those of cells it did not screen (no longer
    lymphoid); on any other, every open flag."""
    kept = 0
    for slide_id in slide_ids:
        tally = store.blast_tally(slide_id)
        if not tally.open:
            continue
        if slide_id not in renewed:
            kept += tally.open
        else:
            kept += sum(1 for cell in store.cells(slide_id)
                        if cell.screen is not None and cell.screen.flag is BlastFlag.SUSPECTED
                        and cell.id not in renewed[slide_id])
    return kept
