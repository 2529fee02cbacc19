"""`hemalabel export` and `hemalabel import` with the format options."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli.main import main
from core.schema import Box, CellKind, NewCell
from core.store import ProjectStore


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p.hemalabel"
    with ProjectStore.create(path) as store:
        for n in range(5):
            image = tmp_path / f"s{n}.png"
            cv2.imwrite(str(image), np.full((48, 64, 3), 100, np.uint8))
            slide = store.add_slide(image, 64, 48)
            store.add_cells(slide.id, [NewCell(Box(2, 2, 20, 20), CellKind.WHITE, "monocyte", reviewed=True),
                                       NewCell(Box(30, 10, 40, 20), CellKind.RED, reviewed=True)])
    return path


def test_export_then_import_each_format(project: Path, tmp_path: Path, capsys) -> None:
    for fmt in ("voc", "coco", "yolo", "crops", "csv"):
        out = tmp_path / f"out_{fmt}"
        args = ["export", "--project", str(project), "--format", fmt, "--out", str(out), "--json",
                "--split", "0.6,0.2,0.2", "--seed", "4", "--margin", "0.1", "--crop-size", "24"]
        assert main(args) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["slides"], report["cells"], report["splits"]) == (5, 10, {"train": 3, "val": 1, "test": 1})
        copy = tmp_path / f"{fmt}.hemalabel"
        assert main(["import", str(out), "--project", str(copy), "--json"]) == 0
        imported = json.loads(capsys.readouterr().out)
        assert (imported["format"], imported["cells_added"]) == (fmt, 10)


def test_export_options_are_checked(project: Path, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "x")
    assert main(["export", "--project", str(project), "--format", "csv", "--out", out, "--split", "0.5,0.5"]) == 2
    assert "three fractions" in capsys.readouterr().err
    assert main(["export", "--project", str(project), "--format", "csv", "--out", out, "--classes", "blast"]) == 2
    assert "unknown class 'blast'" in capsys.readouterr().err
    assert main(["export", "--project", str(project), "--format", "csv", "--out", out, "--classes", "red"]) == 0
    assert "Exported 5 slides and 5 cells" in capsys.readouterr().out


def test_import_unknown_classes_needs_map_or_skip(tmp_path: Path, capsys) -> None:
    source = tmp_path / "crops"
    for folder in ("Lymph", "junk"):
        (source / folder).mkdir(parents=True)
        cv2.imwrite(str(source / folder / "c.png"), np.full((20, 20, 3), 50, np.uint8))
    project = tmp_path / "new.hemalabel"
    assert main(["import", str(source), "--project", str(project), "--format", "crops"]) == 2
    error = capsys.readouterr().err
    assert "'Lymph': 1 box," in error and "--map OLD=NEW" in error and "--skip-unknown" in error
    assert not project.exists()  # a refused import leaves no empty project behind
    assert main(["import", str(source), "--project", str(project), "--format", "crops", "--map", "Lymph=bogus"]) == 2
    assert "not a class of this project" in capsys.readouterr().err
    args = ["import", str(source), "--project", str(project), "--format", "crops", "--map", "Lymph=lymphocyte",
            "--skip-unknown", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["cells_added"] == 1
