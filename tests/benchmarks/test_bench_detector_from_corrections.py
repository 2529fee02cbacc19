"""The detector taught by a lab whose fields fool it (issue 30):

    uv run pytest tests/benchmarks/test_bench_detector_from_corrections.py -s

Two labs, each BCCD's 72 test fields changed: their hues turned 180
degrees, on which the bundled detector alone finds almost no white cell
(the colour turns of `detect` undo it); and their red cells stained
blue-grey, which the bundled detector boxes as white cells and no colour
turn undoes (the lab of issue 30; white precision 0.934 -> 0.683 on the
72 fields at the card's thresholds).  Through the app's own
doors: the fields are imported as a plain folder project and detected;
10 of them (a seeded draw) are reviewed by script, every proposal deleted
and BCCD's boxes drawn (the corrections a technician would make); then
`train-detector --project P --promote` fine-tunes the detector in use and
`detect --project P` runs the promoted one on every field.  Scored on the
62 fields nobody reviewed, against BCCD's boxes: white precision and recall
of the project's cells, and white AP50 of the candidate's scores.  Goals:
precision >= 0.95 and recall >= 0.98 on those fields; the fine-tune (with
its comparison) <= 5 minutes on the 2 cores of this machine; detection as
fast as the bundled detector's.  Nothing here was chosen by looking at the
62 fields' figures."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.cli.main import main as hemalabel
from core.detection.data import KIND_INDEX, GroundTruth, read_ground_truth
from core.detection.detector import KerasCellDetector
from core.detection.evaluation import ImageResult, evaluate
from core.imaging import load_rgb
from core.models.resolver import default_detector_card
from core.schema import Box, CellKind
from core.store import ProjectStore
from tests.benchmarks.common import DATA
from tests.benchmarks.transformed_fields import LAB_COLOURS

pytestmark = [pytest.mark.realdata, pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is absent")]

REVIEWED = 10
SEED = 0
GOAL_PRECISION, GOAL_RECALL, GOAL_MINUTES = 0.95, 0.98, 5.0
KINDS = {index: kind for kind, index in KIND_INDEX.items()}


LABS = ("hue +180", "blue-grey red cells")  # of LAB_COLOURS


def lab_fields(folder: Path, lab: str) -> dict[str, GroundTruth]:
    """BCCD's test fields as the lab has them, written as its images, with
    their boxes; by file name."""
    folder.mkdir()
    fields = {}
    for gt in read_ground_truth(DATA / "bccd", "voc", "test"):
        path = folder / f"{gt.path.stem}.png"
        image, _ = LAB_COLOURS[lab](load_rgb(gt.path), gt.boxes)
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        fields[path.name] = GroundTruth(path, gt.boxes, gt.classes, "lab")
    return fields


def review_by_script(project: Path, fields: dict[str, GroundTruth], names: list[str]) -> None:
    """What a technician does on a field: delete the wrong proposals and
    draw the missed cells; here every proposal goes and the truth is drawn."""
    with ProjectStore.open(project) as store:
        for slide in store.slides():
            if slide.image_name not in names:
                continue
            store.remove_cells([cell.id for cell in store.cells(slide.id)])
            gt = fields[slide.image_name]
            for box, cls in zip(gt.boxes, gt.classes):
                store.add_cell(slide.id, Box(*map(float, box)), KINDS[int(cls)])


def project_results(project: Path, fields: dict[str, GroundTruth], names: list[str]) -> list[ImageResult]:
    """The project's cells on the named fields beside their truth."""
    results = []
    with ProjectStore.open(project, read_only=True) as store:
        for slide in store.slides():
            if slide.image_name not in names:
                continue
            cells = store.cells(slide.id)
            gt = fields[slide.image_name]
            boxes = np.array([c.box.as_tuple() for c in cells], np.float32).reshape(-1, 4)
            scores = np.array([c.score if c.score is not None else 1.0 for c in cells], np.float32)
            classes = np.array([KIND_INDEX[CellKind(c.kind)] for c in cells], np.int64)
            results.append(ImageResult(gt.boxes, gt.classes, boxes, scores, classes))
    return results


def detector_figures(detector: KerasCellDetector, fields: list[GroundTruth]) -> tuple[dict[str, Any], float]:
    """Per class figures at the card's thresholds and the seconds a field takes."""
    results, seconds = [], []
    for gt in fields:
        image = load_rgb(gt.path)
        started = time.perf_counter()
        boxes, scores, classes = detector.detect_arrays(image, min_score=detector.card.min_score)
        seconds.append(time.perf_counter() - started)
        results.append(ImageResult(gt.boxes, gt.classes, boxes, scores, classes))
    return evaluate(results, detector.card.thresholds), float(np.median(seconds))


