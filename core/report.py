"""Differential-count reports per slide and per project, as CSV and PDF.

A report is what leaves the lab, so it states where its numbers come from:
the model versions that classified the cells, who signed the slide off and
when, and the cells a human changed or the model was unsure of, with their
thumbnails in the PDF.
"""

from __future__ import annotations

import csv
import io
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.crops import OUTSIDE_FOR_DISPLAY, crop_square
from core.differential import CountsAs, Differential, class_of, counts_as, differential
from core.formats.common import atomic_write_bytes
from core.imaging import ImageReadError
from core.schema import Cell, CellKind, CorrectionAction, Slide
from core.slide_pixels import load_slide_rgb
from core.store import ProjectStore, folder_is_writable
from core.wording import minute_utc, percent

# Below this top probability a model's label is flagged for the reader.
LOW_CONFIDENCE = 0.80
MAX_THUMBNAILS_PER_SLIDE = 24


class ReportError(Exception):
    """A report that cannot be written, with the reason."""


@dataclass(frozen=True, slots=True)
class FlaggedCell:
    cell: Cell
    reason: str  # "changed from X" or "low confidence (62%)"


@dataclass(frozen=True, slots=True)
class SlideReport:
    slide: Slide
    count: Differential
    model_versions: tuple[str, ...]
    flagged: tuple[FlaggedCell, ...]


def slide_reports(store: ProjectStore, slide_ids: Sequence[int] | None = None) -> list[SlideReport]:
    slides = store.slides() if slide_ids is None else [store.slide(i) for i in slide_ids]
    changed_from: dict[int, str | None] = {}
    for correction in store.corrections():
        if correction.action is CorrectionAction.RELABEL and correction.old_label != correction.new_label:
            changed_from.setdefault(correction.cell_id, correction.old_label)
    reports = []
    for slide in slides:
        cells = store.cells(slide.id)
        white = [cell for cell in cells if cell.kind is CellKind.WHITE]
        versions = tuple(sorted({cell.model_version for cell in white if cell.model_version and cell.probabilities}))
        flagged = []
        for cell in white:
            if cell.id in changed_from:
                flagged.append(FlaggedCell(cell, f"changed from {changed_from[cell.id] or 'unclassified'}"))
            elif cell.probabilities and max(cell.probabilities.values()) < LOW_CONFIDENCE:
                flagged.append(FlaggedCell(cell, f"low confidence ({percent(max(cell.probabilities.values()))})"))
            elif counts_as(cell.kind, cell.label, store.taxonomy) is CountsAs.UNIDENTIFIED:
                flagged.append(FlaggedCell(cell, "unidentified"))
        reports.append(SlideReport(slide, differential(cells, store.taxonomy), versions, tuple(flagged)))
    return reports


def project_total(store: ProjectStore, reports: Sequence[SlideReport]) -> Differential:
    ids = {report.slide.id for report in reports}
    return differential([cell for cell in store.cells() if cell.slide_id in ids], store.taxonomy)


def write_report(store: ProjectStore, out: str | os.PathLike[str], slide_ids: Sequence[int] | None = None) -> Path:
    """Write a CSV or PDF report (by the file's suffix) atomically: the file
    appears whole or not at all, and an unwritable folder is refused first."""
    target = Path(out)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".pdf"):
        raise ReportError(f"{target}: a report is a .csv or .pdf file")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ReportError(f"{folder}: folder does not exist")
    if not folder_is_writable(folder):
        raise ReportError(f"{folder}: folder is not writable; the report was not written")
    reports = slide_reports(store, slide_ids)
    data = _csv_bytes(store, reports) if suffix == ".csv" else _pdf_bytes(store, reports)
    _write_atomically(target, data)
    return target


