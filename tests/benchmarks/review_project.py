"""Synthetic smear projects for the gallery benchmarks: slide images with
round, stained-looking cells at known places, and fake model predictions."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore


def pump(milliseconds: int) -> None:
    """Run the Qt event loop for a while.  Unlike QTest.qWait, this lets go of
    Python's GIL between turns, so the thumbnail thread can work meanwhile."""
    from PySide6.QtWidgets import QApplication

    deadline = time.perf_counter() + milliseconds / 1000.0
    while True:
        QApplication.processEvents()
        if time.perf_counter() >= deadline:
            return
        time.sleep(0.001)


# A differential as a lab sees it: mostly neutrophils and lymphocytes.
# Classes of the differential only: a 100-cell benchmark slide must count
# 100 white cells to be signed without a reason (an erythroblast is not one).
MIX = {"neutrophil": 58, "lymphocyte": 28, "monocyte": 6, "eosinophil": 3, "basophil": 1, "ig": 4}


def smear_image(rng: np.random.Generator, width: int, height: int, centres: list[tuple[int, int, int]]) -> np.ndarray:
    """A pale pink field with red cells and a violet nucleus at each centre."""
    small = rng.integers(200, 235, size=(height // 8, width // 8, 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    image[..., 0] = np.clip(image[..., 0].astype(int) + 5, 0, 255)  # B
    for _ in range(width * height // 4000):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.circle(image, (x, y), int(rng.integers(14, 20)), (150, 140, 220), -1)
    for x, y, r in centres:
        cv2.circle(image, (x, y), r, (205, 170, 190), -1)
        cv2.ellipse(image, (x, y), (r // 2, r // 3), float(rng.integers(0, 180)), 0, 360, (140, 40, 90), -1)
    return image


def build_review_project(folder: Path, cells: int = 100, wrong: int = 3, unidentified: int = 2, seed: int = 0,
                         slides: int = 1) -> tuple[ProjectStore, dict[int, str]]:
    """A project whose white cells the model got right except `wrong`
    confidently wrong ones and `unidentified` below threshold.  Returns the
    store and the true class of every white cell."""
    rng = np.random.default_rng(seed)
    store = ProjectStore.create(folder / "review.hemalabel")
    classes = [c for c in store.taxonomy.names if c != "unidentified"]
    pool = [name for name, n in MIX.items() for _ in range(n)]
    truth_by_id: dict[int, str] = {}
    per_slide = -(-cells // slides)
    made = 0
    for s in range(slides):
        n = min(per_slide, cells - made)
        columns = 12
        width, height = columns * 90, (-(-n // columns)) * 90 + 20
        centres = [
            (45 + 90 * (i % columns) + int(rng.integers(-8, 8)), 55 + 90 * (i // columns), int(rng.integers(28, 36)))
            for i in range(n)
        ]
        path = folder / f"smear_{s:03d}.jpg"
        cv2.imwrite(str(path), smear_image(rng, width, height, centres), [cv2.IMWRITE_JPEG_QUALITY, 88])
        slide = store.add_slide(path, width, height)
        new = [NewCell(Box(x - r - 4, y - r - 4, x + r + 4, y + r + 4), CellKind.WHITE, source=LabelSource.MODEL)
               for x, y, r in centres]
        added = store.add_cells(slide.id, new, description="Detect")
        predictions = []
        for cell in added:
            index = made
            made += 1
            truth = pool[int(rng.integers(0, len(pool)))]
            truth_by_id[cell.id] = truth
            probabilities = {c: float(rng.uniform(0.0, 0.02)) for c in classes}
            if index < wrong:
                guess = classes[(classes.index(truth) + 1) % 7]
                probabilities[guess] = float(rng.uniform(0.7, 0.9))
                label = guess
            elif index < wrong + unidentified:
                probabilities[truth] = 0.45
                probabilities[classes[(classes.index(truth) + 3) % 7]] = 0.35
                label = "unidentified"
            else:
                probabilities[truth] = float(rng.uniform(0.75, 0.99))
                label = truth
            total = sum(probabilities.values())
            predictions.append((cell.id, label, {k: v / total for k, v in probabilities.items()}))
        store.set_predictions(predictions, "bench-model-1")
    return store, truth_by_id
