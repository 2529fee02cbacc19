"""Box corrections spread at once (issue 30 item 5):

    uv run pytest tests/benchmarks/test_bench_box_corrections_spread.py -s

A lab whose fields fool the detector: BCCD's 72 test fields in a colour
variant (hues turned 180 or 120 degrees, channels swapped, red cells
stained blue-grey; and untouched, where the lesson must do no harm),
imported as a
plain folder project and detected (`detect --project`).  A few fields (a
seeded draw) are reviewed by script as a technician would: every white
proposal that is no white cell deleted, a white cell proposed as
another kind re-kinded to white, and the white cells left confirmed.  Then `detect --project` runs again, and
what the reviewed fields teach (core.detection.proposal_learning) changes
the proposals on the others.  Scored on the fields nobody reviewed against
BCCD's boxes: white precision and recall of the project's cells before and
after, with the number of proposals the lesson changed and each detect
run's seconds.  Reported, no goal: the issue's goal (precision >= 0.95,
recall >= 0.98 after <= 10 reviewed fields) is the fine-tune's with this
path; this path can drop and re-kind proposals, never find a cell the
detector missed.  Set HEMALABEL_DETECTOR to benchmark another card."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.cli.main import main as hemalabel
from core.detection.data import GroundTruth, read_ground_truth
from core.detection.evaluation import evaluate
from core.detection.proposal_learning import learn_proposals
from core.imaging import load_rgb
from core.schema import Box, CellKind
from core.store import ProjectStore
from tests.benchmarks.common import DATA
from tests.benchmarks.test_bench_detector_from_corrections import project_results
from tests.benchmarks.transformed_fields import LAB_COLOURS

pytestmark = [pytest.mark.realdata, pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is absent")]

VARIANTS = ("untouched", "hue +180", "hue +120", "channels swapped", "blue-grey red cells")
REVIEWED = (3, 10)
SEED = 0
SAME_CELL_IOU = 0.5
ANY_SCORE = {"white": 0.0, "red": 0.0, "platelet": 0.0}  # the project's cells are already the detector's choice


def lab_fields(folder: Path, variant: str) -> dict[str, GroundTruth]:
    """BCCD's test fields in a colour variant, written as the lab's images,
    with their boxes; by file name."""
    folder.mkdir(parents=True)
    change = LAB_COLOURS[variant]
    fields = {}
    for gt in read_ground_truth(DATA / "bccd", "voc", "test"):
        image, boxes = change(load_rgb(gt.path), gt.boxes)
        path = folder / f"{gt.path.stem}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        fields[path.name] = GroundTruth(path, boxes, gt.classes, "lab")
    return fields


def review_by_script(project: Path, fields: dict[str, GroundTruth], names: list[str]) -> tuple[int, int]:
    """A technician's review of the named fields: white proposals on no
    white cell deleted, white cells proposed as another kind re-kinded, the
    white cells then standing confirmed; returns how many were deleted and
    re-kinded."""
    deleted = rekinded = 0
    with ProjectStore.open(project) as store:
        for slide in store.slides():
            if slide.image_name not in names:
                continue
            gt = fields[slide.image_name]
            whites = [Box(*map(float, box)) for box, cls in zip(gt.boxes, gt.classes) if cls == 0]
            wrong, to_white = [], []
            for cell in store.cells(slide.id):
                on_white = any(cell.box.iou(white) >= SAME_CELL_IOU for white in whites)
                if cell.kind is CellKind.WHITE and not on_white:
                    wrong.append(cell.id)
                elif cell.kind is not CellKind.WHITE and on_white:
                    to_white.append(cell.id)
            store.remove_cells(wrong)
            store.set_kind(to_white, CellKind.WHITE)
            # The white cells left standing are accepted, as classifying them would.
            store.confirm([cell.id for cell in store.cells(slide.id)
                           if cell.kind is CellKind.WHITE and not cell.reviewed])
            deleted, rekinded = deleted + len(wrong), rekinded + len(to_white)
    return deleted, rekinded


def lesson_seconds(project: Path, detector_version: str, names: list[str]) -> tuple[float, float | None]:
    """Seconds to learn the project's lesson, and the median seconds to
    apply it to a field's proposals (None: nothing learnt)."""
    with ProjectStore.open(project, read_only=True) as store:
        started = time.perf_counter()
        lesson = learn_proposals(store, detector_version)
        learning = time.perf_counter() - started
        if lesson is None:
            return learning, None
        applying = []
        for slide in store.slides():
            if slide.image_name in names:
                image, cells = load_rgb(store.image_path(slide)), store.cells(slide.id)
                started = time.perf_counter()
                lesson.apply(image, cells)
                applying.append(time.perf_counter() - started)
    return learning, float(np.median(applying))


def detect(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], float]:
    model = os.environ.get("HEMALABEL_DETECTOR")
    started = time.perf_counter()
    code = hemalabel(["detect", "--project", str(project), "--json", *(["--model", model] if model else [])])
    seconds = time.perf_counter() - started
    out = capsys.readouterr().out
    assert code == 0, f"hemalabel detect failed ({code}): {out}"
    return json.loads(out), seconds


@pytest.mark.parametrize("variant", VARIANTS)
def test_deleted_boxes_on_a_few_fields_change_the_others(tmp_path: Path, variant: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    fields = lab_fields(tmp_path / "lab", variant)
    names = sorted(fields)
    order = np.random.default_rng(SEED).permutation(len(names)).tolist()
    lines = [f"\n{variant}: {len(names)} BCCD test fields"]
    for reviewed_count in REVIEWED:
        reviewed = sorted(names[i] for i in order[:reviewed_count])
        rest = [name for name in names if name not in reviewed]
        project = tmp_path / f"lab{reviewed_count}.hemalabel"
        assert hemalabel(["import", str(tmp_path / "lab"), "--project", str(project), "--format", "folder"]) == 0
        capsys.readouterr()
        first, first_seconds = detect(project, capsys)
        assert first["taught"] is None
        before = evaluate(project_results(project, fields, rest), ANY_SCORE)["white"]
        deleted, rekinded = review_by_script(project, fields, reviewed)
        learning, applying = lesson_seconds(project, str(first["model"]), rest)
        second, second_seconds = detect(project, capsys)
        after = evaluate(project_results(project, fields, rest), ANY_SCORE)["white"]
        taught = second["taught"] or {}
        white_cells = int(before["ground_truth"])
        lines.append(
            f"  {reviewed_count} reviewed ({deleted} white boxes deleted, {rekinded} re-kinded to white); "
            f"the other {len(rest)} ({white_cells} white cells): white precision {before['precision']:.3f} -> "
            f"{after['precision']:.3f}, recall {before['recall']:.3f} -> {after['recall']:.3f}, white proposals "
            f"{before['predicted']} -> {after['predicted']}; lesson: "
            + (f"{taught.get('removed', 0)} removed, {taught.get('rekinded', 0)} re-kinded on "
               f"{taught.get('slides', 0)} slides, from {taught.get('examples', 0)} reviewed proposals"
               if taught else "nothing learnt")
            + f"; detect {first_seconds:.1f} s -> {second_seconds:.1f} s (learning {learning:.2f} s a run"
            + (f", applying {applying * 1000:.1f} ms a field)" if applying is not None else ")")
        )
    with capsys.disabled():
        print("\n".join(lines))
