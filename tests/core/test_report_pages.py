"""The report as a lab files it: a sample identifier on each slide, one page
per sample headed by it and the image's file name, a signature line, no
project total for a single sample, and captions that say only what changed."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from app.cli.main import main
from core.report import SIGNATURE_LINE, report_pages, slide_reports, write_report
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import MAX_SAMPLE_ID, ProjectStore, SlideLockedError, StoreError
from tests.core.images import write_image
from tests.core.test_differential_report import pdf_text, pdf_words


def white(label: str, n: int = 1) -> list[NewCell]:
    return [NewCell(box=Box(2 + i, 2, 20 + i, 20), kind=CellKind.WHITE, label=label, source=LabelSource.HUMAN,
                    reviewed=True) for i in range(n)]


@pytest.fixture
def store(tmp_path: Path):
    """Three slides whose images lie beside, not below, the project folder,
    so their stored paths start with '../'."""
    project = ProjectStore.create(tmp_path / "project" / "p.hemalabel")
    for index in range(3):
        slide = project.add_slide(write_image(tmp_path / "fields" / f"BloodImage_0001{index}.jpg", 64, 48), 64, 48)
        project.add_cells(slide.id, white("neutrophil", 3) + white("lymphocyte", 2), "Import annotations")
    yield project
    project.close()


def page_count(path: Path) -> int:
    return len(re.findall(rb"/Type /Page\b", path.read_bytes()))


def test_a_slide_names_its_sample_by_the_file_stem_until_given_one(store: ProjectStore) -> None:
    slide = store.slides()[0]
    assert slide.path == "../fields/BloodImage_00010.jpg"
    assert slide.sample_id == "BloodImage_00010" and slide.image_name == "BloodImage_00010.jpg"
    assert store.set_sample_id(slide.id, "  H-2026-004711 ").sample_id == "H-2026-004711"
    assert store.slide(slide.id).sample_id == "H-2026-004711"
    assert store.set_sample_id(slide.id, "").sample_id == "BloodImage_00010"  # blank: back to the file's name
    assert store.undo_description() != "Set sample identifier"  # Ctrl+Z stays with the cell edits


def test_a_sample_identifier_is_one_printable_line_and_a_signed_slide_keeps_its_own(store: ProjectStore) -> None:
    slide = store.slides()[0]
    for bad in ("A\nB", "A\tB", "x" * (MAX_SAMPLE_ID + 1)):
        with pytest.raises(StoreError):
            store.set_sample_id(slide.id, bad)
    store.set_sample_id(slide.id, "S-1")
    store.sign_off(slide.id, "JD", below_target_reason="test field")
    with pytest.raises(SlideLockedError):
        store.set_sample_id(slide.id, "S-2")
    assert store.slide(slide.id).sample_id == "S-1"  # kept through the sign-off
    store.unlock(slide.id, "JD", "wrong sample")
    assert store.set_sample_id(slide.id, "S-2").sample_id == "S-2"


def test_the_csv_report_and_info_name_the_sample(store: ProjectStore, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    first = store.slides()[0]
    store.set_sample_id(first.id, "H-2026-004711")
    rows = list(csv.DictReader(write_report(store, tmp_path / "r.csv").open(encoding="utf-8-sig")))
    assert [row["sample"] for row in rows] == ["H-2026-004711", "BloodImage_00011", "BloodImage_00012", ""]
    assert rows[0]["slide"] == "../fields/BloodImage_00010.jpg"  # the column that was there stays
    store.close()
    project = str(tmp_path / "project" / "p.hemalabel")
    assert main(["info", "--project", project, "--json"]) == 0
    samples = json.loads(capsys.readouterr().out)["samples"]
    assert samples["../fields/BloodImage_00010.jpg"] == "H-2026-004711"
    assert main(["info", "--project", project]) == 0
    assert "Sample H-2026-004711: ../fields/BloodImage_00010.jpg" in capsys.readouterr().out


def test_one_sample_is_one_page_without_a_project_total(store: ProjectStore, tmp_path: Path) -> None:
    slide = store.slides()[0]
    store.set_sample_id(slide.id, "H-2026-004711")
    store.sign_off(slide.id, "JD", "Platelets adequate", below_target_reason="one field")
    pages = report_pages(slide_reports(store, [slide.id]))
    assert [(page.kind, page.title) for page in pages] == [("sample", "Sample H-2026-004711")]
    written = write_report(store, tmp_path / "one.pdf", [slide.id])
    text = pdf_words(written)
    assert page_count(written) == 1
    assert text.startswith("HemaLabel differential report Sample H-2026-004711 Image: BloodImage_00010.jpg")
    assert "../" not in text and "total" not in text.lower() and "Summary" not in text
    assert " ".join(SIGNATURE_LINE.split()) in text
    assert "Reviewer: JD" in text and "Morphology comment Platelets adequate" in text


def test_several_samples_end_with_a_summary(store: ProjectStore, tmp_path: Path) -> None:
    reports = slide_reports(store)
    pages = report_pages(reports)
    assert [page.kind for page in pages] == ["sample", "sample", "sample", "summary"]
    assert [page.title for page in pages[:3]] == [f"Sample BloodImage_0001{i}" for i in range(3)]
    assert pages[-1].reports == tuple(reports)
    written = write_report(store, tmp_path / "three.pdf")
    text = pdf_text(written)
    assert page_count(written) == 4
    assert text.count(SIGNATURE_LINE) == 3  # one for each sample, none on the summary
    assert text.index("Sample BloodImage_00012") < text.index("Summary of 3 samples")


def test_a_caption_says_changed_only_when_the_class_changed(store: ProjectStore) -> None:
    slide = store.slides()[0]
    back, changed, model = (cell.id for cell in store.cells(slide.id)[:3])
    store.set_label([back], "lymphocyte")
    store.set_label([back], "neutrophil")  # changed and changed back: no change to report
    store.set_label([changed], "ig")
    store.set_predictions([(model, "neutrophil", {"neutrophil": 0.55, "monocyte": 0.45})], "cls-1")
    (report,) = slide_reports(store, [slide.id])
    captions = {flag.cell.id: flag.caption for flag in report.flagged}
    assert back not in captions
    assert captions[changed] == "Immature granulocyte\nchanged from Neutrophil"
    assert captions[model] == "Neutrophil\nlow confidence (55%)"


def test_the_report_job_counts_a_slide_and_draws_a_page_at_a_time_and_a_cancel_writes_nothing(
        tmp_path: Path) -> None:
    from core.jobs import Cancelled, CancelToken, Progress, run_job
    from core.report import report_job

    store = ProjectStore.create(tmp_path / "p.hemalabel")
    try:
        for n in range(3):
            store.add_slide(write_image(tmp_path / f"s{n}.png"), 64, 48)
        seen: list[Progress] = []
        written = run_job(report_job(store, tmp_path / "r.pdf"), seen.append)
        assert written.is_file()
        # 3 slides counted, 3 sample pages and the summary drawn, the file written.
        assert seen[-1].done == seen[-1].total == 8 and [p.done for p in seen] == sorted(p.done for p in seen)
        assert any("Drawing page 4 of 4" in p.message for p in seen)

        cancel = CancelToken()
        job = report_job(store, tmp_path / "cancelled.pdf", cancel=cancel)
        next(job)
        cancel.cancel()
        with pytest.raises(Cancelled):
            run_job(job)
        assert not (tmp_path / "cancelled.pdf").exists()
    finally:
        store.close()
