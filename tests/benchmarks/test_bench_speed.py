"""Speed: 2,000 real crops (resize included), single-cell latency, weights
size, and the FLOP floor (FLOPs per cell / measured dense matmul rate).

    uv run pytest tests/benchmarks/test_bench_speed.py -s
"""

import json

import pytest

from core.classifier import load_classifier
from tests.benchmarks.common import crops_of, pbc_test_split
from tests.benchmarks.speed import speed_figures


@pytest.mark.realdata
def test_speed() -> None:
    classifier = load_classifier()
    samples = pbc_test_split()
    crops = crops_of((samples * 2)[:2000], classifier.crop_margin)
    figures = speed_figures(classifier, crops)
    print(f"\n== speed, {classifier.version} ==\n" + json.dumps(figures, indent=1))
