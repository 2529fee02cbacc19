"""Out-of-fold scoring of a retrain: slide-grouped folds, the instant path
taught fold by fold, the temperature refit and the advice that weighs the
fine-tune against the instant path."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from core.retraining.child import MIN_CALIBRATION_CELLS, calibrate_out_of_fold
from core.retraining.out_of_fold import instant_out_of_fold, network_log_probabilities, slide_folds
from core.retraining.scoring import ModelScores, recommend
from core.schema import CellKind


def test_folds_keep_each_slide_whole_and_balance_cells() -> None:
    groups = [f"slide{i % 7}" for i in range(70)] + ["big"] * 30
    folds = slide_folds(groups, 3, seed=1)
    assert set(folds) == {0, 1, 2}
    for group in set(groups):
        assert len({f for g, f in zip(groups, folds) if g == group}) == 1
    sizes = sorted(Counter(folds).values())
    assert sizes[-1] - sizes[0] <= 10  # the big slide alone fills one fold
    assert folds == slide_folds(groups, 3, seed=1)


def test_folds_shrink_to_the_slides_there_are_and_need_two() -> None:
    assert sorted(set(slide_folds(["a", "a", "b"], 5))) == [0, 1]
    with pytest.raises(ValueError, match="at least two slides"):
        slide_folds(["a", "a"], 3)


def _clusters(rng: np.random.Generator, per_class: int, classes: int, dims: int = 16) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(size=(classes, dims)) * 3
    labels = np.repeat(np.arange(classes), per_class)
    vectors = centres[labels] + rng.normal(size=(len(labels), dims))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), labels


def test_instant_path_out_of_fold_learns_what_the_network_gets_wrong() -> None:
    rng = np.random.default_rng(0)
    embeddings, labels = _clusters(rng, 12, 3)
    # A network that calls every cell class 0 with some confidence.
    logits = np.tile([2.0, 0.0, 0.0], (len(labels), 1))
    logp = network_log_probabilities(logits, 1.0, np.ones_like(logits, bool))
    groups = [f"s{i % 6}" for i in range(len(labels))]
    folds = slide_folds(groups, 3)
    white = [CellKind.WHITE] * len(labels)
    probabilities = instant_out_of_fold(embeddings, logp, labels, white, folds)
    assert (probabilities.argmax(1) == labels).mean() > 0.9
    # A cell of a class the network has no output for teaches nothing;
    # cells that are not white keep the network's view.
    unknown = labels.copy()
    unknown[labels == 2] = -1
    platelets = [CellKind.PLATELET] * len(labels)
    assert np.allclose(instant_out_of_fold(embeddings, logp, unknown, platelets, folds), np.exp(logp))


def test_masks_rule_classes_out_of_the_network_view() -> None:
    logp = network_log_probabilities(np.zeros((2, 3)), 1.0, np.array([[True, True, False], [True, True, True]]))
    assert np.exp(logp[0]).round(3).tolist() == [0.5, 0.5, 0.0]
    assert np.exp(logp).sum(1) == pytest.approx([1.0, 1.0])


def test_temperature_refit_on_out_of_fold_predictions_lowers_overconfidence() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3))
    logits[np.arange(200), labels] += 1.0
    logits *= 6  # far too sure of itself for how often it is right
    calibration = calibrate_out_of_fold(logits, labels, 1.0)
    assert calibration is not None and calibration["temperature"] > 2
    assert calibration["ece_after"] < calibration["ece_before"] / 2
    assert 0 < calibration["ece_floor"] < 0.1  # the same cells relabelled from the fitted probabilities
    assert calibrate_out_of_fold(logits[: MIN_CALIBRATION_CELLS - 1], labels[: MIN_CALIBRATION_CELLS - 1], 1.0) is None
    assert calibrate_out_of_fold(logits, np.zeros(200, np.int64), 1.0) is None
    # The original data's validation cells, where it is right and sure, pull
    # the temperature back: each half weighs the same however many cells it has.
    sure = np.eye(3)[np.arange(600) % 3] * 8.0
    both = calibrate_out_of_fold(logits, labels, 1.0, (sure, np.arange(600) % 3))
    assert both is not None and both["original_cells"] == 600
    assert 1.0 < both["temperature"] < calibration["temperature"]


def _scores(model: str, balanced: float, cells: int = 40) -> ModelScores:
    return ModelScores(model, cells, balanced, balanced, {}, [], [])


def test_a_candidate_must_beat_the_instant_path_too() -> None:
    pair = (_scores("in use", 0.70), _scores("candidate", 0.85))
    text, advised = recommend(pair, None, _scores("in use+taught", 0.80))
    assert advised and text.startswith("Promote")
    text, advised = recommend(pair, None, _scores("in use+taught", 0.86))
    assert not advised and "teaches it at once does as well (86.0% out of fold" in text
    text, advised = recommend((_scores("in use", 0.70, 5), _scores("candidate", 0.9, 5)), None, None)
    assert not advised and "Too few reviewed cells" in text
