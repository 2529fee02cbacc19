"""The detector on fields imaged at other magnifications (issue 30, item 4):

    uv run pytest tests/benchmarks/test_bench_magnification.py -s

- BCCD's and TXL-PBC's test fields resized by 0.4x to 2.5x (in memory, the
  labels moved along): white, red and platelet AP50 within 0.02 of the
  native size's, each split and factor;
- ten 224x224 early pre-B fields of ../shared/data/all-taleqani, where a red
  cell is about 25 px wide: about 50 white cells found at native size
  (a count made by eye: 40 to 60 passes);
- the latency per 640x480 field with the estimate against looking at the
  field as it is (the estimate's cost at native size).
Set HEMALABEL_DETECTOR to benchmark another card."""

from __future__ import annotations

import os
import time
from collections import Counter
from functools import partial

import cv2
import numpy as np
import pytest

from core.detection.colour_turns import ColourTurner
from core.detection.data import read_ground_truth
from core.detection.detector import KerasCellDetector
from core.imaging import load_rgb
from tests.benchmarks.common import DATA
from tests.benchmarks.transformed_fields import changed_results, figures, unchanged

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is absent")

FACTORS = (0.4, 0.63, 1.6, 2.5)
CLASSES = ("white", "red", "platelet")
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def detector() -> KerasCellDetector:
    return KerasCellDetector.load(os.environ.get("HEMALABEL_DETECTOR"))


def resized(factor: float, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    size = (round(width * factor), round(height * factor))
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    scale = np.array([size[0] / width, size[1] / height] * 2, np.float32)
    return cv2.resize(image, size, interpolation=method), boxes * scale


@pytest.mark.parametrize("split", ["BCCD test", "TXL-PBC test"])
def test_resized_test_fields(detector: KerasCellDetector, split: str) -> None:
    samples = (read_ground_truth(DATA / "bccd", "voc", "test") if split == "BCCD test"
               else read_ground_truth(DATA / "txl-pbc", "yolo", "test"))
    native = figures(detector, changed_results(detector, samples, unchanged))
    print(f"\n{split}, detector {detector.version}: AP50 white / red / platelet")
    print("  native: " + " / ".join(f"{native[c]['ap50']:.3f}" for c in CLASSES))
    misses = []
    for factor in FACTORS:
        found = figures(detector, changed_results(detector, samples, partial(resized, factor)))
        drops = {c: native[c]["ap50"] - found[c]["ap50"] for c in CLASSES}
        misses += [(factor, c) for c, drop in drops.items() if drop > TOLERANCE]
        print(f"  x{factor}: " + " / ".join(f"{found[c]['ap50']:.3f} ({-drops[c]:+.3f})" for c in CLASSES))
    assert not misses, f"AP50 more than {TOLERANCE} under native size at (factor, class) {misses}"


def test_early_pre_b_fields(detector: KerasCellDetector) -> None:
    paths = sorted((DATA / "all-taleqani" / "early").glob("*.jpg"))[:10]
    floor = float(min(detector.card.thresholds.values()))
    white = detector.card.thresholds["white"]
    counts: Counter[str] = Counter()
    factors, turns = [], []
    turner = ColourTurner(detector)  # as one run of `detect` over the ten
    for path in paths:
        image = load_rgb(path)
        factors.append(detector.magnified(image, floor)[0].factor)
        counts.update(d.kind.value for d in detector.detect(image))
        seen = turner.detect(image)
        counts.update(f"{d.kind.value} as detect finds them" for d in seen.detections)
        turns.append(seen.turn.describe() if seen.turn is not None else "own colours")
        _, scores, classes = detector.detect_arrays(image, floor, factor=1.0)
        counts["white as is"] += int(((classes == 0) & (scores >= white)).sum())
    print(f"\n10 early pre-B fields (224x224), detector {detector.version}: network alone {counts['white']} white "
          f"cells ({counts['white as is']} looked at as they are), {counts['red']} red, {counts['platelet']} "
          f"platelets; factors {[round(f, 2) for f in factors]}")
    print(f"as detect finds them: {counts['white as detect finds them']} white, {counts['red as detect finds them']} "
          f"red, {counts['platelet as detect finds them']} platelets; colours {Counter(turns)}")
    assert 40 <= counts["white as detect finds them"] <= 60


def test_latency_with_the_estimate(detector: KerasCellDetector) -> None:
    images = [load_rgb(gt.path) for gt in read_ground_truth(DATA / "bccd", "voc", "test")[:40]]
    floor = float(min(detector.card.thresholds.values()))
    for image in images[:3]:
        detector.detect(image)
    timings: dict[str, list[float]] = {"estimate": [], "as is": []}
    for image in images:
        for name, factor in (("estimate", None), ("as is", 1.0)):
            started = time.perf_counter()
            detector.detect_arrays(image, floor, factor=factor)
            timings[name].append((time.perf_counter() - started) * 1000)
    medians = {name: float(np.median(values)) for name, values in timings.items()}
    resized_fields = sum(detector.magnified(image, floor)[0].resized for image in images)
    print(f"\nper 640x480 field, {len(images)} BCCD test fields: median {medians['estimate']:.1f} ms with the "
          f"estimate, {medians['as is']:.1f} ms as is; {resized_fields} fields looked at resized")
    assert medians["estimate"] <= medians["as is"] * 1.05 + 1.0
