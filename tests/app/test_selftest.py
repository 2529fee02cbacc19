"""`hemalabel --self-test` passes with working models and fails loudly without."""

from __future__ import annotations

import pytest

from app.selftest import EXIT_FAILED, generated_smear, run_self_test


def test_self_test_passes_with_working_models(fake_models, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_self_test() == 0
    out = capsys.readouterr().out
    assert "detector: ok" in out and "classifier: ok" in out and "project: ok" in out and "sample: ok" in out
    assert "locator: ok" in out
    assert out.strip().endswith("self-test: passed")


def test_self_test_fails_when_a_model_is_broken(capsys: pytest.CaptureFixture[str]) -> None:
    from fake_models import FakeDetector

    from app.gui import model_provider

    class WrongShapeClassifier:
        version, classes, crop_margin = "broken-1", ("a", "b"), 0.1

        def predict(self, crops):
            return [[1.0, 0.0, 0.0]] * len(crops)

        def threshold_for(self, label: str) -> float:
            return 0.5

    model_provider.use_models(detector=FakeDetector, classifier=WrongShapeClassifier)
    try:
        assert run_self_test() == EXIT_FAILED
    finally:
        model_provider.use_models()
    out = capsys.readouterr().out
    assert "classifier: FAILED" in out and "project: FAILED" in out and "1 check" not in out


def test_generated_smear_is_an_rgb_field() -> None:
    image = generated_smear(320, 240)
    assert image.shape == (240, 320, 3) and image.dtype.name == "uint8"
