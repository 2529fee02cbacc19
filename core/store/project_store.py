"""ProjectStore: a project opened for reading and editing, the one door
through which every view and command changes a project.

Each edit is one transaction and, where a person or a model changed cells,
one undo step (`core.store.history`); a person's decisions also enter the
correction queue (`core.store.correction_queue`).  Opening, transactions and
announcements are `ProjectFile`'s; reading is `ProjectReader`'s.
"""

from __future__ import annotations

import functools
import json
import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from core.differential import DEFAULT_TARGET, class_refusal
from core.schema import (
    BELOW_TARGET_KEY,
    COMMENT_KEY,
    SAMPLE_ID_KEY,
    SIGNED_TARGET_KEY,
    BlastFlag,
    BlastScreen,
    Box,
    Cell,
    CellKind,
    CorrectionAction,
    LabelSource,
    NewCell,
    Slide,
    SlideStatus,
)
from core.store import correction_queue, history
from core.store.claims import TAKE_OVER, ClaimHolder, Claims
from core.store.edit_conflict import conflict_error
from core.store.errors import (
    ClassKindError,
    SignOffRefusedError,
    SlideClaimedError,
    SlideLockedError,
    StoreError,
    UndoConflictError,
)
from core.store.events import StoreEvent, StoreEventKind
from core.store.history import NUDGE_DESCRIPTION, HistoryStep
from core.store.reading import ProjectReader
from core.store.rows import (
    DELETE_CELL_AS_READ,
    INSERT_CELL,
    INSERT_CELL_WITH_ID,
    UPDATE_CELL,
    UPDATE_CELL_AS_READ,
    cell_parameters,
    now_iso,
)
from core.store.trail import SLIDE_ADDED
from core.taxonomy import BLAST

# What a station showed of the cells an edit is on: {cell id: Cell.row_version}.
Seen = Mapping[int, int]

_T = TypeVar("_T")

# Long enough for any accession or sample number a lab prints; short enough for a report's heading.
MAX_SAMPLE_ID = 64
_SIGN_OFF_KEYS = (COMMENT_KEY, SIGNED_TARGET_KEY, BELOW_TARGET_KEY)  # a sign-off writes them afresh


