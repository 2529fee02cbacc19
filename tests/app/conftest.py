"""GUI test set-up: offscreen Qt, settings kept out of the user's own, and a
small reviewed-by-model project built from images made in tmp_path."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core.schema import Box, CellKind, LabelSource, NewCell  # noqa: E402
from core.store import ProjectStore  # noqa: E402

# The classes of the small project, in cell order, and what the model said.
PREDICTED = ["neutrophil", "neutrophil", "lymphocyte", "unidentified", "monocyte", "neutrophil"]
CONFIDENCE = [0.95, 0.62, 0.88, 0.41, 0.70, 0.81]


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """QSettings write into a temporary folder, never the tester's own."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QCoreApplication.setOrganizationName("HemaLabelTests")
    QCoreApplication.setApplicationName("HemaLabelTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path_factory.mktemp("settings")))
    yield


def predictions_for(label: str, confidence: float, classes: list[str]) -> dict[str, float]:
    others = [c for c in classes if c not in (label, "unidentified")]
    rest = (1.0 - confidence) / len(others)
    probabilities = {c: rest for c in others}
    if label == "unidentified":
        probabilities["neutrophil"] = confidence  # the model's best guess, below its threshold
    else:
        probabilities[label] = confidence
    return probabilities


@pytest.fixture
def review_store(tmp_path: Path) -> Iterator[ProjectStore]:
    """Two slides: slide 1 has six white cells with model predictions, one
    red cell and one platelet; slide 2 has two white cells."""
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    classes = [c for c in store.taxonomy.names if c != "unidentified"]
    rng = np.random.default_rng(0)
    for n, count in enumerate((len(PREDICTED), 2)):
        path = tmp_path / f"slide{n}.png"
        cv2.imwrite(str(path), rng.integers(100, 230, (120, 200, 3), dtype=np.uint8))
        slide = store.add_slide(path, 200, 120)
        new = [NewCell(Box(5 + 30 * i, 10, 30 + 30 * i, 35), CellKind.WHITE, source=LabelSource.MODEL) for i in range(count)]
        new += [NewCell(Box(10, 60, 30, 80), CellKind.RED, source=LabelSource.MODEL),
                NewCell(Box(40, 60, 50, 70), CellKind.PLATELET, label="platelet", source=LabelSource.MODEL)]
        added = store.add_cells(slide.id, new)
        white = [c for c in added if c.kind is CellKind.WHITE]
        labels = PREDICTED if n == 0 else ["lymphocyte", "neutrophil"]
        confidences = CONFIDENCE if n == 0 else [0.9, 0.9]
        store.set_predictions(
            [(c.id, label, predictions_for(label, conf, classes)) for c, label, conf in zip(white, labels, confidences)],
            "test-model-1",
        )
    yield store
    store.close()
