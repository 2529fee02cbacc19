"""A damaged project file: found when it is opened, named in one line,
backed up before an import, and what is readable recovered into a new file.

Why here and not in core/store/: the store only needs to know that a file is
damaged; how to tell, how to keep a copy and how to salvage rows are their
own concerns, and none of them needs a ProjectStore.

A bad sector, a copy cut short or a sync tool writing over an open file
leaves SQLite pages that no longer parse.  SQLite then answers
"database disk image is malformed" from whichever query first reads such a
page, which may be long after opening.  `PRAGMA quick_check` reads every
page once (about 90 ms for a 100 MB project of 300,000 cells, warm), so the
store runs it on every open and a damaged file is refused before anything
reads or writes it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.store_schema import CURRENT_VERSION, migrate
from core.wording import counted

BACKUP_SUFFIX = ".bak"
_CORRUPT, _NOT_A_DATABASE = 11, 26  # SQLite's primary result codes for a damaged file
_MAX_PROBLEM = 160  # characters of quick_check's first complaint that the message quotes
_MAX_ROWID_GAP = 1_000_000  # how far past the damage recovery looks when the table's largest id is unreadable
# Copied in this order so a row's parent is there before it.
_TABLES = ("meta", "slides", "cells", "edits", "changes", "corrections", "audit")


def is_damage(error: BaseException) -> bool:
    """Whether an SQLite error says the file itself is damaged (rather than
    the disk full, the file locked or a constraint refused)."""
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_CORRUPT, _NOT_A_DATABASE)
    return type(error) is sqlite3.DatabaseError


def integrity_problem(connection: sqlite3.Connection) -> str | None:
    """None for a sound file, else SQLite's first complaint about it."""
    try:
        rows = connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as error:
        if not is_damage(error):
            raise
        return str(error)
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    if not problems:
        return None
    first = " ".join(problems[0].split())
    if len(first) > _MAX_PROBLEM:
        first = first[: _MAX_PROBLEM - 3] + "..."
    more = f" and {len(problems) - 1} more problems" if len(problems) > 1 else ""
    return f"{first}{more}"


def damage_message(project: Path, problem: str) -> str:
    """One line: the file, what is wrong, and how to get the readable part back."""
    backup = backup_path(project)
    kept = f", or go back to the copy kept before the last import ({backup})" if backup.is_file() else ""
    return (
        f"{project}: the project file is damaged ({problem}); recover what is readable into a new file with "
        f"`hemalabel recover --project {project} --out NEW.hemalabel`{kept}"
    )


def backup_path(project: Path) -> Path:
    return project.with_name(project.name + BACKUP_SUFFIX)


def back_up(connection: sqlite3.Connection, project: Path) -> Path:
    """Copy the project beside itself as `<name>.hemalabel.bak`, replacing
    the previous copy.  SQLite's backup API copies the file as one snapshot,
    the edits still in its WAL included; a partial copy never replaces the
    last good one (written under a temporary name, then renamed)."""
    target = backup_path(project)
    partial = target.with_name(target.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    copy = sqlite3.connect(partial)
    try:
        connection.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    except BaseException:
        copy.close()
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    copy.close()
    os.replace(partial, target)
    return target


# ------------------------------------------------------------------ recovery


@dataclass
class TableRecovery:
    """What came across of one table."""

    name: str
    recovered: int = 0
    unreadable_ids: list[tuple[int, int]] = field(default_factory=list)  # first and last id of each damaged run
    at_most_lost: int = 0  # ids whose row could not be read (some may never have held one)
    refused: int = 0  # rows read but not valid (a broken value, a parent lost)
    whole_table_lost: str | None = None

    def describe(self) -> str:
        if self.whole_table_lost:
            return f"{self.name}: unreadable ({self.whole_table_lost})"
        text = f"{self.name}: {counted(self.recovered, 'row')} recovered"
        if self.unreadable_ids:
            runs = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.unreadable_ids[:5])
            more = f" and {len(self.unreadable_ids) - 5} more runs" if len(self.unreadable_ids) > 5 else ""
            text += f"; up to {self.at_most_lost} lost (ids {runs}{more} unreadable)"
        if self.refused:
            text += f"; {self.refused} left out (broken values, or their slide or edit was lost)"
        return text

    @property
    def lost_anything(self) -> bool:
        return bool(self.whole_table_lost or self.unreadable_ids or self.refused)