def _write_atomically(target: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(target, data, durable=True)
    except OSError as error:
        raise ReportError(f"{target}: could not write the report ({error.strerror or error})") from None


def _csv_bytes(store: ProjectStore, reports: Sequence[SlideReport]) -> bytes:
    classes = store.taxonomy.differential_classes()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["slide", "status", "reviewer", "signed_off_at", "white_cells_counted", "target", "below_target_reason"]
        + [f"{name}_count" for name in classes]
        + [f"{name}_percent" for name in classes]
        + ["nrbc", "nrbc_per_100_wbc", "platelets", "unidentified", "unreviewed_white", "model_versions", "comment"]
    )
    rows = [(r.slide.path, r.slide.status.value, r.slide.signed_off_by or "", r.slide.signed_off_at or "",
             r.count, r.slide.signed_target or "", r.slide.below_target_reason, ";".join(r.model_versions),
             r.slide.comment) for r in reports]
    versions = sorted({v for r in reports for v in r.model_versions})
    rows.append(("TOTAL", "", "", "", project_total(store, reports), "", "", ";".join(versions), ""))
    for path, status, reviewer, at, count, target, below_target, model_versions, comment in rows:
        writer.writerow(
            [path, status, reviewer, at, count.counted, target, below_target]
            + [count.counts[name] for name in classes]
            + [count.percent_text(name, none="") for name in classes]
            + [count.nrbc, "" if count.nrbc_per_100_wbc is None else f"{count.nrbc_per_100_wbc:.1f}",
               count.platelets, count.unidentified, count.unreviewed_white, model_versions, comment]
        )
    # With a byte-order mark: Excel, where a lab opens a report, reads a CSV
    # without one in the system's legacy code page, so a reviewer's name or
    # comment in any accented letter came out garbled.  Scripts read it with
    # encoding "utf-8-sig" (pandas strips the mark by itself).
    return buffer.getvalue().encode("utf-8-sig")


def _pdf_bytes(store: ProjectStore, reports: Sequence[SlideReport]) -> bytes:
    from fpdf import FPDF  # imported here: only PDF reports need it

    taxonomy = store.taxonomy
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title("HemaLabel differential report")
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def heading(text: str, size: int = 14) -> None:
        pdf.set_font("Helvetica", "B", size)
        pdf.cell(0, 8, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def line(text: str) -> None:
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def count_table(count: Differential) -> None:
        pdf.set_font("Helvetica", "B", 10)
        for title, width in (("Class", 70), ("Count", 25), ("%", 25)):
            pdf.cell(width, 6, title, border=1)
        pdf.ln()
        pdf.set_font("Helvetica", "", 10)
        for name in taxonomy.differential_classes():
            pdf.cell(70, 6, _latin1(taxonomy.get(name).display), border=1)
            pdf.cell(25, 6, str(count.counts[name]), border=1, align="R")
            pdf.cell(25, 6, count.percent_text(name, none="n/a"), border=1, align="R")
            pdf.ln()
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(70, 6, "White cells counted", border=1)
        pdf.cell(25, 6, str(count.counted), border=1, align="R")
        pdf.cell(25, 6, "100.0" if count.counted else "n/a", border=1, align="R")
        pdf.ln()
        nrbc = "n/a" if count.nrbc_per_100_wbc is None else f"{count.nrbc_per_100_wbc:.1f}"
        line(f"NRBC: {count.nrbc} ({nrbc} per 100 WBC)    Platelets: {count.platelets}    "
             f"Unidentified: {count.unidentified}    Unreviewed white cells: {count.unreviewed_white}")

    pdf.add_page()
    heading("HemaLabel differential report", 16)
    line(f"Project: {store.path.name}    Generated: {generated}    Slides: {len(reports)}")
    versions = sorted({v for r in reports for v in r.model_versions})
    line(f"Classifier versions: {', '.join(versions) or 'none (labels by hand or imported)'}")
    pdf.ln(2)
    heading("Project total", 12)
    count_table(project_total(store, reports))

    for report in reports:
        pdf.add_page()
        heading(f"Slide {report.slide.path}", 12)
        slide = report.slide
        signed = (f"signed off by {slide.signed_off_by} at {minute_utc(slide.signed_off_at)}" if slide.signed_off_by
                  else "not signed off")
        line(f"Status: {slide.status.value.replace('_', ' ')}, {signed}")
        if slide.comment:
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, _latin1(f"Comment: {slide.comment}"), new_x="LMARGIN", new_y="NEXT")
        line(f"Image: {slide.width} x {slide.height} px, added {minute_utc(slide.added_at)}")
        line(f"Classifier versions: {', '.join(report.model_versions) or 'none'}")
        pdf.ln(2)
        count_table(report.count)
        if slide.signed_target is not None:
            # Beside the count: what it was signed against, and why a short count was signed anyway.
            reached = "reached" if not slide.below_target_reason else f"not reached ({report.count.counted} counted)"
            pdf.set_font("Helvetica", "B" if slide.below_target_reason else "", 10)
            text = f"Target: {slide.signed_target} white cells, {reached}"
            if slide.below_target_reason:
                text += f". Signed below the target because: {slide.below_target_reason}"
            pdf.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        _thumbnails(pdf, store, report)
    return bytes(pdf.output())


