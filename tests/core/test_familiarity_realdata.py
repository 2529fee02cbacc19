"""The bundled detector's verdict on a few real BCCD test fields and on the
same fields with their hues turned (issue 30; the whole test splits are in
tests/benchmarks/test_bench_unlike_fields.py)."""

from __future__ import annotations

import pytest

from core.detection.data import read_ground_truth
from core.detection.detector import KerasCellDetector
from core.imaging import load_rgb
from core.inference import judge_detections
from tests.benchmarks.transformed_fields import COLOUR_VARIANTS
from tests.conftest import real_data_path

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_bccd_fields_are_familiar_and_their_hue_turned_copies_are_not() -> None:
    detector = KerasCellDetector.load(None)
    fields = read_ground_truth(real_data_path("bccd"), "voc", "test")[:3]
    for gt in fields:
        image = load_rgb(gt.path)
        for variant in ("untouched", "hue +60", "hue +120", "hue +180"):
            changed = COLOUR_VARIANTS[variant](image, gt.boxes)[0]
            verdict = judge_detections(detector, changed, detector.detect(changed))
            assert verdict is not None, f"{detector.version}: its card holds no familiarity reference"
            assert verdict.unlike == (variant != "untouched"), (
                f"{gt.path.name} {variant}: unlikeness {verdict.unlikeness:.2f}, threshold {verdict.threshold:.2f}")
