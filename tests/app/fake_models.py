"""Fast stand-ins for the detector and the classifier: they satisfy the
core.inference protocols, need no TensorFlow and answer in microseconds,
deterministically from the image itself."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from core.inference import Detection
from core.schema import Box, CellKind

CLASSES = ("neutrophil", "eosinophil", "basophil", "lymphocyte", "monocyte", "ig", "erythroblast", "platelet")


class FakeDetector:
    """One white cell in the middle, red cells around it, one platelet."""

    version = "fake-detector-1"

    def __init__(self, delay_s: float = 0.0, red_cells: int = 6) -> None:
        self.delay_s = delay_s
        self.red_cells = red_cells
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        height, width = image.shape[:2]
        if min(width, height) < 16:
            return []  # as the real detector: nothing to find in a speck
        side = min(width, height) / 5.0
        cx, cy = width / 2.0, height / 2.0
        found = [Detection(Box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), CellKind.WHITE, 0.97)]
        red = side * 0.7
        for index in range(self.red_cells):
            x = (index % 3) * (width - red) / 2.0
            y = 0.0 if index < 3 else height - red
            found.append(Detection(Box(x, y, x + red, y + red), CellKind.RED, 0.9))
        p = side * 0.25
        found.append(Detection(Box(cx + side, cy, cx + side + p, cy + p), CellKind.PLATELET, 0.8))
        return found


class FakeClassifier:
    """Confident 'lymphocyte' unless the crop is mostly red, then 'neutrophil'."""

    version = "fake-classifier-1"
    classes = CLASSES
    crop_margin = 0.15

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        rows = np.full((len(crops), len(CLASSES)), 0.02, dtype=np.float64)
        for row, crop in zip(rows, crops):
            mean = crop.reshape(-1, 3).mean(axis=0)
            best = CLASSES.index("neutrophil") if mean[0] > mean[2] + 10 else CLASSES.index("lymphocyte")
            row[best] = 0.86
            row[(best + 1) % len(CLASSES)] = 0.02 + 0.14 - 0.02 * (len(CLASSES) - 2)
        return rows / rows.sum(axis=1, keepdims=True)

    def threshold_for(self, label: str) -> float:
        return 0.5


class FakeScreenModel:
    """The lymphoid screen's stand-in: every crop gets P(blast) `p_blast`
    and the subtype pre-B; the card's operating point is 0.5."""

    def __init__(self, p_blast: float = 0.9) -> None:
        from types import SimpleNamespace

        self.p_blast = p_blast
        self.card = SimpleNamespace(name="fake-screen", version="1", input_size=16, crop_margin=0.15,
                                    blast_threshold=0.5, target_recall=0.98,
                                    metrics={"field_sensitivity": 0.98, "field_specificity": 0.95})
        self.calls = 0

    @property
    def threshold(self) -> float:
        return float(self.card.blast_threshold)

    def screen_crops(self, crops: np.ndarray) -> list:
        from core.screen.model import CellScreen

        self.calls += 1
        return [CellScreen(self.p_blast, "pre", self.p_blast >= self.threshold) for _ in crops]
