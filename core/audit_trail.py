"""The audit trail in words: who changed which cell of which slide, from
what to what, when, on which workstation, and whether it was undone; and
who signed slides off or unlocked them.  The one door every view reads it
through (File > Audit Trail, `hemalabel audit`), with its filters, its CSV
and its JSON.  Times are kept in UTC; a person's dates are their own
computer's days.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from core.formats.common import atomic_write_bytes
from core.identity import BEFORE_IDENTITY
from core.safe_output import spreadsheet_text
from core.store import ProjectStore, folder_is_writable
from core.store.rows import on_this_clock
from core.store.trail import TrailQuery, TrailRecord
from core.taxonomy import Taxonomy

CSV_COLUMNS = ("time_utc", "user", "workstation", "slide", "cell", "action", "change", "undone")
_KIND_WORDS = {"white": "white cell", "red": "red cell", "platelet": "platelet"}
_FLAG_WORDS = {"none": "not suspected", "suspected": "suspected", "confirmed": "confirmed", "dismissed": "dismissed"}
_SIGN_OFF_WORDS = {"sign_off": "Signed off", "below_target": "Signed off short of target", "unlock": "Unlocked"}


class AuditTrailError(Exception):
    """A trail that cannot be written, or a filter that makes no sense, with the reason."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to show; None: any.  `since` and `until` are days on
    this computer's calendar, both included."""

    slide_id: int | None = None
    user: str | None = None
    since: date | None = None
    until: date | None = None
    cell_id: int | None = None

    def query(self) -> TrailQuery:
        if self.since is not None and self.until is not None and self.until < self.since:
            raise AuditTrailError(f"the trail's dates run backwards: until {self.until} is before since {self.since}")
        return TrailQuery(
            slide_id=self.slide_id,
            user=self.user.strip() if self.user and self.user.strip() else None,
            since=None if self.since is None else _utc_text(self.since),
            until=None if self.until is None else _utc_text(self.until + timedelta(days=1)),
            cell_id=self.cell_id,
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the trail, as a technician reads it."""

    at: str  # as recorded: UTC, ISO 8601
    user: str
    workstation: str
    slide_id: int | None
    slide: str  # the sample, as the reports name it
    cell_id: int | None
    action: str  # the gesture ("Set class", "Draw box") or "Signed off", "Unlocked"
    change: str  # what changed, before and after
    undone: bool
    undone_note: str = ""  # who undid it and when

    @property
    def local_time(self) -> str:
        return local_time(self.at)

    @property
    def undone_text(self) -> str:
        return (self.undone_note or "undone") if self.undone else ""

    def texts(self, time: str | None = None) -> tuple[str, ...]:
        """The entry in CSV_COLUMNS' order, as text; `time` in place of the
        recorded UTC time (the window shows this computer's)."""
        return (self.at if time is None else time, self.user, self.workstation, self.slide,
                "" if self.cell_id is None else str(self.cell_id), self.action, self.change, self.undone_text)

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "user": self.user, "workstation": self.workstation, "slide_id": self.slide_id,
                "slide": self.slide, "cell_id": self.cell_id, "action": self.action, "change": self.change,
                "undone": self.undone, "undone_note": self.undone_note}


def audit_trail(store: ProjectStore, where: AuditFilter | None = None) -> list[AuditEntry]:
    """The trail of `store`, oldest first, as `where` filters it."""
    records = store.trail((where or AuditFilter()).query())
    slides = {slide.id: slide.sample_id for slide in store.slides()}
    return [_entry(record, slides, store.taxonomy) for record in records]


def write_audit_csv(entries: Sequence[AuditEntry], out: str | os.PathLike[str]) -> Path:
    """Write the entries as CSV, whole or not at all.  Every text a person
    or a file chose is written so a spreadsheet shows it and never runs it
    as a formula (core.safe_output); a byte-order mark, as the reports, so
    Excel reads accented initials right."""
    target = Path(out)
    folder = target.parent if str(target.parent) else Path(".")
    if target.suffix.lower() != ".csv":
        raise AuditTrailError(f"{target}: the audit trail is written as a .csv file")
    if not folder.is_dir():
        raise AuditTrailError(f"{folder}: folder does not exist; the audit trail was not written")
    if not folder_is_writable(folder):
        raise AuditTrailError(f"{folder}: folder is not writable; the audit trail was not written")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow([spreadsheet_text(text) for text in entry.texts()])
    try:
        atomic_write_bytes(target, buffer.getvalue().encode("utf-8-sig"), durable=True)
    except OSError as error:
        raise AuditTrailError(f"{target}: could not write the audit trail ({error.strerror or error})") from None
    return target


def local_time(at: str) -> str:
    """A recorded time on this computer's clock, to the second; a time the
    file holds in no form we read, as it is."""
    try:
        return on_this_clock(at, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return at


def describe_change(before: dict[str, Any] | None, after: dict[str, Any] | None, taxonomy: Taxonomy) -> str:
    """A cell's change in words: "class Neutrophil -> Lymphocyte; marked reviewed"."""
    if before is None or after is None:
        if after is not None:
            return f"added {_cell_words(after, taxonomy)}"
        return f"deleted {_cell_words(before, taxonomy)}" if before is not None else ""
    parts = []
    if before["kind"] != after["kind"]:
        parts.append(f"kind {_kind_words(before)} -> {_kind_words(after)}")
    if before["label"] != after["label"]:
        by_model = f" (model {after['model_version']})" if after.get("source") == "model" else ""
        parts.append(f"class {_class_words(before, taxonomy)} -> {_class_words(after, taxonomy)}{by_model}")
    if [round(v) for v in before["box"]] != [round(v) for v in after["box"]]:
        parts.append(f"box {_box_words(before)} -> {_box_words(after)}")
    if _flag_words(before) != _flag_words(after):
        parts.append(f"blast flag {_flag_words(before)} -> {_flag_words(after)}")
    if bool(before["reviewed"]) != bool(after["reviewed"]):
        parts.append("marked reviewed" if after["reviewed"] else "marked not reviewed")
    if parts:
        return "; ".join(parts)
    if before.get("source") != after.get("source") or after.get("source") == "human":
        return f"confirmed as {_class_words(after, taxonomy)}"
    return f"prediction of model {after.get('model_version') or 'unknown'} recorded"


def _entry(record: TrailRecord, slides: dict[int, str], taxonomy: Taxonomy) -> AuditEntry:
    slide = "" if record.slide_id is None else slides.get(record.slide_id, f"slide {record.slide_id}")
    if record.is_slide_added:
        action, change = "Added slide", f"image {record.reason}"
    elif record.is_take_over:
        action, change = "Took over", f"reason: {record.reason}"
    elif record.is_sign_off:
        action = _SIGN_OFF_WORDS.get(record.action, record.action)
        label = {"sign_off": "comment", "unlock": "reason"}.get(record.action, "")
        change = f"{label}: {record.reason}" if label and record.reason else record.reason
    else:
        action, change = record.action, describe_change(record.before, record.after, taxonomy)
    note = ""
    if record.undone and record.undone_by:
        note = f"undone by {record.undone_by} at {local_time(record.undone_at or '')}"
    return AuditEntry(
        at=record.at, user=record.user or BEFORE_IDENTITY, workstation=record.workstation or BEFORE_IDENTITY,
        slide_id=record.slide_id, slide=slide, cell_id=record.cell_id, action=action, change=change,
        undone=record.undone, undone_note=note,
    )


def _utc_text(day: date) -> str:
    """The start of a day on this computer's clock, as the rows keep times."""
    return datetime.combine(day, time()).astimezone().astimezone(UTC).isoformat(timespec="milliseconds")


def _kind_words(state: dict[str, Any]) -> str:
    return _KIND_WORDS.get(str(state["kind"]), str(state["kind"]))


def _class_words(state: dict[str, Any], taxonomy: Taxonomy) -> str:
    label = state.get("label")
    return "none" if not label else taxonomy.display_of(str(label))


def _cell_words(state: dict[str, Any], taxonomy: Taxonomy) -> str:
    label = state.get("label")
    class_text = f", {taxonomy.display_of(str(label))}" if label else ""
    return f"{_kind_words(state)}{class_text} at {_box_words(state)}"


def _box_words(state: dict[str, Any]) -> str:
    x0, y0, x1, y1 = (round(value) for value in state["box"])
    return f"{x0},{y0} to {x1},{y1}"


def _flag_words(state: dict[str, Any]) -> str:
    screen = state.get("screen")
    return "not screened" if not screen else _FLAG_WORDS.get(str(screen["flag"]), str(screen["flag"]))
