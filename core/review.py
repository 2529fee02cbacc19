"""The review actions: what a technician does to cells, whichever view asks.

One door for the gallery and the canvas (and any command that edits cells):
one rule for which cells an action takes, one name for each undo step, and
one error, ReviewError, whose message names the project file and the
problem.  A view passes `seen`, the row versions of the cells as it showed
them ({cell id: Cell.row_version}): a cell another station changed since
refuses the action whole (ReviewError.conflict), naming that change.  The
views keep only what is theirs: the selection, the focus and the repaint.
Each action is one store edit, so one undo step, and the store announces
it to every view.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from core.differential import CountsAs, class_fits, class_refusal, counts_as
from core.schema import BlastFlag, Box, Cell, CellKind
from core.store import ProjectStore, StoreError
from core.store.address import ProjectLocation
from core.store.errors import EditConflictError
from core.store.project_store import Seen
from core.taxonomy import BLAST, with_blast

_KIND_WORDS = {CellKind.WHITE: "white cell", CellKind.RED: "red cell", CellKind.PLATELET: "platelet"}
_KIND_OF_GROUP = {"white": CellKind.WHITE, "red": CellKind.RED, "platelet": CellKind.PLATELET}


class ReviewError(StoreError):
    """A review action refused or not saved; nothing was changed.
    `needs_kind`: where a class does not fit the cells' kind, the kind it
    is for, so a view can say how to change a kind (its own act).
    `conflict`: refused because another station changed a cell since the
    view showed it; the view shows the cells again."""

    def __init__(self, project: ProjectLocation, problem: str, needs_kind: CellKind | None = None,
                 conflict: bool = False) -> None:
        self.project = project
        self.problem = problem
        self.needs_kind = needs_kind
        self.conflict = conflict
        super().__init__(f"{project}: {problem}")


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """What an action did: the cells it changed, the cells it left as they
    were, and `note`, the words for the technician."""

    changed: tuple[int, ...]
    left: tuple[int, ...] = ()
    note: str = ""
    needs_kind: CellKind | None = None  # as ReviewError's, when a class left cells of another kind


# ---------------------------------------------------------------- actions
def set_class(store: ProjectStore, cell_ids: Sequence[int], class_name: str, *,
              seen: Seen | None = None) -> ReviewOutcome:
    """Give cells a class.  A class never changes a kind
    (core.differential.class_fits): cells of a kind the class is not for
    are left as they were and the outcome says why; when none fits, nothing
    is done and ReviewError says why."""
    taxonomy = store.taxonomy
    if class_name not in taxonomy:
        raise ReviewError(store.path, f"{class_name!r} is not a class of this project "
                                      f"(classes: {', '.join(taxonomy.names)})")
    display = taxonomy.get(class_name).display
    cells = _cells(store, cell_ids)
    if not cells:
        return ReviewOutcome(())
    fitting = tuple(cell.id for cell in cells if class_fits(cell.kind, class_name, taxonomy))
    refused = [cell for cell in cells if not class_fits(cell.kind, class_name, taxonomy)]
    why = class_refusal(refused[0].kind, class_name, taxonomy) if refused else None
    needs_kind = _KIND_OF_GROUP.get(taxonomy.get(class_name).group, CellKind.WHITE) if refused else None
    if not fitting:
        raise ReviewError(store.path, str(why), needs_kind)
    with _refusals(store):
        step = _step(f"Set class {display}", f"Set class {display} on {len(fitting)} cells", len(fitting))
        store.set_label(fitting, class_name, step, seen=seen)
    note = f"{_cells_word(len(fitting))} set to {display}"
    if refused:
        note += f"; {len(refused)} left as {'it was' if len(refused) == 1 else 'they were'}. {why}"
    return ReviewOutcome(fitting, tuple(cell.id for cell in refused), note, needs_kind)


def confirm(store: ProjectStore, cell_ids: Sequence[int], *, seen: Seen | None = None) -> ReviewOutcome:
    """Confirm the cells' classes as they are.  A white cell the count holds
    as Unidentified has no class to confirm: it is left for one, and when
    every cell is such, ReviewError says so."""
    taxonomy = store.taxonomy
    cells = _cells(store, cell_ids)
    if not cells:
        return ReviewOutcome(())
    undecided = tuple(c.id for c in cells if counts_as(c.kind, c.label, taxonomy) is CountsAs.UNIDENTIFIED)
    ids = tuple(cell.id for cell in cells if cell.id not in undecided)
    if not ids:
        raise ReviewError(store.path, "Unidentified cells need a class before they can be confirmed")
    with _refusals(store):
        store.confirm(ids, _step("Confirm", f"Confirm {len(ids)} cells", len(ids)), seen=seen)
    left = f"; {len(undecided)} Unidentified left for a class" if undecided else ""
    return ReviewOutcome(ids, undecided, f"Confirmed {_cells_word(len(ids))}{left}")


def accept(store: ProjectStore, cell_ids: Sequence[int], *, seen: Seen | None = None) -> ReviewOutcome:
    """Accept proposals as they are: the box, and the class where it has
    one.  Unlike `confirm`, a white box without a class is accepted too (the
    box is right); the count still holds it as Unidentified until it has one."""
    ids = tuple(cell.id for cell in _cells(store, cell_ids))
    if ids:
        with _refusals(store):
            store.confirm(ids, _step("Accept", f"Accept {len(ids)} cells", len(ids)), seen=seen)
    return ReviewOutcome(ids, note=f"Accepted {_cells_word(len(ids))}")


def accept_slide(store: ProjectStore, slide_id: int) -> ReviewOutcome:
    """Accept every proposal on a slide that nobody has reviewed (`accept`)."""
    with _refusals(store):
        ids = [cell.id for cell in store.cells(slide_id) if not cell.reviewed]
    if not ids:
        return ReviewOutcome((), note="Nothing to accept: every box on this slide is reviewed.")
    return accept(store, ids)


def set_kind(store: ProjectStore, cell_ids: Sequence[int], kind: CellKind, *,
             seen: Seen | None = None) -> ReviewOutcome:
    """Mark cells as another kind: the only way a kind changes."""
    ids = tuple(cell.id for cell in _cells(store, cell_ids))
    if ids:
        with _refusals(store):
            words = _KIND_WORDS[kind]
            store.set_kind(ids, kind, _step(f"Mark as {words}", f"Mark {len(ids)} cells as {words}", len(ids)),
                           seen=seen)
    return ReviewOutcome(ids, note=f"{_cells_word(len(ids))} marked as {_KIND_WORDS[kind]}")


def delete(store: ProjectStore, cell_ids: Sequence[int], *, seen: Seen | None = None) -> ReviewOutcome:
    """Delete boxes (undoable; the deletion is a correction)."""
    ids = tuple(cell.id for cell in _cells(store, cell_ids))
    if ids:
        with _refusals(store):
            store.remove_cells(ids, _step("Delete box", f"Delete {len(ids)} boxes", len(ids)), seen=seen)
    return ReviewOutcome(ids, note=f"Deleted {len(ids)} box{'es' if len(ids) != 1 else ''}")


def confirm_blast(store: ProjectStore, cell_ids: Sequence[int], *, seen: Seen | None = None) -> ReviewOutcome:
    """The flagged cells are blasts: each becomes a reviewed Blast, a
    correction like any class.  A project whose classes lack Blast gets it
    first, and the note says so.  Cells without a flag are left as they were."""
    flagged, unflagged = _flagged(store, cell_ids)
    if not flagged:
        raise ReviewError(store.path, "none of these cells carries a suspected-blast flag to confirm")
    note = ""
    if BLAST not in store.taxonomy:
        with _refusals(store):
            store.set_taxonomy(with_blast(store.taxonomy))
        note = "Blast added to the project's classes. "
    with _refusals(store):
        store.decide_blast(flagged, True, _step("Confirm blast", f"Confirm {len(flagged)} blasts", len(flagged)),
                           seen=seen)
    note += f"{_cells_word(len(flagged))} confirmed as Blast" + _unflagged_note(unflagged)
    return ReviewOutcome(flagged, unflagged, note)


def dismiss_blast(store: ProjectStore, cell_ids: Sequence[int], *, seen: Seen | None = None) -> ReviewOutcome:
    """The screen was wrong about the flagged cells: each keeps its class and
    its flag is dismissed, a correction the screen's retraining learns from.
    A cell already labelled Blast is refused: give it its class instead."""
    flagged, unflagged = _flagged(store, cell_ids)
    blasts = [cell_id for cell_id in flagged if store.cell(cell_id).label == BLAST]
    if blasts:
        raise ReviewError(store.path, f"cell {blasts[0]} is labelled Blast; give it its class to dismiss its flag")
    if not flagged:
        raise ReviewError(store.path, "none of these cells carries a suspected-blast flag to dismiss")
    with _refusals(store):
        store.decide_blast(flagged, False, _step("Dismiss blast flag", f"Dismiss {len(flagged)} blast flags",
                                                 len(flagged)), seen=seen)
    return ReviewOutcome(flagged, unflagged, f"Blast flag dismissed on {_cells_word(len(flagged))}"
                         + _unflagged_note(unflagged))


def draw_box(store: ProjectStore, slide_id: int, box: Box, kind: CellKind) -> Cell:
    """A box the technician drew: a reviewed cell of `kind` without a class."""
    with _refusals(store):
        return store.add_cell(slide_id, box, kind)


def move_box(store: ProjectStore, cell_id: int, box: Box, *, seen: Seen | None = None) -> Cell:
    """A box moved or resized by a drag: one undo step per drag.  Drawing,
    moving and nudging keep the store's step names ("Draw box", "Move box",
    "Nudge box"); a drag never joins a nudge, whatever its name."""
    with _refusals(store):
        return store.move_cell(cell_id, box, seen=seen)


def nudge_box(store: ProjectStore, cell_id: int, box: Box, *, seen: Seen | None = None) -> Cell:
    """A box moved or resized from the keyboard: the presses in a row on one
    box are one undo step (ProjectStore.nudge_cell)."""
    with _refusals(store):
        return store.nudge_cell(cell_id, box, seen=seen)


# ---------------------------------------------------------------- helpers
def _cells(store: ProjectStore, cell_ids: Sequence[int]) -> list[Cell]:
    """The cells, each once, in the order given; an id the project lacks
    (deleted meanwhile, in another view) is refused by name."""
    with _refusals(store):
        return [store.cell(cell_id) for cell_id in dict.fromkeys(cell_ids)]


def _flagged(store: ProjectStore, cell_ids: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The cells the screen flagged (whatever was decided since), and the rest."""
    cells = _cells(store, cell_ids)
    flagged = tuple(c.id for c in cells if c.screen is not None and c.screen.flag is not BlastFlag.NONE)
    return flagged, tuple(c.id for c in cells if c.id not in flagged)


def _unflagged_note(unflagged: Sequence[int]) -> str:
    if not unflagged:
        return ""
    left = "it was" if len(unflagged) == 1 else "they were"
    return f"; {_cells_word(len(unflagged))} without a blast flag left as {left}"


def _step(one: str, many: str, count: int) -> str:
    """An undo step's name: the same words from every view, with how many
    cells where more than one ("Confirm", "Confirm 3 cells")."""
    return one if count == 1 else many


def _cells_word(count: int) -> str:
    return f"{count} cell{'s' if count != 1 else ''}"


@contextmanager
def _refusals(store: ProjectStore) -> Iterator[None]:
    """The store's refusals (a signed-off slide, a read-only project, a save
    that failed) as one ReviewError naming the project file once."""
    try:
        yield
    except ReviewError:
        raise
    except StoreError as error:
        problem = str(error).removeprefix(f"{store.path}: ")
        raise ReviewError(store.path, problem, conflict=isinstance(error, EditConflictError)) from error

