"""The undo history in a project file: each gesture is one step (a row of
`edits`) holding the cells it changed, before and after (rows of
`changes`).  Undo plays a step's changes backwards, redo forwards, and a
new step drops the steps undone (the redo branch).  These run inside the
store's transactions and never commit by themselves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from core.identity import BEFORE_IDENTITY, Identity
from core.schema import BlastFlag, BlastScreen, Box, Cell, CellKind, LabelSource
from core.store import correction_queue
from core.store.dialect import Connection
from core.store.rows import now_iso, on_this_clock

NUDGE_DESCRIPTION = "Nudge box"
NUDGES_JOIN_WITHIN_S = 2.0  # key presses on one box closer than this are one undo step
REPLACED = 2  # edits.undone of a step undone and then replaced by a new edit: the trail's only


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One undo or redo that was done: its edit's description and the cells
    it changed, as (slide id, cell id) in the order they were changed, so a
    window can show the technician where the change landed."""

    description: str
    cells: tuple[tuple[int, int], ...] = ()

    @property
    def slide_ids(self) -> tuple[int, ...]:
        """The slides it changed, in the order first changed."""
        return tuple(dict.fromkeys(slide_id for slide_id, _cell_id in self.cells))


class CellChange(NamedTuple):
    """One cell as a step being played changes it: from `current` to
    `target`, each a cell as the history keeps it (None: no cell)."""

    cell_id: int
    current: dict[str, Any] | None
    target: dict[str, Any] | None

    @property
    def slide_id(self) -> int | None:
        state = self.target or self.current or {}
        return None if state.get("slide_id") is None else int(state["slide_id"])


def begin_step(db: Connection, description: str, identity: Identity, *, own_branch_only: bool = False) -> int:
    """A new step by `identity`, after the last one not undone: a new gesture
    ends the redo branch, so the corrections its undone steps retracted go,
    and the steps stay only for the audit trail (never played again).  With
    `own_branch_only` (several stations edit), only `identity`'s branch ends:
    another station's redo is theirs."""
    steps, parameters = _undone_steps(identity if own_branch_only else None)
    correction_queue.drop_retracted_by_undone_steps(db, steps, parameters)
    db.execute(f"UPDATE edits SET undone = {REPLACED} WHERE {steps}", parameters)
    row = db.execute(
        "INSERT INTO edits(description, at, who, workstation) VALUES (?, ?, ?, ?) RETURNING id",
        (description, now_iso(), identity.user, identity.workstation),
    ).fetchone()
    return int(row[0])


def record_change(db: Connection, edit_id: int, cell_id: int, before: Cell | None, after: Cell | None) -> None:
    """A cell added (no `before`), changed, or deleted (no `after`) by the step."""
    db.execute(
        "INSERT INTO changes(edit_id, cell_id, before, after) VALUES (?, ?, ?, ?)",
        (edit_id, cell_id, _dump_state(before), _dump_state(after)),
    )


def next_description(db: Connection, undo: bool, owner: Identity | None = None) -> str | None:
    """What undo (or redo) would do next, as its step's description."""
    step = next_step(db, undo, owner)
    return step[1] if step else None


def next_step(db: Connection, undo: bool, owner: Identity | None = None) -> tuple[int, str] | None:
    """The step undo (or redo) plays next: (edit id, description).  With
    `owner`, the step is theirs (who and workstation), whoever edited since."""
    mine, parameters = _of(owner)
    query = (
        f"SELECT id, description FROM edits WHERE undone = 0{mine} ORDER BY id DESC LIMIT 1"
        if undo
        else f"SELECT id, description FROM edits WHERE undone = 1{mine} ORDER BY id LIMIT 1"
    )
    row = db.execute(query, parameters).fetchone()
    return (row["id"], row["description"]) if row else None


class LaterChange(NamedTuple):
    """A change of a cell made by a step after another one, still in force."""

    cell_id: int
    who: str
    workstation: str
    at: str
    description: str

    @property
    def clock(self) -> str:
        """When, on this computer's clock (within a session, the time of day says which)."""
        return on_this_clock(self.at, "%H:%M:%S")


def later_change(db: Connection, edit_id: int, cell_ids: Sequence[int]) -> LaterChange | None:
    """The latest change, by a step after `edit_id` and not undone, of any
    of these cells: what undoing or redoing `edit_id` would write over."""
    if not cell_ids:
        return None
    marks = ", ".join("?" * len(cell_ids))
    row = db.execute(
        "SELECT c.cell_id, e.who, e.workstation, e.at, e.description FROM changes c JOIN edits e ON e.id = c.edit_id "
        f"WHERE c.edit_id > ? AND e.undone = 0 AND c.cell_id IN ({marks}) ORDER BY c.id DESC LIMIT 1",
        (edit_id, *cell_ids),
    ).fetchone()
    if row is None:
        return None
    return LaterChange(int(row["cell_id"]), row["who"] or BEFORE_IDENTITY, row["workstation"] or BEFORE_IDENTITY,
                       row["at"], row["description"])


