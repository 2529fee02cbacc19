"""The bundled detector on real smears (../shared/data), and the guard that
keeps test fields out of training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.detection.assess import predict_results
from core.detection.data import (
    BCCD_NEGATIVE_WEIGHTS,
    GroundTruth,
    bundled_training_data,
    drop_duplicates_of,
    drop_repeats,
    read_ground_truth,
    relabelled_fields,
    thumbnail,
)
from core.detection.detector import KerasCellDetector
from core.detection.evaluation import evaluate
from core.models.resolver import default_detector_card
from tests.conftest import REAL_DATA


def test_a_copied_field_is_dropped_from_training(tmp_path: Path) -> None:
    import cv2

    rng = np.random.default_rng(0)
    fields = []
    for index in range(3):
        image = np.full((120, 160, 3), 220, np.uint8)
        for _ in range(6):
            centre = tuple(int(v) for v in rng.integers(10, 110, 2))
            cv2.circle(image, centre, int(rng.integers(8, 20)), (180, 90, 120), -1)
        path = tmp_path / f"f{index}.png"
        cv2.imwrite(str(path), image)
        fields.append(GroundTruth(path, np.zeros((0, 4)), np.zeros(0, int)))
    # The same field under another name, recompressed, as TXL-PBC holds BCCD's.
    copy = tmp_path / "renamed.jpg"
    field = cv2.imread(str(fields[0].path))
    assert field is not None
    cv2.imwrite(str(copy), field, [cv2.IMWRITE_JPEG_QUALITY, 85])
    renamed = GroundTruth(copy, np.zeros((0, 4)), np.zeros(0, int))
    kept, dropped = drop_duplicates_of(fields[1:] + [renamed], [fields[0]])
    assert dropped == 1 and [gt.path.name for gt in kept] == ["f1.png", "f2.png"]
    # Within one list (validation), the first copy stays.
    kept, repeats = drop_repeats(fields[:2] + [renamed] + fields[2:])
    assert repeats == 1 and [gt.path.name for gt in kept] == ["f0.png", "f1.png", "f2.png"]


def test_a_relabelled_field_takes_the_other_sources_boxes(tmp_path: Path) -> None:
    import cv2

    rng = np.random.default_rng(1)
    image = np.full((120, 160, 3), 220, np.uint8)
    for _ in range(6):
        centre = tuple(int(v) for v in rng.integers(10, 110, 2))
        cv2.circle(image, centre, int(rng.integers(8, 20)), (180, 90, 120), -1)
    cv2.imwrite(str(tmp_path / "original.png"), image)
    cv2.imwrite(str(tmp_path / "renamed.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(tmp_path / "bigger.png"), cv2.resize(image, (320, 240)))
    cv2.imwrite(str(tmp_path / "other.png"), np.full((120, 160, 3), 60, np.uint8))
    original = GroundTruth(tmp_path / "original.png", np.array([[1, 1, 20, 20]], np.float32), np.array([0]))
    fuller = np.array([[1, 1, 20, 20], [40, 40, 60, 60]], np.float32)
    renamed = GroundTruth(tmp_path / "renamed.jpg", fuller, np.array([0, 1]), "yolo:other")
    bigger = GroundTruth(tmp_path / "bigger.png", fuller * 2, np.array([0, 1]))
    unrelated = GroundTruth(tmp_path / "other.png", fuller, np.array([0, 1]))

    [found] = relabelled_fields([original], [unrelated, renamed])
    assert found.path == original.path and found.attributes["labels_from"].endswith("renamed.jpg")
    np.testing.assert_array_equal(found.boxes, fuller)
    # The same field at another size is not taken: its boxes would not line up.
    assert relabelled_fields([original], [bigger, unrelated]) == []


@pytest.mark.realdata
@pytest.mark.slow
def test_txl_pbc_relabelled_most_bccd_test_fields_with_more_red_cells() -> None:
    bccd = read_ground_truth(REAL_DATA / "bccd", "voc", "test")
    txl = read_ground_truth(REAL_DATA / "txl-pbc", "yolo")  # every split
    found = relabelled_fields(bccd, txl)
    assert len(found) >= 30
    own = {gt.path: gt for gt in bccd}
    red_theirs = sum(int((gt.classes == 1).sum()) for gt in found)
    red_own = sum(int((own[gt.path].classes == 1).sum()) for gt in found)
    assert red_theirs > 1.5 * red_own


@pytest.mark.realdata
@pytest.mark.slow
def test_validation_fields_are_neither_test_nor_training_fields_nor_twice_there() -> None:
    data = bundled_training_data(REAL_DATA)
    summary: dict[str, Any] = data.summary
    assert summary["val_dropped_as_test_fields"] > 0 and summary["val_dropped_as_training_fields"] > 0
    assert summary["val_dropped_as_repeats"] > 0
    # BCCD's unlabelled red cells count only weakly as background there.
    weights = {gt.negative_weights for gt in data.train if "/bccd/" in str(gt.path)}
    assert weights == {BCCD_NEGATIVE_WEIGHTS} and summary["bccd_negative_weights"] == list(BCCD_NEGATIVE_WEIGHTS)
    tests = read_ground_truth(REAL_DATA / "bccd", "voc", "test") + read_ground_truth(
        REAL_DATA / "txl-pbc", "yolo", "test"
    )
    thumbs = {gt.path: thumbnail(gt.path) for gt in tests + data.train + data.val}
    assert drop_duplicates_of(data.val, tests, thumbs.get)[1] == 0
    assert drop_duplicates_of(data.val, data.train, thumbs.get)[1] == 0
    assert drop_repeats(data.val, thumbs.get)[1] == 0


@pytest.mark.realdata
@pytest.mark.slow
def test_bundled_detector_finds_the_cells_of_bccd_test_fields() -> None:
    detector = KerasCellDetector.load(default_detector_card())
    samples = read_ground_truth(REAL_DATA / "bccd", "voc", "test")[:16]
    metrics = evaluate(predict_results(detector, samples), detector.card.thresholds)
    assert metrics["white"]["recall"] >= 0.9
    assert metrics["white"]["ap50"] >= 0.9
    assert metrics["red"]["ap50"] >= 0.6  # BCCD leaves many red cells unlabelled
    summary = detector.card.training["data"]
    assert summary["txl_pbc_train_dropped_as_test_fields"] > 0
    assert summary["val_dropped_as_test_fields"] > 0  # thresholds were not chosen on test fields


@pytest.mark.realdata
@pytest.mark.slow
def test_bundled_detector_on_txl_pbc_test_fields_of_every_lab() -> None:
    detector = KerasCellDetector.load(default_detector_card())
    samples = read_ground_truth(REAL_DATA / "txl-pbc", "yolo", "test")[::9]
    metrics = evaluate(predict_results(detector, samples), detector.card.thresholds)
    assert metrics["white"]["recall"] >= 0.9
    assert metrics["red"]["ap50"] >= 0.8
