"""Training the detector on from a trained one's weights, and the learnt
red-cell sizes its card records, on tiny generated fields."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.cli.commands.train_detector_cmd import register, training_config
from core.detection.augment import STRONG_COLOUR
from core.detection.data import GroundTruth
from core.detection.detector import KerasCellDetector
from core.detection.training import train_detector
from core.jobs import run_job
from core.models.detector_card import DetectorCard
from core.models.files import ModelCardError
from tests.core.test_detection_model import disc_field, tiny_config

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]


def _with_red_cells(gt: GroundTruth, count: int) -> GroundTruth:
    """The field's boxes plus `count` 20 px red boxes (only the card's ruler reads them)."""
    extra = np.array([[i * 20, 0, i * 20 + 20, 20] for i in range(count)], np.float32)
    return GroundTruth(gt.path, np.vstack([gt.boxes, extra]), np.concatenate([gt.classes, np.ones(count, np.int64)]))


def test_training_on_from_a_card_starts_from_its_weights_and_says_so(tmp_path: Path) -> None:
    samples = [disc_field(tmp_path / f"field{i}.png", i) for i in range(2)]
    first = run_job(train_detector(samples, [], tmp_path / "first", tiny_config()))
    start = KerasCellDetector.load(first)
    config = tiny_config(init_from=str(first), learning_rate=1e-9, width=16, augment=replace(STRONG_COLOUR, crop=64))
    second = run_job(train_detector(samples, [], tmp_path / "second", config))
    after = KerasCellDetector.load(second)
    card = DetectorCard.load(second)
    assert card.training["started_from"] == {"card": str(first), "version": start.version, "sha256": start.card.sha256}
    # Its width is the first network's (8), whatever the config says, and
    # at a learning rate of nearly nothing the weights stay the first's.
    assert after.model.count_params() == start.model.count_params()
    for before, now in zip(start.model.trainable_weights, after.model.trainable_weights):
        assert np.allclose(before.numpy(), now.numpy(), atol=1e-4)


def test_training_on_from_a_missing_card_names_it(tmp_path: Path) -> None:
    samples = [disc_field(tmp_path / "field.png", 0)]
    with pytest.raises(ModelCardError, match="nowhere.json"):
        run_job(train_detector(samples, [], tmp_path / "out", tiny_config(init_from=str(tmp_path / "nowhere.json"))))


def test_the_card_records_the_training_fields_red_cell_sizes(tmp_path: Path) -> None:
    samples = [_with_red_cells(disc_field(tmp_path / f"field{i}.png", i), 6) for i in range(2)]
    card = DetectorCard.load(run_job(train_detector(samples, [], tmp_path / "out", tiny_config())))
    assert card.red_cell_range == [pytest.approx(20.0), pytest.approx(20.0)]
    few = [disc_field(tmp_path / "few.png", 3)]  # two red cells: nothing to measure
    assert DetectorCard.load(run_job(train_detector(few, [], tmp_path / "few", tiny_config()))).red_cell_range == []


def test_cli_strong_colour_pbc_fields_and_a_starting_card_reach_the_config() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["train-detector", "--data", "d", "--out", "o", "--colour", "strong", "--init-from",
                              "m/cell-detector.json", "--learning-rate", "0.0005", "--pbc-fields", "150",
                              "--min-visible", "0.3"])
    config = training_config(args)
    assert config.init_from == "m/cell-detector.json" and config.learning_rate == 0.0005
    assert config.augment.hue_rotation_probability == STRONG_COLOUR.hue_rotation_probability
    assert config.augment.min_visible == 0.3 and args.pbc_fields == 150
