"""What the project store refuses or fails at, each naming the file and the
problem in words a technician can act on."""

from __future__ import annotations

from pathlib import Path

from core.project_lock import LockHeld
from core.store_integrity import damage_message


class StoreError(Exception):
    """A project file that cannot be opened or an edit that is refused."""


class ReadOnlyProjectError(StoreError):
    pass


class ProjectInUseError(StoreError):
    """Another window or command has the project open for editing."""

    def __init__(self, project: Path, held: LockHeld) -> None:
        self.holder = held.holder
        super().__init__(f"{project}: {held}; close it there first, or open it read-only")


class DamagedProjectError(StoreError):
    """The project file is damaged (pages that no longer parse): named with
    the problem and how to recover what is readable, never a traceback."""

    def __init__(self, project: Path, problem: str) -> None:
        self.project = project
        self.problem = problem
        super().__init__(damage_message(project, problem))


class SaveFailedError(StoreError):
    """The file refused an edit (a full disk, a drive gone): the edit was
    rolled back whole and the project is as it was before it."""


class ClassKindError(StoreError):
    """A class given to a cell of a kind it is not a class for (a white-cell
    class for a red cell): refused, as a class never changes a kind."""


class SlideLockedError(StoreError):
    pass


class SlideClaimedError(SlideLockedError):
    """An edit of a slide another station has open for review: refused, as
    on a signed slide, until that station leaves it or this one takes it
    over with a reason."""


class UndoConflictError(StoreError):
    """An undo or redo refused because another station changed one of its
    cells since: playing it would write over their change unseen."""


class SignOffRefusedError(StoreError):
    pass


class EditConflictError(SaveFailedError):
    """An edit made on cells as a station showed them, refused because
    another connection changed or removed one of them since: nothing of the
    edit was saved (so a window says it as it says any edit not saved), and
    the message says who changed which cell, where, when and how, so the
    technician can look again and decide."""

    def __init__(self, message: str, cell_id: int) -> None:
        self.cell_id = cell_id
        super().__init__(message)
