"""Differential-count reports per sample (a slide) and per project, as CSV
and PDF (drawn by core.report_pdf).

A report is what leaves the lab, so it states where its numbers come from:
the sample, the model versions that classified the cells, who signed the
slide off and when, who reviewed it (the audit trail's names: who decided
on its cells and who signed it), and the cells a human changed or the model
was unsure of, with their thumbnails in the PDF.  The data here is what both formats
print: the PDF draws `report_pages` and nothing it does not hold.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.confidence import ConfidenceBasis, cell_confidence
from core.differential import CountsAs, Differential, class_of, counts_as, differential
from core.formats.common import atomic_write_bytes
from core.jobs import CancelToken, Job, Progress, run_job
from core.safe_output import spreadsheet_text
from core.schema import Cell, CellKind, CorrectionAction, Slide
from core.store import BlastTally, ProjectStore, folder_is_writable
from core.taxonomy import Taxonomy
from core.wording import percent

# Below this top probability a model's label is flagged for the reader.
LOW_CONFIDENCE = 0.80
MAX_THUMBNAILS_PER_SLIDE = 24
# Where the reviewer signs a printed report by hand (the PDF draws the blanks as lines).
SIGNATURE_LINE = "Signature: ______________________________    Date: ________________"


class ReportError(Exception):
    """A report that cannot be written, with the reason."""


@dataclass(frozen=True, slots=True)
class FlaggedCell:
    """A white cell the report shows as a thumbnail, and why."""

    cell: Cell
    label: str   # the class it is counted under, as the window names it ("Lymphocyte")
    reason: str  # "changed from Monocyte", "low confidence (62%)" or "unidentified"

    @property
    def caption(self) -> str:
        return f"{self.label}\n{self.reason}"


@dataclass(frozen=True, slots=True)
class SlideReport:
    slide: Slide
    count: Differential
    model_versions: tuple[str, ...]
    flagged: tuple[FlaggedCell, ...]
    blasts: BlastTally = BlastTally()  # the lymphoid screen's flags (none screened: never screened)
    # Who decided on its cells (decisions that stand), then who signed it off: the audit trail's names.
    reviewers: tuple[str, ...] = ()

    @property
    def sample_id(self) -> str:
        return self.slide.sample_id

    @property
    def image_name(self) -> str:
        return self.slide.image_name


@dataclass(frozen=True, slots=True)
class ReportPage:
    """A page of the PDF report, in order: one per sample, then, for a report
    of several samples, a summary of them all (never for one: its own page
    says it all, and a total of one slide only repeats it)."""

    kind: str  # "sample" or "summary"
    title: str
    reports: tuple[SlideReport, ...]


def report_pages(reports: Sequence[SlideReport]) -> list[ReportPage]:
    pages = [ReportPage("sample", f"Sample {report.sample_id}", (report,)) for report in reports]
    if len(reports) > 1:
        pages.append(ReportPage("summary", f"Summary of {len(reports)} samples", tuple(reports)))
    return pages


def slide_reports(store: ProjectStore, slide_ids: Sequence[int] | None = None) -> list[SlideReport]:
    first_label, reviewers = _first_labels(store), store.reviewers()
    slides = store.slides() if slide_ids is None else [store.slide(i) for i in slide_ids]
    return [_slide_report(store, slide, first_label, reviewers) for slide in slides]


def _first_labels(store: ProjectStore) -> dict[int, str | None]:
    """The label each cell had before a reviewer first changed it (undone changes are not in the queue)."""
    first_label: dict[int, str | None] = {}
    for correction in store.corrections():
        if correction.action in (CorrectionAction.RELABEL, CorrectionAction.CONFIRM_BLAST):
            first_label.setdefault(correction.cell_id, correction.old_label)
    return first_label


def _slide_report(store: ProjectStore, slide: Slide, first_label: Mapping[int, str | None],
                  reviewers: Mapping[int, Sequence[str]]) -> SlideReport:
    taxonomy = store.taxonomy
    cells = store.cells(slide.id)
    white = [cell for cell in cells if cell.kind is CellKind.WHITE]
    versions = tuple(sorted({cell.model_version for cell in white if cell.model_version and cell.probabilities}))
    flagged = [flag for cell in white if (flag := flag_of(cell, first_label, taxonomy)) is not None]
    return SlideReport(slide, differential(cells, taxonomy), versions, tuple(flagged), store.blast_tally(slide.id),
                       tuple(reviewers.get(slide.id, ())))


def flag_of(cell: Cell, first_label: Mapping[int, str | None], taxonomy: Taxonomy) -> FlaggedCell | None:
    """Why a white cell is shown to the report's reader, or None.  A cell is
    "changed" only when its class now differs from the one it had before the
    first change: changed and changed back is not a change, and two spellings
    of one class ("Neutrophil", "neutrophil") are one class."""
    name = _canonical(cell.label, taxonomy)
    label = taxonomy.display_of(name)
    if cell.id in first_label and _canonical(first_label[cell.id], taxonomy) != name:
        return FlaggedCell(cell, label,
                           f"changed from {taxonomy.display_of(_canonical(first_label[cell.id], taxonomy))}")
    confidence = cell_confidence(cell)
    value = confidence.value
    # The classifier's number only: a detector's box score says nothing of the class.
    if value is not None and value < LOW_CONFIDENCE and confidence.basis is not ConfidenceBasis.BOX:
        guess = _canonical(confidence.guess, taxonomy) if confidence.guess else name
        named = "" if guess == name else f"{taxonomy.display_of(guess)} "
        return FlaggedCell(cell, label, f"low confidence ({named}{percent(value)})")
    if counts_as(cell.kind, cell.label, taxonomy) is CountsAs.UNIDENTIFIED:
        return FlaggedCell(cell, label, "unidentified")
    return None


def _canonical(label: str | None, taxonomy: Taxonomy) -> str:
    name = class_of(label)
    return taxonomy.match(name) or name


def project_total(store: ProjectStore, reports: Sequence[SlideReport]) -> Differential:
    ids = {report.slide.id for report in reports}
    return differential([cell for cell in store.cells() if cell.slide_id in ids], store.taxonomy)


def write_report(store: ProjectStore, out: str | os.PathLike[str], slide_ids: Sequence[int] | None = None) -> Path:
    """Write a CSV or PDF report (by the file's suffix) atomically: the file
    appears whole or not at all, and an unwritable folder is refused first."""
    return run_job(report_job(store, out, slide_ids))


def report_job(store: ProjectStore, out: str | os.PathLike[str], slide_ids: Sequence[int] | None = None,
               cancel: CancelToken | None = None) -> Job[Path]:
    """write_report as a job: progress a slide counted and a PDF page drawn
    at a time, and a cancel leaves no file (it is written only at the end)."""
    cancel = cancel or CancelToken()
    target = Path(out)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".pdf"):
        raise ReportError(f"{target}: a report is a .csv or .pdf file")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ReportError(f"{folder}: folder does not exist")
    if not folder_is_writable(folder):
        raise ReportError(f"{folder}: folder is not writable; the report was not written")
    first_label, reviewers = _first_labels(store), store.reviewers()
    slides = store.slides() if slide_ids is None else [store.slide(i) for i in slide_ids]
    # A PDF draws a page per sample, and a summary after several.
    pages = (len(slides) + (len(slides) > 1)) if suffix == ".pdf" else 0
    total = len(slides) + pages + 1
    reports = []
    for done, slide in enumerate(slides):
        cancel.raise_if_cancelled()
        yield Progress(done, total, f"Counting {slide.image_name} ({done + 1} of {len(slides)})")
        reports.append(_slide_report(store, slide, first_label, reviewers))
    if suffix == ".pdf":
        from core.report_pdf import pdf_job  # fpdf2 loads only for a PDF

        data = yield from _offset(pdf_job(store, reports, cancel), len(slides), total)
    else:
        data = _csv_bytes(store, reports)
    cancel.raise_if_cancelled()
    yield Progress(total - 1, total, f"Writing {target.name}")
    _write_atomically(target, data)
    yield Progress(total, total, f"Written {target.name}")
    return target


def _offset(job: Job[bytes], offset: int, total: int) -> Generator[Progress, None, bytes]:
    """A part's progress as steps of the whole."""
    while True:
        try:
            progress = next(job)
        except StopIteration as finished:
            data: bytes = finished.value
            return data
        yield Progress(offset + progress.done, total, progress.message)


def _write_atomically(target: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(target, data, durable=True)
    except OSError as error:
        raise ReportError(f"{target}: could not write the report ({error.strerror or error})") from None


def _blast_columns(blasts: BlastTally) -> list[Any]:
    if not blasts.screened:
        return ["", "", "", "", ""]
    return [blasts.line(), blasts.flagged, blasts.screened, blasts.confirmed, blasts.open]


def _csv_bytes(store: ProjectStore, reports: Sequence[SlideReport]) -> bytes:
    classes = store.taxonomy.differential_classes()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["slide", "sample", "status", "reviewer", "signed_off_at", "white_cells_counted", "target",
         "below_target_reason"]
        + [f"{name}_count" for name in classes]
        + [f"{name}_percent" for name in classes]
        + ["nrbc", "nrbc_per_100_wbc", "platelets", "unidentified", "unreviewed_white", "model_versions", "comment"]
        # Last, so readers of the columns before are unchanged; empty where nothing was screened.
        + ["blast_screen", "blasts_suspected", "lymphoid_cells_screened", "blasts_confirmed", "blast_flags_open"]
        + ["reviewers"]
    )
    rows: list[tuple[Any, ...]] = [
        (r.slide.path, r.sample_id, r.slide.status.value, r.slide.signed_off_by or "", r.slide.signed_off_at or "",
         r.count, r.slide.signed_target or "", r.slide.below_target_reason, ";".join(r.model_versions),
         r.slide.comment, r.blasts, "; ".join(r.reviewers))
        for r in reports
    ]
    versions = sorted({v for r in reports for v in r.model_versions})
    total_blasts = BlastTally(*(sum(column) for column in zip(BlastTally(), *(r.blasts for r in reports))))
    everyone = "; ".join(dict.fromkeys(name for r in reports for name in r.reviewers))
    rows.append(("TOTAL", "", "", "", "", project_total(store, reports), "", "", ";".join(versions), "",
                 total_blasts, everyone))
    for (path, sample, status, reviewer, at, count, target, below_target, model_versions, comment, blasts,
         reviewers) in rows:
        # Every free-text field (a slide's path, sample, the reviewer's
        # initials, reasons and comment, even model names) is one a person or
        # an imported file chose: one starting with "=" would run as a formula
        # in the spreadsheet that opens the report.  Counts stay numbers.
        path, sample, reviewer, at, below_target, model_versions, comment, reviewers = (
            spreadsheet_text(text)
            for text in (path, sample, reviewer, at, below_target, model_versions, comment, reviewers)
        )
        writer.writerow(
            [path, sample, status, reviewer, at, count.counted, target, below_target]
            + [count.counts[name] for name in classes]
            + [count.percent_text(name, none="") for name in classes]
            + [count.nrbc, "" if count.nrbc_per_100_wbc is None else f"{count.nrbc_per_100_wbc:.1f}",
               count.platelets, count.unidentified, count.unreviewed_white, model_versions, comment]
            + _blast_columns(blasts)
            + [reviewers]
        )
    # With a byte-order mark: Excel, where a lab opens a report, reads a CSV
    # without one in the system's legacy code page, so a reviewer's name or
    # comment in any accented letter came out garbled.  Scripts read it with
    # encoding "utf-8-sig" (pandas strips the mark by itself).
    return buffer.getvalue().encode("utf-8-sig")
