"""What the benchmarks share: the held-out splits and scoring through the
exact inference path (core.crops.crop_square + Classifier.predict)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from core.classifier.metrics import classification_report
from core.crops import crop_square
from core.detection.data import drop_duplicates_of, read_ground_truth
from core.imaging import load_rgb
from core.training.datasets import pbc_splits_of
from core.training.samples import LabelledCell, from_bccd
from tests.conftest import REAL_DATA as DATA
from tests.conftest import REPO_ROOT as ROOT

BUNDLED_CONFIG = ROOT / "models" / "hemalabel-wbc.train.json"
CROSS_LAB_CLASSES = ("neutrophil", "eosinophil", "lymphocyte", "monocyte")  # >= 5 cells in BCCD val+test


def pbc_test_split(config_path: Path = BUNDLED_CONFIG) -> list[LabelledCell]:
    """The PBC test split the bundled model's training left out: rebuilt from
    the same (source, classes, seed), so it is the very same cells."""
    return pbc_split("test", config_path)


def pbc_split(name: str, config_path: Path = BUNDLED_CONFIG) -> list[LabelledCell]:
    """One split (train, val or test) of the bundled model's PBC images."""
    return pbc_splits_of(config_path, DATA / "pbc")[name]


def bccd_val_test(classes: list[str]) -> list[LabelledCell]:
    """BCCD's val and test white cells, less any on a field that BCCD's
    train split holds too (one: val's BloodImage_00037 is train's _00038),
    since the bundled model and the new-lab retrains learn from train."""
    return list(_bccd_val_test(tuple(classes)))


@functools.cache
def _bccd_val_test(classes: tuple[str, ...]) -> tuple[LabelledCell, ...]:
    # Found once per run: a benchmark scores several models on the same
    # cells, and matching them against BCCD's train fields reads every one.
    cells = from_bccd(DATA / "bccd", list(classes), ["val", "test"])
    return tuple(drop_duplicates_of(cells, read_ground_truth(DATA / "bccd", "voc", "train"))[0])


def crops_of(samples: list[LabelledCell], margin: float) -> list[np.ndarray]:
    return [crop_square(load_rgb(s.path), s.box, margin) if s.box else load_rgb(s.path) for s in samples]


def score(classifier: Any, samples: list[LabelledCell], as_white_cells: bool = False) -> dict[str, Any]:
    """Metrics of item 3.  With as_white_cells, the cells are scored as the
    app classifies a cell the detector boxed as white: classes outside the
    white group (platelet) are ruled out before the softmax
    (core.inference.allowed_classes)."""
    logits, labels = scored_logits(classifier, samples, as_white_cells)
    thresholds = [classifier.threshold_for(name) for name in classifier.classes]
    return classification_report(logits, labels, classifier.classes, classifier.temperature, thresholds)


def scored_logits(classifier: Any, samples: list[LabelledCell],
                  as_white_cells: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's logits on the samples (platelet ruled out with
    as_white_cells, see score) and the labels' indices."""
    logits = classifier.logits(crops_of(samples, classifier.crop_margin))
    if as_white_cells:
        from core.inference import allowed_classes, rule_out_logits
        from core.schema import CellKind
        from core.taxonomy import default_taxonomy

        mask = allowed_classes(classifier.classes, CellKind.WHITE, default_taxonomy())
        logits = rule_out_logits(logits, mask)
    return logits, np.array([classifier.classes.index(s.label) for s in samples])


def balanced_over(report: dict[str, Any], classes: tuple[str, ...]) -> float:
    return float(np.mean([report["per_class"][name]["recall"] for name in classes]))


def show(title: str, report: dict[str, Any]) -> None:
    short = {k: v for k, v in report.items() if k not in ("per_class", "confusion_matrix", "classes")}
    print(f"\n== {title} ==")
    for key, value in short.items():  # one line each, intervals included
        print(f" {key}: {json.dumps(value)}")
    print(f"{'class':<14}{'precision':>10}{'recall':>10}{'f1':>8}{'n':>6}")
    for name, row in report["per_class"].items():
        if row["support"]:
            print(f"{name:<14}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>8.4f}{row['support']:>6}")
    print("confusion (rows true):")
    for name, row in zip(report["classes"], report["confusion_matrix"]):
        print(f"  {name:<14}" + "".join(f"{v:>5}" for v in row))