class ProjectStore(ProjectReader):
    """A project opened for reading and editing.  Use `ProjectStore.open` or
    `ProjectStore.create`; close it (or use it as a context manager) when done."""

    # ----------------------------------------------------------- slides
    def add_slide(
        self, image_path: str | os.PathLike[str], width: int, height: int, attributes: dict[str, Any] | None = None
    ) -> Slide:
        """Add an image, or return the slide that already refers to it."""
        relative = self.relative_path(image_path)
        with self.edit("Add slide", record_history=False):
            existing = self._slide_row_by_path(relative)
            if existing is not None:
                return existing
            row = self._db.execute(
                "INSERT INTO slides(path, width, height, status, added_at, attributes) VALUES (?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (relative, int(width), int(height), SlideStatus.NEW.value, now_iso(), json.dumps(attributes or {})),
            ).fetchone()
            slide = self._slide(int(row[0]))
            # Who brought each image into the project belongs in its trail.
            self._record_audit(slide.added_at, slide.id, self.identity.user, SLIDE_ADDED, relative)
            self._emit(StoreEvent(StoreEventKind.SLIDE_ADDED, slide.id))
            return slide

    def update_slide_attributes(self, slide_id: int, **attributes: Any) -> Slide:
        with self.edit("Update slide", record_history=False):
            slide = self._slide(slide_id)
            merged = {**slide.attributes, **attributes}
            self._db.execute("UPDATE slides SET attributes = ? WHERE id = ?", (json.dumps(merged), slide_id))
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def set_sample_id(self, slide_id: int, sample_id: str) -> Slide:
        """Name the sample a slide is of (what the report is headed with).
        Blank goes back to the image's file stem.  Refused on a signed slide,
        as any other edit: the signed report names its sample.  Not an undo
        step: the history holds cell edits, and Ctrl+Z is for those."""
        text = sample_id.strip()
        if len(text) > MAX_SAMPLE_ID:
            raise StoreError(f"a sample identifier is at most {MAX_SAMPLE_ID} characters, not {len(text)}")
        if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text):
            raise StoreError("a sample identifier is one line of printable characters")
        with self.edit("Set sample identifier", record_history=False):
            self._check_unlocked(slide_id)
            slide = self._slide(slide_id)
            attributes = {key: value for key, value in slide.attributes.items() if key != SAMPLE_ID_KEY}
            if text:
                attributes[SAMPLE_ID_KEY] = text
            if attributes != slide.attributes:
                self._db.execute("UPDATE slides SET attributes = ? WHERE id = ?", (json.dumps(attributes), slide_id))
                self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def relocate_slide(self, slide_id: int, image_path: str | os.PathLike[str], width: int, height: int) -> Slide:
        """Point a slide at its image's new place (the technician used Locate
        after the file was moved).  Cells are kept; the caller checks that the
        image is the same size so the boxes still fit."""
        relative = self.relative_path(image_path)
        with self.edit("Locate image", record_history=False):
            slide = self._slide(slide_id)
            other = self._slide_row_by_path(relative)
            if other is not None and other.id != slide_id:
                raise StoreError(f"{image_path}: already in this project as another slide")
            if (int(width), int(height)) != (slide.width, slide.height):
                raise StoreError(
                    f"{image_path}: is {width}x{height} pixels but {slide.path} was {slide.width}x{slide.height}; "
                    "choose the same image"
                )
            self._db.execute("UPDATE slides SET path = ? WHERE id = ?", (relative, slide_id))
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def mark_detected(self, slide_id: int, detector_version: str) -> Slide:
        """The detector has looked at this slide.  A new slide becomes
        proposed even when nothing was found, so that the slide list tells a
        field without cells from a field nobody has run the detector on."""
        with self.edit("Detect cells", record_history=False):
            self._set_status_if(slide_id, SlideStatus.NEW, SlideStatus.PROPOSED)
            return self.update_slide_attributes(slide_id, detector_version=detector_version)

    def set_slide_status(self, slide_id: int, status: SlideStatus) -> None:
        with self.edit("Set slide status", record_history=False):
            self._set_status(slide_id, status)

    def _set_status(self, slide_id: int, status: SlideStatus) -> None:
        current = self._db.execute("SELECT status FROM slides WHERE id = ?", (slide_id,)).fetchone()
        if current is None or current["status"] == status.value:
            return
        self._db.execute("UPDATE slides SET status = ? WHERE id = ?", (status.value, slide_id))
        self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))

    def _touch_for_review(self, slide_id: int) -> None:
        """A human edit moves a slide into review."""
        self._set_status(slide_id, SlideStatus.IN_REVIEW)

    def _check_unlocked(self, slide_id: int) -> None:
        """The one door every edit of a slide passes: refused on a signed
        slide, and, for a store that reviews (it claims slides: a window),
        on one another station has open for review.  A command claims
        nothing and edits as before: a model run over every slide is not
        stopped by the slide a technician has open."""
        row = self._db.execute("SELECT status, path FROM slides WHERE id = ?", (slide_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no slide with id {slide_id}")
        if row["status"] == SlideStatus.SIGNED_OFF.value:
            raise SlideLockedError(f"{row['path']} is signed off; unlock it with a reason before editing")
        self._check_not_claimed(slide_id, row["path"])

    def _check_not_claimed(self, slide_id: int, image: str) -> None:
        holder = self._claims.holder(slide_id) if self._reviewing else None
        if holder is not None:
            raise SlideClaimedError(f"{self.path}: {Path(image).name} is {holder.describe()}; "
                                    "take it over with a reason to edit it here")

    # ----------------------------------------------------------- sign-off
    def sign_off(
        self,
        slide_id: int,
        who: str,
        comment: str = "",
        *,
        target: int = DEFAULT_TARGET,
        below_target_reason: str = "",
    ) -> Slide:
        """Sign a slide off: refused while any white cell is Unidentified
        (without a class, too) or unreviewed, so a signed count is always final.
        `comment`: what the reviewer adds to the count for the report (red
        cell and platelet morphology, say), kept in the slide's attributes
        (through an unlock, for the next sign-off) and in the audit trail.
        `target`: the white cells the count should reach.  A count short of it
        (and a count of none, always) is signed only with a
        `below_target_reason`, which the slide, the audit trail and the
        report keep beside the count."""
        if not who.strip():
            raise StoreError("sign-off needs the reviewer's name or initials")
        if target < 1:
            raise StoreError(f"a sign-off's target is at least 1 white cell, not {target}")
        with self.edit("Sign off slide", record_history=False):
            self._check_unlocked(slide_id)
            slide = self._slide(slide_id)
            count = self.differential(slide_id)
            blockers = count.blockers()
            flags = self.blast_tally(slide_id).blocker(self.open_blast_flags(slide_id))
            if flags:
                blockers.append(flags)
            if blockers:
                raise SignOffRefusedError(f"{slide.path} cannot be signed off: " + "; ".join(blockers))
            # A reason given for a count that reaches its target is not recorded: nothing needed one.
            reason = below_target_reason.strip() if count.below_target(target) else ""
            if count.below_target(target) and not reason:
                raise SignOffRefusedError(
                    f"{slide.path} cannot be signed off: {count.counted} of the {target} white cells targeted "
                    "are counted; give the reason for signing a count short of its target"
                )
            at = now_iso()
            attributes = {key: value for key, value in slide.attributes.items() if key not in _SIGN_OFF_KEYS}
            if comment.strip():
                attributes[COMMENT_KEY] = comment.strip()
            attributes[SIGNED_TARGET_KEY] = target
            if reason:
                attributes[BELOW_TARGET_KEY] = reason
            self._db.execute(
                "UPDATE slides SET status = ?, signed_off_by = ?, signed_off_at = ?, attributes = ? WHERE id = ?",
                (SlideStatus.SIGNED_OFF.value, who.strip(), at, json.dumps(attributes), slide_id),
            )
            self._record_audit(at, slide_id, who.strip(), "sign_off", comment.strip())
            if reason:
                # Its own row, so the trail says plainly which sign-offs were short and why.
                self._record_audit(at, slide_id, who.strip(), "below_target",
                                   f"{count.counted} of {target} white cells counted: {reason}")
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def unlock(self, slide_id: int, who: str, reason: str) -> Slide:
        """Reopen a signed slide for editing.  The comment stays for the next
        sign-off; the target and any below-target reason go with the count
        they were given for (the audit trail keeps them)."""
        if not reason.strip():
            raise StoreError("unlocking a signed-off slide needs a reason")
        with self.edit("Unlock slide", record_history=False):
            slide = self._slide(slide_id)
            self._check_not_claimed(slide_id, slide.path)  # reopened under the station that has it open
            attributes = {key: value for key, value in slide.attributes.items()
                          if key not in (SIGNED_TARGET_KEY, BELOW_TARGET_KEY)}
            self._db.execute(
                "UPDATE slides SET status = ?, signed_off_by = NULL, signed_off_at = NULL, attributes = ? WHERE id = ?",
                (SlideStatus.IN_REVIEW.value, json.dumps(attributes), slide_id),
            )
            self._record_audit(now_iso(), slide_id, who, "unlock", reason.strip())
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return self._slide(slide_id)

    def _record_audit(self, at: str, slide_id: int, who: str, action: str, reason: str) -> None:
        """A sign-off, unlock or image added in the audit table: `who` as the
        reviewer gave it (the store's user for an image), the workstation as
        this store's identity has it."""
        self._db.execute(
            "INSERT INTO audit(at, slide_id, who, action, reason, workstation) VALUES (?, ?, ?, ?, ?, ?)",
            (at, slide_id, who, action, reason, self.identity.workstation),
        )

    # ----------------------------------------------------------- claims
    # A window claims the slide it shows for review (core.store.claims);
    # other stations see who holds it and edit it only after taking it over.
    _reviewing = False  # this store has claimed a slide: others' claims refuse its edits

    @functools.cached_property
    def _claims(self) -> Claims:
        claims = Claims(self._db)
        if self.is_file and not self.read_only:
            with self._lock:
                self._claim_step("open", claims.forget_other_stations)
        return claims

    @property
    def station(self) -> str:
        """This open store's id among the stations claiming slides."""
        return self._claims.station

    def claim(self, slide_id: int) -> ClaimHolder | None:
        """Claim a slide for review here (or renew the claim): None.  Held by
        another live station: who holds it, and nothing is written.  A
        read-only store claims nothing; it only says who holds the slide."""
        if self.read_only:
            return self.claim_holder(slide_id)
        with self._lock:
            self._reviewing = True
            return self._claim_step("claim", lambda: self._claims.take(slide_id, self.identity))

    def claim_holder(self, slide_id: int) -> ClaimHolder | None:
        """Another live station's claim on the slide, if any."""
        with self._lock:
            return self._claim_step("read", lambda: self._claims.holder(slide_id))

    def held_elsewhere(self, slide_id: int) -> ClaimHolder | None:
        """The other station's claim that refuses this store's edits of the
        slide, if any: none for a store that claims nothing (a command)."""
        return self.claim_holder(slide_id) if self._reviewing else None

    def claims_of_others(self) -> dict[int, ClaimHolder]:
        """Every slide another live station holds, and who."""
        with self._lock:
            return self._claim_step("read", self._claims.held_by_others)

    def take_over(self, slide_id: int, reason: str) -> ClaimHolder | None:
        """Claim a slide whoever holds it.  Taken from another live station,
        the audit trail records it (who took it, the reason, who held it);
        returns that station's claim."""
        if not reason.strip():
            raise StoreError(f"{self.path}: taking over a slide another station has open needs a reason")
        with self.edit("Take over slide", record_history=False):
            self._reviewing = True
            self._slide(slide_id)  # refused, naming it, when there is no such slide
            held = self._claims.take_from_anyone(slide_id, self.identity)
            if held is not None:
                self._record_audit(now_iso(), slide_id, self.identity.user, TAKE_OVER,
                                   f"{reason.strip()} (held by {held.who} on {held.workstation} since {held.since})")
                # Announced, so the station that held it hears within a second, not at its next beat.
                self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return held

    def release(self, slide_id: int) -> None:
        """Leave a slide: another station may claim it at once."""
        if not self.read_only:
            with self._lock:
                self._claim_step("release", lambda: self._claims.release(slide_id))

    def heartbeat(self) -> set[int]:
        """Renew every claim of this station (a window's timer calls it well
        within CLAIM_TIMEOUT_S); returns the slides it still holds."""
        if self.read_only:
            return set()
        with self._lock:
            return self._claim_step("renew", self._claims.beat)

    def _claim_step(self, verb: str, step: Callable[[], _T]) -> _T:
        try:
            return step()
        except self._dialect.errors as error:
            raise StoreError(f"{self.path}: cannot {verb} the claims on slides "
                             f"({' '.join(str(error).split())})") from error

    def close(self) -> None:
        """Give back this station's claims (other stations may take its
        slides at once, not after the timeout), then close."""
        with self._lock:
            if "_claims" in self.__dict__ and not self.read_only:
                try:
                    self._claims.release()
                except self._dialect.errors + (StoreError,):
                    pass  # a server gone: the claims lapse by themselves
        super().close()

    # ----------------------------------------------------------- model and import writes
    def add_cells(self, slide_id: int, cells: Sequence[NewCell], description: str = "Add cells") -> list[Cell]:
        """Add cells in one step.  Human-made cells enter the correction queue
        as 'add'; model proposals and imported cells do not."""
        with self.edit(description, record_history=not _all_imported(cells)):
            self._check_unlocked(slide_id)
            added = [self._insert_cell(slide_id, new) for new in cells]
            if any(new.source is LabelSource.MODEL for new in cells):
                self._set_status_if(slide_id, SlideStatus.NEW, SlideStatus.PROPOSED)
            if any(new.source is LabelSource.HUMAN for new in cells):
                self._touch_for_review(slide_id)
            self._emit(StoreEvent(StoreEventKind.CELLS_ADDED, slide_id, tuple(c.id for c in added)))
            return added

    def add_cell(self, slide_id: int, box: Box, kind: CellKind, label: str | None = None) -> Cell:
        """A cell the technician drew."""
        new = NewCell(box=box, kind=kind, label=label, source=LabelSource.HUMAN, reviewed=True)
        return self.add_cells(slide_id, [new], description="Draw box")[0]

    def _insert_cell(self, slide_id: int, new: NewCell) -> Cell:
        self._check_label(new.label)
        row = self._db.execute(INSERT_CELL + " RETURNING id", cell_parameters(new, slide_id)).fetchone()
        cell = self._cell_or_none(int(row[0]))
        assert cell is not None
        edit_id = self._record(cell.id, None, cell)
        if new.source is LabelSource.HUMAN:
            correction_queue.queue(self._db, edit_id, cell, CorrectionAction.ADD, old=None, new=cell)
        return cell

    def _set_status_if(self, slide_id: int, expected: SlideStatus, status: SlideStatus) -> None:
        row = self._db.execute("SELECT status FROM slides WHERE id = ?", (slide_id,)).fetchone()
        if row and row["status"] == expected.value:
            self._set_status(slide_id, status)

    def set_predictions(
        self,
        predictions: Sequence[tuple[int, str, dict[str, float]]],
        model_version: str,
        description: str = "Classify",
    ) -> None:
        """Write a model's (cell_id, label, probabilities).  Cells a human has
        already decided keep their label; the model's view is still stored so
        the queue can tell what it thought."""
        with self.edit(description):
            touched: dict[int, list[int]] = {}
            for cell_id, label, probabilities in predictions:
                before = self._cell_or_none(cell_id)
                if before is None:
                    continue
                self._check_unlocked(before.slide_id)
                self._check_label(label)
                human_owned = before.source is not LabelSource.MODEL
                after = before.with_changes(
                    label=before.label if human_owned else label,
                    probabilities=dict(probabilities),
                    model_version=model_version,
                )
                self._write_cell(before, after)
                touched.setdefault(before.slide_id, []).append(cell_id)
            for slide_id, ids in touched.items():
                self._set_status_if(slide_id, SlideStatus.NEW, SlideStatus.PROPOSED)
                self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, slide_id, tuple(ids)))

    def set_taught_predictions(
        self, predictions: Sequence[tuple[int, str, dict[str, float]]], model_version: str
    ) -> int:
        """Write what the project taught (core.project_learning) onto model
        proposals nobody reviewed.  No undo step: the predictions follow
        from the reviewed cells, whose own edits undo them.  Cells a person
        decided since, and signed slides, are left alone; returns how many
        cells were written."""
        written: dict[int, list[int]] = {}
        signed: dict[int, bool] = {}  # by slide, asked once per slide
        with self.edit("Update predictions", record_history=False):
            for cell_id, label, probabilities in predictions:
                before = self._cell_or_none(cell_id)
                if before is None or before.reviewed or before.source is not LabelSource.MODEL:
                    continue
                if before.slide_id not in signed:
                    signed[before.slide_id] = self.slide(before.slide_id).status is SlideStatus.SIGNED_OFF
                if signed[before.slide_id]:
                    continue
                self._check_label(label)
                self._write_cell(before, before.with_changes(label=label, probabilities=dict(probabilities),
                                                             model_version=model_version))
                written.setdefault(before.slide_id, []).append(cell_id)
            for slide_id, ids in written.items():
                self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, slide_id, tuple(ids)))
        return sum(len(ids) for ids in written.values())

    def kept_by_history(self, cell_id: int) -> bool:
        """Whether the undo history in force leaves this cell standing."""
        with self._lock:
            return history.kept_by_history(self._db, cell_id)

    def set_withheld_proposals(self, slide_id: int, withdraw: Sequence[int], put: Sequence[Cell],
                               withheld: dict[str, Any] | None, attribute: str) -> int:
        """Write what the project's box corrections teach onto one slide's
        model proposals (core.detection.withheld_proposals): `withdraw` taken
        out of the cells, `put` given back or re-kinded, each under its own
        id, and `withheld` (what the lesson holds back, to give back later)
        kept in the slide's `attribute`.  No undo step and no correction: it
        follows from the reviewed slides, whose own edits undo it.  Only
        proposals nobody decided are changed; a cell given back must be one
        the history in force keeps; a signed slide is left alone.  Returns
        how many cells were written."""
        with self.edit("Apply box lesson", record_history=False):
            if self._slide(slide_id).status is SlideStatus.SIGNED_OFF:
                return 0
            removed, added, changed = [], [], []
            for cell_id in withdraw:
                cell = self._cell_or_none(cell_id)
                if cell is not None and cell.slide_id == slide_id and _undecided_proposal(cell):
                    self._delete_cell_row(cell)
                    removed.append(cell_id)
            for after in put:
                before = self._cell_or_none(after.id)
                if before is None and history.kept_by_history(self._db, after.id):
                    self._db.execute(INSERT_CELL_WITH_ID, cell_parameters(after, slide_id, after.id))
                    added.append(after.id)
                elif before is not None and before.slide_id == slide_id and _undecided_proposal(before):
                    self._update_cell_row(before, before.with_changes(kind=after.kind))
                    changed.append(after.id)
            self._db.execute("UPDATE slides SET attributes = ? WHERE id = ?",
                             (json.dumps({**self._slide(slide_id).attributes, attribute: withheld}), slide_id))
            for kind, ids in ((StoreEventKind.CELLS_REMOVED, removed), (StoreEventKind.CELLS_ADDED, added),
                              (StoreEventKind.CELLS_CHANGED, changed)):
                if ids:
                    self._emit(StoreEvent(kind, slide_id, tuple(ids)))
            self._emit(StoreEvent(StoreEventKind.SLIDE_CHANGED, slide_id))
            return len(removed) + len(added) + len(changed)

    def record_screen(
        self,
        slide_id: int,
        verdicts: Sequence[tuple[int, float, str, bool]],
        model_version: str,
        description: str = "Screen for blasts",
    ) -> int:
        """Write the lymphoid screen's (cell_id, P(blast), subtype, suspected)
        for a slide, as the slide's screen from now on: a cell screened before
        and not now (no longer lymphoid) loses its verdict, unless it is a
        white cell's open flag, which only a person's decision ends (dropped
        unseen, a blast would be missed; a cell a person marked red or
        platelet has none).  A flag a person decided is kept as decided.
        One undo step; returns the cells changed."""
        with self.edit(description):
            self._check_unlocked(slide_id)
            given = {cell_id: (p, subtype, suspected) for cell_id, p, subtype, suspected in verdicts}
            changed = []
            for cell in self.cells(slide_id):
                if cell.screen is not None and cell.screen.flag in (BlastFlag.CONFIRMED, BlastFlag.DISMISSED):
                    continue
                verdict = given.get(cell.id)
                if verdict is None and cell.open_blast_flag:
                    continue
                screen = None if verdict is None else BlastScreen(
                    float(verdict[0]), verdict[1], BlastFlag.SUSPECTED if verdict[2] else BlastFlag.NONE,
                    model_version)
                if screen != cell.screen:
                    self._write_cell(cell, cell.with_changes(screen=screen))
                    changed.append(cell.id)
            if changed:
                self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, slide_id, tuple(changed)))
            return len(changed)

    def decide_blast(self, cell_ids: Sequence[int], confirmed: bool, description: str, *,
                     seen: Seen | None = None) -> None:
        """The technician's decision on flagged cells: confirmed, the cell
        becomes a reviewed Blast (the taxonomy must hold the class); dismissed,
        the flag is set aside and the cell keeps its class.  Each a correction."""
        if confirmed:
            self._check_label(BLAST)
        with self.edit(description):
            for cell in self._human_targets(cell_ids, seen):
                if cell.screen is None or not cell.screen.flagged:
                    raise StoreError(f"{self.path}: cell {cell.id} carries no flag of the blast screen")
                if confirmed:
                    after = cell.with_changes(label=BLAST, source=LabelSource.HUMAN, reviewed=True,
                                              screen=replace(cell.screen, flag=BlastFlag.CONFIRMED))
                else:
                    after = cell.with_changes(screen=replace(cell.screen, flag=BlastFlag.DISMISSED))
                action = CorrectionAction.CONFIRM_BLAST if confirmed else CorrectionAction.DISMISS_BLAST
                edit_id = self._write_cell(cell, after)
                correction_queue.queue(self._db, edit_id, cell, action, old=cell, new=after)
            self._emit_changed(cell_ids)

    def remove_model_proposals(self, cell_ids: Sequence[int]) -> None:
        """Drop unreviewed model proposals (a new detection run replaces them).
        Undoable, but no human decided anything, so nothing is queued."""
        with self.edit("Replace proposals"):
            removed: dict[int, list[int]] = {}
            for cell_id in cell_ids:
                cell = self._cell_or_none(cell_id)
                if cell is None or cell.source is not LabelSource.MODEL or cell.reviewed:
                    continue
                self._check_unlocked(cell.slide_id)
                self._delete_cell_row(cell)
                self._record(cell.id, cell, None)
                removed.setdefault(cell.slide_id, []).append(cell.id)
            for slide_id, ids in removed.items():
                self._emit(StoreEvent(StoreEventKind.CELLS_REMOVED, slide_id, tuple(ids)))

    # ----------------------------------------------------------- human decisions
    # Each takes `seen`, the versions of the cells as the technician was shown
    # them: an edit on a cell another station changed since is refused
    # (EditConflictError) rather than written over what the technician never saw.
    def set_label(self, cell_ids: Sequence[int], label: str, description: str = "Set class", *,
                  seen: Seen | None = None) -> None:
        """The technician assigns a class: a relabel where it differs from the
        cell's label, a confirmation where it does not."""
        self._check_label(label)
        with self.edit(description):
            targets = self._human_targets(cell_ids, seen)
            for cell in targets:
                # A class digit on a red cell once made it a white cell of
                # that class: a kind changes only by set_kind, asked for.
                refusal = class_refusal(cell.kind, label, self.taxonomy)
                if refusal is not None:
                    raise ClassKindError(f"Cell {cell.id}: {refusal}")
            for cell in targets:
                action = CorrectionAction.CONFIRM if cell.label == label else CorrectionAction.RELABEL
                after = cell.with_changes(label=label, source=LabelSource.HUMAN, reviewed=True,
                                          screen=_flag_after_class(cell.screen, label))
                edit_id = self._write_cell(cell, after)
                correction_queue.queue(self._db, edit_id, cell, action, old=cell, new=after)
            self._emit_changed(cell_ids)

    def confirm(self, cell_ids: Sequence[int], description: str = "Confirm", *, seen: Seen | None = None) -> None:
        """The technician accepts cells as they are (box and label)."""
        with self.edit(description):
            for cell in self._human_targets(cell_ids, seen):
                after = cell.with_changes(reviewed=True, source=LabelSource.HUMAN if cell.label else cell.source)
                edit_id = self._write_cell(cell, after)
                correction_queue.queue(self._db, edit_id, cell, CorrectionAction.CONFIRM, old=cell, new=after)
            self._emit_changed(cell_ids)

    def move_cell(self, cell_id: int, box: Box, description: str = "Move box", *, seen: Seen | None = None) -> Cell:
        """The technician moves or resizes a box: committed once per drag."""
        with self.edit(description):
            (cell,) = self._human_targets([cell_id], seen)
            after = cell.with_changes(box=box, reviewed=True)
            edit_id = self._write_cell(cell, after)
            correction_queue.queue(self._db, edit_id, cell, CorrectionAction.MOVE, old=cell, new=after)
            self._emit_changed([cell_id])
            return after.with_changes(row_version=cell.row_version + 1)

    def nudge_cell(self, cell_id: int, box: Box, *, seen: Seen | None = None) -> Cell:
        """The technician moves or resizes a box from the keyboard, a step a
        key press.  Every press is saved at once (nothing is lost), but the
        presses in a row on one box make one undo step and one correction,
        as one drag does; a pause of more than a couple of seconds, or any
        other edit, starts a new step."""
        with self.edit(NUDGE_DESCRIPTION):
            assert self._pending is not None  # set by edit()
            self._pending.nudge = self._depth == 1
            (cell,) = self._human_targets([cell_id], seen)
            after = cell.with_changes(box=box, reviewed=True)
            joined = history.nudge_to_join(self._db, self._joinable_nudge, cell_id)
            if joined is None:
                edit_id = self._write_cell(cell, after)
                correction_queue.queue(self._db, edit_id, cell, CorrectionAction.MOVE, old=cell, new=after)
            else:
                edit_id, change_id = joined
                history.join_nudge(self._db, edit_id, change_id, self._update_cell_row(cell, after))
            self._emit_changed([cell_id])
            return after.with_changes(row_version=cell.row_version + 1)

    def set_kind(self, cell_ids: Sequence[int], kind: CellKind, description: str = "Set kind", *,
                 seen: Seen | None = None) -> None:
        with self.edit(description):
            for cell in self._human_targets(cell_ids, seen):
                after = cell.with_changes(kind=kind, reviewed=True, screen=_screen_after_kind(cell.screen, kind))
                edit_id = self._write_cell(cell, after)
                correction_queue.queue(self._db, edit_id, cell, CorrectionAction.RELABEL, old=cell, new=after)
            self._emit_changed(cell_ids)

    def remove_cells(self, cell_ids: Sequence[int], description: str = "Delete", *,
                     seen: Seen | None = None) -> None:
        with self.edit(description):
            removed: dict[int, list[int]] = {}
            for cell in self._human_targets(cell_ids, seen):
                self._delete_cell_row(cell)
                edit_id = self._record(cell.id, cell, None)
                correction_queue.queue(self._db, edit_id, cell, CorrectionAction.DELETE, old=cell, new=None)
                removed.setdefault(cell.slide_id, []).append(cell.id)
            for slide_id, ids in removed.items():
                self._emit(StoreEvent(StoreEventKind.CELLS_REMOVED, slide_id, tuple(ids)))

    def _human_targets(self, cell_ids: Sequence[int], seen: Seen | None = None) -> list[Cell]:
        """The cells, each once, in id order: every edit writes rows in one
        order, so two server stations editing the same cells wait for one
        another rather than deadlock (the second then refused, out of date).
        Each slide is checked once: a gallery's edit is on many cells of one."""
        cells = []
        slides: set[int] = set()
        for cell_id in sorted(set(cell_ids)):
            cell = self._cell_or_none(cell_id)
            shown = None if seen is None else seen.get(cell_id)
            if shown is not None and (cell is None or cell.row_version != shown):
                raise conflict_error(self._db, self.path, cell_id, self.taxonomy)
            if cell is None:
                raise StoreError(f"{self.path}: no cell with id {cell_id}")
            if cell.slide_id not in slides:
                self._check_unlocked(cell.slide_id)
                self._touch_for_review(cell.slide_id)
                slides.add(cell.slide_id)
            cells.append(cell)
        return cells

    def _emit_changed(self, cell_ids: Sequence[int]) -> None:
        by_slide: dict[int, list[int]] = {}
        for cell_id in cell_ids:
            row = self._db.execute("SELECT slide_id FROM cells WHERE id = ?", (cell_id,)).fetchone()
            if row:
                by_slide.setdefault(row["slide_id"], []).append(cell_id)
        for slide_id, ids in by_slide.items():
            self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, slide_id, tuple(ids)))

    def _check_label(self, label: str | None) -> None:
        if label is not None and label not in self.taxonomy:
            raise StoreError(f"{label!r} is not a class of this project (classes: {', '.join(self.taxonomy.names)})")

    def _write_cell(self, before: Cell, after: Cell) -> int | None:
        return self._record(before.id, before, self._update_cell_row(before, after))

    def _update_cell_row(self, before: Cell, after: Cell) -> Cell:
        """Write `after` over the row `before` was read as; returns it as
        written, one version on.  Refused when another connection changed or
        removed the row since it was read: on a server, two stations reading
        the same version cannot both write over it."""
        parameters = cell_parameters(after, after.slide_id, before.id)
        parameters["row_version"] = before.row_version
        if self._db.execute(UPDATE_CELL_AS_READ, parameters).rowcount != 1:
            raise conflict_error(self._db, self.path, before.id, self.taxonomy)
        return after.with_changes(row_version=before.row_version + 1)

    def _delete_cell_row(self, cell: Cell) -> None:
        """Remove the row `cell` was read as; refused as `_update_cell_row`."""
        if self._db.execute(DELETE_CELL_AS_READ, (cell.id, cell.row_version)).rowcount != 1:
            raise conflict_error(self._db, self.path, cell.id, self.taxonomy)

    # ----------------------------------------------------------- undo / redo
    def undo(self) -> str | None:
        """Reverse the latest edit; returns its description, or None."""
        step = self.undo_step()
        return step.description if step else None

    def redo(self) -> str | None:
        step = self.redo_step()
        return step.description if step else None

    def undo_step(self) -> HistoryStep | None:
        """Reverse the latest edit; returns what it changed, or None when
        there is nothing to undo.  Raises SlideLockedError, changing nothing
        and keeping the step, when the edit touched a slide now signed off."""
        return self._step(undo=True)

    def redo_step(self) -> HistoryStep | None:
        """Make the edit just undone again; as `undo_step`."""
        return self._step(undo=False)

    def _step(self, undo: bool) -> HistoryStep | None:
        verb = "Undo" if undo else "Redo"
        with self._lock:
            step = history.next_step(self._db, undo, self._undo_owner)
            if step is None:
                return None
            edit_id, description = step
            with self.edit(f"{verb} {description}", record_history=False):
                changes = history.changes_to_play(self._db, edit_id, undo)
                cells = tuple((change.slide_id, change.cell_id) for change in changes if change.slide_id is not None)
                if self._undo_owner is not None:
                    self._refuse_changed_since(verb, description, edit_id, [change.cell_id for change in changes])
                # Refused before anything is written: a signed count is final,
                # and the history keeps the step for after an unlock.
                self._refuse_signed(verb, description, dict.fromkeys(slide_id for slide_id, _ in cells))
                for change in changes:
                    self._restore(change)
                history.mark_played(self._db, edit_id, undo, self.identity)
                self._emit(StoreEvent(StoreEventKind.HISTORY_CHANGED))
            return HistoryStep(description, cells)

    def _refuse_signed(self, verb: str, description: str, slide_ids: Iterable[int]) -> None:
        for slide_id in slide_ids:
            row = self._db.execute("SELECT status, path FROM slides WHERE id = ?", (slide_id,)).fetchone()
            if row is not None and row["status"] == SlideStatus.SIGNED_OFF.value:
                raise SlideLockedError(
                    f'{verb} of "{description}" refused: it would change {Path(row["path"]).name}, which is signed '
                    "off. Nothing was changed; unlock that slide with a reason to take the edit back"
                )

    def _refuse_changed_since(self, verb: str, description: str, edit_id: int, cell_ids: Sequence[int]) -> None:
        """Where several stations edit: a step whose cells another station
        changed after it is not played (it would write over their change)."""
        later = history.later_change(self._db, edit_id, cell_ids)
        if later is not None:
            raise UndoConflictError(
                f'{self.path}: {verb} of "{description}" refused: cell {later.cell_id} was changed since by '
                f'{later.who} on {later.workstation} at {later.clock} ("{later.description}"). Nothing was '
                "changed; edit the cell as it is now instead"
            )

    def _restore(self, change: history.CellChange) -> None:
        """Put one cell as the step being played leaves it, under its own id."""
        cell_id, slide_id = change.cell_id, change.slide_id
        if slide_id is not None:
            self._check_unlocked(slide_id)
        if change.target is None:
            self._db.execute("DELETE FROM cells WHERE id = ?", (cell_id,))
            self._emit(StoreEvent(StoreEventKind.CELLS_REMOVED, slide_id, (cell_id,)))
            return
        cell = history.cell_from_state(cell_id, change.target)
        parameters = cell_parameters(cell, cell.slide_id, cell_id)
        if change.current is None:
            self._db.execute(INSERT_CELL_WITH_ID, parameters)
            self._emit(StoreEvent(StoreEventKind.CELLS_ADDED, cell.slide_id, (cell_id,)))
        else:
            self._db.execute(UPDATE_CELL, parameters)
            self._emit(StoreEvent(StoreEventKind.CELLS_CHANGED, cell.slide_id, (cell_id,)))


