"""Every export that lists cells gives the lymphoid screen's verdict on each:
P(blast), subtype, the flag's state and the screen model, empty for a cell
never screened, with the columns outside scripts read left where they were."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import review
from core.exporting import ExportOptions, export_dataset
from core.formats.csv_format import COLUMNS
from core.importing import import_source
from core.jobs import run_job
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from tests.core.images import write_image

MODEL = "lymphoid-screen 1.0.0"
# What outside scripts were given before the screen: they must find it in place.
OLD_COLUMNS = ("image", "image_width", "image_height", "cell_id", "x0", "y0", "x1", "y1", "kind", "class",
               "probability", "source", "reviewed", "split")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProjectStore]:
    """One slide: a suspected lymphocyte (open flag), a screened one the
    screen cleared, a dismissed monocyte, and a red cell never screened."""
    project = ProjectStore.create(tmp_path / "p.hemalabel")
    project.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
    new = [
        NewCell(Box(2, 2, 14, 14), CellKind.WHITE, label="lymphocyte", source=LabelSource.MODEL),
        NewCell(Box(20, 2, 32, 14), CellKind.WHITE, label="lymphocyte", source=LabelSource.MODEL),
        NewCell(Box(40, 2, 52, 14), CellKind.WHITE, label="monocyte", source=LabelSource.MODEL),
        NewCell(Box(2, 30, 10, 38), CellKind.RED, source=LabelSource.MODEL),
    ]
    open_, cleared, dismissed, _ = (cell.id for cell in project.add_cells(1, new, "Detect cells"))
    project.record_screen(1, [(open_, 0.93, "pre-B", True), (cleared, 0.125, "early pre-B", False),
                              (dismissed, 0.8, "pro-B", True)], MODEL)
    review.dismiss_blast(project, [dismissed])
    yield project
    project.close()


# What each cell of the fixture must carry, by class then box's left edge.
EXPECTED = {
    2.0: ("0.93", "pre-B", "suspected", MODEL),
    20.0: ("0.125", "early pre-B", "none", MODEL),
    40.0: ("0.8", "pro-B", "dismissed", MODEL),
}
NEVER_SCREENED = ("", "", "", "")


def _export(store: ProjectStore, tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / f"out_{fmt}"
    run_job(export_dataset(store, out, ExportOptions(format=fmt)))
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_adds_the_screen_columns_after_the_old_ones(store: ProjectStore, tmp_path: Path) -> None:
    out = _export(store, tmp_path, "csv")
    with (out / "cells.csv").open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == COLUMNS
    assert tuple(header[: len(OLD_COLUMNS)]) == OLD_COLUMNS
    assert header[len(OLD_COLUMNS):] == ["p_blast", "blast_subtype", "blast_flag", "screen_model"]
    got = {}
    for row in _rows(out / "cells.csv"):
        values = (row["p_blast"], row["blast_subtype"], row["blast_flag"], row["screen_model"])
        got[(row["kind"], float(row["x0"]))] = values
    assert got == {("white", x0): values for x0, values in EXPECTED.items()} | {("red", 2.0): NEVER_SCREENED}


def test_a_csv_export_with_screen_columns_imports_as_before(store: ProjectStore, tmp_path: Path) -> None:
    out = _export(store, tmp_path, "csv")
    copy = ProjectStore.create(tmp_path / "copy.hemalabel")
    try:
        run_job(import_source(copy, out))
        assert sorted((c.kind.value, c.label, c.box.x0) for c in copy.cells()) == sorted(
            (c.kind.value, c.label, c.box.x0) for c in store.cells())
    finally:
        copy.close()


def test_coco_annotations_carry_the_verdict_of_screened_cells(store: ProjectStore, tmp_path: Path) -> None:
    document = json.loads((_export(store, tmp_path, "coco") / "annotations.json").read_text(encoding="utf-8"))
    white = {a["bbox"][0]: a for a in document["annotations"] if a["bbox"][2:] == [12, 12]}
    for x0, (p_blast, subtype, flag, model) in EXPECTED.items():
        screen = white[x0]["hemalabel_screen"]
        assert screen == {"p_blast": float(p_blast), "blast_subtype": subtype, "blast_flag": flag,
                          "screen_model": model}
    red = next(a for a in document["annotations"] if a["bbox"] == [2, 30, 8, 8])
    assert "hemalabel_screen" not in red


def test_voc_objects_carry_the_verdict_of_screened_cells(store: ProjectStore, tmp_path: Path) -> None:
    root = ElementTree.parse(_export(store, tmp_path, "voc") / "Annotations" / "a.xml").getroot()
    got = {}
    for obj in root.iter("object"):
        screen = obj.find("hemalabel_screen")
        left = float(obj.findtext("bndbox/xmin") or "nan")
        got[(obj.findtext("name"), left)] = NEVER_SCREENED if screen is None else tuple(
            screen.findtext(tag) for tag in ("p_blast", "blast_subtype", "blast_flag", "screen_model"))
    assert got == {
        ("lymphocyte", 2.0): EXPECTED[2.0], ("lymphocyte", 20.0): EXPECTED[20.0],
        ("monocyte", 40.0): EXPECTED[40.0], ("RBC", 2.0): NEVER_SCREENED,
    }


def test_yolo_lists_the_verdicts_by_label_file_and_line(store: ProjectStore, tmp_path: Path) -> None:
    out = _export(store, tmp_path, "yolo")
    classes = (out / "classes.txt").read_text(encoding="utf-8").splitlines()
    label_lines = (out / "labels" / "a.txt").read_text(encoding="utf-8").splitlines()
    rows = _rows(out / "screen.csv")
    assert [row["label_file"] for row in rows] == ["labels/a.txt"] * 4
    assert sorted(int(row["line"]) for row in rows) == list(range(1, len(label_lines) + 1))
    got = {}
    for row in rows:
        index, cx, _, w, _ = label_lines[int(row["line"]) - 1].split()
        left = round((float(cx) - float(w) / 2) * 64, 3)  # the slide is 64 px wide
        got[(classes[int(index)], left)] = (row["p_blast"], row["blast_subtype"], row["blast_flag"],
                                            row["screen_model"])
    assert got == {
        ("lymphocyte", 2.0): EXPECTED[2.0], ("lymphocyte", 20.0): EXPECTED[20.0],
        ("monocyte", 40.0): EXPECTED[40.0], ("RBC", 2.0): NEVER_SCREENED,
    }


def test_crops_list_the_verdicts_by_crop_file(store: ProjectStore, tmp_path: Path) -> None:
    out = _export(store, tmp_path, "crops")
    rows = _rows(out / "screen.csv")
    assert all((out / row["crop"]).is_file() for row in rows) and len(rows) == 4
    got = {}
    for row in rows:
        cell = store.cell(int(row["cell_id"]))
        got[(cell.kind.value, cell.box.x0)] = (row["p_blast"], row["blast_subtype"], row["blast_flag"],
                                               row["screen_model"])
    assert got == {("white", x0): values for x0, values in EXPECTED.items()} | {("red", 2.0): NEVER_SCREENED}
    assert {row["crop"].split("/")[0] for row in rows} == {"lymphocyte", "monocyte", "RBC"}


@pytest.mark.parametrize("fmt", ["yolo", "crops"])
def test_a_project_never_screened_exports_as_before(tmp_path: Path, fmt: str) -> None:
    project = ProjectStore.create(tmp_path / "p.hemalabel")
    try:
        project.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
        project.add_cells(1, [NewCell(Box(2, 2, 14, 14), CellKind.WHITE, label="lymphocyte")])
        assert not (_export(project, tmp_path, fmt) / "screen.csv").exists()
    finally:
        project.close()
