"""Seed 003's and seed 004's networks against ours, trained with the same
pipeline (data, augmentation, schedule) and the same wall-time budget
(HEMALABEL_BENCH_MINUTES each, default 10), scored on the same PBC test
split, with their speed.

    uv run pytest tests/benchmarks/test_bench_seeds.py -s
"""

import json
import os
from pathlib import Path

import pytest

from core.classifier import load_classifier
from core.jobs import run_job
from core.training.config import TrainConfig
from core.training.trainer import train_classifier
from tests.benchmarks.common import BUNDLED_CONFIG, DATA, crops_of, pbc_test_split, score
from tests.benchmarks.speed import speed_figures


@pytest.mark.realdata
def test_seed_networks_side_by_side(tmp_path: Path) -> None:
    minutes = float(os.environ.get("HEMALABEL_BENCH_MINUTES", "10"))
    test_cells = pbc_test_split()
    rows = {}
    for architecture in ("hemanet", "seed003", "seed004"):
        config = TrainConfig.load(BUNDLED_CONFIG)
        config.name, config.architecture, config.max_minutes = f"bench-{architecture}", architecture, minutes
        config.sources = [s for s in config.sources if s.type == "pbc"]
        config.sources[0].path = str(DATA / "pbc")
        config.output_dir = str(tmp_path)
        weights = run_job(train_classifier(config)).weights
        classifier = load_classifier(weights)
        report = score(classifier, test_cells)
        speed = speed_figures(classifier, crops_of(test_cells[:1000] * 2, classifier.crop_margin))
        rows[architecture] = {
            "accuracy": report["accuracy"], "balanced_accuracy": report["balanced_accuracy"], "ece": report["ece"],
            "cells_per_second": speed["cells_per_second"], "single_cell_ms": speed["single_cell_ms_median"],
            "weights_mb": speed["weights_mb"], "mflops_per_cell": speed["mflops_per_cell"],
            "epochs": classifier.card.metrics.get("epochs_run"),
        }
    print(f"\n== seed networks vs ours, {minutes:g} min each ==\n" + json.dumps(rows, indent=1))
