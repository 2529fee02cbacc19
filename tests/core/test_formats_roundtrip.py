"""Export -> import round trips over random boxes, taxonomies and image sizes.

VOC, COCO and CSV must give back every box and label exactly, YOLO within
one pixel, crops the same cells per class; the COCO export must load in
pycocotools."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.exporting import ExportOptions, export_dataset
from core.importing import import_source
from core.jobs import run_job
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from core.taxonomy import UNIDENTIFIED, Taxonomy, TaxonomyClass

GROUPS = ("white", "red", "platelet")


@st.composite
def taxonomies(draw: st.DrawFn) -> Taxonomy:
    names = draw(
        st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True), min_size=1, max_size=5, unique=True).filter(
            lambda names: UNIDENTIFIED not in names
        )
    )
    classes = [
        TaxonomyClass(name, name.title(), "", "#808080", draw(st.sampled_from(GROUPS)), False) for name in names
    ]
    classes.append(TaxonomyClass(UNIDENTIFIED, "Unidentified", "", "#7f7f7f", "white", False))
    return Taxonomy("random", tuple(classes))


@st.composite
def boxes(draw: st.DrawFn, width: int, height: int) -> Box:
    """Boxes inside the image: any floats, whole pixels, zero sizes, edges."""
    x0 = draw(st.floats(0, width) | st.integers(0, width).map(float))
    y0 = draw(st.floats(0, height) | st.integers(0, height).map(float))
    x1 = draw(st.floats(x0, width) | st.just(float(width)) | st.just(x0))
    y1 = draw(st.floats(y0, height) | st.just(float(height)))
    return Box(x0, y0, x1, y1)


@st.composite
def projects(draw: st.DrawFn) -> tuple[Taxonomy, list[tuple[int, int, list[NewCell]]]]:
    taxonomy = draw(taxonomies())
    labels = st.none() | st.sampled_from(taxonomy.names)
    slides = []
    for _ in range(draw(st.integers(1, 3))):
        width, height = draw(st.integers(2, 1600)), draw(st.integers(2, 1200))
        cells = [
            NewCell(
                box=draw(boxes(width, height)),
                kind=draw(st.sampled_from(list(CellKind))),
                label=draw(labels),
                source=draw(st.sampled_from([LabelSource.HUMAN, LabelSource.IMPORT])),
                reviewed=True,
            )
            for _ in range(draw(st.integers(0, 6)))
        ]
        slides.append((width, height, cells))
    return taxonomy, slides


def make_project(folder: Path, taxonomy: Taxonomy, slides: list[tuple[int, int, list[NewCell]]]) -> ProjectStore:
    store = ProjectStore.create(folder / "a.hemalabel", taxonomy)
    for index, (width, height, cells) in enumerate(slides):
        path = folder / "images" / f"slide{index}.png"
        path.parent.mkdir(exist_ok=True)
        pixels = np.full((height, width, 3), (index * 40) % 255, np.uint8)
        pixels[::7, ::5] = 200  # something to crop
        cv2.imwrite(str(path), pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        slide = store.add_slide(path, width, height)
        if cells:
            store.add_cells(slide.id, cells)
    return store


def cells_by_image(store: ProjectStore) -> dict[str, list[tuple[str, str | None, tuple[float, ...]]]]:
    result: dict[str, list] = {}
    for slide in store.slides():
        name = Path(slide.path).name
        result[name] = sorted(
            ((c.kind.value, c.label, c.box.as_tuple()) for c in store.cells(slide.id)),
            key=lambda item: (item[0], item[1] or "", item[2]),
        )
    return result


def round_trip(folder: Path, taxonomy: Taxonomy, slides, fmt: str) -> tuple[ProjectStore, ProjectStore, Path]:
    original = make_project(folder, taxonomy, slides)
    out = folder / f"out_{fmt}"
    run_job(export_dataset(original, out, ExportOptions(format=fmt, crop_size=None)))
    copy = ProjectStore.create(folder / "b.hemalabel", taxonomy)
    run_job(import_source(copy, out))
    return original, copy, out


SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["voc", "coco", "csv"])
@SETTINGS
@given(project=projects())
def test_round_trip_is_exact(fmt: str, project) -> None:
    taxonomy, slides = project
    with tempfile.TemporaryDirectory() as temporary:
        original, copy, out = round_trip(Path(temporary), taxonomy, slides, fmt)
        assert cells_by_image(copy) == cells_by_image(original)
        if fmt == "coco":
            assert_pycocotools_reads(out / "annotations.json", sum(len(cells) for _, _, cells in slides))
        original.close()
        copy.close()


@pytest.mark.slow
@SETTINGS
@given(project=projects())
def test_yolo_round_trip_within_one_pixel(project) -> None:
    taxonomy, slides = project
    with tempfile.TemporaryDirectory() as temporary:
        original, copy, _ = round_trip(Path(temporary), taxonomy, slides, "yolo")
        expected, found = cells_by_image(original), cells_by_image(copy)
        assert expected.keys() == found.keys()
        for name, cells in expected.items():
            remaining = list(found[name])
            assert len(cells) == len(remaining), name
            for kind, label, box in cells:
                candidates = [item for item in remaining if item[:2] == (kind, label)]
                assert candidates, (name, kind, label)
                nearest = min(candidates, key=lambda item: max(abs(a - b) for a, b in zip(item[2], box)))
                assert max(abs(a - b) for a, b in zip(nearest[2], box)) <= 1.0, (name, box, nearest)
                remaining.remove(nearest)
        original.close()
        copy.close()


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects())
def test_crops_round_trip_keeps_every_cell_and_class(project) -> None:
    taxonomy, slides = project
    with tempfile.TemporaryDirectory() as temporary:
        original, copy, _ = round_trip(Path(temporary), taxonomy, slides, "crops")
        count = lambda store: Counter((c.kind, c.label) for c in store.cells())  # noqa: E731
        assert count(copy) == count(original)
        assert all(len(copy.cells(slide.id)) == 1 for slide in copy.slides())
        original.close()
        copy.close()


def assert_pycocotools_reads(path: Path, annotations: int) -> None:
    from pycocotools.coco import COCO

    coco = COCO(str(path))
    assert len(coco.getAnnIds()) == annotations
    for annotation in coco.loadAnns(coco.getAnnIds()):
        assert coco.imgs[annotation["image_id"]]["file_name"]


def test_coco_export_is_accepted_by_pycocotools_evaluation(tmp_path: Path) -> None:
    """Scoring the export against itself must give a perfect AP: pycocotools
    reads our images, categories and boxes as COCO means them."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    taxonomy = Taxonomy.load(Path(__file__).parents[2] / "resources" / "taxonomy.json")
    rng = np.random.default_rng(1)
    slides = []
    for _ in range(3):
        cells = []
        for _ in range(8):
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            w, h = rng.uniform(15, 120), rng.uniform(15, 120)
            kind = CellKind(rng.choice(["white", "red", "platelet"]))
            label = "neutrophil" if kind is CellKind.WHITE else ("platelet" if kind is CellKind.PLATELET else None)
            cells.append(NewCell(Box(x, y, min(x + w, 640), min(y + h, 480)), kind, label, LabelSource.HUMAN))
        slides.append((640, 480, cells))
    store = make_project(tmp_path, taxonomy, slides)
    run_job(export_dataset(store, tmp_path / "coco", ExportOptions(format="coco")))
    ground_truth = COCO(str(tmp_path / "coco" / "annotations.json"))
    detections = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
        for a in ground_truth.loadAnns(ground_truth.getAnnIds())
    ]
    evaluation = COCOeval(ground_truth, ground_truth.loadRes(detections), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[1] == pytest.approx(1.0)  # AP at IoU 0.5
    store.close()


def test_coco_keeps_corners_that_xywh_would_round(tmp_path: Path) -> None:
    """46.182 + (185.802 - 46.182) is not 185.802 in floating point: the
    exact corners must survive the x, y, w, h of COCO."""
    taxonomy = Taxonomy.load(Path(__file__).parents[2] / "resources" / "taxonomy.json")
    box = Box(46.182, 46.182, 185.802, 185.802)
    assert box.x0 + box.width != box.x1
    slides = [(640, 480, [NewCell(box, CellKind.WHITE, "monocyte", LabelSource.HUMAN)])]
    original, copy, _ = round_trip(tmp_path, taxonomy, slides, "coco")
    assert [cell.box for cell in copy.cells()] == [box]
    original.close()
    copy.close()


@pytest.mark.parametrize("fmt", ["voc", "coco", "csv", "yolo", "crops"])
def test_class_names_that_look_like_kinds_survive(tmp_path: Path, fmt: str) -> None:
    """Classes named like the kinds (a red-group class 'wbc', 'platelets'),
    labels on a cell of another kind, and unlabelled cells: the exported class
    table keeps every combination apart."""
    classes = [
        TaxonomyClass("wbc", "Wbc", "", "#808080", "red", False),
        TaxonomyClass("platelets", "P", "", "#808080", "white", False),
        TaxonomyClass("rbc", "R", "", "#808080", "platelet", False),
        TaxonomyClass(UNIDENTIFIED, "Unidentified", "", "#7f7f7f", "white", False),
    ]
    taxonomy = Taxonomy("tricky", tuple(classes))
    cells = [
        NewCell(Box(1 + 3 * n, 1, 10 + 3 * n, 12), kind, label, LabelSource.HUMAN)
        for n, (kind, label) in enumerate(
            (kind, label) for kind in CellKind for label in (None, "wbc", "platelets", "rbc", UNIDENTIFIED)
        )
    ]
    original, copy, _ = round_trip(tmp_path, taxonomy, [(64, 48, cells)], fmt)
    combos = lambda store: Counter((c.kind, c.label) for c in store.cells())  # noqa: E731
    assert combos(copy) == combos(original) and len(combos(original)) == 15
    original.close()
    copy.close()
