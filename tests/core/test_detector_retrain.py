"""Teaching the detector from a project's box corrections: which fields are
its examples, the split by slide, and a tiny fine-tune in a child process
that registers a candidate the resolver loads once promoted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.detection.data import GroundTruth
from core.detection.project_fields import project_fields, split_fields
from core.detection.training import train_detector
from core.jobs import run_job
from core.models.detector_card import DetectorCard
from core.models.registry import ModelRegistry, detector_registry
from core.models.resolver import default_detector_card, resolve_detector_card
from core.retraining.detector_job import retrain_detector
from core.retraining.detector_scoring import DetectorComparison, DetectorScores, compare
from core.retraining.job import RetrainError
from core.retraining.settings import DetectorRetrainSettings
from core.schema import Box, CellKind, LabelSource, NewCell, SlideStatus
from core.store import ProjectStore
from tests.core.test_detection_model import disc_field, tiny_config

KINDS = (CellKind.WHITE, CellKind.RED, CellKind.PLATELET)


def stained_like_a_lab(path: Path, seed: int, tint: float = 5.0) -> None:
    """Give a generated field a smear's variety: the whole field's colour
    shifted a little (a stain's day to day), and grain."""
    rng = np.random.default_rng(1000 + seed)
    image = np.asarray(Image.open(path), np.float64)
    image += rng.normal(0, tint, 3) + rng.normal(0, 2, image.shape)
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)


def proposed_project(folder: Path, count: int, tinted: bool = False) -> tuple[Path, list[GroundTruth]]:
    """A project of `count` generated fields, each holding the detector's
    proposals (its true boxes, as if the detector found them all);
    tinted: each field's colours varied (stained_like_a_lab)."""
    images = folder / "images"
    images.mkdir(parents=True)
    fields = [disc_field(images / f"field{i}.png", i) for i in range(count)]
    for i, gt in enumerate(fields):
        if tinted:
            stained_like_a_lab(gt.path, i)
    path = folder / "lab.hemalabel"
    with ProjectStore.create(path) as store:
        for gt in fields:
            slide = store.add_slide(gt.path, 160, 128)
            store.add_cells(slide.id, [NewCell(Box(*map(float, box)), KINDS[int(cls)], source=LabelSource.MODEL)
                                       for box, cls in zip(gt.boxes, gt.classes)])
    return path, fields


def test_drawn_deleted_moved_and_rekinded_boxes_make_their_fields_examples(tmp_path: Path) -> None:
    path, _ = proposed_project(tmp_path, 6)
    with ProjectStore.open(path) as store:
        slides = store.slides()
        drawn = store.add_cell(slides[0].id, Box(1, 1, 21, 21), CellKind.PLATELET)
        deleted = store.cells(slides[1].id)[0]
        store.remove_cells([deleted.id])
        moved = store.move_cell(store.cells(slides[2].id)[0].id, Box(30, 30, 70, 70))
        rekinded = store.cells(slides[3].id)[1]
        store.set_kind([rekinded.id], CellKind.WHITE)
        store.set_slide_status(slides[4].id, SlideStatus.SIGNED_OFF)
        store.set_label([store.cells(slides[5].id)[0].id], "neutrophil")  # a class, not a box: not an example
        found = project_fields(store)
    assert found.box_corrections == {"drawn": 1, "deleted": 1, "moved": 1, "re-kinded": 1}
    assert [gt.attributes["slide_id"] for gt in found.fields] == [str(s.id) for s in slides[:5]]
    by_slide = {int(gt.attributes["slide_id"]): gt for gt in found.fields}
    first = by_slide[slides[0].id]
    assert len(first.boxes) == 5 and first.classes[-1] == 2 and first.boxes[-1].tolist() == [1, 1, 21, 21]
    assert len(by_slide[slides[1].id].boxes) == 3
    assert deleted.box.as_tuple() not in [tuple(b) for b in by_slide[slides[1].id].boxes.tolist()]
    assert by_slide[slides[2].id].boxes[0].tolist() == list(moved.box.as_tuple())
    assert by_slide[slides[3].id].classes.tolist() == [0, 0, 1, 2]
    assert drawn.slide_id == slides[0].id and first.path.is_file()


