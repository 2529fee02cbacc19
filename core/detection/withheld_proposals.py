"""The detector's lesson (core.detection.proposal_learning) applied at once
to the proposals already stored: after Detect and Classify All every field
holds proposals, and the technician reviews field by field, so what the
reviewed fields teach must reach the others without detecting again.

refresh_withheld_proposals is the one door: it learns afresh from the
reviewed fields and judges every undecided proposal (the model's, scored,
not reviewed) on each slide nobody reviewed, as the detector made it.  A
proposal the lesson would delete is withdrawn: taken out of the cells, so
every view, count, differential, export and sign-off is without it as if
the detector had not made it, and kept whole in the slide's WITHHELD_KEY
attribute; one it would re-kind takes the new kind, its own kept there.

Withdrawn rather than deleted: the lesson is not a person's decision, so
it is neither a correction nor an undo step (ProjectStore.
set_withheld_proposals).  When the decisions that taught it change (an
undo, a box kept after all), the next refresh judges the withheld
proposals again and gives back under its own id each one the lesson no
longer withdraws, and the kind it was proposed with to each it no longer
re-kinds.  A proposal is given back only while the history in force keeps
it (an undone detection's proposals stay gone).  Reviewed and signed-off
slides are never changed: what a person saw there is what they reviewed.
A new detection on a slide replaces its proposals and so forgets what was
withheld there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.detection.project_fields import box_corrections, is_reviewed
from core.detection.proposal_learning import DELETED, KEPT, ProposalLesson, learn_proposals
from core.image_bands import open_bands
from core.imaging import ImageReadError
from core.schema import Cell, CellKind, LabelSource, Slide, SlideStatus
from core.slide_pixels import load_slide_rgb
from core.store import ProjectStore
from core.store.history import cell_from_state, cell_state
from core.wording import counted

# The slide attribute holding what the lesson withholds there:
# {"withdrawn": {cell id: cell state}, "rekinded": {cell id: proposed kind}}.
WITHHELD_KEY = "proposals_withheld"


@dataclass(frozen=True, slots=True)
class Withheld:
    """What the lesson holds back across the project after a refresh, and
    what it had to write to get there."""

    examples: int
    withdrawn: int
    rekinded: int
    slides: int
    written: int

    def sentence(self) -> str:
        """What the window says of it."""
        if not (self.withdrawn or self.rekinded):
            return "No proposal withdrawn or re-kinded by the reviewed boxes now: every one is back"
        return (f"Taught by {counted(self.examples, 'reviewed proposal')}: "
                f"{counted(self.withdrawn, 'proposal')} withdrawn, {self.rekinded} re-kinded on "
                f"{counted(self.slides, 'slide')}")


def withheld_on(slide: Slide) -> tuple[dict[int, dict[str, Any]], dict[int, CellKind]]:
    """A slide's withdrawn proposals (their states) and re-kinded ones
    (their proposed kinds), by cell id."""
    entry = slide.attributes.get(WITHHELD_KEY)
    if not isinstance(entry, dict):
        return {}, {}
    withdrawn = {int(key): state for key, state in dict(entry.get("withdrawn") or {}).items()}
    rekinded = {int(key): CellKind(kind) for key, kind in dict(entry.get("rekinded") or {}).items()}
    return withdrawn, rekinded


def refresh_withheld_proposals(store: ProjectStore, should_stop: Callable[[], bool] = lambda: False,
                               corrections: tuple[Counter[str], list[int]] | None = None) -> Withheld:
    """Learn from the reviewed fields and apply the lesson to the stored
    proposals of every slide nobody reviewed, withdrawing, giving back and
    re-kinding as it now says (see the module's docstring).  A caller that
    has just read box_corrections(store) hands it as `corrections`."""
    if corrections is None:
        corrections = box_corrections(store)
    corrected_set = set(corrections[1])
    lessons: dict[str, ProposalLesson | None] = {}
    withdrawn = rekinded = slides = written = examples = 0
    for slide in store.slides():
        if should_stop():
            break
        version = slide.attributes.get("detector_version")
        if (is_reviewed(slide, corrected_set) or slide.status is SlideStatus.SIGNED_OFF
                or not isinstance(version, str)):
            continue
        if version not in lessons:
            lessons[version] = learn_proposals(store, version, corrections)
        lesson = lessons[version]
        if lesson is None and WITHHELD_KEY not in slide.attributes:
            continue
        done = _refresh_slide(store, slide, lesson)
        if done is None:
            continue
        held_out, held_kind, wrote = done
        withdrawn, rekinded, written = withdrawn + held_out, rekinded + held_kind, written + wrote
        slides += bool(held_out or held_kind)
        if lesson is not None and (held_out or held_kind):
            examples = max(examples, lesson.examples)
    return Withheld(examples, withdrawn, rekinded, slides, written)


def _undecided(cell: Cell) -> bool:
    return cell.source is LabelSource.MODEL and not cell.reviewed and cell.score is not None


def _refresh_slide(store: ProjectStore, slide: Slide,
                   lesson: ProposalLesson | None) -> tuple[int, int, int] | None:
    """(withdrawn, re-kinded, cells written) on one slide; None when its
    image cannot be read (it is left as it was)."""
    current = {cell.id: cell for cell in store.cells(slide.id)}
    withdrawn, rekinded = withheld_on(slide)
    proposals: list[Cell] = []  # as the detector made them
    for cell in current.values():
        if _undecided(cell):
            # Only the lesson changes an undecided proposal's kind: one whose
            # kind is back to the proposed one was put back by an undo.
            proposals.append(cell.with_changes(kind=rekinded[cell.id]) if cell.id in rekinded else cell)
    for cell_id, state in withdrawn.items():
        if cell_id not in current and store.kept_by_history(cell_id):
            proposals.append(cell_from_state(cell_id, state))
    decisions = [KEPT] * len(proposals)
    if lesson is not None and proposals:
        if open_bands(store.image_path(slide)) is not None:
            # A scan read in bands: never decoded whole, and taught nothing
            # when detected either (core.inference._detect_slide).
            return None
        try:
            image = load_slide_rgb(store, slide)
        except (ImageReadError, OSError):
            return None
        decisions = lesson.decide(image, proposals)
    withdraw: list[int] = []
    put: list[Cell] = []
    held: dict[str, Any] = {"withdrawn": {}, "rekinded": {}}
    for made, decision in zip(proposals, decisions):
        stored = current.get(made.id)
        if decision == DELETED:
            held["withdrawn"][str(made.id)] = cell_state(made)
            if stored is not None:
                withdraw.append(made.id)
            continue
        wanted = made if decision == KEPT else made.with_changes(kind=CellKind(decision))
        if decision != KEPT:
            held["rekinded"][str(made.id)] = made.kind.value
        if stored is None or stored.kind is not wanted.kind:
            put.append(wanted)
    entry = held if held["withdrawn"] or held["rekinded"] else None
    wrote = 0
    if withdraw or put or entry != slide.attributes.get(WITHHELD_KEY):
        wrote = store.set_withheld_proposals(slide.id, withdraw, put, entry, WITHHELD_KEY)
    return len(held["withdrawn"]), len(held["rekinded"]), wrote