@dataclass
class RecoveryReport:
    source: str
    out: str
    tables: list[TableRecovery] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not any(table.lost_anything for table in self.tables)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "out": self.out,
            "complete": self.complete,
            "tables": {
                table.name: {
                    "recovered": table.recovered,
                    "at_most_lost": table.at_most_lost,
                    "unreadable_ids": [list(run) for run in table.unreadable_ids],
                    "refused": table.refused,
                    "whole_table_lost": table.whole_table_lost,
                }
                for table in self.tables
            },
            "notes": self.notes,
        }


class RecoveryError(Exception):
    """Nothing could be recovered, or the new file cannot be written."""


def recover_project(source: Path, out: Path) -> RecoveryReport:
    """Copy every readable row of `source` into a new project `out`, table
    by table and row by row, stepping over damaged pages.  `source` is only
    read.  The new file is written under a temporary name and appears whole
    or not at all."""
    if not source.is_file():
        raise RecoveryError(f"{source}: no project file here")
    if out.exists():
        raise RecoveryError(f"{out}: a file already exists here; choose a new name for the recovered project")
    if out.resolve() == source.resolve():
        raise RecoveryError(f"{out}: recover into a new file, never over the damaged one")
    report = RecoveryReport(source=str(source), out=str(out))
    partial = out.with_name(out.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    damaged = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        try:
            version = int(damaged.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as error:
            raise RecoveryError(f"{source}: nothing is readable ({error})") from None
        if version > CURRENT_VERSION:
            raise RecoveryError(f"{source}: made by a newer HemaLabel (project version {version}); recover it there")
        fresh = sqlite3.connect(partial, isolation_level=None)
        try:
            migrate(fresh)
            fresh.execute("PRAGMA foreign_keys = OFF")  # parents are checked once all is copied
            fresh.execute("BEGIN")
            for table in _TABLES:
                report.tables.append(_copy_table(damaged, fresh, table))
            _drop_orphans(fresh, report)
            _keep_ids_unique(damaged, fresh)
            _restore_taxonomy(fresh, report)
            fresh.execute("COMMIT")
            nothing_recovered = not any(table.recovered for table in report.tables if table.name != "meta")
            if nothing_recovered and all(table.whole_table_lost for table in report.tables):
                raise RecoveryError(f"{source}: nothing is readable; its tables could not be found")
            fresh.execute("PRAGMA journal_mode = WAL")
        finally:
            fresh.close()
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    finally:
        damaged.close()
    os.replace(partial, out)
    return report


def _copy_table(damaged: sqlite3.Connection, fresh: sqlite3.Connection, table: str) -> TableRecovery:
    result = TableRecovery(table)
    wanted = [row[1] for row in fresh.execute(f"PRAGMA table_info({table})")]
    try:
        present = {row[1] for row in damaged.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError as error:
        result.whole_table_lost = str(error)
        return result
    if not present:
        result.whole_table_lost = "not in the file, or its description is damaged"
        return result
    columns = [name for name in wanted if name in present]
    names = ", ".join(columns)
    insert = f"INSERT INTO {table}({names}) VALUES ({', '.join('?' * len(columns))})"
    for row in _readable_rows(damaged, table, names, result):
        try:
            fresh.execute(insert, row)
        except sqlite3.Error:
            result.refused += 1
        else:
            result.recovered += 1
    return result


def _readable_rows(
    damaged: sqlite3.Connection, table: str, names: str, result: TableRecovery
) -> Iterator[tuple[Any, ...]]:
    """Every row that can be read, in id order.  A scan runs until it meets
    a damaged page; from there each id is looked up alone until one reads,
    and a scan starts again after it."""
    scan = f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid"
    lookup = f"SELECT rowid, {names} FROM {table} WHERE rowid = ?"
    after = -(2**63)
    upper: int | None = None
    while True:
        try:
            for row in damaged.execute(scan, (after,)):
                after = row[0]
                yield row[1:]
            return
        except sqlite3.DatabaseError:
            pass
        if upper is None:
            upper = _largest_id(damaged, table, after)
        candidate, run_start = max(after, 0) + 1, None
        while candidate <= upper:
            try:
                row = damaged.execute(lookup, (candidate,)).fetchone()
            except sqlite3.DatabaseError:
                run_start = candidate if run_start is None else run_start
                result.at_most_lost += 1
            else:
                if run_start is not None:
                    result.unreadable_ids.append((run_start, candidate - 1))
                    run_start = None
                if row is not None:
                    after = candidate
                    yield row[1:]
                    break
            candidate += 1
        if run_start is not None:
            result.unreadable_ids.append((run_start, candidate - 1))
        if candidate > upper:
            return


def _largest_id(damaged: sqlite3.Connection, table: str, after: int) -> int:
    queries = (f"SELECT max(rowid) FROM {table}", "SELECT seq FROM sqlite_sequence WHERE name = ?")
    for query, params in zip(queries, ((), (table,))):
        try:
            row = damaged.execute(query, params).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row and row[0] is not None:
            return int(row[0])
    return max(after, 0) + _MAX_ROWID_GAP


def _drop_orphans(fresh: sqlite3.Connection, report: RecoveryReport) -> None:
    """Rows whose parent was lost are left out: a cell of no slide is shown
    nowhere.  Undo history missing part of an edit would undo half a
    gesture, so where any of it was lost the history goes (the cells stay)."""
    tables = {table.name: table for table in report.tables}
    cells = fresh.execute("DELETE FROM cells WHERE slide_id NOT IN (SELECT id FROM slides)").rowcount
    tables["cells"].refused += cells
    tables["cells"].recovered -= cells
    if tables["edits"].lost_anything or tables["changes"].lost_anything:
        fresh.execute("DELETE FROM changes")
        fresh.execute("DELETE FROM edits")
        fresh.execute("UPDATE corrections SET edit_id = NULL")
        report.notes.append("the undo history was damaged and has been left out; the cells themselves are kept")


def _keep_ids_unique(damaged: sqlite3.Connection, fresh: sqlite3.Connection) -> None:
    """A cell id is never reused (history and the correction queue name
    cells by id): keep the old file's counter where it can be read."""
    try:
        row = damaged.execute("SELECT seq FROM sqlite_sequence WHERE name = 'cells'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    highest = [int(row[0])] if row and row[0] is not None else []
    for table, column in (("corrections", "cell_id"), ("changes", "cell_id")):
        value = fresh.execute(f"SELECT max({column}) FROM {table}").fetchone()[0]
        if value is not None:
            highest.append(int(value))
    if not highest:
        return
    seq = max(highest)
    if fresh.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'cells'").fetchone():
        fresh.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'cells'", (seq,))
    else:
        fresh.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('cells', ?)", (seq,))


def _restore_taxonomy(fresh: sqlite3.Connection, report: RecoveryReport) -> None:
    from core.taxonomy import Taxonomy, TaxonomyError, default_taxonomy

    row = fresh.execute("SELECT value FROM meta WHERE key = 'taxonomy'").fetchone()
    if row is not None:
        try:
            Taxonomy.from_json(row[0])
            return
        except (TaxonomyError, ValueError, TypeError, KeyError):
            fresh.execute("DELETE FROM meta WHERE key = 'taxonomy'")
    fresh.execute("INSERT INTO meta(key, value) VALUES ('taxonomy', ?)", (default_taxonomy().to_json(),))
    report.notes.append("the project's classes were unreadable; the default classes are used")
