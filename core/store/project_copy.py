"""A whole project copied into a new, empty one: every table, ids kept,
history, undo steps, the correction queue and the audit trail included.
`hemalabel migrate` moves a lab's project between an SQLite file and a
PostgreSQL database (either way) through it.

Ids are kept because the history, the queue and the trail point at cells
and edits by id.  Image paths are stored as the target reads them: a file
project keeps them relative to its own folder where it can, a server
project (no folder) keeps them absolute, so the images are found from the
same computer afterwards; other workstations map the folder (image roots).

Nothing is written unless the whole copy is: one transaction on the target,
checked table by table against the source before it commits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.image_roots import stored_location
from core.store.errors import StoreError
from core.store.project_store import ProjectStore

# Parents before children: the foreign keys hold at every row.  Claims are
# not copied: they name stations working on the source.
TABLES: tuple[str, ...] = ("meta", "slides", "cells", "edits", "changes", "corrections", "audit")


@dataclass(frozen=True, slots=True)
class CopiedTable:
    name: str
    rows: int


@dataclass(frozen=True, slots=True)
class ProjectCopy:
    """What was copied, table by table, and checked equal."""

    source: str
    target: str
    tables: tuple[CopiedTable, ...]

    def as_json(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "tables": {t.name: t.rows for t in self.tables}}


def copy_project(source: ProjectStore, target: ProjectStore,
                 progress: Callable[[str, int], None] | None = None) -> ProjectCopy:
    """Copy every row of `source` into `target`, a project just made and
    still empty, in one transaction; refuse where the target holds slides
    already.  `progress(table, rows)` hears of each table as it is done."""
    if target.read_only:
        raise StoreError(f"{target.display_name}: open read-only, nothing can be copied into it")
    if source.schema_version != target.schema_version:
        raise StoreError(f"{source.display_name}: project version {source.schema_version}, but "
                         f"{target.display_name} is version {target.schema_version}; open the source for editing "
                         "once so it is upgraded, then migrate it")
    if target.slides():
        raise StoreError(f"{target.display_name}: already holds slides; migrate into a new, empty project")
    copied = []
    with source.read_snapshot(), target.edit("Migrate project", record_history=False):
        for table in TABLES:
            rows = _source_rows(source, target, table)
            _write(target, table, rows)
            if _target_rows(target, table) != _comparable(rows, table):
                raise StoreError(f"{target.display_name}: the table {table} did not read back as copied from "
                                 f"{source.display_name}; nothing was written")
            copied.append(CopiedTable(table, len(rows)))
            if progress is not None:
                progress(table, len(rows))
        target.after_explicit_ids(TABLES)
    target.reload_after_copy()
    return ProjectCopy(source.display_name, target.display_name, tuple(copied))


def _source_rows(source: ProjectStore, target: ProjectStore, table: str) -> list[dict[str, Any]]:
    rows = [dict(row) for row in source.raw_rows(table)]
    if table == "meta":
        # Each engine's own bookkeeping (a server's schema version) stays its own.
        managed = source.engine_meta_keys() | target.engine_meta_keys()
        return [row for row in rows if row["key"] not in managed]
    if table == "slides":
        for row in rows:
            row["path"] = _path_for(target, stored_location(row["path"], source.folder))
    return rows


def _path_for(target: ProjectStore, absolute: str) -> str:
    # A server keeps the path as the source's computer wrote it (another
    # system's, maybe), which relative_path would take for a local one.
    return target.relative_path(absolute) if target.is_file else absolute


def _write(target: ProjectStore, table: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    if table == "meta":
        # The new project was given a taxonomy, a date and an id: the source's replace them.
        target.raw_execute("DELETE FROM meta WHERE key IN (" + ", ".join("?" for _ in rows) + ")",
                           [row["key"] for row in rows])
    placeholders = ", ".join("?" for _ in columns)
    target.raw_executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
                           [tuple(row[c] for c in columns) for row in rows])


def _target_rows(target: ProjectStore, table: str) -> list[tuple[Any, ...]]:
    rows = [dict(row) for row in target.raw_rows(table)]
    if table == "meta":
        managed = target.engine_meta_keys()
        rows = [row for row in rows if row["key"] not in managed]
    return _comparable(rows, table)


def _comparable(rows: Sequence[dict[str, Any]], table: str) -> list[tuple[Any, ...]]:
    key = "key" if table == "meta" else "id"
    return [tuple((name, _value(row[name])) for name in sorted(row))
            for row in sorted(rows, key=lambda row: row[key])]


def _value(value: Any) -> Any:
    # Both engines keep 64-bit floats; an integral REAL may come back as int.
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value
