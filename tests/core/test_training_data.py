"""Splits, sample sources, calibration and metrics: numpy only, fast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.classifier.calibration import (
    ece_of_calibrated_model,
    expected_calibration_error,
    fit_temperature,
    softmax,
    threshold_for_accuracy,
    threshold_for_recall,
)
from core.classifier.metrics import classification_report, recall_intervals
from core.classifier.preprocess import batch_of, resize_square
from core.jobs import run_job
from core.schema import Box
from core.training.loading import load_cells
from core.training.samples import DatasetError, LabelledCell, from_class_folders
from core.training.splits import split_samples
from tests.conftest import REAL_DATA
from tests.core.classifier_fixtures import write_class_tree


def _cells(n: int, label: str, groups: int) -> list[LabelledCell]:
    return [LabelledCell(Path(f"{label}{i}.png"), None, label, f"{label}-g{i % groups}") for i in range(n)]


def test_split_keeps_duplicates_together_and_is_stratified_and_reproducible() -> None:
    samples = _cells(100, "a", 50) + _cells(40, "b", 40)
    parts = split_samples(samples, 0.2, 0.2, seed=3)
    sides = {s.group: name for name, cells in parts.items() for s in cells}
    for name, cells in parts.items():
        assert all(sides[s.group] == name for s in cells)
    assert sum(len(c) for c in parts.values()) == 140
    assert sum(s.label == "b" for s in parts["test"]) == 8
    assert split_samples(samples, 0.2, 0.2, seed=3) == parts


def test_class_folders_match_case_insensitively_and_reject_unknown(tmp_path: Path) -> None:
    tree = write_class_tree(tmp_path / "t", per_class=2)
    cells = from_class_folders(tree, ["neutrophil", "eosinophil", "lymphocyte"])
    assert {c.label for c in cells} == {"neutrophil", "eosinophil", "lymphocyte"} and len(cells) == 6
    (tree / "Blast").mkdir()
    with pytest.raises(DatasetError, match="Blast.*neutrophil, eosinophil, lymphocyte"):
        from_class_folders(tree, ["neutrophil", "eosinophil", "lymphocyte"])


def test_class_folders_leave_hidden_files_and_folders_out(tmp_path: Path) -> None:
    """As import does: a viewer's .thumbnails folder holds copies of the
    images, and a Mac's "._name.png" beside each image is no image."""
    tree = write_class_tree(tmp_path / "t", per_class=2)
    for class_dir in [p for p in tree.iterdir() if p.is_dir()]:
        image = sorted(class_dir.iterdir())[0]
        (class_dir / ("._" + image.name)).write_bytes(b"\x00\x05\x16\x07 AppleDouble")
        (class_dir / ".thumbnails").mkdir()
        (class_dir / ".thumbnails" / image.name).write_bytes(image.read_bytes())
    skipped: list[tuple[str, str]] = []
    cells = from_class_folders(tree, ["neutrophil", "eosinophil", "lymphocyte"], skipped)
    assert len(cells) == 6 and skipped == []
    assert all(not part.startswith(".") for c in cells for part in c.path.relative_to(tree).parts)


def test_load_cells_evaluation_view_is_the_inference_crop(tmp_path: Path) -> None:
    tree = write_class_tree(tmp_path / "t", per_class=1)
    cells = from_class_folders(tree, ["neutrophil", "eosinophil", "lymphocyte"])
    (tmp_path / "bad.png").write_bytes(b"junk")
    cells.append(LabelledCell(tmp_path / "bad.png", Box(0, 0, 5, 5), "neutrophil", "x"))
    arrays = run_job(load_cells(cells, ["neutrophil", "eosinophil", "lymphocyte"], 24, 0.15))
    assert arrays.eval_view.shape == (3, 24, 24, 3) and arrays.train_view.shape[1] > 24
    assert len(arrays.skipped) == 1 and "bad.png" in arrays.skipped[0][0]
    from core.imaging import load_rgb

    assert np.array_equal(arrays.eval_view[0], resize_square(load_rgb(cells[0].path), 24))


def test_resizing_on_threads_gives_the_same_pixels_in_the_same_order() -> None:
    rng = np.random.default_rng(4)
    crops = [rng.integers(0, 256, (side, side + side % 3, 3)).astype(np.uint8) for side in range(10, 110)]
    one = batch_of(crops, 24)
    assert np.array_equal(batch_of(crops, 24, threads=3), one)
    assert np.array_equal(one[57], resize_square(crops[57], 24))
    assert batch_of([], 24, threads=4).shape == (0, 24, 24, 3)


