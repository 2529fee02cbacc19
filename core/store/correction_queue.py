"""The correction queue in a project file: every decision a person made on a
cell (added, relabelled, confirmed, moved, deleted), with the model's view
of it, for retraining to learn from.  An undo retracts its step's
corrections and a redo restores them.  These run inside the store's
transactions and never commit by themselves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.schema import Box, Cell, Correction, CorrectionAction
from core.store.dialect import Connection
from core.store.rows import now_iso


def queue(
    db: Connection,
    edit_id: int | None,
    cell: Cell,
    action: CorrectionAction,
    old: Cell | None,
    new: Cell | None,
) -> None:
    """Queue a person's decision on `cell`, made by the history step `edit_id`."""
    db.execute(
        "INSERT INTO corrections(at, edit_id, slide_id, cell_id, action, old_label, new_label, old_box, new_box, "
        "model_version) VALUES (:at, :edit_id, :slide_id, :cell_id, :action, :old_label, :new_label, :old_box, "
        ":new_box, :model_version)",
        {
            "at": now_iso(),
            "edit_id": edit_id,
            "slide_id": cell.slide_id,
            "cell_id": cell.id,
            "action": action.value,
            "old_label": old.label if old else None,
            "new_label": new.label if new else None,
            "old_box": _dump_box(old.box) if old else None,
            "new_box": _dump_box(new.box) if new else None,
            "model_version": cell.model_version,
        },
    )


def queued(db: Connection, include_retracted: bool = False, since_id: int = 0) -> list[Correction]:
    """The corrections after `since_id`, oldest first."""
    query = (
        "SELECT id, at, slide_id, cell_id, action, old_label, new_label, old_box, new_box, model_version "
        "FROM corrections WHERE id > ?"
    )
    if not include_retracted:
        query += " AND retracted = 0"
    rows = db.execute(query + " ORDER BY id", (since_id,)).fetchall()
    return [
        Correction(
            id=row["id"],
            at=row["at"],
            slide_id=row["slide_id"],
            cell_id=row["cell_id"],
            action=CorrectionAction(row["action"]),
            old_label=row["old_label"],
            new_label=row["new_label"],
            old_box=_load_box(row["old_box"]),
            new_box=_load_box(row["new_box"]),
            model_version=row["model_version"],
        )
        for row in rows
    ]


def cells_before(db: Connection, actions: tuple[CorrectionAction, ...]) -> list[tuple[Correction, Cell]]:
    """The corrections of these actions still standing, oldest first, each
    with its cell as it was just before (the history's record of its step)."""
    from core.store.history import cell_from_state

    marks = ", ".join("?" for _ in actions)
    rows = db.execute(
        "SELECT c.id, c.at, c.slide_id, c.cell_id, c.action, c.old_label, c.new_label, c.old_box, c.new_box, "
        "c.model_version, h.before FROM corrections c JOIN changes h ON h.edit_id = c.edit_id AND "
        f"h.cell_id = c.cell_id WHERE c.retracted = 0 AND h.before IS NOT NULL AND c.action IN ({marks}) "
        "ORDER BY c.id, h.id",
        [action.value for action in actions],
    ).fetchall()
    found: list[tuple[Correction, Cell]] = []
    for row in rows:
        if found and found[-1][0].id == row["id"]:
            continue  # the cell's first change in the step is its state before it
        correction = Correction(
            id=row["id"], at=row["at"], slide_id=row["slide_id"], cell_id=row["cell_id"],
            action=CorrectionAction(row["action"]), old_label=row["old_label"], new_label=row["new_label"],
            old_box=_load_box(row["old_box"]), new_box=_load_box(row["new_box"]), model_version=row["model_version"],
        )
        found.append((correction, cell_from_state(row["cell_id"], json.loads(row["before"]))))
    return found


def queued_count(db: Connection) -> int:
    return int(db.execute("SELECT COUNT(*) AS n FROM corrections WHERE retracted = 0").fetchone()["n"])


def retract(db: Connection, edit_id: int, retracted: bool) -> None:
    """Take back (or restore) the corrections of history step `edit_id`."""
    db.execute("UPDATE corrections SET retracted = ? WHERE edit_id = ?", (int(retracted), edit_id))


def drop_retracted_by_undone_steps(db: Connection, steps: str = "undone = 1", parameters: Sequence[Any] = ()) -> None:
    """Before the undone steps go for good (`steps`, a condition on edits,
    says which): their retracted corrections can never be restored."""
    db.execute(f"DELETE FROM corrections WHERE retracted = 1 AND edit_id IN (SELECT id FROM edits WHERE {steps})",
               parameters)


def move_box(db: Connection, edit_id: int, box: Box) -> None:
    """The box step `edit_id` moved now ends at `box` (a nudge joined)."""
    db.execute("UPDATE corrections SET new_box = ?, at = ? WHERE edit_id = ?", (_dump_box(box), now_iso(), edit_id))


def _dump_box(box: Box) -> str:
    return json.dumps(list(box.as_tuple()))


def _load_box(text: str | None) -> Box | None:
    return Box(*json.loads(text)) if text else None
