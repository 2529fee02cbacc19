"""Cross-lab: zero-shot on BCCD val+test white cells (fields with exactly one
white cell), balanced accuracy over the classes with >= 5 cells there.

- the bundled model (trained on PBC + BCCD *train* split only);
- a PBC-only model (models/hemalabel-wbc-pbconly.train.json): trained here
  first if HEMALABEL_PBC_ONLY_MODEL does not name an existing .keras file
  (about 30 minutes on 2 cores).

    uv run pytest tests/benchmarks/test_bench_crosslab.py -s
"""

import os
from pathlib import Path

import pytest

from core.classifier import load_classifier
from core.classifier.metrics import recall_intervals
from core.jobs import run_job
from core.training.config import TrainConfig
from core.training.trainer import train_classifier
from tests.benchmarks.common import CROSS_LAB_CLASSES, DATA, ROOT, balanced_over, bccd_val_test, score, show


def _report(classifier, title: str) -> float:
    """Scored twice: over all eight outputs, and as the app classifies a
    cell the detector boxed as white (platelet ruled out)."""
    cells = bccd_val_test(list(classifier.classes))
    report = score(classifier, cells)
    show(title + ", all classes", report)
    every = balanced_over(report, CROSS_LAB_CLASSES)
    white = score(classifier, cells, as_white_cells=True)
    show(title + ", as white cells (the app's path)", white)
    balanced = balanced_over(white, CROSS_LAB_CLASSES)
    low, high = recall_intervals(white["confusion_matrix"], [white["classes"].index(c) for c in CROSS_LAB_CLASSES])[
        "balanced_accuracy"
    ]
    print(f"balanced accuracy over {', '.join(CROSS_LAB_CLASSES)}: {every:.4f} over all classes, "
          f"{balanced:.4f} as white cells (the app's path; 95% interval {low:.4f}-{high:.4f})")
    return balanced


@pytest.mark.realdata
def test_bundled_model_on_bccd() -> None:
    classifier = load_classifier()
    _report(classifier, f"BCCD val+test, bundled {classifier.version}")


@pytest.mark.realdata
def test_pbc_only_model_zero_shot_on_bccd(tmp_path: Path) -> None:
    model = os.environ.get("HEMALABEL_PBC_ONLY_MODEL")
    if not model or not Path(model).is_file():
        config = TrainConfig.load(ROOT / "models" / "hemalabel-wbc-pbconly.train.json")
        config.sources[0].path = str(DATA / "pbc")
        config.output_dir = str(tmp_path)
        model = str(run_job(train_classifier(config), lambda p: p.payload and print(p.message, flush=True)).weights)
    _report(load_classifier(model), "BCCD val+test, PBC-only model (zero-shot)")
