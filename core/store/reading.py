"""Reading a project: its slides, cells and their counts, the audit trail,
what undo and redo would do, the correction queue, and the summary
`hemalabel info` prints.  ProjectStore adds the edits."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from core.differential import (
    CellGroup,
    CountsAs,
    Differential,
    awaits_review,
    counts_as,
    differential_of_groups,
)
from core.identity import Identity
from core.image_roots import NO_IMAGE_ROOTS, ImageRoots, stored_location
from core.schema import BlastFlag, Cell, CellKind, Correction, CorrectionAction, Slide, SlideStatus
from core.store import correction_queue, history
from core.store import trail as trail_rows
from core.store.dialect import Connection, Row
from core.store.errors import StoreError
from core.store.project_file import ProjectFile
from core.store.rows import KIND_OF, SLIDE_COLUMNS, of_slide, read_cells, slide_from_row
from core.wording import counted_verb


class CellTally(NamedTuple):
    """A slide's cells counted (`ProjectStore.cell_tallies`)."""

    white: int = 0
    red: int = 0
    platelet: int = 0
    unreviewed: int = 0
    unidentified: int = 0
    unreviewed_white: int = 0  # of `unreviewed`: what stands between the slide and its sign-off


_CELLS_NAMED = 5  # a sign-off refusal stays one line


class BlastTally(NamedTuple):
    """The lymphoid screen's flags on a slide or a project (`ProjectStore.blast_tally`)."""

    screened: int = 0  # white cells the screen looked at
    open: int = 0  # suspected, not yet decided: what stands between the slide and its sign-off
    confirmed: int = 0
    dismissed: int = 0

    @property
    def flagged(self) -> int:
        return self.open + self.confirmed + self.dismissed

    def blocker(self, cells: Sequence[int] = ()) -> str | None:
        """Why the flags hold back a sign-off (None: every flag is decided),
        naming the `cells` that carry them (ProjectReader.open_blast_flags)."""
        if not self.open:
            return None
        text = counted_verb(self.open, "suspected blast", "is", "are") + " not decided"
        if not cells:
            return text
        named = ", ".join(str(cell_id) for cell_id in cells[:_CELLS_NAMED])
        more = f" and {len(cells) - _CELLS_NAMED} more" if len(cells) > _CELLS_NAMED else ""
        return f"{text} ({'cell' if len(cells) == 1 else 'cells'} {named}{more})"

    def as_json(self) -> dict[str, Any]:
        """The tally as `hemalabel info --json` gives it."""
        return {"screened": self.screened, "suspected": self.flagged, "confirmed": self.confirmed,
                "dismissed": self.dismissed, "open": self.open, "line": self.line()}

    def headline(self) -> str:
        return f"Blasts suspected: {self.flagged} of {self.screened} lymphoid cells"

    def line(self) -> str:
        """What both reports say, and the differential panel's tooltip."""
        text = self.headline()
        if self.flagged:
            text += f" ({self.confirmed} confirmed, {self.dismissed} dismissed, {self.open} to decide)"
        return text


