"""A project is input like any other: a hand-edited project file (a cell
labelled "../../X", a reviewer's comment "=HYPERLINK(...)") must never make
an export write outside its folder or a CSV run a formula in the spreadsheet
that opens it; and an imported CSV's probability must be one (issue 29)."""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.exporting import ExportError, ExportOptions, export_dataset
from core.formats.common import AnnotationError, ExportImage, ExportPlan
from core.formats.crops import export_crops
from core.importing import import_source
from core.jobs import CancelToken, run_job
from core.report import write_report
from core.safe_output import FORMULA_STARTS, OutsideFolderError, path_inside, spreadsheet_text
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore

FORMATS = ("voc", "coco", "yolo", "crops", "csv")


def write_image(path: Path, width: int = 64, height: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 120, np.uint8))
    return path


def hostile_project(folder: Path, label: str) -> Path:
    """A project whose first white cell's label was edited in the file to `label`."""
    path = folder / "project" / "p.hemalabel"
    with ProjectStore.create(path) as store:
        slide = store.add_slide(write_image(folder / "project" / "a.png"), 64, 48)
        store.add_cells(
            slide.id,
            [
                NewCell(Box(4, 4, 20, 20), CellKind.WHITE, label="neutrophil", source=LabelSource.HUMAN, reviewed=True),
                NewCell(
                    Box(30, 10, 44, 24), CellKind.WHITE, label="lymphocyte", source=LabelSource.HUMAN, reviewed=True
                ),
            ],
        )
    with sqlite3.connect(path) as db:
        db.execute("UPDATE cells SET label = ? WHERE label = 'neutrophil'", (label,))
    return path


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("escape", ["../../X", "../X/..", "ABSOLUTE"])
def test_a_label_outside_the_taxonomy_writes_nothing_outside_the_export(tmp_path: Path, fmt: str, escape: str) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    label = str(outside / "X") if escape == "ABSOLUTE" else escape
    project = hostile_project(tmp_path, label)
    out = tmp_path / "exports" / "deep" / "out"
    before = files_under(tmp_path) - files_under(tmp_path / "exports")
    with ProjectStore.open(project, read_only=True) as store:
        report = run_job(export_dataset(store, out, ExportOptions(format=fmt)))
    written_elsewhere = files_under(tmp_path) - files_under(out) - before
    assert not {p for p in written_elsewhere if not p.name.startswith("p.hemalabel")}
    assert not (outside / "X").exists()
    # The cell is exported under its kind's name, as the differential counts it (Unidentified).
    assert report.unknown_labels == {label: 1}
    assert report.cells == 2 and set(report.classes) == {"WBC", "lymphocyte"}
    for path in files_under(out):
        assert path.resolve().is_relative_to(out.resolve())
        if path.suffix in (".xml", ".json", ".txt", ".yaml", ".csv"):
            assert label not in path.read_text(encoding="utf-8"), path


def test_crops_writer_refuses_a_class_name_that_escapes_naming_the_cell(tmp_path: Path) -> None:
    """The writer itself checks every path, whatever plan it is handed."""
    project = hostile_project(tmp_path, "neutrophil")
    with ProjectStore.open(project, read_only=True) as store:
        slide = store.slides()[0]
        cell = store.cells()[0]
        plan = ExportPlan(
            images=[ExportImage(slide, store.image_path(slide), "a.png", None, [(cell, "../../X")])],
            classes=[("../../X", CellKind.WHITE, "../../X")],
            splits=[],
        )
        out = tmp_path / "out"
        out.mkdir()
        with pytest.raises(OutsideFolderError) as raised:
            run_job(export_crops(plan, out, CancelToken()))
    message = str(raised.value)
    assert f"cell {cell.id}" in message and "../../X" in message and "outside" in message
    assert not (tmp_path / "X").exists()


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
@pytest.mark.parametrize("fmt", ["coco", "csv"])
def test_a_symbolic_link_in_the_export_folder_is_not_followed_out(tmp_path: Path, fmt: str) -> None:
    project = hostile_project(tmp_path, "neutrophil")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "images").symlink_to(outside, target_is_directory=True)
    with ProjectStore.open(project, read_only=True) as store, pytest.raises(ExportError) as raised:
        run_job(export_dataset(store, out, ExportOptions(format=fmt, overwrite=True)))
    assert "a.png" in str(raised.value) and "outside" in str(raised.value)
    assert list(outside.iterdir()) == []


