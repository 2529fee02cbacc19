"""Reading a detector's red-cell ruler off its training fields, as it
draws their red cells, and writing it into its card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.detection import ruler_learning
from core.detection.detector import KerasCellDetector
from core.detection.magnification import MIN_RED_CELLS, RED_SCORE
from core.detection.targets import CLASSES
from core.jobs import Progress, run_job
from core.models.detector_card import DetectorCard


def red_cells(side: float, count: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes = np.array([[i * side, 0, (i + 1) * side, side] for i in range(count)], np.float32).reshape(-1, 4)
    return boxes, np.full(count, 0.9, np.float32), np.ones(count, np.int64)


def test_the_ruler_is_read_from_each_field_s_median_red_side(tmp_path: Path) -> None:
    paths = [tmp_path / f"{side}.png" for side in range(60, 161)]
    progress: list[Progress] = []
    ruler = run_job(ruler_learning.read_ruler(lambda path: red_cells(float(path.stem)), paths), progress.append)
    assert (ruler.low, ruler.high, ruler.typical) == (pytest.approx(62), pytest.approx(155), pytest.approx(110))
    assert progress[-1].done == progress[-1].total == len(paths)


def test_fields_without_enough_red_cells_teach_no_ruler(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no training field"):
        run_job(ruler_learning.read_ruler(lambda path: red_cells(40, MIN_RED_CELLS - 1), [tmp_path / "a.png"]))


class DrawingDetector(KerasCellDetector):
    """A detector whose network is replaced: it draws red cells as wide as
    the image's first pixel says, whatever the factor it is asked to look at."""

    def detect_arrays(self, image: np.ndarray, min_score: float | None = None,
                      factor: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert factor == 1.0 and min_score == RED_SCORE  # each training field as it is, confident red cells
        return red_cells(float(image[0, 0, 0]))


def test_learning_the_ruler_writes_it_into_the_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    card_path = tmp_path / "cell-detector.json"
    card = DetectorCard("t", "1", "t.keras", "", list(CLASSES), 0.5, 512, 160, {c: 0.4 for c in CLASSES},
                        red_cell_range=[75.0, 159.0])
    card.save(card_path)
    monkeypatch.setattr(KerasCellDetector, "load", classmethod(lambda cls, path: DrawingDetector(None, card)))
    fields = []
    for side in (80, 100, 120):
        fields.append(tmp_path / f"field{side}.png")
        Image.fromarray(np.full((16, 16, 3), side, np.uint8)).save(fields[-1])
    ruler = run_job(ruler_learning.learn_ruler(card_path, fields))
    written = DetectorCard.load(card_path)
    assert written.red_cell_range == [ruler.low, ruler.high] and written.red_cell_median == pytest.approx(100)
    assert written.thresholds == {c: 0.4 for c in CLASSES} and written.version == "1"  # nothing else changed