def run_cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    code = hemalabel(list(argv))
    out = capsys.readouterr().out
    assert code == 0, f"hemalabel {' '.join(argv)} failed ({code}): {out}"
    return out


@pytest.mark.parametrize("lab", LABS)
def test_detector_learns_a_lab_from_ten_reviewed_fields(lab: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(tmp_path / "models"))
    fields = lab_fields(tmp_path / "lab", lab)
    names = sorted(fields)
    reviewed = sorted(np.random.default_rng(SEED).choice(names, REVIEWED, replace=False).tolist())
    rest = [name for name in names if name not in reviewed]
    project = tmp_path / "lab.hemalabel"
    run_cli("import", str(tmp_path / "lab"), "--project", str(project), "--format", "folder", capsys=capsys)
    run_cli("detect", "--project", str(project), capsys=capsys)
    before = evaluate(project_results(project, fields, rest), {"white": 0.0, "red": 0.0, "platelet": 0.0})
    review_by_script(project, fields, reviewed)

    started = time.perf_counter()
    out = run_cli("train-detector", "--project", str(project), "--data", str(DATA), "--promote", "--json",
                  capsys=capsys)
    fine_tune_seconds = time.perf_counter() - started
    report = json.loads(out)
    comparison = report["comparison"]
    run_cli("detect", "--project", str(project), capsys=capsys)
    after = evaluate(project_results(project, fields, rest), {"white": 0.0, "red": 0.0, "platelet": 0.0})

    rest_fields = [fields[name] for name in rest]
    fine_tuned, bundled = KerasCellDetector.load(report["card"]), KerasCellDetector.load(default_detector_card())
    candidate, candidate_seconds = detector_figures(fine_tuned, rest_fields)
    original, original_seconds = detector_figures(bundled, rest_fields)
    # Speed on the fields as BCCD has them, where the bundled detector finds its cells.
    untouched = [gt for gt in read_ground_truth(DATA / "bccd", "voc", "test") if f"{gt.path.stem}.png" in rest]
    _, candidate_plain_seconds = detector_figures(fine_tuned, untouched)
    untouched_figures, original_plain_seconds = detector_figures(bundled, untouched)

    white_before, white_after = before["white"], after["white"]
    white_cells = sum(int((fields[name].classes == 0).sum()) for name in rest)
    print(f"\nlab: {len(names)} BCCD test fields, {lab}; reviewed {REVIEWED}, scored on the other {len(rest)} "
          f"({white_cells} white cells)")
    print(f"fine-tune: {report['seconds']:.0f} s in the job ({fine_tune_seconds:.0f} s with the command's start), "
          f"{report['train_fields']} reviewed fields trained on, {report['held_out_fields']} held out, "
          f"{report['replay_fields']} replayed")
    for pair_name in ("held_out", "original"):
        for scores in comparison[pair_name] or []:
            print(f"  {pair_name}: {scores['model']}: white AP50 {scores['white_ap50']:.3f}, precision "
                  f"{scores['white_precision']:.3f}, recall {scores['white_recall']:.3f}")
    print(f"  advice: {comparison['recommendation']}")
    print(f"project cells, white precision / recall: bundled {white_before['precision']:.3f} / "
          f"{white_before['recall']:.3f}; promoted {white_after['precision']:.3f} / {white_after['recall']:.3f}")
    print(f"white AP50 at the detector: bundled {original['white']['ap50']:.3f}, candidate "
          f"{candidate['white']['ap50']:.3f}; red {original['red']['ap50']:.3f} -> {candidate['red']['ap50']:.3f}, "
          f"platelet {original['platelet']['ap50']:.3f} -> {candidate['platelet']['ap50']:.3f}")
    print(f"detection, median s a field, lab's fields: bundled {original_seconds:.3f}, candidate "
          f"{candidate_seconds:.3f}; the same fields untouched: bundled {original_plain_seconds:.3f}, candidate "
          f"{candidate_plain_seconds:.3f}")
    plain = untouched_figures["white"]
    print(f"for reference, the bundled detector on the same {len(rest)} fields untouched: white AP50 "
          f"{plain['ap50']:.3f}, precision {plain['precision']:.3f}, recall {plain['recall']:.3f}")
    assert white_after["precision"] >= GOAL_PRECISION and white_after["recall"] >= GOAL_RECALL
    assert fine_tune_seconds <= GOAL_MINUTES * 60
    assert candidate_plain_seconds <= original_plain_seconds * 1.2
