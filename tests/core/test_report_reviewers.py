"""The reports name each slide's reviewers: who decided on its cells, from
the audit trail, and who signed it off."""

from __future__ import annotations

import csv
from pathlib import Path

from core.identity import Identity
from core.report import write_report
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from tests.core.images import write_image
from tests.core.test_differential_report import pdf_words


def _project(tmp_path: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "p.hemalabel", identity=Identity("AB", "bench-1"))
    first = store.add_slide(write_image(tmp_path / "img" / "a.png"), 64, 48)
    second = store.add_slide(write_image(tmp_path / "img" / "b.png"), 64, 48)
    proposal = NewCell(box=Box(1, 1, 9, 9), kind=CellKind.WHITE, label="monocyte", source=LabelSource.MODEL,
                       model_version="cls-1")
    (cell,) = store.add_cells(first.id, [proposal], description="Classify")
    store.set_label([cell.id], "lymphocyte")
    store.identity = Identity("CD", "bench-2")
    store.confirm([cell.id])
    store.sign_off(first.id, "EF", target=1)
    store.add_cells(second.id, [proposal], description="Classify")  # nobody decided anything on b
    return store


def test_the_csv_report_names_the_reviewers_of_each_slide(tmp_path: Path) -> None:
    with _project(tmp_path) as store:
        out = write_report(store, tmp_path / "r.csv")
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert [(row["slide"], row["reviewer"], row["reviewers"]) for row in rows] == [
        ("img/a.png", "EF", "AB; CD; EF"), ("img/b.png", "", ""), ("TOTAL", "", "AB; CD; EF")]


def test_the_pdf_names_the_reviewers_on_the_samples_page(tmp_path: Path) -> None:
    with _project(tmp_path) as store:
        out = write_report(store, tmp_path / "r.pdf", [1])
    assert "Reviewed by: AB, CD, EF" in pdf_words(out)
