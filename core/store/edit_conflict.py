"""An edit made on cells as a station showed them, refused because another
connection changed one of them since: the refusal in words, from the
history's latest change of that cell (who, on which workstation, when, and
what), so the technician can look at the cell again and decide."""

from __future__ import annotations

from core.store.address import ProjectLocation
from core.store.dialect import Connection
from core.store.errors import EditConflictError
from core.store.rows import on_this_clock
from core.store.trail import latest_change
from core.taxonomy import Taxonomy

NOT_SAVED = "since you saw it; your change was not saved"


def conflict_error(db: Connection, project: ProjectLocation, cell_id: int, taxonomy: Taxonomy) -> EditConflictError:
    """The refusal for cell `cell_id`, read inside the refused edit's
    transaction (so it names the change that made it out of date)."""
    return EditConflictError(f"{project}: {_what_happened(db, cell_id, taxonomy)} {NOT_SAVED}", cell_id)


def _what_happened(db: Connection, cell_id: int, taxonomy: Taxonomy) -> str:
    # Imported here: core.audit_trail reads through the store, which imports this module.
    from core.audit_trail import describe_change

    change = latest_change(db, cell_id)
    if change is None:
        # A model's predictions written without an undo step (what the project taught).
        return f"Cell {cell_id} was changed by a model's update"
    if change.undone and change.undone_by:
        return f'Cell {cell_id}\'s "{change.action}" was undone by {change.undone_by} at {_clock(change.undone_at)}'
    who = f"{change.user or 'someone'} on {change.workstation or 'another workstation'}"
    if change.after is None:
        return f"Cell {cell_id} was deleted by {who} at {_clock(change.at)}"
    return (f"Cell {cell_id} was changed by {who} at {_clock(change.at)} "
            f"({describe_change(change.before, change.after, taxonomy)})")


def _clock(at: str | None) -> str:
    """A recorded time on this computer's clock: within the minutes a view
    stays open, the time of day says which change it was."""
    return on_this_clock(at, "%H:%M:%S") if at else "an unknown time"
