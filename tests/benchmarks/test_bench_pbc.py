"""PBC: the bundled model on its own held-out test split (never trained on).

    uv run pytest tests/benchmarks/test_bench_pbc.py -s
"""

import pytest

from core.classifier import load_classifier
from tests.benchmarks.common import pbc_test_split, score, show


@pytest.mark.realdata
def test_pbc_test_split() -> None:
    classifier = load_classifier()
    report = score(classifier, pbc_test_split())
    show(f"PBC test split, {classifier.version}", report)
    assert report["cells"] > 1000