@given(st.lists(st.lists(st.sampled_from(["a", "/", "..", ".", "\\", "b", "~"]), max_size=6).map("".join), max_size=4))
def test_path_inside_gives_a_path_inside_or_refuses(parts: list[str]) -> None:
    root = Path(__file__).resolve().parent / "no-such-export-folder"
    try:
        path = path_inside(root, *parts)
    except OutsideFolderError:
        return
    assert path.is_relative_to(root) and path != root


# --------------------------------------------------------------------------- formulas


@given(st.text(max_size=20))
def test_spreadsheet_text_never_leaves_a_formula_start(text: str) -> None:
    safe = spreadsheet_text(text)
    assert not safe.startswith(FORMULA_STARTS)
    assert safe in (text, "'" + text)
    assert (safe == text) == (not text.startswith(FORMULA_STARTS))


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.none()))
def test_numbers_stay_numbers(value) -> None:
    assert spreadsheet_text(value) is value


def test_report_csv_neutralises_every_free_text_field(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        slide = store.add_slide(write_image(tmp_path / "=cmd.png"), 64, 48)
        store.set_sample_id(slide.id, "-2+3")
        store.sign_off(slide.id, "@SUM(A1)", '=HYPERLINK("http://x","y")', below_target_reason="+1+1")
        (tmp_path / "out").mkdir()
        with write_report(store, tmp_path / "out" / "report.csv").open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    for row in rows:
        for value in row:
            assert not value.startswith(FORMULA_STARTS), (value, row)
    header, first = rows[0], dict(zip(rows[0], rows[1]))
    assert first["slide"] == "'=cmd.png" and first["sample"] == "'-2+3"
    assert first["reviewer"] == "'@SUM(A1)" and first["comment"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert first["below_target_reason"] == "'+1+1"
    assert first["white_cells_counted"] == "0" and "target" in header


def test_csv_export_writes_no_formula(tmp_path: Path) -> None:
    project = hostile_project(tmp_path, "=HYPERLINK(\"http://x\",\"y\")")
    with ProjectStore.open(project, read_only=True) as store:
        run_job(export_dataset(store, tmp_path / "out", ExportOptions(format="csv")))
    with (tmp_path / "out" / "cells.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 3
    for row in rows:
        for value in row:
            assert not value.startswith(("=", "+", "@", "\t", "\r")), row


# --------------------------------------------------------------------------- probabilities


@pytest.mark.parametrize("probability", ["nan", "inf", "-inf", "7.5", "-3", "1.0000001"])
def test_a_probability_that_is_none_is_refused_naming_file_and_line(tmp_path: Path, probability: str) -> None:
    root = tmp_path / "csv"
    write_image(root / "a.png")
    (root / "cells.csv").write_text(
        "image,x0,y0,x1,y1,kind,class,probability\n"
        "a.png,1,1,5,5,white,neutrophil,0.9\n"
        f"a.png,6,6,12,12,white,lymphocyte,{probability}\n"
    )
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        with pytest.raises(AnnotationError) as raised:
            run_job(import_source(store, root, fmt="csv"))
        assert store.cells() == []
    assert "cells.csv:line 3" in str(raised.value) and probability in str(raised.value)


@pytest.mark.parametrize("probability", ["0", "1", "0.5", "1e-9"])
def test_probabilities_from_0_to_1_are_kept(tmp_path: Path, probability: str) -> None:
    root = tmp_path / "csv"
    write_image(root / "a.png")
    (root / "cells.csv").write_text(
        f"image,x0,y0,x1,y1,kind,class,probability\na.png,1,1,5,5,white,neutrophil,{probability}\n"
    )
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        run_job(import_source(store, root, fmt="csv"))
        assert store.cells()[0].probabilities == {"neutrophil": float(probability)}