def test_fields_split_by_slide_with_a_seed() -> None:
    fields = [GroundTruth(Path(f"f{i}.png"), np.zeros((0, 4), np.float32), np.zeros(0, np.int64)) for i in range(10)]
    train, held = split_fields(fields, 0.25, seed=3)
    assert len(held) == 2 and len(train) == 8 and not {g.path for g in train} & {g.path for g in held}
    assert [g.path for g in split_fields(fields, 0.25, seed=3)[1]] == [g.path for g in held]
    assert [len(part) for part in split_fields(fields[:2], 0.9, seed=0)] == [1, 1]


def scores(model: str, ap50: float, precision: float = 0.99, recall: float = 0.99, cells: int = 20) -> DetectorScores:
    return DetectorScores(model, 5, cells, ap50, precision, recall, 0.9, 0.8)


def test_advice_needs_a_gain_without_losing_precision_recall_or_the_original_fields() -> None:
    assert compare((scores("a", 0.40), scores("b", 0.95)), None).promote_advised
    assert not compare((scores("a", 0.95), scores("b", 0.955)), None).promote_advised
    lost = compare((scores("a", 0.40), scores("b", 0.95, precision=0.90)), None)
    assert not lost.promote_advised and "white precision" in lost.recommendation
    forgot = compare((scores("a", 0.40), scores("b", 0.95)), (scores("a", 0.98), scores("b", 0.90)))
    assert not forgot.promote_advised and "original fields" in forgot.recommendation
    assert not compare((scores("a", 0.4, cells=2), scores("b", 0.95, cells=2)), None).promote_advised


