"""The project store: one SQLite file, or one PostgreSQL database, holding
slides, cells, undo history, the correction queue and the audit trail.
Import what you need from here.

Where each part lives:
  project_store.py     ProjectStore: every edit (slides, sign-off, cells, undo and redo)
  reading.py           ProjectReader: slides, cells, counts, the summary, as read
  project_file.py      ProjectFile: opening, the lock, transactions, announcements
  address.py           what names a project: a path or a postgresql:// address (never with a password)
  connection.py        finding, checking and connecting to a project file
  server.py            connecting to, creating and opening a project on a PostgreSQL server
  postgres_connection.py  a PostgreSQL connection through the part of sqlite3's API the store uses
  dialect.py           what the two engines spell differently (JSON, change notification, errors)
  rows.py              slides and cells to and from rows, column by column name
  history.py           the undo history's steps, and key presses joined into one
  correction_queue.py  people's decisions queued for retraining
  claims.py            which station has a slide open for review, renewed by a heartbeat, taken over with a reason
  trail.py             the audit trail's rows: who changed which cell, sign-offs, reviewers
  events.py            StoreEvent and StoreEventKind, what is announced
  errors.py            what the store refuses or fails at
  project_copy.py      a whole project copied into a new one, ids kept (hemalabel migrate)
The file's layout and migrations are core/store_schema.py; damage and
recovery core/store_integrity.py.
"""

from core.store.address import AddressError, ServerAddress, describe_location, is_server_address, locate_project
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
from core.store.project_file import DEFAULT_EDITOR, project_exists
from core.store.project_store import MAX_SAMPLE_ID, ProjectStore
from core.store.reading import BlastTally, CellTally
from core.store.rows import now_iso

__all__ = [
    "DEFAULT_EDITOR",
    "AddressError",
    "ServerAddress",
    "describe_location",
    "is_server_address",
    "locate_project",
    "project_exists",
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
