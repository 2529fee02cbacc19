"""Running (fake) models over a project through the core jobs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from core.detection.magnification import SLIDE_KEY as MAGNIFICATION_KEY
from core.detection.magnification import Magnification, RedRuler
from core.inference import Detection, classify_slides, detect_slides
from core.jobs import Cancelled, CancelToken, Progress, run_job
from core.schema import Box, CellKind, LabelSource, SlideStatus
from core.store import ProjectStore
from tests.core.images import write_image, write_truncated_jpeg


class FakeDetector:
    version = "det-fake-1"

    def detect(self, image: np.ndarray) -> list[Detection]:
        return [
            Detection(Box(2, 2, 20, 20), CellKind.WHITE, 0.9),
            Detection(Box(30, 5, 40, 15), CellKind.RED, 0.8),
            Detection(Box(50, 30, 54, 34), CellKind.PLATELET, 0.7),
        ]


class FakeClassifier:
    version = "cls-fake-1"
    classes: tuple[str, ...] = ("neutrophil", "lymphocyte")
    crop_margin = 0.1

    def __init__(self, confidence: float) -> None:
        self.confidence = confidence
        self.seen: list[tuple[int, ...]] = []

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        self.seen += [crop.shape for crop in crops]
        return np.array([[self.confidence, 1 - self.confidence]] * len(crops))

    def threshold_for(self, label: str) -> float:
        return 0.7


@pytest.fixture
def project(tmp_path: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    for index in range(3):
        store.add_slide(write_image(tmp_path / f"s{index}.png", seed=index), 64, 48)
    yield store
    store.close()


def test_detection_writes_model_proposals_and_a_rerun_replaces_them(project: ProjectStore) -> None:
    ids = [slide.id for slide in project.slides()]
    progress: list[Progress] = []
    failures = run_job(detect_slides(project, FakeDetector(), ids), progress.append)
    assert failures == [] and [p.payload for p in progress] == ids
    cells = project.cells(ids[0])
    assert {c.kind for c in cells} == set(CellKind)
    assert all(c.source is LabelSource.MODEL and not c.reviewed for c in cells)
    assert project.slide(ids[0]).status is SlideStatus.PROPOSED
    project.confirm([cells[0].id])  # a technician accepts one box
    run_job(detect_slides(project, FakeDetector(), ids[:1]))
    after = project.cells(ids[0])
    assert len(after) == 3 and cells[0].id in {c.id for c in after}  # reviewed box kept, not proposed again


def test_a_slide_where_nothing_was_found_is_no_longer_new(project: ProjectStore) -> None:
    class FindsNothing:
        version = "det-empty-1"

        def detect(self, image: np.ndarray) -> list[Detection]:
            return []

    slide = project.slides()[0]
    run_job(detect_slides(project, FindsNothing(), [slide.id]))
    after = project.slide(slide.id)
    assert project.cells(slide.id) == [] and after.status is SlideStatus.PROPOSED
    assert after.attributes["detector_version"] == "det-empty-1"
    assert project.slides()[1].status is SlideStatus.NEW  # not looked at


def test_classification_sends_unsure_cells_to_unidentified(project: ProjectStore) -> None:
    ids = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, FakeDetector(), ids))
    sure, unsure = FakeClassifier(0.9), FakeClassifier(0.6)
    run_job(classify_slides(project, sure, ids[:1]))
    run_job(classify_slides(project, unsure, ids[1:2]))
    (white_sure,) = project.cells(ids[0], kind=CellKind.WHITE)
    (white_unsure,) = project.cells(ids[1], kind=CellKind.WHITE)
    assert white_sure.label == "neutrophil" and white_sure.model_version == "cls-fake-1"
    assert white_unsure.label == "unidentified"
    assert white_unsure.probabilities == pytest.approx({"neutrophil": 0.6, "lymphocyte": 0.4})
    assert sure.seen == [(22, 22, 3)]  # one white cell, cropped square with its margin


def test_an_unreadable_slide_is_reported_and_the_run_goes_on(project: ProjectStore, tmp_path: Path) -> None:
    broken = project.add_slide(write_truncated_jpeg(tmp_path / "broken.jpg"), 200, 150)
    ids = [broken.id] + [slide.id for slide in project.slides() if slide.id != broken.id]
    failures = run_job(detect_slides(project, FakeDetector(), ids))
    assert [f.slide_id for f in failures] == [broken.id] and "truncated" in failures[0].reason
    assert len(project.cells()) == 9


def test_a_slide_whose_image_changed_size_is_skipped_everywhere_with_its_reason(
    project: ProjectStore, tmp_path: Path
) -> None:
    """Boxes are in the pixels of the image as added; a file replaced by
    another size would give wrong crops, detections and exported boxes."""
    from core.exporting import ExportOptions, export_dataset
    from core.training.samples import from_store

    ids = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, FakeDetector(), ids))
    project.set_label([c.id for c in project.cells(ids[0]) if c.kind is CellKind.WHITE], "neutrophil")
    assert from_store(project, ["neutrophil"])
    write_image(project.image_path(project.slide(ids[0])), 32, 24, seed=9)  # was 64x48
    failures = run_job(classify_slides(project, FakeClassifier(0.9), ids))
    assert [f.slide_id for f in failures] == [ids[0]] and "was 64x48" in failures[0].reason
    assert "32x24 now" in run_job(detect_slides(project, FakeDetector(), ids))[0].reason
    report = run_job(export_dataset(project, tmp_path / "crops", ExportOptions(format="crops")))
    assert any("was 64x48" in reason for _, reason in report.skipped)
    assert not from_store(project, ["neutrophil"])  # its cells are no training data now


def test_a_run_over_all_slides_passes_a_signed_off_slide_by(project: ProjectStore) -> None:
    ids = [slide.id for slide in project.slides()]
    drawn = project.add_cell(ids[0], Box(2, 2, 20, 20), CellKind.WHITE, label="neutrophil")
    project.sign_off(ids[0], "tech", target=1)
    failures = run_job(detect_slides(project, FakeDetector(), ids))
    assert [(f.slide_id, "signed off" in f.reason) for f in failures] == [(ids[0], True)]
    assert [c.id for c in project.cells(ids[0])] == [drawn.id]  # untouched
    assert all(len(project.cells(i)) == 3 for i in ids[1:])  # the others were done
    failures = run_job(classify_slides(project, FakeClassifier(0.2), ids))
    assert [f.slide_id for f in failures] == [ids[0]] and project.cell(drawn.id).label == "neutrophil"


def test_detection_honours_cancel(project: ProjectStore) -> None:
    token = CancelToken()
    job = detect_slides(project, FakeDetector(), [s.id for s in project.slides()], cancel=token)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        run_job(job)
    assert len({c.slide_id for c in project.cells()}) == 1


class PlateletMinded(FakeClassifier):
    """Puts most of its mass on platelet, then lymphocyte."""

    classes = ("neutrophil", "lymphocyte", "platelet")

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([[0.1, 0.3, 0.6]] * len(crops))


def test_a_white_cell_is_never_called_a_platelet_and_a_platelet_is_never_called_white(project: ProjectStore) -> None:
    ids = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, FakeDetector(), ids[:1]))
    run_job(classify_slides(project, PlateletMinded(0.0), ids[:1], kinds=(CellKind.WHITE, CellKind.PLATELET)))
    (white,) = project.cells(ids[0], kind=CellKind.WHITE)
    (platelet,) = project.cells(ids[0], kind=CellKind.PLATELET)
    assert white.label == "lymphocyte"  # 0.3 of the 0.4 left once platelet is ruled out
    assert white.probabilities == pytest.approx({"neutrophil": 0.25, "lymphocyte": 0.75, "platelet": 0.0})
    assert platelet.label == "platelet" and platelet.probabilities["platelet"] == pytest.approx(1.0)


class LabScope:
    """A detector with a red-cell ruler whose every field holds red cells
    250 px wide (a lab imaging at 2.5 times the learnt size): it records
    the factor each field is looked at first."""

    version = "det-scope-1"

    def __init__(self) -> None:
        self.first_factors: list[float] = []

    def ruler(self) -> RedRuler:
        return RedRuler(50.0, 200.0, typical=100.0)

    def detect_magnified(self, image: np.ndarray, start: float = 1.0) -> tuple[Magnification, list[Detection]]:
        self.first_factors.append(start)
        factor = start if 50.0 <= 250.0 * start <= 200.0 else 0.4
        return Magnification(factor, 250.0, 12, 1 if factor == start else 2), []

    def detect(self, image: np.ndarray) -> list[Detection]:
        return self.detect_magnified(image)[1]


def test_a_run_over_one_slide_agrees_with_the_magnification_of_the_project_s_others(
    project: ProjectStore, tmp_path: Path
) -> None:
    ids = [slide.id for slide in project.slides()]
    scope = LabScope()
    run_job(detect_slides(project, scope, ids))
    assert scope.first_factors == [1.0, 1.0, 1.0]  # too few fields yet to agree
    recorded = project.slide(ids[0]).attributes[MAGNIFICATION_KEY]
    assert Magnification.from_attribute(recorded, scope.version) == Magnification(0.4, 250.0, 12, 2)
    assert Magnification.from_attribute(recorded, "another-detector") is None
    late = project.add_slide(write_image(tmp_path / "late.png", seed=9), 64, 48)
    run_job(detect_slides(project, scope, [late.id]))
    assert scope.first_factors[-1] == pytest.approx(0.4)  # the lab's, from the slides found before
    run_job(detect_slides(project, scope, ids))  # the slides of a run are not also counted as the others
    assert scope.first_factors[-3:] == [1.0, 1.0, pytest.approx(0.4)]


def test_detect_says_how_many_fields_it_looked_at_resized(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import core.detection.detector
    from app.cli.main import main

    folder = tmp_path / "lab"
    for index in range(4):
        write_image(folder / f"f{index}.png", seed=index)
    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: LabScope())
    assert main(["detect", "--images", str(folder), "--out", str(tmp_path / "d.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["magnification"] == {"measured": 4, "resized": 4, "median_factor": 0.4}
    assert main(["detect", "--images", str(folder), "--out", str(tmp_path / "d.csv")]) == 0
    assert ("4 fields of 4 looked at resized (median x0.40): their red cells are larger than in the fields the "
            "detector learnt from") in capsys.readouterr().out


def test_nothing_is_said_of_scale_when_no_field_was_resized() -> None:
    from core.detection.magnification import resized_sentence, resized_summary

    summary = resized_summary([Magnification(1.0, 100.0, 12, 1), None])
    assert summary == {"measured": 1, "resized": 0, "median_factor": None} and resized_sentence(summary) is None
    enlarged = resized_summary([Magnification(2.5, 40.0, 12, 2)])
    sentence = str(resized_sentence(enlarged))
    assert "1 field of 1 looked at resized (median x2.50): their red cells are smaller" in sentence