def strict_json(text: str) -> object:
    """json.loads refusing NaN and Infinity, which other programs cannot read."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_class_with_no_held_out_box_is_null_in_the_json_and_n_a_in_the_lines(tmp_path: Path) -> None:
    no_platelets = DetectorScores("cell-detector", 3, 12, 0.91, 0.95, 0.9, 0.97, float("nan"))
    comparison = compare((no_platelets, no_platelets), None)
    data = comparison.to_dict()
    assert data["held_out"][1]["platelet_ap50"] is None and data["held_out"][1]["red_ap50"] == 0.97
    assert math.isnan(DetectorComparison.from_dict(strict_json(json.dumps(data)))  # type: ignore[arg-type]
                      .held_out[1].platelet_ap50)
    assert "platelet AP50 n/a" in no_platelets.line() and "nan" not in " ".join(comparison.lines())
    # The registry and the card write a NaN that slips past as null, never as NaN.
    registry = detector_registry(tmp_path)
    (tmp_path / "cell-detector-r1.keras").write_bytes(b"weights")
    registry.register_candidate("cell-detector-r1", "cell-detector", "2026-01-01", {}, {"ap50": float("nan")})
    saved = strict_json(registry.file.read_text(encoding="utf-8"))
    assert saved["versions"][0]["metrics"] == {"ap50": None}  # type: ignore[index]
    card = DetectorCard.load(default_detector_card())
    card.metrics = {"validation": {"platelet": {"ap50": float("nan"), "recall": float("inf")}}}
    card.save(tmp_path / "card.json")
    assert strict_json((tmp_path / "card.json").read_text(encoding="utf-8"))["metrics"] == {  # type: ignore[index]
        "validation": {"platelet": {"ap50": None, "recall": None}}}


def test_the_command_line_prints_a_nan_as_null(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.output import print_json

    print_json({"comparison": {"red_ap50": float("nan"), "scores": (0.5, float("-inf"))}})
    assert strict_json(capsys.readouterr().out) == {"comparison": {"red_ap50": None, "scores": [0.5, None]}}


def test_too_few_reviewed_fields_are_refused_naming_the_project(tmp_path: Path) -> None:
    path, _ = proposed_project(tmp_path, 3)
    with ProjectStore.open(path) as store:
        store.set_slide_status(store.slides()[0].id, SlideStatus.SIGNED_OFF)
    settings = DetectorRetrainSettings(replay_fields=0, check_fields=0)
    with pytest.raises(RetrainError, match=r"lab.hemalabel: 1 reviewed fields of 3"):
        run_job(retrain_detector(path, settings))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_a_tiny_fine_tune_registers_a_candidate_that_promote_and_rollback_switch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli.main import main

    path, fields = proposed_project(tmp_path / "project", 4)
    base = run_job(train_detector(fields, [], tmp_path / "base", tiny_config()))
    with ProjectStore.open(path) as store:
        for slide in store.slides():
            store.remove_cells([store.cells(slide.id)[0].id])  # every field reviewed: a box deleted
    assert main(["train-detector", "--project", str(path), "--init-from", str(base), "--replay-fields", "0",
                 "--max-minutes", "0", "--epochs", "1", "--batch-size", "2", "--json"]) == 0
    printed = capsys.readouterr()
    result = strict_json(printed.out)  # no white cell held out: its scores are null, not NaN
    assert isinstance(result, dict) and result["comparison"]["held_out"][0]["white_ap50"] is None
    assert "epoch 1/1: loss" in printed.err and "fine-tuning on the project's fields alone" in printed.err
    registry = detector_registry()
    candidate = registry.get(result["candidate"])
    assert candidate.name == "cell-detector-r1" and candidate.status == "candidate" and not result["promoted"]
    assert candidate.parent == "cell-detector" and candidate.trained_on == {"white": 0, "red": 6, "platelet": 3}
    assert (result["train_fields"], result["held_out_fields"], result["replay_fields"]) == (3, 1, 0)
    assert result["comparison"]["held_out"][0]["fields"] == 1 and result["comparison"]["original"] is None
    card = DetectorCard.load(candidate.path.with_suffix(".json"))
    assert card.thresholds == DetectorCard.load(base).thresholds and card.training["parent"] == "cell-detector"
    classifier_before = ModelRegistry().current().name
    assert main(["models", "promote", candidate.name, "--detector"]) == 0
    assert resolve_detector_card(None) == candidate.path.with_suffix(".json")
    assert ModelRegistry().current().name == classifier_before  # the classifier's registry is its own
    assert main(["models", "rollback", "--detector"]) == 0
    assert resolve_detector_card(None) == default_detector_card()
    assert [v.name for v in registry.versions()] == ["cell-detector", "cell-detector-r1"]


def test_a_project_fine_tune_refuses_options_of_a_training_from_scratch(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.main import main

    assert main(["train-detector", "--project", "lab.hemalabel", "--colour", "strong", "--crop", "128"]) == 2
    assert "--crop, --colour apply to a training from --data alone" in capsys.readouterr().err
    assert main(["train-detector", "--epochs", "3"]) == 2
    assert "needs --data and --out (or --project" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_a_promoted_candidate_judges_fields_by_a_reference_learnt_on_its_fine_tune(tmp_path: Path) -> None:
    """The candidate's card carries a familiarity reference of its own, so
    once promoted it still tells a field turned in hue from an ordinary one."""
    from app.cli.main import main
    from core.detection.augment import turned_hue
    from core.detection.detector import KerasCellDetector
    from core.detection.familiarity import judge_field
    from core.imaging import load_rgb

    path, fields = proposed_project(tmp_path / "project", 8, tinted=True)
    # Trained until it proposes the white discs, which the reference's fields must hold.
    base = run_job(train_detector(fields, [], tmp_path / "base", tiny_config(epochs=25, learning_rate=0.01)))
    with ProjectStore.open(path) as store:
        for slide in store.slides():
            store.set_slide_status(slide.id, SlideStatus.SIGNED_OFF)  # reviewed, every proposal right
    assert main(["train-detector", "--project", str(path), "--init-from", str(base), "--replay-fields", "0",
                 "--max-minutes", "0", "--epochs", "1", "--batch-size", "2", "--promote"]) == 0
    card = DetectorCard.load(resolve_detector_card(None))
    assert card.training["parent"] == "cell-detector"
    chosen_on = card.familiarity["chosen_on"]
    assert (chosen_on["reviewed_fields"], chosen_on["replayed_fields"]) == (6, 0)
    detector = KerasCellDetector.load(None)
    assert detector.familiarity is not None
    disc_field(tmp_path / "ordinary.png", 100)
    stained_like_a_lab(tmp_path / "ordinary.png", 100, tint=0.0)  # the lab's usual colours
    ordinary = load_rgb(tmp_path / "ordinary.png")
    verdict = judge_field(ordinary, detector.detect(ordinary), detector.familiarity)
    assert verdict is not None and not verdict.unlike
    turned = turned_hue(ordinary, 180)
    verdict = judge_field(turned, detector.detect(turned), detector.familiarity)
    assert verdict is not None and verdict.unlike
