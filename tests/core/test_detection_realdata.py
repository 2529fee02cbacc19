"""The bundled detector on real smears (../shared/data), and the guard that
keeps test fields out of training."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.detection.data import GroundTruth, drop_duplicates_of, read_ground_truth
from core.detection.detector import KerasCellDetector, default_detector_card
from core.detection.evaluation import evaluate
from core.detection.assess import predict_results

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not DATA.is_dir() and not os.environ.get("HEMALABEL_REQUIRE_REAL_DATA"), reason="../shared/data is absent"
)


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
    cv2.imwrite(str(copy), cv2.imread(str(fields[0].path)), [cv2.IMWRITE_JPEG_QUALITY, 85])
    kept, dropped = drop_duplicates_of(fields[1:] + [GroundTruth(copy, np.zeros((0, 4)), np.zeros(0, int))], [fields[0]])
    assert dropped == 1 and [gt.path.name for gt in kept] == ["f1.png", "f2.png"]


@pytest.mark.realdata
@needs_data
def test_bundled_detector_finds_the_cells_of_bccd_test_fields() -> None:
    detector = KerasCellDetector.load(default_detector_card())
    samples = read_ground_truth(DATA / "bccd", "voc", "test")[:16]
    metrics = evaluate(predict_results(detector, samples), detector.card.thresholds)
    assert metrics["white"]["recall"] >= 0.9
    assert metrics["white"]["ap50"] >= 0.9
    assert metrics["red"]["ap50"] >= 0.6  # BCCD leaves many red cells unlabelled
    summary = detector.card.training["data"]
    assert summary["txl_pbc_train_dropped_as_test_fields"] > 0


@pytest.mark.realdata
@needs_data
def test_bundled_detector_on_txl_pbc_test_fields_of_every_lab() -> None:
    detector = KerasCellDetector.load(default_detector_card())
    samples = read_ground_truth(DATA / "txl-pbc", "yolo", "test")[::9]
    metrics = evaluate(predict_results(detector, samples), detector.card.thresholds)
    assert metrics["white"]["recall"] >= 0.9
    assert metrics["red"]["ap50"] >= 0.8
