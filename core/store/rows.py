"""How slides and cells are written to a project's tables and read back:
every column by its name, never by where it stands in a SELECT.

The connection gives every row as an sqlite3.Row; cells, read by the tens
of thousands, are named by a NamedTuple instead, whose fields read at
almost the cost of a tuple's (sqlite3.Row's names added a fifth to reading
30,000 cells)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from core.schema import BlastFlag, BlastScreen, Box, Cell, CellKind, LabelSource, NewCell, Slide, SlideStatus
from core.store.dialect import Connection, Row

SLIDE_COLUMNS = "id, path, width, height, status, added_at, signed_off_by, signed_off_at, attributes"



class _CellRow(NamedTuple):
    """A row of the cells table: the SELECT is made from these names."""

    id: int
    slide_id: int
    x0: float
    y0: float
    x1: float
    y1: float
    kind: str
    label: str | None
    source: str
    probabilities: str
    model_version: str | None
    score: float | None
    reviewed: int
    blast_p: float | None
    blast_subtype: str | None
    blast_flag: str | None
    screen_model: str | None
    row_version: int


_CELL_FIELDS = _CellRow._fields[2:-1]  # what a cell's row holds besides its id, its slide and its version
_CELL_COLUMNS = ", ".join(_CellRow._fields)

_FIELD_NAMES = ", ".join(_CELL_FIELDS)
_FIELD_PARAMETERS = ", ".join(f":{name}" for name in _CELL_FIELDS)
_SET_FIELDS = f"slide_id = :slide_id, {', '.join(f'{n} = :{n}' for n in _CELL_FIELDS)}"
INSERT_CELL = f"INSERT INTO cells(slide_id, {_FIELD_NAMES}) VALUES (:slide_id, {_FIELD_PARAMETERS})"
# Under the id it had: a cell brought back by undo or redo keeps it, one
# version past the state it comes back in (a view of the cell as it was
# before it went is then out of date).
INSERT_CELL_WITH_ID = (f"INSERT INTO cells(id, slide_id, {_FIELD_NAMES}, row_version) "
                       f"VALUES (:id, :slide_id, {_FIELD_PARAMETERS}, :row_version + 1)")
# Whatever the row was (an undo or redo puts back a state the history kept).
UPDATE_CELL = f"UPDATE cells SET {_SET_FIELDS}, row_version = row_version + 1 WHERE id = :id"
# Only the row as it was read (`row_version` its version then): no row
# changed means another connection changed or removed the cell since.
UPDATE_CELL_AS_READ = (f"UPDATE cells SET {_SET_FIELDS}, row_version = :row_version + 1 "
                       "WHERE id = :id AND row_version = :row_version")
DELETE_CELL_AS_READ = "DELETE FROM cells WHERE id = ? AND row_version = ?"

# Looked up by value rather than through the enum call, and "{}" not parsed:
# every cell a view shows is read through here (30,000 for a big gallery).
KIND_OF = {kind.value: kind for kind in CellKind}
_SOURCE_OF = {source.value: source for source in LabelSource}
_FLAG_OF = {flag.value: flag for flag in BlastFlag}


def now_iso() -> str:
    """The time as the project's rows keep it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def on_this_clock(at: str, form: str) -> str:
    """A time as the rows keep it (ISO 8601; UTC where it names no zone) on
    this computer's clock, written by strftime's `form`.  A text that is
    no such time raises ValueError."""
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime(form)


def slide_from_row(row: Row) -> Slide:
    """A slide from a row of `SELECT {SLIDE_COLUMNS} FROM slides`."""
    return Slide(
        id=row["id"],
        path=row["path"],
        width=row["width"],
        height=row["height"],
        status=SlideStatus(row["status"]),
        added_at=row["added_at"],
        signed_off_by=row["signed_off_by"],
        signed_off_at=row["signed_off_at"],
        attributes=json.loads(row["attributes"] or "{}"),
    )


def read_cells(db: Connection, where: str = "", parameters: Sequence[Any] = ()) -> list[Cell]:
    """The cells a WHERE clause (with its parameters) keeps, in id order."""
    cursor = db.execute(f"SELECT {_CELL_COLUMNS} FROM cells{where} ORDER BY id", parameters)
    cursor.row_factory = None  # plain tuples, each named by _CellRow below without a call back from SQLite
    return [_cell_from_row(_CellRow._make(row)) for row in cursor.fetchall()]


def _cell_from_row(row: _CellRow) -> Cell:
    probabilities = row.probabilities
    return Cell(
        id=row.id,
        slide_id=row.slide_id,
        box=Box(row.x0, row.y0, row.x1, row.y1),
        kind=KIND_OF[row.kind],
        label=row.label,
        source=_SOURCE_OF[row.source],
        probabilities=json.loads(probabilities) if probabilities and probabilities != "{}" else {},
        model_version=row.model_version,
        score=row.score,
        reviewed=bool(row.reviewed),
        screen=None if row.blast_flag is None else BlastScreen(
            float(row.blast_p or 0.0), row.blast_subtype or "", _FLAG_OF[row.blast_flag], row.screen_model or ""),
        row_version=row.row_version,
    )


def cell_parameters(cell: Cell | NewCell, slide_id: int, cell_id: int | None = None) -> dict[str, Any]:
    """A cell's row, by column name, for INSERT_CELL, INSERT_CELL_WITH_ID and
    the UPDATE_CELLs; `row_version` the version the cell was read at."""
    box = cell.box
    return {
        "id": cell_id,
        "slide_id": slide_id,
        "row_version": cell.row_version if isinstance(cell, Cell) else 0,
        "x0": box.x0,
        "y0": box.y0,
        "x1": box.x1,
        "y1": box.y1,
        "kind": cell.kind.value,
        "label": cell.label,
        "source": cell.source.value,
        "probabilities": json.dumps(cell.probabilities),
        "model_version": cell.model_version,
        "score": cell.score,
        "reviewed": int(cell.reviewed),
        **screen_parameters(cell.screen if isinstance(cell, Cell) else None),
    }


def screen_parameters(screen: BlastScreen | None) -> dict[str, Any]:
    """The screen's columns of a cell's row (all NULL: never screened)."""
    if screen is None:
        return {"blast_p": None, "blast_subtype": None, "blast_flag": None, "screen_model": None}
    return {"blast_p": screen.p_blast, "blast_subtype": screen.subtype, "blast_flag": screen.flag.value,
            "screen_model": screen.model_version}


def of_slide(slide_id: int | None) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause and its parameter that keep one slide's rows (none: all)."""
    return ("", ()) if slide_id is None else (" WHERE slide_id = ?", (slide_id,))