def _flag_after_class(screen: BlastScreen | None, label: str) -> BlastScreen | None:
    """A flagged cell given the class Blast by hand is a confirmed flag; a
    confirmed one given another class, a dismissed flag.  A suspected cell
    given another class stays suspected: only a decision on the flag ends it."""
    if screen is None or not screen.flagged:
        return screen
    if label == BLAST:
        return replace(screen, flag=BlastFlag.CONFIRMED)
    if screen.flag is BlastFlag.CONFIRMED:
        return replace(screen, flag=BlastFlag.DISMISSED)
    return screen


def _screen_after_kind(screen: BlastScreen | None, kind: CellKind) -> BlastScreen | None:
    """A cell marked red or platelet is not the screen's: the gallery shows
    white cells only, so an undecided verdict (an open flag above all) would
    hold back sign-off unseen.  Marking it so is the person's decision on the
    cell, and an undo step gives the verdict back; a decided flag stays."""
    if kind is CellKind.WHITE or screen is None or screen.flag in (BlastFlag.CONFIRMED, BlastFlag.DISMISSED):
        return screen
    return None


def _undecided_proposal(cell: Cell) -> bool:
    """A detector's proposal nobody decided on: the model's, not reviewed, scored."""
    return cell.source is LabelSource.MODEL and not cell.reviewed and cell.score is not None


def _all_imported(cells: Sequence[NewCell]) -> bool:
    return bool(cells) and all(new.source is LabelSource.IMPORT for new in cells)
