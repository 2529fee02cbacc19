"""The PDF differential report: one compact page per sample, as a lab files
it, and for a report of several samples a closing summary page.

A sample's page holds, top to bottom: the sample identifier and the image's
file name; whether and by whom the count was signed; the count table beside
the target and the facts the count rests on; the flagged cells as small
thumbnails; the morphology comment; and a line to sign and date by hand.
It is drawn from `core.report.report_pages` and prints nothing else, so the
tests of that data speak for the page.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.crops import OUTSIDE_FOR_DISPLAY, crop_square
from core.differential import Differential
from core.imaging import ImageReadError
from core.jobs import CancelToken, Job, Progress, run_job
from core.report import MAX_THUMBNAILS_PER_SLIDE, SIGNATURE_LINE, SlideReport, project_total, report_pages
from core.slide_pixels import load_slide_rgb
from core.store import ProjectStore
from core.taxonomy import Taxonomy
from core.wording import minute_utc

MARGIN = 15.0  # mm; A4 is 210 x 297
THUMB, THUMB_GAP, THUMBS_PER_ROW = 19.0, 3.4, 8
LEFT_WIDTH, RIGHT_X = 95.0, 117.0  # the count table's column, and where the facts beside it start


def pdf_bytes(store: ProjectStore, reports: Sequence[SlideReport]) -> bytes:
    return run_job(pdf_job(store, reports))


def pdf_job(store: ProjectStore, reports: Sequence[SlideReport], cancel: CancelToken | None = None) -> Job[bytes]:
    """The PDF's bytes, yielding progress a page at a time (a page's
    thumbnails are what take the time)."""
    from fpdf import FPDF  # imported here: only PDF reports need it

    cancel = cancel or CancelToken()

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer_text = _latin1(f"{store.path.name}  -  generated {generated}  -  HemaLabel")

    class ReportPDF(FPDF):  # type: ignore[misc]  # fpdf2 has no type stubs
        def footer(self) -> None:
            self.set_y(-10)
            self.set_font("Helvetica", "", 7)
            self.set_text_color(110)
            self.cell(0, 4, footer_text, align="L")
            self.set_x(self.l_margin)
            self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")
            self.set_text_color(0)

    pdf = ReportPDF(format="A4")
    pdf.set_margins(MARGIN, 12, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=14)
    pages = report_pages(reports)
    pdf.set_title(_latin1("HemaLabel differential report" + (f": {pages[0].title}" if len(reports) == 1 else "")))
    page = _Page(pdf, store.taxonomy)
    for number, plan in enumerate(pages, start=1):
        cancel.raise_if_cancelled()
        yield Progress(number - 1, len(pages), f"Drawing page {number} of {len(pages)}")
        pdf.add_page()
        if plan.kind == "sample":
            page.sample(store, plan.reports[0])
        else:
            page.summary(plan.title, plan.reports, project_total(store, plan.reports))
    return bytes(pdf.output())


class _Page:
    """Draws one page's parts on an FPDF; fonts and sizes in one place."""

    def __init__(self, pdf: Any, taxonomy: Taxonomy) -> None:  # an fpdf.FPDF (no type stubs)
        self.pdf = pdf
        self.taxonomy = taxonomy

    # ----------------------------------------------------------- text helpers
    def text(self, text: str, size: float = 9, style: str = "", height: float = 4.6, width: float = 0) -> None:
        self.pdf.set_font("Helvetica", style, size)
        self.pdf.multi_cell(width, height, _latin1(text), align="L", new_x="LMARGIN" if not width else "LEFT",
                            new_y="NEXT")

    def fact(self, name: str, value: str, width: float) -> None:
        """"Name: value" at the current x, the name in bold, the value wrapped."""
        pdf = self.pdf
        x = pdf.get_x()
        pdf.set_font("Helvetica", "B", 9)
        label = _latin1(f"{name}: ")
        label_width = pdf.get_string_width(label) + 0.5
        pdf.cell(label_width, 4.6, label)
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(width - label_width, 4.6, _latin1(value), align="L", new_x="LEFT", new_y="NEXT")
        pdf.set_x(x)

    def fit(self, text: str, width: float) -> str:
        """`text` cut with "..." to fit a table cell `width` mm wide in the current font."""
        text = _latin1(text)
        if self.pdf.get_string_width(text) <= width - 2:
            return text
        while text and self.pdf.get_string_width(text + "...") > width - 2:
            text = text[:-1]
        return text + "..."

    # ----------------------------------------------------------- a sample's page
    def sample(self, store: ProjectStore, report: SlideReport) -> None:
        pdf, slide = self.pdf, report.slide
        self.text("HemaLabel differential report", 8, height=4)
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 8, _latin1(f"Sample {report.sample_id}"), align="L", new_x="LMARGIN", new_y="NEXT")
        self.text(f"Image: {report.image_name} ({slide.width} x {slide.height} px)")
        if slide.signed_off_by:
            self.text(f"Signed off by {slide.signed_off_by} at {minute_utc(slide.signed_off_at)}", 10, "B", 5.5)
        else:
            self.text(f"Not signed off ({slide.status.value.replace('_', ' ')}): this count is not final", 10, "B", 5.5)
        pdf.ln(2)
        top = pdf.get_y()
        self.count_table(report.count)
        below_table = pdf.get_y()
        pdf.set_xy(RIGHT_X, top)
        self.facts(report, pdf.w - MARGIN - RIGHT_X)
        pdf.set_y(max(below_table, pdf.get_y()) + 3)
        self.thumbnails(store, report)
        self.text("Morphology comment", 10, "B", 5.5)
        self.text(slide.comment or "None given.")
        self.signature(report)

    def facts(self, report: SlideReport, width: float) -> None:
        slide, count = report.slide, report.count
        if slide.signed_target is not None:
            reached = "reached" if not slide.below_target_reason else f"not reached ({count.counted} counted)"
            self.fact("Target", f"{slide.signed_target} white cells, {reached}", width)
            if slide.below_target_reason:
                self.fact("Below the target because", slide.below_target_reason, width)
        self.fact("Unreviewed white cells", str(count.unreviewed_white), width)
        self.fact("Platelets", str(count.platelets), width)
        if count.other_white:
            other = ", ".join(f"{self.taxonomy.display_of(name)} {n}" for name, n in count.other_white.items())
            self.fact("Not in the differential", other, width)
        if report.blasts.screened:
            self.fact("Lymphoid screen", report.blasts.line(), width)
        self.fact("Classifier", ", ".join(report.model_versions) or "none (labels by hand or imported)", width)
        self.fact("Reviewer", slide.signed_off_by or "-", width)
        self.fact("Reviewed by", ", ".join(report.reviewers) or "-", width)
        self.fact("Signed off", minute_utc(slide.signed_off_at) or "-", width)

    def count_table(self, count: Differential) -> None:
        pdf, widths, height = self.pdf, (51.0, 20.0, 24.0), 5.2
        pdf.set_font("Helvetica", "B", 9)
        for title, width in zip(("Class", "Count", "%"), widths):
            pdf.cell(width, height, title, border=1, align="L" if title == "Class" else "R")
        pdf.ln()
        pdf.set_font("Helvetica", "", 9)
        for name in self.taxonomy.differential_classes():
            pdf.cell(widths[0], height, _latin1(self.taxonomy.display_of(name)), border=1)
            pdf.cell(widths[1], height, str(count.counts[name]), border=1, align="R")
            pdf.cell(widths[2], height, count.percent_text(name, none="n/a"), border=1, align="R")
            pdf.ln()
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(widths[0], height, "White cells counted", border=1)
        pdf.cell(widths[1], height, str(count.counted), border=1, align="R")
        pdf.cell(widths[2], height, "100.0" if count.counted else "n/a", border=1, align="R")
        pdf.ln()
        pdf.set_font("Helvetica", "", 9)
        nrbc = "n/a" if count.nrbc_per_100_wbc is None else f"{count.nrbc_per_100_wbc:.1f}"
        pdf.cell(widths[0], height, "NRBC (per 100 WBC)", border=1)
        pdf.cell(widths[1], height, str(count.nrbc), border=1, align="R")
        pdf.cell(widths[2], height, nrbc, border=1, align="R")
        pdf.ln()
        pdf.cell(widths[0], height, "Unidentified", border=1)
        pdf.cell(widths[1], height, str(count.unidentified), border=1, align="R")
        pdf.cell(widths[2], height, "", border=1)
        pdf.ln()

    def thumbnails(self, store: ProjectStore, report: SlideReport) -> None:
        pdf = self.pdf
        if not report.flagged:
            self.text("Flagged cells: none (no cell changed by a reviewer, of low confidence or Unidentified).")
            pdf.ln(2)
            return
        self.text(f"Flagged cells ({len(report.flagged)}): changed by a reviewer, of low confidence or Unidentified",
                  10, "B", 5.5)
        try:
            image = load_slide_rgb(store, report.slide)
        except ImageReadError as error:
            self.text(f"Thumbnails unavailable: {error.reason}")
            image = None
        from PIL import Image

        shown = report.flagged[:MAX_THUMBNAILS_PER_SLIDE]
        row_y = pdf.get_y()
        for index, flagged in enumerate(shown):
            column = index % THUMBS_PER_ROW
            if column == 0:
                if index:
                    row_y += THUMB + 7.5
                if row_y + THUMB + 7.5 > pdf.h - pdf.b_margin:
                    pdf.add_page()
                    row_y = pdf.get_y()
            x = pdf.l_margin + column * (THUMB + THUMB_GAP)
            if image is not None:
                crop = crop_square(image, flagged.cell.box, outside=OUTSIDE_FOR_DISPLAY)
                pdf.image(Image.fromarray(crop).resize((96, 96)), x=x, y=row_y, w=THUMB, h=THUMB)
            pdf.set_xy(x - THUMB_GAP / 2, row_y + THUMB + 0.3)
            pdf.set_font("Helvetica", "", 5.5)
            pdf.multi_cell(THUMB + THUMB_GAP, 2.4, _latin1(flagged.caption), align="C")
        pdf.set_xy(pdf.l_margin, row_y + THUMB + 8)
        if len(report.flagged) > len(shown):
            self.text(f"... and {len(report.flagged) - len(shown)} more in the window's gallery", 8)
        pdf.ln(1)

    def signature(self, report: SlideReport) -> None:
        """At the foot of the page where there is room, as on a paper form."""
        pdf, slide = self.pdf, report.slide
        block = 22.0
        foot = pdf.h - pdf.b_margin - block
        if pdf.get_y() + 4 < foot:
            pdf.set_y(foot)
        else:
            pdf.ln(4)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(2)
        reviewer = (f"{slide.signed_off_by}, signed off in HemaLabel at {minute_utc(slide.signed_off_at)}"
                    if slide.signed_off_by else "not signed off")
        self.text(f"Sample {report.sample_id}  -  Reviewer: {reviewer}", 9)
        pdf.ln(6)
        self.text(SIGNATURE_LINE, 10)

    # ----------------------------------------------------------- the summary
    def summary(self, title: str, reports: Sequence[SlideReport], total: Differential) -> None:
        pdf = self.pdf
        self.text("HemaLabel differential report", 8, height=4)
        self.text(title, 16, "B", 8)
        signed = sum(1 for report in reports if report.slide.signed_off_by)
        self.text(
            f"{signed} of {len(reports)} signed off.  Each sample's count, flags and signature are on its own page."
        )
        pdf.ln(2)
        columns = (("Sample", 38.0), ("Image", 46.0), ("Reviewer", 22.0), ("Signed off", 32.0),
                   ("WBC", 14.0), ("Unident.", 14.0), ("NRBC", 14.0))
        pdf.set_font("Helvetica", "B", 8)
        for name, width in columns:
            pdf.cell(width, 5, name, border=1, align="L" if width > 20 else "R")
        pdf.ln()
        pdf.set_font("Helvetica", "", 8)
        for report in reports:
            slide, count = report.slide, report.count
            values = (report.sample_id, report.image_name, slide.signed_off_by or "not signed",
                      minute_utc(slide.signed_off_at) or "-", str(count.counted), str(count.unidentified),
                      str(count.nrbc))
            for (_name, width), value in zip(columns, values):
                pdf.cell(width, 4.8, self.fit(value, width), border=1, align="L" if width > 20 else "R")
            pdf.ln()
        pdf.ln(4)
        self.text("All samples pooled", 10, "B", 5.5)
        self.count_table(total)
        versions = sorted({v for report in reports for v in report.model_versions})
        pdf.ln(2)
        self.text(f"Classifier versions: {', '.join(versions) or 'none (labels by hand or imported)'}")


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