def _of(owner: Identity | None) -> tuple[str, tuple[str, ...]]:
    """The condition on edits that they are `owner`'s (" AND ..."; none without one)."""
    return ("", ()) if owner is None else (" AND who = ? AND workstation = ?", (owner.user, owner.workstation))


def _undone_steps(owner: Identity | None) -> tuple[str, tuple[str, ...]]:
    """The steps of the redo branch (`owner`'s only, when given), as a condition on edits."""
    mine, parameters = _of(owner)
    return f"undone = 1{mine}", parameters


def changes_to_play(db: Connection, edit_id: int, undo: bool) -> list[CellChange]:
    """A step's changes in the order to play them: an undo takes the last
    change back first."""
    rows = db.execute("SELECT cell_id, before, after FROM changes WHERE edit_id = ? ORDER BY id", (edit_id,)).fetchall()
    changes = [CellChange(row["cell_id"], _load(row["before"]), _load(row["after"])) for row in rows]
    if undo:
        return [CellChange(change.cell_id, change.target, change.current) for change in reversed(changes)]
    return changes


def mark_played(db: Connection, edit_id: int, undo: bool, identity: Identity) -> None:
    """The step has been undone (by `identity`, now) or redone, and so have
    its corrections.  Its own author stays whoever made it."""
    undone_by, undone_at = (identity.describe(), now_iso()) if undo else (None, None)
    db.execute("UPDATE edits SET undone = ?, undone_by = ?, undone_at = ? WHERE id = ?",
               (int(undo), undone_by, undone_at, edit_id))
    correction_queue.retract(db, edit_id, retracted=undo)


def nudge_to_join(db: Connection, nudge_edit_id: int | None, cell_id: int) -> tuple[int, int] | None:
    """The latest step and its one change, when that step is the nudge
    `nudge_edit_id`, recent, not undone and of this cell: (edit id, change id)."""
    latest = db.execute("SELECT id, at, undone FROM edits ORDER BY id DESC LIMIT 1").fetchone()
    if latest is None or latest["id"] != nudge_edit_id or latest["undone"]:
        return None
    age = datetime.now(UTC) - datetime.fromisoformat(latest["at"])
    if age.total_seconds() > NUDGES_JOIN_WITHIN_S:
        return None
    changes = db.execute("SELECT id, cell_id FROM changes WHERE edit_id = ?", (latest["id"],)).fetchall()
    if len(changes) != 1 or changes[0]["cell_id"] != cell_id:
        return None
    return latest["id"], changes[0]["id"]


def join_nudge(db: Connection, edit_id: int, change_id: int, after: Cell) -> None:
    """The nudge step now ends where this key press left the box."""
    db.execute("UPDATE changes SET after = ? WHERE id = ?", (_dump_state(after), change_id))
    db.execute("UPDATE edits SET at = ? WHERE id = ?", (now_iso(), edit_id))
    correction_queue.move_box(db, edit_id, after.box)


def kept_by_history(db: Connection, cell_id: int) -> bool:
    """Whether the steps in force (not undone) leave the cell standing: its
    latest change among them has an after.  A cell whose adding was undone,
    or that a step deleted, is not to be brought back by anything else."""
    row = db.execute(
        "SELECT c.after FROM changes c JOIN edits e ON e.id = c.edit_id WHERE c.cell_id = ? AND e.undone = 0 "
        "ORDER BY c.id DESC LIMIT 1", (cell_id,)).fetchone()
    return row is not None and row["after"] is not None


def cell_state(cell: Cell) -> dict[str, Any]:
    """A cell as the history keeps it, as a dict (cell_from_state reads it)."""
    state: dict[str, Any] = json.loads(_dump_state(cell) or "null")
    return state


def cell_from_state(cell_id: int, state: dict[str, Any]) -> Cell:
    return Cell(
        id=cell_id,
        slide_id=state["slide_id"],
        box=Box(*state["box"]),
        kind=CellKind(state["kind"]),
        label=state["label"],
        source=LabelSource(state["source"]),
        probabilities=state["probabilities"],
        model_version=state["model_version"],
        score=state["score"],
        reviewed=state["reviewed"],
        screen=_screen_from_state(state.get("screen")),  # absent from steps saved before the screen
        row_version=int(state.get("row_version", 0)),  # absent from steps saved before layout 5
    )


def _screen_from_state(state: dict[str, Any] | None) -> BlastScreen | None:
    if state is None:
        return None
    return BlastScreen(float(state["p_blast"]), str(state["subtype"]), BlastFlag(state["flag"]),
                       str(state["model_version"]))


def _dump_state(cell: Cell | None) -> str | None:
    """A cell as the history keeps it."""
    if cell is None:
        return None
    return json.dumps({
        "slide_id": cell.slide_id,
        "box": list(cell.box.as_tuple()),
        "kind": cell.kind.value,
        "label": cell.label,
        "source": cell.source.value,
        "probabilities": cell.probabilities,
        "model_version": cell.model_version,
        "score": cell.score,
        "reviewed": cell.reviewed,
        "screen": None if cell.screen is None else {
            "p_blast": cell.screen.p_blast, "subtype": cell.screen.subtype, "flag": cell.screen.flag.value,
            "model_version": cell.screen.model_version},
        "row_version": cell.row_version,
    })


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
