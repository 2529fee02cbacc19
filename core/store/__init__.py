"""The project store: one SQLite file holding slides, cells, undo history,
the correction queue and the audit trail.  Import what you need from here.

Where each part lives:
  project_store.py     ProjectStore: every edit (slides, sign-off, cells, undo and redo)
  reading.py           ProjectReader: slides, cells, counts, the summary, as read
  project_file.py      ProjectFile: opening, the lock, transactions, announcements
  connection.py        finding, checking and connecting to a project file
  rows.py              slides and cells to and from rows, column by column name
  history.py           the undo history's steps, and key presses joined into one
  correction_queue.py  people's decisions queued for retraining
  trail.py             the audit trail's rows: who changed which cell, sign-offs, reviewers
  events.py            StoreEvent and StoreEventKind, what is announced
  errors.py            what the store refuses or fails at
The file's layout and migrations are core/store_schema.py; damage and
recovery core/store_integrity.py.
"""

from core.store.connection import DEFAULT_PROJECT_NAME, PROJECT_SUFFIX, folder_is_writable, resolve_project_path
from core.store.errors import (
    ClassKindError,
    DamagedProjectError,
    ProjectInUseError,
    ReadOnlyProjectError,
    SaveFailedError,
    SignOffRefusedError,
    SlideLockedError,
    StoreError,
)
from core.store.events import StoreEvent, StoreEventKind
from core.store.history import HistoryStep
from core.store.project_file import DEFAULT_EDITOR
from core.store.project_store import MAX_SAMPLE_ID, ProjectStore
from core.store.reading import BlastTally, CellTally
from core.store.rows import now_iso

__all__ = [
    "DEFAULT_EDITOR",
    "DEFAULT_PROJECT_NAME",
    "MAX_SAMPLE_ID",
    "PROJECT_SUFFIX",
    "BlastTally",
    "CellTally",
    "ClassKindError",
    "DamagedProjectError",
    "HistoryStep",
    "ProjectInUseError",
    "ProjectStore",
    "ReadOnlyProjectError",
    "SaveFailedError",
    "SignOffRefusedError",
    "SlideLockedError",
    "StoreError",
    "StoreEvent",
    "StoreEventKind",
    "folder_is_writable",
    "now_iso",
    "resolve_project_path",
]