class ProjectReader(ProjectFile):
    """A project opened, as far as reading it goes."""

    # The user's mapping of the project's image folders to this computer's,
    # set by whoever opened the store; never written into the project.
    image_roots: ImageRoots = NO_IMAGE_ROOTS

    # ----------------------------------------------------------- slides
    def relative_path(self, image_path: str | os.PathLike[str]) -> str:
        """How an image is stored: relative to the project folder, with forward
        slashes, so the whole folder can be moved or shared across systems.
        A server project has no folder: its images are stored absolute, and
        each workstation's image roots map them to its own mount."""
        absolute = Path(os.path.abspath(image_path))
        if not self.is_file:
            return absolute.as_posix()
        try:
            relative = os.path.relpath(absolute, os.path.abspath(self.folder))
        except ValueError:  # another drive on Windows: nothing relative exists
            return absolute.as_posix()
        return Path(relative).as_posix()

    def image_path(self, slide: Slide) -> Path:
        """Where the slide's image is looked for on this computer: as stored,
        or under the local folder the user's image roots map it to."""
        mapped = self.image_roots.local(stored_location(slide.path, self.folder)) if self.image_roots else None
        if mapped is not None:
            return Path(mapped)
        stored = Path(slide.path)
        return stored if stored.is_absolute() else (self.folder / stored)

    def slide_by_path(self, image_path: str | os.PathLike[str]) -> Slide | None:
        with self._lock:
            return self._slide_row_by_path(self.relative_path(image_path))

    def _slide_row_by_path(self, relative: str) -> Slide | None:
        row = self._db.execute(f"SELECT {SLIDE_COLUMNS} FROM slides WHERE path = ?", (relative,)).fetchone()
        return slide_from_row(row) if row else None

    def slides(self) -> list[Slide]:
        with self._lock:
            rows = self._db.execute(f"SELECT {SLIDE_COLUMNS} FROM slides ORDER BY id").fetchall()
        return [slide_from_row(row) for row in rows]

    def slide(self, slide_id: int) -> Slide:
        with self._lock:
            return self._slide(slide_id)

    def _slide(self, slide_id: int) -> Slide:
        row = self._db.execute(f"SELECT {SLIDE_COLUMNS} FROM slides WHERE id = ?", (slide_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no slide with id {slide_id}")
        return slide_from_row(row)

    def audit_trail(self, slide_id: int | None = None) -> list[dict[str, Any]]:
        """Sign-offs and unlocks, oldest first; `reason` is an unlock's
        reason or a sign-off's comment.  A sign-off short of its target is
        followed by a 'below_target' entry: the count, the target and why."""
        where, params = of_slide(slide_id)
        actions = ", ".join("?" * len(trail_rows.SIGN_OFF_ACTIONS))
        where = f"{where} AND action IN ({actions})" if where else f" WHERE action IN ({actions})"
        with self._lock:
            query = f"SELECT at, slide_id, who, action, reason FROM audit{where} ORDER BY id"
            rows = self._db.execute(query, [*params, *trail_rows.SIGN_OFF_ACTIONS]).fetchall()
        return [dict(row) for row in rows]

    def trail(self, query: trail_rows.TrailQuery | None = None) -> list[trail_rows.TrailRecord]:
        """Every change of a cell and every sign-off and unlock `query`
        asks for, oldest first, as kept (core.audit_trail puts them in words)."""
        with self._lock:
            return trail_rows.read(self._db, query or trail_rows.TrailQuery())

    def trail_users(self) -> list[str]:
        """Everyone the audit trail names."""
        with self._lock:
            return trail_rows.users(self._db)

    def reviewers(self) -> dict[int, list[str]]:
        """By slide, who decided on its cells (decisions that stand) and who signed it off."""
        with self._lock:
            return trail_rows.reviewers(self._db)

    # ----------------------------------------------------------- reading cells
    def cells(self, slide_id: int | None = None, kind: CellKind | None = None) -> list[Cell]:
        clauses: list[str] = []
        params: list[int | str] = []
        if slide_id is not None:
            clauses.append("slide_id = ?")
            params.append(slide_id)
        if kind is not None:
            # "+kind": not through cells_by_group, which SQLite would pick for
            # a whole project's cells of one kind, then sort them by id: 125 ms
            # for 50,000 white cells of 150,000, against 92 ms reading the table.
            clauses.append(f"{self._dialect.unindexed('kind')} = ?")
            params.append(kind.value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            return read_cells(self._db, where, params)

    def cell_tallies(self, slide_id: int | None = None) -> dict[int, CellTally]:
        """Per slide (or for one): how many cells of each kind, how many not
        reviewed, how many Unidentified; Unidentified and unreviewed white
        cells by the differential's own rule (`core.differential.counts_as`,
        `awaits_review`), so the slide list says what the panel says."""
        tallies = {}
        for slide, groups in self.cell_groups_by_slide(slide_id).items():
            kinds: Counter[CellKind] = Counter()
            unreviewed = unidentified = unreviewed_white = 0
            for (kind, label, reviewed), n in groups.items():
                kinds[kind] += n
                unreviewed += 0 if reviewed else n
                unidentified += n if counts_as(kind, label, self.taxonomy) is CountsAs.UNIDENTIFIED else 0
                unreviewed_white += n if awaits_review(kind, reviewed) else 0
            tallies[slide] = CellTally(kinds[CellKind.WHITE], kinds[CellKind.RED], kinds[CellKind.PLATELET],
                                       unreviewed, unidentified, unreviewed_white)
        return tallies

    def cell_groups_by_slide(self, slide_id: int | None = None) -> dict[int, dict[CellGroup, int]]:
        """`cell_groups` for every slide with cells (or for one), in one query:
        counted by SQLite, as a 500-slide project holds 150,000 cells and
        reading them all as Cells to count them takes seconds."""
        where, params = of_slide(slide_id)
        query = (
            f"SELECT slide_id, kind, label, reviewed, COUNT(*) AS n FROM cells{where} "
            "GROUP BY slide_id, kind, label, reviewed"
        )
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        groups: dict[int, dict[CellGroup, int]] = {}
        for row in rows:
            groups.setdefault(row["slide_id"], {})[_group_of(row)] = int(row["n"])
        return groups

    def cell_groups(self, slide_id: int | None = None) -> dict[CellGroup, int]:
        """How many cells of one slide, or of the whole project, there are of
        each (kind, label, reviewed): all a differential count needs, counted
        by SQLite (a 500-slide project's 150,000 cells are not read)."""
        where, params = of_slide(slide_id)
        query = f"SELECT kind, label, reviewed, COUNT(*) AS n FROM cells{where} GROUP BY kind, label, reviewed"
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return {_group_of(row): int(row["n"]) for row in rows}

    def blast_tally(self, slide_id: int | None = None) -> BlastTally:
        """The screen's flags on the white cells of one slide, or of the whole
        project, counted by SQLite.  A cell marked red or platelet is not the
        screen's: the gallery does not show it, so it has no flag to decide."""
        where, params = self._white_cells(slide_id)
        query = f"SELECT blast_flag, COUNT(*) AS n FROM cells{where} GROUP BY blast_flag"
        with self._lock:
            counts = {row["blast_flag"]: int(row["n"]) for row in self._db.execute(query, params)}
        return BlastTally(
            screened=sum(n for flag, n in counts.items() if flag is not None),
            open=counts.get(BlastFlag.SUSPECTED.value, 0),
            confirmed=counts.get(BlastFlag.CONFIRMED.value, 0),
            dismissed=counts.get(BlastFlag.DISMISSED.value, 0),
        )

    def open_blast_flags(self, slide_id: int) -> list[int]:
        """The white cells of a slide whose suspected-blast flag nobody has decided, by id."""
        where, params = self._white_cells(slide_id)
        query = f"SELECT id FROM cells{where} AND blast_flag = ? ORDER BY id"
        with self._lock:
            return [int(row["id"]) for row in self._db.execute(query, (*params, BlastFlag.SUSPECTED.value))]

    def _white_cells(self, slide_id: int | None) -> tuple[str, tuple[Any, ...]]:
        # Unindexed kind: SQLite keeps to the slide's index (or the table) rather than cells_by_group.
        where, params = of_slide(slide_id)
        kind = f"{self._dialect.unindexed('kind')} = ?"
        return f"{where} AND {kind}" if where else f" WHERE {kind}", (*params, CellKind.WHITE.value)

    def differential(self, slide_id: int | None = None) -> Differential:
        """The differential count of one slide, or of the whole project."""
        return differential_of_groups(self.cell_groups(slide_id), self.taxonomy)

    def cell(self, cell_id: int) -> Cell:
        with self._lock:
            cell = self._cell_or_none(cell_id)
        if cell is None:
            raise StoreError(f"{self.path}: no cell with id {cell_id}")
        return cell

    def _cell_or_none(self, cell_id: int) -> Cell | None:
        cells = read_cells(self._db, " WHERE id = ?", (cell_id,))
        return cells[0] if cells else None

    # ----------------------------------------------------------- undo / redo
    def can_undo(self) -> bool:
        return self.undo_description() is not None

    def can_redo(self) -> bool:
        return self.redo_description() is not None

    def undo_description(self) -> str | None:
        with self._lock:
            return history.next_description(self._db, undo=True, owner=self._undo_owner)

    def redo_description(self) -> str | None:
        with self._lock:
            return history.next_description(self._db, undo=False, owner=self._undo_owner)

    @property
    def _undo_owner(self) -> Identity | None:
        """Whose steps undo and redo play: on a server project, where several
        stations edit, this store's identity's only; on a file, which one
        station edits at a time, every step (initials changed halfway
        through a session still undo what went before)."""
        return None if self.is_file else self.identity

    # ----------------------------------------------------------- the correction queue
    def corrections(self, include_retracted: bool = False, since_id: int = 0) -> list[Correction]:
        """The people's decisions after `since_id`, oldest first; those whose
        step was undone only with `include_retracted`."""
        with self._lock:
            return correction_queue.queued(self._db, include_retracted, since_id)

    def corrections_with_cells(self, actions: tuple[CorrectionAction, ...]) -> list[tuple[Correction, Cell]]:
        """The standing corrections of these actions, oldest first, each with
        its cell as it was before it: what a deleted or re-kinded box was."""
        with self._lock:
            return correction_queue.cells_before(self._db, actions)

    # ----------------------------------------------------------- summaries
    def summary(self) -> dict[str, Any]:
        """Counts for `hemalabel info`: the server (its version, the user and
        whether they may write; None for a file), slides by status, cells by kind and class,
        reviewed cells, queued corrections, each slide's sample identifier
        and differential (by path) and the project's, as the panel and the reports count it."""
        groups = self.cell_groups_by_slide()
        with self._lock:
            slide_rows = self._db.execute(f"SELECT {SLIDE_COLUMNS} FROM slides ORDER BY id").fetchall()
            slides_by_status = _counts(self._db, "SELECT status AS key, COUNT(*) AS n FROM slides GROUP BY status")
            by_kind = _counts(self._db, "SELECT kind AS key, COUNT(*) AS n FROM cells GROUP BY kind")
            reviewed_by_kind = _counts(
                self._db, "SELECT kind AS key, COUNT(*) AS n FROM cells WHERE reviewed = 1 GROUP BY kind"
            )
            by_class: dict[str, dict[str, int]] = {}
            for row in self._db.execute("SELECT kind, label, COUNT(*) AS n FROM cells GROUP BY kind, label"):
                by_class.setdefault(row["kind"], {})[row["label"] or "(unclassified)"] = row["n"]
            labelled_white_slides = self._db.execute(
                "SELECT COUNT(DISTINCT slide_id) AS n FROM cells WHERE kind = 'white' AND label IS NOT NULL"
            ).fetchone()["n"]
            queued = correction_queue.queued_count(self._db)
        kinds = [kind.value for kind in CellKind]
        slides = [slide_from_row(row) for row in slide_rows]
        facts = self.server_facts()
        return {
            "project": str(self.path),
            "schema_version": self.schema_version,
            "server": None if facts is None else {"version": facts.server_version, "user": facts.user,
                                                  "may_write": facts.may_write},
            "read_only": self.read_only,
            "edited_elsewhere_by": self.edited_elsewhere_by,
            "slides": sum(slides_by_status.values()),
            "slides_by_status": {status.value: slides_by_status.get(status.value, 0) for status in SlideStatus},
            "cells": {kind: by_kind.get(kind, 0) for kind in kinds},
            "reviewed": {kind: reviewed_by_kind.get(kind, 0) for kind in kinds},
            "classes": {kind: by_class.get(kind, {}) for kind in kinds},
            "slides_with_white_cell_type": labelled_white_slides,
            "queued_corrections": queued,
            "lymphoid_screen": self.blast_tally().as_json(),
            "samples": {slide.path: slide.sample_id for slide in slides},
            "differential": {
                "total": self.differential().as_dict(),
                "slides": {
                    slide.path: differential_of_groups(groups.get(slide.id, {}), self.taxonomy).as_dict()
                    for slide in slides
                },
            },
        }


def _group_of(row: Row) -> CellGroup:
    return (KIND_OF[row["kind"]], row["label"], bool(row["reviewed"]))


def _counts(db: Connection, query: str) -> dict[str, int]:
    """A query's rows of (key, n) as a dict."""
    return {row["key"]: int(row["n"]) for row in db.execute(query)}