def _thumbnails(pdf, store: ProjectStore, report: SlideReport) -> None:
    if not report.flagged:
        return
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, f"Cells changed by a reviewer, of low confidence or Unidentified ({len(report.flagged)})",
             new_x="LMARGIN", new_y="NEXT")
    try:
        image = load_slide_rgb(store, report.slide)
    except ImageReadError as error:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 5, _latin1(f"Thumbnails unavailable: {error.reason}"), new_x="LMARGIN", new_y="NEXT")
        return
    from PIL import Image

    size, gap, per_row = 28, 4, 6
    for index, flagged in enumerate(report.flagged[:MAX_THUMBNAILS_PER_SLIDE]):
        column = index % per_row
        if column == 0:
            if pdf.get_y() + size + 12 > pdf.h - pdf.b_margin:
                pdf.add_page()
            row_y = pdf.get_y()
        x = pdf.l_margin + column * (size + gap)
        thumbnail = Image.fromarray(crop_square(image, flagged.cell.box, outside=OUTSIDE_FOR_DISPLAY)).resize((112, 112))
        pdf.image(thumbnail, x=x, y=row_y, w=size, h=size)
        pdf.set_xy(x, row_y + size)
        pdf.set_font("Helvetica", "", 6)
        label = store.taxonomy.display_of(class_of(flagged.cell.label))
        pdf.multi_cell(size, 3, _latin1(f"{label}\n{flagged.reason}"), align="C")
        if column == per_row - 1 or index == min(len(report.flagged), MAX_THUMBNAILS_PER_SLIDE) - 1:
            pdf.set_xy(pdf.l_margin, row_y + size + 8)
    if len(report.flagged) > MAX_THUMBNAILS_PER_SLIDE:
        pdf.set_font("Helvetica", "", 8)
        pdf.cell(0, 5, f"... and {len(report.flagged) - MAX_THUMBNAILS_PER_SLIDE} more", new_x="LMARGIN", new_y="NEXT")


# Typographic punctuation that file names and names often carry.
_PUNCTUATION = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                "\u2026": "...", "\u2212": "-"}


def _latin1(text: str) -> str:
    """The PDF core fonts cover Latin-1 only.  Other letters become their
    Latin-1 base letter where they have one (č -> c), common punctuation its
    plain form, and anything else its code point (血 -> <U+8840>): a slide or
    a reviewer must stay identifiable in print, not turn into '?'.  The CSV
    report keeps every name as it is."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
        elif char in _PUNCTUATION:
            out.append(_PUNCTUATION[char])
        else:
            base = unicodedata.normalize("NFKD", char)[0]
            out.append(base if ord(base) < 256 and base.isalpha() else f"<U+{ord(char):04X}>")
    return "".join(out)
