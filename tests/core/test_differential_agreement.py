"""Every count of a project's cells says the same: the differential the
panel shows (`ProjectStore.differential`), the slide list's tallies, the CSV
report's rows, the figures the PDF report prints (`slide_reports`,
`project_total`) and `hemalabel info --json`, slide by slide and in total.
All of them count through one rule (`core.differential.counts_as`)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cli.main import main
from core.differential import CountsAs, Differential, counts_as, differential
from core.report import project_total, slide_reports, write_report
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from core.taxonomy import Taxonomy, TaxonomyClass, default_taxonomy

# The default classes, one more counted ("band") and one kept out of the
# count ("smudge"), which a later taxonomy may drop: its cells then carry a
# label the taxonomy lacks.
_EXTRA = (
    TaxonomyClass("band", "Band neutrophil", "", "#123456", "white", True),
    TaxonomyClass("smudge", "Smudge cell", "", "#654321", "white", False),
)
TAXONOMY = Taxonomy("test", default_taxonomy().classes + _EXTRA)
WITHOUT_SMUDGE = replace(TAXONOMY, classes=tuple(c for c in TAXONOMY.classes if c.name != "smudge"))

cells_strategy = st.builds(
    NewCell,
    box=st.just(Box(2, 2, 20, 20)),
    kind=st.sampled_from(list(CellKind)),
    label=st.sampled_from([None, *TAXONOMY.names]),
    source=st.sampled_from(list(LabelSource)),
    reviewed=st.booleans(),
)
projects = st.lists(st.lists(cells_strategy, max_size=12), min_size=1, max_size=4)


def csv_rows(store: ProjectStore, folder: Path) -> dict[str, dict[str, str]]:
    path = write_report(store, folder / "report.csv")
    return {row["slide"]: row for row in csv.DictReader(path.open(encoding="utf-8-sig"))}


def info_json(project: Path) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["info", "--project", str(project), "--json"]) == 0
    return json.loads(out.getvalue())


def assert_row_says(row: dict[str, str], count: Differential, classes: list[str]) -> None:
    assert int(row["white_cells_counted"]) == count.counted
    assert {name: int(row[f"{name}_count"]) for name in classes} == count.counts
    assert int(row["nrbc"]) == count.nrbc and int(row["platelets"]) == count.platelets
    assert int(row["unidentified"]) == count.unidentified
    assert int(row["unreviewed_white"]) == count.unreviewed_white


def assert_every_white_cell_is_somewhere(count: Differential, cells: list) -> None:
    """No white cell is left out: each is counted in a class, as NRBC, as
    Unidentified, outside the count, or (corrected) as a platelet or red cell."""
    white = sum(cell.kind is CellKind.WHITE for cell in cells)
    platelet_boxes = sum(cell.kind is CellKind.PLATELET for cell in cells)
    red_boxes = sum(cell.kind is CellKind.RED for cell in cells)
    placed = (count.counted + count.nrbc + count.unidentified + sum(count.other_white.values())
              + count.platelets - platelet_boxes + count.red_cells - red_boxes)
    assert placed == white


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(projects, st.booleans())
def test_every_count_agrees_per_slide_and_in_total(slides: list[list[NewCell]], drop_smudge: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        project = root / "p.hemalabel"
        with ProjectStore.create(project, TAXONOMY) as store:
            for index, new_cells in enumerate(slides):
                slide = store.add_slide(root / f"s{index}.png", 64, 48)
                if new_cells:
                    store.add_cells(slide.id, new_cells, "Import annotations")
            if drop_smudge:
                store.set_taxonomy(WITHOUT_SMUDGE)
            taxonomy = store.taxonomy
            classes = taxonomy.differential_classes()
            rows = csv_rows(store, root)
            reports = slide_reports(store)
            tallies = store.cell_tallies()
            for report in reports:
                cells = store.cells(report.slide.id)
                shown = store.differential(report.slide.id)  # what the window's panel shows
                assert shown == differential(cells, taxonomy) == report.count
                assert_every_white_cell_is_somewhere(shown, cells)
                assert_row_says(rows[report.slide.path], shown, classes)
                tally = tallies.get(report.slide.id)
                if tally is not None:  # the slide list's line
                    assert (tally.unidentified, tally.unreviewed_white) == (shown.unidentified, shown.unreviewed_white)
                unidentified = [c for c in cells if counts_as(c.kind, c.label, taxonomy) is CountsAs.UNIDENTIFIED]
                assert shown.unidentified == len(unidentified)
                assert {f.cell.id for f in report.flagged if f.reason == "unidentified"} <= {c.id for c in unidentified}
            total = store.differential()
            assert total == project_total(store, reports)  # the PDF's project table
            assert_row_says(rows["TOTAL"], total, classes)
            assert_every_white_cell_is_somewhere(total, store.cells())
        info = info_json(project)["differential"]
        assert info["total"] == total.as_dict()
        assert set(info["slides"]) == {report.slide.path for report in reports}
        for report in reports:
            assert info["slides"][report.slide.path] == report.count.as_dict()
            assert info["slides"][report.slide.path]["unidentified"] == int(rows[report.slide.path]["unidentified"])


def test_an_imported_white_cell_without_a_class_is_unidentified_everywhere(tmp_path: Path) -> None:
    """The issue's slide: imported white cells without a type counted as
    Unidentified in the window, as nothing in the reports."""
    project = tmp_path / "p.hemalabel"
    with ProjectStore.create(project) as store:
        slide = store.add_slide(tmp_path / "BloodImage_00043.jpg", 640, 480)
        imported = [NewCell(Box(2, 2, 40, 40), CellKind.WHITE, source=LabelSource.IMPORT, reviewed=True)] * 2
        store.add_cells(slide.id, imported + [NewCell(Box(50, 50, 60, 60), CellKind.RED, source=LabelSource.IMPORT,
                                                      reviewed=True)], "Import annotations")
        rows = csv_rows(store, tmp_path)
        (report,) = slide_reports(store)
        assert store.differential(slide.id).unidentified == 2
        assert report.count.unidentified == project_total(store, [report]).unidentified == 2
        assert [f.reason for f in report.flagged] == ["unidentified", "unidentified"]
        assert store.cell_tallies()[slide.id].unidentified == 2
    assert rows[report.slide.path]["unidentified"] == rows["TOTAL"]["unidentified"] == "2"
    assert rows[report.slide.path]["white_cells_counted"] == "0"
    assert info_json(project)["differential"]["slides"][report.slide.path]["unidentified"] == 2
    assert report.count.blockers() == ["2 cells are Unidentified"]
