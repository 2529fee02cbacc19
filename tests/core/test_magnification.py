"""The magnification estimate's rule, with looks that return chosen red
cells, and the detector looking at a generated image at the factor asked."""

from __future__ import annotations

import numpy as np
import pytest

from core.detection.colour_turns import ColourTurner
from core.detection.detector import KerasCellDetector
from core.detection.magnification import (
    FACTOR_LIMITS,
    MIN_RED_CELLS,
    RED_SCORE,
    UPPER_CHECK,
    LabMagnification,
    Magnification,
    RedRuler,
    estimate_magnification,
    learnt_ruler,
    red_cell_side,
    ruler_of_sides,
)
from core.detection.targets import CLASSES
from core.inference import Detection
from core.models.detector_card import DetectorCard

RULER = RedRuler(50.0, 200.0)
LEARNT = RULER.middle  # 100


def red_cells(side: float, count: int = 12, score: float = 0.9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` red boxes `side` px wide, in a row."""
    boxes = np.array([[i * side, 0, (i + 1) * side, side] for i in range(count)], np.float32).reshape(-1, 4)
    return boxes, np.full(count, score, np.float32), np.ones(count, np.int64)


class Microscope:
    """Looks at an image whose red cells are `true_side` px wide: at factor
    f the detector finds them (sides in the image's own pixels) only when
    f * true_side is within `seen` of the learnt size, and misjudges their
    size by `bias` at a factor far from it."""

    def __init__(self, true_side: float, seen: tuple[float, float] = (0.3, 3.0), bias: float = 0.0) -> None:
        self.true_side, self.seen, self.bias = true_side, seen, bias
        self.factors: list[float] = []

    def __call__(self, factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.factors.append(factor)
        ratio = factor * self.true_side / LEARNT
        if not self.seen[0] <= ratio <= self.seen[1]:
            return red_cells(self.true_side, count=1)
        measured = self.true_side * (1 + self.bias * np.log(ratio))
        return red_cells(float(measured))


def test_red_cells_of_a_learnt_size_cost_one_look() -> None:
    look = Microscope(90)
    found, _ = estimate_magnification(look, RULER)
    assert found.factor == 1.0 and found.looks == 1 and look.factors == [1.0]
    assert found.red_side == pytest.approx(90) and found.red_cells == 12


def test_red_cells_anywhere_in_the_learnt_range_are_taken_as_they_are() -> None:
    for side in (RULER.low, 0.8 * LEARNT, UPPER_CHECK * LEARNT):
        look = Microscope(side)
        found, _ = estimate_magnification(look, RULER)
        assert found.factor == 1.0 and look.factors == [1.0]


def test_small_red_cells_are_looked_at_enlarged_to_the_learnt_size() -> None:
    look = Microscope(32)
    found, detections = estimate_magnification(look, RULER)
    assert found.factor == pytest.approx(LEARNT / 32) and look.factors == [1.0, pytest.approx(LEARNT / 32)]
    assert red_cell_side(detections)[0] == pytest.approx(32)


def test_large_red_cells_are_looked_at_shrunk_to_the_learnt_size() -> None:
    look = Microscope(250)
    found, _ = estimate_magnification(look, RULER)
    assert found.factor == pytest.approx(0.4) and look.factors == [1.0, pytest.approx(0.4)]


def test_a_reading_high_in_the_range_is_checked_and_kept_when_it_holds() -> None:
    look = Microscope(UPPER_CHECK * LEARNT + 20)
    found, _ = estimate_magnification(look, RULER)
    assert found.factor == 1.0 and len(look.factors) == 2 and look.factors[1] < 1.0


def test_a_short_reading_of_large_cells_is_found_by_the_check() -> None:
    # 300 px red cells read as 0.55 of their size (165 px, inside the range):
    # the check, looking at them shrunk, reads them larger, and the image is
    # then looked at shrunk until they read as a learnt size.
    look = Microscope(300, bias=-0.45)
    side, _count = red_cell_side(look(1.0))
    assert side is not None and RULER.holds(side, 1.0) and not RULER.holds(300, 1.0)
    found, _ = estimate_magnification(look, RULER)
    assert found.factor < 0.7 and RULER.holds(300, found.factor)


def test_too_few_red_cells_are_probed_for_at_other_factors() -> None:
    look = Microscope(20, seen=(0.3, 3.0))  # 20 px: 0.2 of learnt, unseen as is
    found, _ = estimate_magnification(look, RULER)
    assert look.factors[:4] == [1.0, 2.0, 4.0, 0.5]
    assert found.factor == 4.0 and len(look.factors) == 4  # 4x puts them nearest the learnt size
    assert found.red_cells >= MIN_RED_CELLS


def test_the_factor_stays_within_its_limits() -> None:
    look = Microscope(10, seen=(0.0, 10.0))
    found, _ = estimate_magnification(look, RULER)
    assert found.factor == FACTOR_LIMITS[1]


def test_no_ruler_anywhere_takes_the_image_as_it_is() -> None:
    nothing = lambda factor: red_cells(30, count=MIN_RED_CELLS - 1)  # noqa: E731
    found, _ = estimate_magnification(nothing, RULER)
    assert found.factor == 1.0 and found.red_side is None and found.looks == 4
    found, _ = estimate_magnification(nothing, RULER, probe=False)
    assert found.looks == 1


def test_a_card_without_a_learnt_size_takes_every_image_as_it_is() -> None:
    look = Microscope(25)
    found, _ = estimate_magnification(look, None)
    assert found.factor == 1.0 and look.factors == [1.0]


def test_doubtful_red_boxes_do_not_make_the_ruler() -> None:
    assert red_cell_side(red_cells(40, score=RED_SCORE - 0.01)) == (None, 0)
    boxes, scores, classes = red_cells(40)
    classes[:] = 0  # white cells are no ruler
    assert red_cell_side((boxes, scores, classes))[0] is None


def test_the_learnt_range_spans_the_training_fields_median_red_sides() -> None:
    fields = [red_cells(side, count=6)[::2] for side in range(60, 161)]  # medians 60 ... 160
    fields.append(red_cells(500, count=MIN_RED_CELLS - 1)[::2])  # too few to measure: left out
    ruler = learnt_ruler(fields)
    assert ruler.low == pytest.approx(62) and ruler.high == pytest.approx(155)
    with pytest.raises(ValueError, match="no training field"):
        learnt_ruler([fields[-1]])


class RecordingDetector(KerasCellDetector):
    """The detector with its network replaced: records the shape of each
    input it is given and finds nothing."""

    def __init__(self, card: DetectorCard) -> None:
        super().__init__(None, card)
        self.shapes: list[tuple[int, ...]] = []

    def heads(self, work_images: np.ndarray, model: object = None) -> np.ndarray:
        self.shapes.append(work_images.shape)
        count, height, width = work_images.shape[:3]
        raw = np.zeros((count, height // 4, width // 4, len(CLASSES) + 4), np.float32)
        raw[..., : len(CLASSES)] = -20.0  # heatmap logits: no cell anywhere
        return raw


def _card(red_cell_range: list[float]) -> DetectorCard:
    return DetectorCard("t", "1", "t.keras", "", list(CLASSES), 0.5, 512, 160, {c: 0.4 for c in CLASSES},
                        red_cell_range=red_cell_range)


def test_the_detector_looks_at_a_generated_image_at_the_factor_asked() -> None:
    detector = RecordingDetector(_card([50.0, 200.0]))
    image = np.full((96, 128, 3), 200, np.uint8)
    detector.detect_arrays(image, factor=2.0)
    assert detector.shapes[-1][1:3] == (96, 128)  # 0.5 working scale x 2
    detector.detect_arrays(image, factor=1.0)
    assert detector.shapes[-1][1:3] == (64, 64)  # 48 x 64 padded to multiples of 32


def test_a_blank_image_has_no_ruler_and_is_probed_then_taken_as_it_is() -> None:
    detector = RecordingDetector(_card([50.0, 200.0]))
    found, detections = detector.magnified(np.full((64, 64, 3), 230, np.uint8))
    assert found.factor == 1.0 and found.looks == 4 and len(detections[0]) == 0
    assert [shape[1:3] for shape in detector.shapes] == [(32, 32), (64, 64), (128, 128), (32, 32)]
    assert RecordingDetector(_card([])).magnified(np.zeros((64, 64, 3), np.uint8))[0].looks == 1


def test_a_probe_on_part_of_the_image_is_then_looked_at_whole() -> None:
    whole, part = Microscope(20), Microscope(20)
    found, _ = estimate_magnification(whole, RULER, probe_look=part)
    assert part.factors == [2.0, 4.0, 0.5] and whole.factors == [1.0, 4.0]
    assert found.factor == 4.0 and found.looks == 5


def test_a_large_image_is_probed_in_its_middle_only() -> None:
    detector = RecordingDetector(_card([50.0, 200.0]))
    detector.magnified(np.full((2000, 3000, 3), 230, np.uint8))
    probes = [shape[1:3] for shape in detector.shapes[-3:]]
    assert max(max(shape) for shape in probes) <= 512  # PROBE_SIDE 640 at the working scale 0.5, padded


LAB_RULER = RedRuler(50.0, 200.0, typical=90.0)


def test_a_lab_is_looked_at_as_it_is_until_most_of_its_fields_are_found_resized() -> None:
    lab = LabMagnification(LAB_RULER)
    for side in (95.0, 110.0):
        lab.observe(Magnification(1.0, side, 12, 1))
    lab.observe(Magnification(0.4, 250.0, 12, 2))
    assert lab.start() == 1.0  # one field of three resized
    lab.observe(Magnification(1.0, None, 2, 4))  # no ruler: not counted
    assert lab.start() == 1.0
    assert LabMagnification(None).start() == 1.0


def test_a_lab_found_resized_is_brought_to_the_typical_training_field() -> None:
    lab = LabMagnification(LAB_RULER)
    for side in (240.0, 260.0):
        lab.observe(Magnification(0.4, side, 12, 2))
    assert lab.start() == 1.0  # fewer than LAB_FIELDS measured
    lab.observe(Magnification(0.35, 270.0, 12, 2))
    assert lab.start() == pytest.approx(90.0 / 260.0)
    assert LabMagnification(RedRuler(50.0, 200.0)).ruler.lab_target == pytest.approx(100.0)  # type: ignore[union-attr]


def test_the_learnt_ruler_keeps_the_typical_field_s_side() -> None:
    ruler = ruler_of_sides([float(side) for side in range(60, 161)])
    assert ruler.typical == pytest.approx(110) and ruler.lab_target == pytest.approx(110)


class RulerScope:
    """A detector whose every image holds red cells ten times as wide as
    its first pixel's value, seen as Microscope sees them."""

    version = "scope-1"

    def __init__(self, ruler: RedRuler = LAB_RULER) -> None:
        self._ruler = ruler
        self.first_factors: list[float] = []

    def ruler(self) -> RedRuler:
        return self._ruler

    def detect_magnified(self, image: np.ndarray, start: float = 1.0) -> tuple[Magnification, list[Detection]]:
        look = Microscope(float(image[0, 0, 0]) * 10)
        found, _ = estimate_magnification(look, self._ruler, start=start)
        self.first_factors.append(look.factors[0])
        return found, []

    def detect(self, image: np.ndarray) -> list[Detection]:
        return self.detect_magnified(image)[1]


def _field(red_side: float) -> np.ndarray:
    return np.full((8, 8, 3), round(red_side / 10), np.uint8)


def test_a_run_looks_at_its_later_fields_by_its_lab_s_factor_first() -> None:
    scope = RulerScope()
    turner = ColourTurner(scope)
    seen = [turner.detect(_field(side)) for side in (240, 260, 250, 230, 270)]
    assert scope.first_factors[:3] == [1.0, 1.0, 1.0]
    lab_factor = 90.0 / 250.0
    assert scope.first_factors[3] == pytest.approx(lab_factor)
    later = seen[3].magnification
    assert later is not None and later.factor == pytest.approx(lab_factor) and later.looks == 1
    # A field of another lab in the same run is measured on its own.
    other = turner.detect(_field(100)).magnification
    assert other is not None and other.factor == pytest.approx(1.0, abs=0.1)


def test_the_detector_looks_first_at_the_factor_it_is_started_at() -> None:
    detector = RecordingDetector(_card([50.0, 200.0]))
    image = np.full((96, 128, 3), 200, np.uint8)
    detector.detect_magnified(image, start=2.0)
    assert detector.shapes[0][1:3] == (96, 128)  # 0.5 working scale x 2