def test_temperature_scaling_reduces_ece_of_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 2000)
    logits = rng.normal(0, 1, (2000, 4))
    logits[np.arange(2000), labels] += 1.5
    logits *= 4  # overconfident
    t = fit_temperature(logits, labels)
    assert t > 2
    assert expected_calibration_error(softmax(logits, t), labels) < expected_calibration_error(softmax(logits), labels)


def test_thresholds() -> None:
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.45, 0.55], [0.2, 0.8]])
    labels = np.array([0, 1, 1, 1])
    assert threshold_for_accuracy(probabilities, labels, target=1.0) == 0.61
    threshold, recall = threshold_for_recall(probabilities, labels, 1, 0.6)
    assert recall >= 0.6 and threshold == 0.55


def test_classification_report_figures() -> None:
    logits = np.log(np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]]))
    report = classification_report(logits, np.array([0, 1, 1, 1]), ["a", "b"], 1.0, [0.5, 0.65])
    assert report["accuracy"] == 0.75
    assert report["confusion_matrix"] == [[1, 0], [1, 2]]
    assert report["balanced_accuracy"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert report["coverage_above_threshold"] == 0.75
    low, high = report["balanced_accuracy_ci95"]
    assert 0.2 < low < report["balanced_accuracy"] < high < 1.0  # four cells settle little


def test_recall_intervals_narrow_with_more_cells_and_leave_doubt_when_all_are_right() -> None:
    few = recall_intervals([[10, 0], [1, 9]])
    many = recall_intervals([[1000, 0], [100, 900]])
    assert many["accuracy"][0] < 0.95 < many["accuracy"][1]
    assert many["accuracy"][1] - many["accuracy"][0] < few["accuracy"][1] - few["accuracy"][0]
    assert recall_intervals([[50, 0], [0, 50]])["balanced_accuracy"][0] < 0.99  # all right, still not certain
    # Over chosen classes only: the second class alone is 90% right.
    low, high = recall_intervals([[1000, 0], [100, 900]], classes=[1])["balanced_accuracy"]
    assert low < 0.9 < high
    assert recall_intervals([[0, 0], [0, 0]]) == {}


@pytest.mark.realdata
@pytest.mark.slow
def test_pbc_boxes_give_one_cell_per_image_of_its_class() -> None:
    from core.training.pbc import pbc_cells

    cells, fallbacks = pbc_cells(REAL_DATA / "pbc")
    assert len(cells) == 8000 and fallbacks < 400
    assert {c.label for c in cells} == {"basophil", "eosinophil", "erythroblast", "ig", "lymphocyte", "monocyte",
                                        "neutrophil", "platelet"}
    platelet = [c.box.width for c in cells if c.label == "platelet"]
    white = [c.box.width for c in cells if c.label == "neutrophil"]
    assert np.median(platelet) < np.median(white) / 2  # the platelet's own box, not the field


@pytest.mark.realdata
@pytest.mark.slow
def test_bccd_white_cells_are_labelled_only_in_single_cell_fields() -> None:
    from core.training.samples import from_bccd

    cells = from_bccd(
        REAL_DATA / "bccd", ["neutrophil", "eosinophil", "basophil", "lymphocyte", "monocyte"], ["val", "test"]
    )
    assert 100 < len(cells) < 200
    assert len({c.path for c in cells}) == len(cells)


def test_ece_floor_is_what_a_calibrated_model_scores_on_as_few_cells() -> None:
    """Labels drawn from the model's own probabilities: its measured ECE sits
    within the floor's range, the floor shrinks as the cells grow, and a
    model that is sure and half wrong lies far above it."""
    rng = np.random.default_rng(1)

    def cells(n: int) -> np.ndarray:
        logits = rng.normal(0, 3, size=(n, 4))
        return softmax(logits)

    few, many = cells(100), cells(5000)
    few_median, few_high = ece_of_calibrated_model(few)
    many_median, _ = ece_of_calibrated_model(many)
    assert 0 < many_median < few_median <= few_high
    labels = (rng.random((len(few), 1)) > few.cumsum(axis=1)).sum(axis=1)
    assert expected_calibration_error(few, labels) <= few_high * 1.5
    sure = np.tile([0.97, 0.01, 0.01, 0.01], (200, 1))
    half_wrong = np.arange(200) % 2
    assert expected_calibration_error(sure, half_wrong) > 10 * ece_of_calibrated_model(sure)[1]
