"""The rows of a project's audit trail, as the file keeps them: every change
of a cell an edit recorded (with who made it, where, and whether it was
undone), every sign-off and unlock, every image added and every slide in review
taken over from another station.  core.audit_trail puts them in words;
these run under the store's lock and write nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.identity import BEFORE_IDENTITY
from core.store.dialect import Connection, Dialect, Row, dialect_of

SIGN_OFF_ACTIONS = ("sign_off", "below_target", "unlock")  # the audit table's actions on a slide's sign-off
SLIDE_ADDED = "add_slide"  # the audit table's row for an image brought into the project (reason: its path)
TAKE_OVER = "take over"  # the audit table's row for a slide in review taken from another station (reason: why, whose)


@dataclass(frozen=True, slots=True)
class TrailQuery:
    """Which entries to read; None: any.  `since` and `until` are times as
    the rows keep them (UTC, ISO 8601), `since` included, `until` not.
    `user` BEFORE_IDENTITY asks for the edits saved before anyone was recorded."""

    slide_id: int | None = None
    user: str | None = None
    since: str | None = None
    until: str | None = None
    cell_id: int | None = None


@dataclass(frozen=True, slots=True)
class TrailRecord:
    """One entry: a cell's change (`action` the edit's description, `before`
    and `after` the cell as the history keeps it, None where there was no
    cell; of its state, what the trail tells: kind, label, box, reviewed,
    source, model_version and the screen's flag) or a sign-off's or
    unlock's row (`action` one of SIGN_OFF_ACTIONS, no cell).  `user` and `workstation` None: saved before version 4."""

    at: str
    user: str | None
    workstation: str | None
    slide_id: int | None
    cell_id: int | None
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    undone: bool = False
    undone_by: str | None = None
    undone_at: str | None = None
    reason: str = ""

    @property
    def is_sign_off(self) -> bool:
        return self.action in SIGN_OFF_ACTIONS and self.cell_id is None

    @property
    def is_slide_added(self) -> bool:
        return self.action == SLIDE_ADDED and self.cell_id is None

    @property
    def is_take_over(self) -> bool:
        return self.action == TAKE_OVER and self.cell_id is None


def read(db: Connection, query: TrailQuery) -> list[TrailRecord]:
    """The entries `query` asks for, oldest first (a sign-off after the
    edits it closed, as they were made; an image's adding before any edit
    of its cells in the same millisecond, as it must have come first)."""
    records = _cell_changes(db, query)
    if query.cell_id is None:
        records += _slide_rows(db, query)
    return sorted(records, key=lambda record: (record.at, not record.is_slide_added))


def users(db: Connection) -> list[str]:
    """Everyone the trail names, sorted; BEFORE_IDENTITY where edits were
    saved before anyone was recorded."""
    rows = db.execute("SELECT DISTINCT coalesce(who, ?) FROM edits UNION SELECT DISTINCT who FROM audit",
                      (BEFORE_IDENTITY,)).fetchall()
    return sorted({str(row[0]) for row in rows}, key=str.casefold)


def reviewers(db: Connection) -> dict[int, list[str]]:
    """By slide, the people whose decisions on its cells stand (the
    correction queue's, not retracted by an undo), in the order they first
    decided, then who signed it off.  A decision whose step the history no
    longer holds (a recovered file) or that predates version 4 is BEFORE_IDENTITY's."""
    found: dict[int, dict[str, None]] = {}
    rows = db.execute(
        "SELECT q.slide_id, coalesce(e.who, ?) AS who FROM corrections q LEFT JOIN edits e ON e.id = q.edit_id "
        "WHERE q.retracted = 0 ORDER BY q.id",
        (BEFORE_IDENTITY,),
    ).fetchall()
    for row in rows:
        found.setdefault(int(row["slide_id"]), {})[str(row["who"])] = None
    for row in db.execute("SELECT id, signed_off_by FROM slides WHERE signed_off_by IS NOT NULL").fetchall():
        found.setdefault(int(row["id"]), {})[str(row["signed_off_by"])] = None
    return {slide_id: list(names) for slide_id, names in found.items()}


