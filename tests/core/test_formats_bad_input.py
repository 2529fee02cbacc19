"""Bad input ends in a clear message naming the file and entry, and leaves the
project as it was; imports merge by image and are applied whole or not at all;
exports refuse to clobber and write atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from core.exporting import ExportError, ExportOptions, export_dataset
from core.formats.common import AnnotationError
from core.importing import ImportSourceError, UnknownClassesError, import_source
from core.jobs import Cancelled, CancelToken, Progress, run_job
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore, StoreError


def write_image(path: Path, width: int = 64, height: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 90, np.uint8))
    return path


def voc_xml(file_name: str, objects: list[tuple[str, tuple[float, float, float, float]]]) -> str:
    parts = [f"<annotation><folder>JPEGImages</folder><filename>{file_name}</filename>"]
    parts.append("<size><width>64</width><height>48</height><depth>3</depth></size>")
    for name, (x0, y0, x1, y1) in objects:
        parts.append(
            f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        )
    return "".join(parts) + "</annotation>"


def make_voc(root: Path, entries: dict[str, list[tuple[str, tuple[float, float, float, float]]]]) -> Path:
    for name, objects in entries.items():
        write_image(root / "JPEGImages" / name)
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"{Path(name).stem}.xml").write_text(voc_xml(name, objects))
    return root


def coco_document(**overrides) -> dict:
    document = {
        "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 10]}],
        "categories": [{"id": 1, "name": "WBC"}],
    }
    document.update(overrides)
    return document


def make_coco(root: Path, document: dict | str) -> Path:
    write_image(root / "images" / "a.png")
    text = document if isinstance(document, str) else json.dumps(document, indent=1)
    (root / "annotations.json").write_text(text)
    return root


@pytest.fixture
def store(tmp_path: Path):
    store = ProjectStore.create(tmp_path / "project" / "p.hemalabel")
    existing = write_image(tmp_path / "project" / "existing.png")
    slide = store.add_slide(existing, 64, 48)
    store.add_cells(slide.id, [NewCell(Box(1, 1, 9, 9), CellKind.RED, source=LabelSource.IMPORT, reviewed=True)])
    yield store
    store.close()


def snapshot(store: ProjectStore):
    return store.summary(), [(s.path, s.status) for s in store.slides()], [c.box for c in store.cells()]


def refused(store: ProjectStore, source: Path, error: type[Exception] = AnnotationError, **kwargs) -> str:
    before = snapshot(store)
    with pytest.raises(error) as raised:
        run_job(import_source(store, source, **kwargs))
    assert snapshot(store) == before, "a refused import changed the project"
    return str(raised.value)


# --------------------------------------------------------------------------- refused whole

def test_file_name_escaping_the_dataset_is_refused(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc", {"a.png": [("WBC", (1, 1, 5, 5))]})
    write_image(tmp_path / "secret.png")
    (root / "Annotations" / "b.xml").write_text(voc_xml("../../secret.png", [("WBC", (1, 1, 5, 5))]))
    message = refused(store, root)
    assert "b.xml" in message and "outside" in message


def test_coco_file_name_escaping_is_refused(store: ProjectStore, tmp_path: Path) -> None:
    document = coco_document(images=[{"id": 1, "file_name": "/etc/passwd", "width": 64, "height": 48}])
    message = refused(store, make_coco(tmp_path / "coco", document))
    assert "annotations.json:images[0]" in message and "outside" in message


@pytest.mark.parametrize("fmt", ["voc", "coco", "csv"])
def test_missing_image_is_refused_naming_the_entry(store: ProjectStore, tmp_path: Path, fmt: str) -> None:
    if fmt == "voc":
        root = make_voc(tmp_path / "voc", {"a.png": [("WBC", (1, 1, 5, 5))]})
        (root / "Annotations" / "gone.xml").write_text(voc_xml("gone.png", [("RBC", (1, 1, 5, 5))]))
        expected = "gone.xml:<filename>"
    elif fmt == "coco":
        images = [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "gone.png"}]
        root = make_coco(tmp_path / "coco", coco_document(images=images))
        expected = "annotations.json:images[1]"
    else:
        root = tmp_path / "csv"
        write_image(root / "a.png")
        (root / "cells.csv").write_text("image,x0,y0,x1,y1,kind\na.png,1,1,5,5,red\ngone.png,1,1,5,5,red\n")
        expected = "cells.csv:line 3"
    message = refused(store, root)
    assert expected in message and "gone.png" in message and "not found" in message


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('{"images": [}', "line 1 column 13: malformed JSON"),
        (coco_document(images=[{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "a.png"}]),
         "images[1]: duplicate image id 1"),
        (coco_document(annotations=[{"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}] * 2),
         "annotations[1]: duplicate annotation id 4"),
        (coco_document(categories=[{"id": 1, "name": "WBC"}, {"id": 1, "name": "RBC"}]),
         "categories[1]: duplicate category id 1"),
        (coco_document(annotations=[{"id": 1, "image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1]}]),
         "annotations[0]: image_id 9 is not in images"),
        (coco_document(annotations=[{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1]}]),
         "annotations[0]: 'bbox' has a negative size"),
        (coco_document(annotations=[{"id": 1, "image_id": 1, "category_id": 1, "bbox": "x"}]),
         "annotations[0]: 'bbox' must be"),
        ({"images": []}, "annotations: missing, or not a list"),
    ],
)
def test_malformed_coco_is_refused(store: ProjectStore, tmp_path: Path, document, expected: str) -> None:
    message = refused(store, make_coco(tmp_path / "coco", document), fmt="coco")
    assert "annotations.json" in message and expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("image,x0,y0,x1,y1\na.png,1,1,2,2\n", None),  # no kind column: not a CSV source
        ("image,x0,y0,x1,y1,kind,cell_id\na.png,1,1,2,2,red,7\na.png,3,3,4,4,red,7\n",
         "line 3: duplicate cell_id 7 (first on line 2)"),
        ("image,x0,y0,x1,y1,kind\na.png,1,one,2,2,red\n", "line 2: bad box"),
        ("image,x0,y0,x1,y1,kind\na.png,5,1,2,2,red\n", "line 2: bad box"),
        ("image,x0,y0,x1,y1,kind\na.png,1,1,2,2,blue\n", "line 2: kind must be"),
        ("image,x0,y0,x1,y1,kind\na.png,1,1,2,2\n", "line 2: expected 6 fields"),
    ],
)
def test_malformed_csv_is_refused(store: ProjectStore, tmp_path: Path, text: str, expected: str | None) -> None:
    root = tmp_path / "csv"
    write_image(root / "a.png")
    (root / "cells.csv").write_text(text)
    if expected is None:
        message = refused(store, root, fmt="csv")
        assert "no CSV file with the columns" in message
    else:
        assert expected in refused(store, root, fmt="csv")


def test_malformed_voc_names_the_element(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc", {"a.png": [("WBC", (1, 1, 5, 5))], "b.png": [("RBC", (1, 1, 5, 5))]})
    (root / "Annotations" / "b.xml").write_text(
        voc_xml("b.png", [("RBC", (1, 1, 5, 5))]).replace("<xmax>5", "<xmax>five")
    )
    message = refused(store, root)
    assert "b.xml:<object> #1 <bndbox> <xmax>" in message


# --------------------------------------------------------------------------- unknown classes

def test_unknown_classes_are_listed_then_mapped_or_skipped(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(
        tmp_path / "voc",
        {"a.png": [("Lymph", (1, 1, 5, 5)), ("Lymph", (6, 6, 9, 9)), ("WBC", (1, 1, 20, 20))],
         "b.png": [("blast", (1, 1, 5, 5))]},
    )
    message = refused(store, root, UnknownClassesError)
    assert "'Lymph': 2 boxes, first at" in message and "a.xml:<object> #1" in message and "'blast': 1" in message

    refused(store, root, ImportSourceError, class_map={"Lymph": "no_such_class"})

    report = run_job(import_source(store, root, class_map={"Lymph": "lymphocyte", "blast": "unidentified"}))
    assert report.cells_added == 4
    assert sorted(c.label or "" for c in store.cells() if c.kind is CellKind.WHITE) == [
        "", "lymphocyte", "lymphocyte", "unidentified"]


def test_skip_unknown_leaves_those_boxes_out(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc", {"a.png": [("Lymph", (1, 1, 5, 5)), ("RBC", (6, 6, 9, 9))]})
    report = run_job(import_source(store, root, skip_unknown=True))
    assert report.cells_added == 1
    assert any("unknown class 'Lymph'" in warning for warning in report.warnings)


# --------------------------------------------------------------------------- boxes outside

def test_boxes_outside_are_clipped_or_dropped_with_a_warning(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc", {"a.png": [("RBC", (-5, 10, 20, 30)), ("RBC", (100, 100, 120, 120))]})
    report = run_job(import_source(store, root))
    assert report.cells_added == 1
    clipped = [cell.box for cell in store.cells() if cell.box.y0 == 10]
    assert clipped == [Box(0, 10, 20, 30)]
    assert any("a.xml:<object> #1" in w and "clipped" in w for w in report.warnings)
    assert any("a.xml:<object> #2" in w and "outside the image; skipped" in w for w in report.warnings)


# --------------------------------------------------------------------------- merge, all or nothing

def test_import_merges_into_the_slide_of_the_same_image(store: ProjectStore, tmp_path: Path) -> None:
    (slide,) = store.slides()
    out = tmp_path / "export"
    run_job(export_dataset(store, out, ExportOptions(format="voc")))
    xml = out / "Annotations" / "existing.xml"
    xml.write_text(xml.read_text().replace("</annotation>", voc_xml("x", [("WBC", (20, 20, 40, 40))])
                                         .split("</size>", 1)[1]))
    report = run_job(import_source(store, out))
    # The exported copy is recognised as the project's own image: no new slide,
    # the unchanged box is not doubled, the new one is added.
    assert (report.slides_added, report.slides_existing) == (0, 1)
    assert (report.cells_added, report.cells_duplicate) == (1, 1)
    assert len(store.slides()) == 1 and len(store.cells(slide.id)) == 2


def test_import_is_all_or_nothing(store: ProjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_voc(tmp_path / "voc", {"a.png": [("WBC", (1, 1, 5, 5))], "b.png": [("RBC", (1, 1, 5, 5))]})
    store.add_slide(root / "JPEGImages" / "b.png", 64, 48)
    # The write fails halfway (a full disk, say): the first image's boxes are written, the second's are not.
    original, calls = store.add_cells, []

    def fail_the_second_time(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            raise StoreError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "add_cells", fail_the_second_time)
    refused(store, root, StoreError)
    assert len(calls) == 2


def test_cancel_leaves_the_project_unchanged(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc", {f"i{n}.png": [("WBC", (1, 1, 5, 5))] for n in range(20)})
    before = snapshot(store)
    token = CancelToken()

    def cancel_midway(progress: Progress) -> None:
        if progress.done >= 8:
            token.cancel()

    with pytest.raises(Cancelled):
        run_job(import_source(store, root, cancel=token), cancel_midway)
    assert snapshot(store) == before


# --------------------------------------------------------------------------- export

def test_export_refuses_a_folder_that_is_not_empty(store: ProjectStore, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        run_job(export_dataset(store, out, ExportOptions(format="csv")))
    assert (out / "notes.txt").read_text() == "mine"


def test_export_leaves_no_temporary_files(store: ProjectStore, tmp_path: Path) -> None:
    for fmt in ("voc", "coco", "yolo", "crops", "csv"):
        out = tmp_path / fmt
        run_job(export_dataset(store, out, ExportOptions(format=fmt, split=(0.5, 0.25, 0.25))))
        assert not [path for path in out.rglob("*") if path.name.endswith(".tmp")]
        assert (out / "hemalabel.json").is_file()


def test_split_is_by_slide_and_repeatable(tmp_path: Path) -> None:
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    for n in range(40):
        slide = store.add_slide(write_image(tmp_path / f"s{n}.png"), 64, 48)
        store.add_cells(slide.id, [NewCell(Box(1, 1, 9, 9), CellKind.RED), NewCell(Box(9, 9, 19, 19), CellKind.RED)])
    reports = [
        run_job(
            export_dataset(store, tmp_path / f"out{i}", ExportOptions(format="csv", split=(0.5, 0.25, 0.25), seed=s))
        )
        for i, s in enumerate((7, 7, 8))
    ]
    assert reports[0].splits == {"train": 20, "val": 10, "test": 10}
    rows = [(tmp_path / f"out{i}" / "cells.csv").read_text() for i in range(3)]
    assert rows[0] == rows[1] and rows[0] != rows[2]
    by_image: dict[str, set[str]] = {}
    for line in rows[0].splitlines()[1:]:
        fields = line.split(",")
        by_image.setdefault(fields[0], set()).add(fields[-1])
    assert all(len(splits) == 1 for splits in by_image.values())  # no slide across splits
    store.close()


def test_slide_and_class_choices(tmp_path: Path) -> None:
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    slides = [store.add_slide(write_image(tmp_path / f"s{n}.png"), 64, 48) for n in range(3)]
    store.add_cells(slides[0].id, [NewCell(Box(1, 1, 9, 9), CellKind.WHITE, "neutrophil", reviewed=True)])
    store.add_cells(slides[1].id, [NewCell(Box(1, 1, 9, 9), CellKind.RED, source=LabelSource.MODEL)])
    store.add_cells(slides[2].id, [NewCell(Box(1, 1, 9, 9), CellKind.PLATELET, "platelet", reviewed=True)])
    store.sign_off(slides[2].id, "tech", below_target_reason="no white cells in this field")

    def export(**options) -> tuple[int, int]:
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        report = run_job(export_dataset(store, out, ExportOptions(format="csv", **options)))
        return report.slides, report.cells

    assert export() == (3, 3)
    assert export(slides="reviewed") == (2, 2)
    assert export(slides="signed-off") == (1, 1)
    assert export(classes=("neutrophil", "red")) == (3, 2)
    with pytest.raises(ExportError, match="unknown class"):
        export(classes=("nonsense",))
    store.close()


def test_csv_keeps_a_model_guess_unreviewed(tmp_path: Path) -> None:
    store = ProjectStore.create(tmp_path / "a.hemalabel")
    slide = store.add_slide(write_image(tmp_path / "s.png"), 64, 48)
    store.add_cells(slide.id, [NewCell(Box(1, 1, 9, 9), CellKind.WHITE, "monocyte", LabelSource.MODEL,
                                       probabilities={"monocyte": 0.625})])
    run_job(export_dataset(store, tmp_path / "out", ExportOptions(format="csv")))
    copy = ProjectStore.create(tmp_path / "b.hemalabel")
    run_job(import_source(copy, tmp_path / "out" / "cells.csv"))
    (cell,) = copy.cells()
    assert (cell.label, cell.reviewed, cell.source, cell.probabilities) == (
        "monocyte", False, LabelSource.MODEL, {"monocyte": 0.625})
    store.close()
    copy.close()


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        # A spreadsheet in a European locale: semicolons, decimal commas, BOM, CRLF.
        ("image;x0;y0;x1;y1;kind;class;probability\r\na.png;1,5;2;10,25;12;white;monocyte;0,75\r\n", "utf-8-sig"),
        ("image\tx0\ty0\tx1\ty1\tkind\tclass\tprobability\na.png\t1.5\t2\t10.25\t12\twhite\tmonocyte\t0.75\n", "utf-8"),
    ],
)
def test_csv_with_semicolons_or_tabs_is_read(tmp_path: Path, text: str, encoding: str) -> None:
    root = tmp_path / "csv"
    write_image(root / "a.png")
    (root / "cells.csv").write_bytes(text.encode(encoding))
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    run_job(import_source(store, root))
    (cell,) = store.cells()
    assert cell.box == Box(1.5, 2, 10.25, 12) and cell.label == "monocyte"
    assert cell.probabilities == {"monocyte": 0.75}
    store.close()


def test_cancel_while_writing_rolls_back(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc", {f"i{n}.png": [("WBC", (1, 1, 5, 5))] for n in range(130)})
    before = snapshot(store)
    token = CancelToken()

    def cancel_when_writing(progress: Progress) -> None:
        if progress.message.startswith("wrote"):
            token.cancel()

    with pytest.raises(Cancelled):
        run_job(import_source(store, root, cancel=token), cancel_when_writing)
    assert snapshot(store) == before


def test_dropping_an_import_midway_rolls_back(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc", {f"i{n}.png": [("WBC", (1, 1, 5, 5))] for n in range(130)})
    before = snapshot(store)
    job = import_source(store, root)
    while not next(job).message.startswith("wrote"):
        pass
    job.close()  # the caller goes away inside the write transaction
    assert snapshot(store) == before


def test_two_voc_files_for_one_image_are_refused(store: ProjectStore, tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc", {"a.png": [("WBC", (1, 1, 5, 5))]})
    (root / "Annotations" / "copy.xml").write_text(voc_xml("a.png", [("RBC", (1, 1, 5, 5))]))
    message = refused(store, root)
    assert "copy.xml:<filename>" in message and "same image as a.xml" in message


def test_yolo_boxes_outside_are_clipped_with_a_warning(store: ProjectStore, tmp_path: Path) -> None:
    root = tmp_path / "yolo"
    write_image(root / "images" / "a.png", 100, 50)
    (root / "labels").mkdir()
    (root / "data.yaml").write_text("names: ['WBC', 'RBC']\n")
    # 1: overshoots by 0.2 px (rounding, clipped quietly); 2: 20 px out; 3: wholly outside.
    (root / "labels" / "a.txt").write_text("0 0.951 0.5 0.1 0.2\n1 0.95 0.5 0.5 0.2\n1 1.5 0.5 0.1 0.1\n")
    report = run_job(import_source(store, root))
    assert report.cells_added == 2
    assert [w for w in report.warnings if "clipped" in w] == [
        f"{root / 'labels' / 'a.txt'}:line 2: box (70.0, 20.0, 120.0, 30.0) clipped to the image"
    ]
    assert any("a.txt:line 3" in w and "outside the image; skipped" in w for w in report.warnings)


def test_yolo_label_without_its_image_is_refused(store: ProjectStore, tmp_path: Path) -> None:
    root = tmp_path / "yolo"
    write_image(root / "images" / "train" / "a.png")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("names: ['WBC']\n")
    (root / "labels" / "train" / "classes.txt").write_text("WBC\n")
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "labels" / "train" / "gone.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    message = refused(store, root)
    assert "gone.txt" in message and "without an image" in message


def test_a_file_given_for_a_folder_format_says_plainly_to_choose_its_folder(store: ProjectStore,
                                                                            tmp_path: Path) -> None:
    """It said "x.png: a folder source is a folder, not a file"."""
    image = write_image(tmp_path / "loose" / "one.png")
    message = refused(store, image, ImportSourceError)
    assert message.startswith(f"{image} is a file, but slide images are imported a folder at a time")
    assert "choose the folder that holds it" in message and "a folder source" not in message
    xml = tmp_path / "loose" / "one.xml"
    xml.write_text("<annotation/>")
    message = refused(store, xml, ImportSourceError, fmt="voc")
    assert message.startswith(f"{xml} is a file, but a Pascal VOC dataset is a folder: choose its folder")
