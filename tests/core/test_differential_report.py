"""The differential count, and the CSV and PDF reports built on it."""

from __future__ import annotations

import csv
import io
import re
import stat
import sys
import zlib
from pathlib import Path

import pytest

from app.cli.main import main
from core.differential import differential
from core.report import ReportError, write_report
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from core.taxonomy import default_taxonomy
from tests.core.file_modes import default_file_mode
from tests.core.images import write_image


def labelled(label: str | None, kind: CellKind = CellKind.WHITE, reviewed: bool = True) -> NewCell:
    return NewCell(box=Box(2, 2, 20, 20), kind=kind, label=label, source=LabelSource.HUMAN, reviewed=reviewed)


def make_project(tmp_path: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    slide = store.add_slide(write_image(tmp_path / "img" / "s1.png", 64, 48), 64, 48)
    cells = [labelled("neutrophil")] * 6 + [labelled("lymphocyte")] * 3 + [labelled("monocyte")]
    cells += [labelled("erythroblast")] * 2 + [labelled("platelet", CellKind.PLATELET)] * 4
    cells += [labelled(None, CellKind.RED)] * 5
    store.add_cells(slide.id, cells, "Import annotations")
    model_cell = store.add_cells(
        slide.id,
        [NewCell(box=Box(30, 10, 50, 30), kind=CellKind.WHITE, source=LabelSource.MODEL)],
        "Detect cells",
    )[0]
    store.set_predictions([(model_cell.id, "monocyte", {"monocyte": 0.55, "lymphocyte": 0.45})], "cls-7")
    store.set_label([model_cell.id], "lymphocyte")
    return store


def test_differential_percentages_nrbc_and_platelets() -> None:
    cells = [labelled("neutrophil")] * 6 + [labelled("lymphocyte")] * 4 + [labelled("erythroblast")] * 2
    cells += [labelled("platelet", CellKind.PLATELET)] * 3
    from core.schema import Cell

    as_cells = [Cell(id=i, slide_id=1, **{k: getattr(c, k) for k in ("box", "kind", "label", "source", "reviewed")})
                for i, c in enumerate(cells)]
    count = differential(as_cells, default_taxonomy())
    assert count.counted == 10
    assert count.percentages["neutrophil"] == pytest.approx(60.0)
    assert count.nrbc == 2 and count.nrbc_per_100_wbc == pytest.approx(20.0)
    assert count.platelets == 3 and count.blockers() == []
    assert count.progress(100) == pytest.approx(0.1)


def test_csv_report_has_counts_and_a_total(tmp_path: Path) -> None:
    with make_project(tmp_path) as store:
        (tmp_path / "out").mkdir()
        written = write_report(store, tmp_path / "out" / "report.csv")
    rows = list(csv.DictReader(written.open(encoding="utf-8-sig")))
    assert [row["slide"] for row in rows] == ["img/s1.png", "TOTAL"]
    assert [row["sample"] for row in rows] == ["s1", ""]
    assert rows[0]["white_cells_counted"] == "11"
    assert rows[0]["lymphocyte_count"] == "4" and rows[0]["neutrophil_percent"] == "54.5"
    assert rows[0]["nrbc"] == "2" and rows[0]["platelets"] == "4"
    assert rows[0]["model_versions"] == "cls-7"


def pdf_text(path: Path) -> str:
    """Text drawn on the pages of a PDF written by fpdf2 (Flate-compressed streams)."""
    data = path.read_bytes()
    text = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            # The stream ends where zlib says, not at the last line break: compressed
            # bytes may end in "\r", which a pattern would take for the line's end.
            content = zlib.decompressobj().decompress(match.group(1))
        except zlib.error:
            continue
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content):
            text.append(re.sub(rb"\\(.)", rb"\1", literal).decode("latin-1"))
    return "\n".join(text)


def pdf_words(path: Path) -> str:
    """The PDF's text as one line of words: what a reader sees, whichever
    cell or line of a table a word was drawn in."""
    return " ".join(pdf_text(path).split())


def test_pdf_report_states_the_counts_and_flags_changed_cells(tmp_path: Path) -> None:
    with make_project(tmp_path) as store:
        written = write_report(store, tmp_path / "report.pdf")
    text = pdf_words(written)
    assert written.read_bytes().startswith(b"%PDF")
    for expected in ("White cells counted", "Neutrophil", "54.5", "NRBC (per 100 WBC) 2 18.2", "Platelets: 4",
                     "cls-7", "Lymphocyte changed from Monocyte", "Flagged cells (1)"):
        assert expected in text, expected


def test_a_slide_with_no_white_cell_counted_reports_no_percentages(tmp_path: Path) -> None:
    """0 of 0 is no share: printing 0.0 for every class would state a count
    that was never made.  The CSV leaves the cells empty (as it does NRBC per
    100), the PDF writes n/a; the slide with cells keeps its figures."""
    with make_project(tmp_path) as store:
        empty = store.add_slide(write_image(tmp_path / "img" / "s2.png", 64, 48), 64, 48)
        store.add_cells(empty.id, [labelled(None, CellKind.RED)] * 3, "Import annotations")
        (tmp_path / "out").mkdir()
        rows = list(csv.DictReader(write_report(store, tmp_path / "out" / "report.csv").open(encoding="utf-8-sig")))
        text = pdf_text(write_report(store, tmp_path / "out" / "report.pdf", [empty.id]))
    by_slide = {row["slide"]: row for row in rows}
    assert by_slide["img/s2.png"]["white_cells_counted"] == "0"
    assert {by_slide["img/s2.png"][f"{name}_percent"] for name in ("neutrophil", "lymphocyte", "monocyte")} == {""}
    assert by_slide["img/s2.png"]["nrbc_per_100_wbc"] == ""
    assert by_slide["img/s1.png"]["neutrophil_percent"] == "54.5"
    assert by_slide["TOTAL"]["neutrophil_percent"] == "54.5"
    table = text.split("Sample s2")[1].split("NRBC")[0]
    assert "0.0" not in table and table.count("n/a") == 7  # six classes and the total