def latest_change(db: Connection, cell_id: int) -> TrailRecord | None:
    """The last change of cell `cell_id` the history recorded, with its
    edit's who, where and when; None where it recorded none."""
    records = _changes(db, ["c.cell_id = ?"], [cell_id], "ORDER BY c.id DESC LIMIT 1")
    return records[0] if records else None


def _cell_changes(db: Connection, query: TrailQuery) -> list[TrailRecord]:
    conditions, params = _time_and_user("e.at", "e.who", query)
    if query.slide_id is not None:
        conditions.append(f"{_slide(dialect_of(db))} = ?")
        params.append(query.slide_id)
    if query.cell_id is not None:
        conditions.append("c.cell_id = ?")
        params.append(query.cell_id)
    return _changes(db, conditions, params, "ORDER BY e.id, c.id")


def _slide(dialect: Dialect) -> str:
    return dialect.json_integer("coalesce(c.after, c.before)", "slide_id")


def _changes(db: Connection, conditions: list[str], params: list[Any], order: str) -> list[TrailRecord]:
    dialect = dialect_of(db)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = db.execute(
        f"SELECT e.at, e.who, e.workstation, e.description, e.undone, e.undone_by, e.undone_at, c.cell_id, "
        f"{_state_columns(dialect, 'c.before', 'before')}, {_state_columns(dialect, 'c.after', 'after')}, "
        f"{_slide(dialect)} AS slide_id "
        f"FROM changes c JOIN edits e ON e.id = c.edit_id{where} {order}",
        params,
    ).fetchall()
    return [
        TrailRecord(
            at=row["at"], user=row["who"], workstation=row["workstation"],
            slide_id=None if row["slide_id"] is None else int(row["slide_id"]), cell_id=int(row["cell_id"]),
            action=row["description"], before=_state(row, "before"), after=_state(row, "after"),
            undone=bool(row["undone"]), undone_by=row["undone_by"], undone_at=row["undone_at"],
        )
        for row in rows
    ]


# What the trail tells of a cell's state, taken out by the database: parsing
# each whole state in Python (a model's probabilities, mostly) was most of the time.
_STATE_FIELDS = {"kind": "kind", "label": "label", "box": "box", "reviewed": "reviewed",
                 "source": "source", "model_version": "model_version", "flag": "screen.flag"}


def _state_columns(dialect: Dialect, column: str, prefix: str) -> str:
    parts = [f"{column} IS NOT NULL AS {prefix}_present"]
    parts += [f"{dialect.json_value(column, key)} AS {prefix}_{name}" for name, key in _STATE_FIELDS.items()]
    return ", ".join(parts)


def _state(row: Row, prefix: str) -> dict[str, Any] | None:
    """A cell's state as the trail reads it (the history's, less the model's
    probabilities and score), or None where there was no cell."""
    if not row[f"{prefix}_present"]:
        return None
    state = {name: row[f"{prefix}_{name}"] for name in _STATE_FIELDS}
    state["box"] = [float(value) for value in str(state["box"]).strip("[]").split(",")]  # "[x0,y0,x1,y1]"
    state["reviewed"] = bool(state["reviewed"])
    flag = state.pop("flag")
    state["screen"] = None if flag is None else {"flag": flag}
    return state


def _slide_rows(db: Connection, query: TrailQuery) -> list[TrailRecord]:
    """The audit table's rows: sign-offs, unlocks, images added."""
    conditions, params = _time_and_user("at", "who", query)
    if query.slide_id is not None:
        conditions.append("slide_id = ?")
        params.append(query.slide_id)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = db.execute(f"SELECT at, who, workstation, slide_id, action, reason FROM audit{where} ORDER BY id",
                      params).fetchall()
    return [
        TrailRecord(at=row["at"], user=row["who"], workstation=row["workstation"],
                    slide_id=None if row["slide_id"] is None else int(row["slide_id"]), cell_id=None,
                    action=row["action"], reason=row["reason"])
        for row in rows
    ]


def _time_and_user(at: str, who: str, query: TrailQuery) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if query.since is not None:
        conditions.append(f"{at} >= ?")
        params.append(query.since)
    if query.until is not None:
        conditions.append(f"{at} < ?")
        params.append(query.until)
    if query.user == BEFORE_IDENTITY:
        conditions.append(f"{who} IS NULL")
    elif query.user is not None:
        conditions.append(f"{who} = ?")
        params.append(query.user)
    return conditions, params

