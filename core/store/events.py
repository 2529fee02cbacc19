"""What the store announces after each committed change.  Plain callbacks
carry these, so the GUI can follow the store without core knowing Qt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum


class StoreEventKind(StrEnum):
    """What kind of change a StoreEvent announces.  A StrEnum so a logged
    event reads as its value; views compare against the members."""

    SLIDE_ADDED = "slide_added"
    SLIDE_CHANGED = "slide_changed"
    CELLS_ADDED = "cells_added"
    CELLS_CHANGED = "cells_changed"
    CELLS_REMOVED = "cells_removed"
    HISTORY_CHANGED = "history_changed"  # what undo and redo would do has changed
    RELOADED = "reloaded"  # anything may have changed (the taxonomy, an edit in another window)

    @property
    def about_cells(self) -> bool:
        return self in (StoreEventKind.CELLS_ADDED, StoreEventKind.CELLS_CHANGED, StoreEventKind.CELLS_REMOVED)

    @property
    def about_a_slide(self) -> bool:
        return self in (StoreEventKind.SLIDE_ADDED, StoreEventKind.SLIDE_CHANGED)


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """What changed: cells and slide for the cell kinds, the slide for the
    slide kinds, neither for the others."""

    kind: StoreEventKind
    slide_id: int | None = None
    cell_ids: tuple[int, ...] = ()


# A PostgreSQL notification's payload is under 8000 bytes; a transaction
# whose events would not fit is announced as "anything may have changed".
_MOST_ANNOUNCED = 7900


def announcement(events: list[StoreEvent]) -> str:
    """A committed transaction's events as other connections are told them
    (a server's notification): compact JSON, or "" when too long to name."""
    text = json.dumps([[event.kind.value, event.slide_id, list(event.cell_ids)] for event in events],
                      separators=(",", ":"))
    return text if len(text) <= _MOST_ANNOUNCED else ""


def announced(payloads: list[str]) -> list[StoreEvent]:
    """The events other connections' commits announced, in commit order;
    one RELOADED where any of them was too long to name (or unreadable)."""
    events: list[StoreEvent] = []
    for payload in payloads:
        try:
            events += [StoreEvent(StoreEventKind(kind), slide_id, tuple(cell_ids))
                       for kind, slide_id, cell_ids in json.loads(payload)]
        except (ValueError, TypeError):  # "" or a payload not of this form
            return [StoreEvent(StoreEventKind.RELOADED)]
    return events