def test_pdf_gives_times_to_the_minute_in_utc(tmp_path: Path) -> None:
    with make_project(tmp_path) as store:
        slide = store.slides()[0]
        store.sign_off(slide.id, "J. Doe", below_target_reason="test field")
        signed_at = store.slide(slide.id).signed_off_at
        text = pdf_text(write_report(store, tmp_path / "report.pdf"))
    assert signed_at is not None
    assert f"Signed off by J. Doe at {signed_at[:10]} {signed_at[11:16]} UTC" in text
    assert signed_at not in text  # not the stored form with seconds, milliseconds and offset


def test_the_sign_off_comment_is_in_both_reports(tmp_path: Path) -> None:
    with make_project(tmp_path) as store:
        slide = store.slides()[0]
        store.confirm([cell.id for cell in store.cells(slide.id)])
        store.sign_off(slide.id, "J. Doe", "Toxic granulation; platelets adequate", below_target_reason="test field")
        (tmp_path / "out").mkdir()
        rows = list(csv.DictReader(write_report(store, tmp_path / "out" / "report.csv").open(encoding="utf-8-sig")))
        text = pdf_words(write_report(store, tmp_path / "out" / "report.pdf"))
    assert rows[0]["comment"] == "Toxic granulation; platelets adequate" and rows[-1]["comment"] == ""
    assert "Morphology comment Toxic granulation; platelets adequate" in text


def test_the_csv_report_opens_in_excel_with_accents_intact(tmp_path: Path) -> None:
    """Excel reads a CSV without a byte-order mark in the legacy code page:
    "Müller" came out as "MÃ¼ller".  The mark tells it UTF-8."""
    with make_project(tmp_path) as store:
        slide = store.slides()[0]
        store.confirm([cell.id for cell in store.cells(slide.id)])
        store.sign_off(slide.id, "Müller", "Anisozytose; Thrombozyten vermindert", below_target_reason="test field")
        written = write_report(store, tmp_path / "report.csv")
    data = written.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfslide,")
    row = next(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert row["reviewer"] == "Müller" and row["comment"] == "Anisozytose; Thrombozyten vermindert"


def test_pdf_flags_an_unsure_cell_with_its_probability_as_a_percent(tmp_path: Path) -> None:
    with make_project(tmp_path) as store:
        slide = store.slides()[0]
        unsure = store.add_cells(slide.id, [NewCell(box=Box(40, 30, 60, 46), kind=CellKind.WHITE,
                                                    source=LabelSource.MODEL)], "Detect cells")[0]
        store.set_predictions([(unsure.id, "monocyte", {"monocyte": 0.62, "lymphocyte": 0.38})], "cls-7")
        text = pdf_text(write_report(store, tmp_path / "report.pdf"))
    assert "low confidence (62%)" in text and "0.62" not in text


def test_pdf_names_outside_latin1_stay_identifiable(tmp_path: Path) -> None:
    """The PDF's core fonts cover Latin-1 only: other characters must not all
    print as '?', or two slides could read the same."""
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    store.add_slide(write_image(tmp_path / "img" / "血液 Ω – Přehled.png", 64, 48), 64, 48)
    written = write_report(store, tmp_path / "report.pdf")
    store.close()
    text = pdf_text(written)
    assert (
        "Image: <U+8840><U+6DB2> <U+03A9> - Prehled.png" in text
        and "Sample <U+8840><U+6DB2> <U+03A9> - Prehled" in text
    )


def test_a_report_to_an_unwritable_folder_is_refused_first(tmp_path: Path, read_only_folder) -> None:
    with make_project(tmp_path) as store:
        locked = tmp_path / "locked"
        locked.mkdir()
        with read_only_folder(locked), pytest.raises(ReportError, match="not writable"):
            write_report(store, locked / "report.pdf")
        with pytest.raises(ReportError, match=".csv or .pdf"):
            write_report(store, tmp_path / "report.docx")
        assert len(store.cells()) == 22  # nothing in the project was touched


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(tmp_path).close()
    assert main(["report", "--project", str(tmp_path / "p.hemalabel"), "--out", str(tmp_path / "r.csv")]) == 0
    assert "Report of 1 slide written" in capsys.readouterr().out
    if sys.platform != "win32":  # readable by the colleagues it is for, as any new file
        assert stat.S_IMODE((tmp_path / "r.csv").stat().st_mode) == default_file_mode()
    assert main(["report", "--project", str(tmp_path / "p.hemalabel"), "--out", str(tmp_path / "no" / "r.csv")]) == 2
    assert "folder does not exist" in capsys.readouterr().err
