"""The bundled detector on fields imaged at another magnification: the
224x224 early pre-B fields of ../shared/data/all-taleqani, whose red cells
are about 25 px wide against 70-160 px in the detector's training fields,
found through detect(), `detect --images` and the single-cell locator."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli.main import main
from core.detection.detector import KerasCellDetector
from core.imaging import load_rgb
from core.locating import load_locator
from core.schema import CellKind
from tests.conftest import real_data_path

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def early_fields() -> list[Path]:
    return sorted(real_data_path("all-taleqani", "early").glob("*.jpg"))[:5]


@pytest.fixture(scope="module")
def detector() -> KerasCellDetector:
    return KerasCellDetector.load()


def test_small_fields_are_looked_at_enlarged_and_their_white_cells_found(
    detector: KerasCellDetector, early_fields: list[Path]
) -> None:
    as_is = resized = 0
    floor = float(min(detector.card.thresholds.values()))
    for path in early_fields:
        image = load_rgb(path)
        found, _ = detector.magnified(image, floor)
        assert 2.5 <= found.factor <= 4.0, f"{path.name}: {found}"
        white = detector.card.thresholds["white"]
        boxes, scores, classes = detector.detect_arrays(image, floor, factor=1.0)
        as_is += int(((classes == 0) & (scores >= white)).sum())
        resized += sum(d.kind is CellKind.WHITE for d in detector.detect(image))
    assert resized >= max(10, 3 * as_is)


def test_a_field_of_the_training_size_is_looked_at_as_it_is(detector: KerasCellDetector) -> None:
    image = load_rgb(real_data_path("bccd", "JPEGImages", "BloodImage_00000.jpg"))
    found, _ = detector.magnified(image)
    assert found.factor == 1.0 and found.red_cells >= 5


def test_detect_images_finds_the_white_cells_of_small_fields(
    early_fields: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "fields"
    folder.mkdir()
    for path in early_fields:
        (folder / path.name).write_bytes(path.read_bytes())
    assert main(["detect", "--images", str(folder), "--out", str(tmp_path / "out"), "--format", "csv"]) == 0
    rows = (tmp_path / "out" / "detections.csv").read_text().splitlines()[1:]
    assert sum(row.split(",")[1] == "white" for row in rows) >= 10


def test_the_locator_measures_a_small_single_cell_image_by_its_red_cells(early_fields: list[Path]) -> None:
    locator = load_locator()
    image = load_rgb(early_fields[0])
    enlarged = cv2.resize(image, (448, 448), interpolation=cv2.INTER_LINEAR)
    small, large = locator.proposer.propose([image, enlarged])
    white_small = np.median(_sides(small, CellKind.WHITE)) if len(_sides(small, CellKind.WHITE)) else 0.0
    white_large = np.median(_sides(large, CellKind.WHITE))
    # Found at the same place on both: the small image's boxes, in its own
    # pixels, are half the enlarged image's.
    assert white_small == pytest.approx(white_large / 2, rel=0.25)


def _sides(proposals: tuple[np.ndarray, np.ndarray, np.ndarray], kind: CellKind) -> np.ndarray:
    boxes, scores, kinds = proposals
    keep = (kinds == kind.value) & (scores >= 0.4)
    return np.maximum(boxes[keep, 2] - boxes[keep, 0], boxes[keep, 3] - boxes[keep, 1])
