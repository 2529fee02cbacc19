"""A training config is checked whole when it is read: a wrong value is
named with its file and key before any image is read, never found minutes
later as a traceback or a Keras message that names no file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core.training.config import TrainConfig
from core.training.samples import DatasetError

ROOT = Path(__file__).resolve().parents[2]
SOURCE = {"type": "folder", "path": "crops"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"epochs": "many"}, 'epochs must be a whole number, at least 1, not "many"'),
        ({"epochs": 0}, "epochs must be a whole number, at least 1, not 0"),
        ({"epochs": True}, "epochs must be a whole number, at least 1, not true"),
        ({"epochs": 2.5}, "epochs must be a whole number, at least 1, not 2.5"),
        ({"learning_rate": -1}, "learning_rate must be a number above 0, not -1"),
        ({"learning_rate": 0}, "learning_rate must be a number above 0, not 0"),
        ({"batch_size": None}, "batch_size must be a whole number, at least 1, not null"),
        ({"input_size": 4096}, "input_size must be a whole number of pixels from 16 to 1024, not 4096"),
        ({"label_smoothing": 1}, "label_smoothing must be a number from 0 to below 1, not 1"),
        ({"classes": ["neutrophil"]}, "classes must be two or more different names"),
        ({"classes": ["a", "a"]}, "classes must be two or more different names"),
        ({"classes": "neutrophil,lymphocyte"}, "classes must be a list of class names"),
        ({"target_recall": {"lymphocyte": 95}}, "target_recall must be an object of class name: recall"),
        ({"source_weights": {"bccd": -3}}, "source_weights must be an object of source name: weight"),
        ({"architecture": "resnet"}, "architecture 'resnet' is not one of"),
        ({"name": "../elsewhere"}, "name '../elsewhere' becomes the model's file name"),
        ({"sources": "crops"}, "sources must be a list"),
        ({"sources": [{"type": "folder", "path": "crops", "valid": 0.2}]}, r"source #1: unknown keys \['valid'\]"),
        ({"sources": [{"type": "folder", "path": "crops", "val": 1.5}]},
         "source #1: val must be a fraction from 0 to 0.9, not 1.5"),
        ({"sources": [{"type": "bccd", "path": "b", "splits": "train"}]},
         "source #1: splits must be a list of split names"),
        ({"sources": [{"type": "folder"}]}, "source #1 needs 'type'"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_file_and_key(tmp_path: Path, extra: dict, message: str) -> None:
    config = tmp_path / "m.train.json"
    config.write_text(json.dumps({"name": "m", "sources": [SOURCE], **extra}), encoding="utf-8")
    with pytest.raises(DatasetError) as refused:
        TrainConfig.load(config)
    text = str(refused.value)
    assert text.startswith(f"{config}: ") and re.search(message, text), text


def test_the_committed_configs_are_valid() -> None:
    from core.screen.config import ScreenConfig

    paths = sorted((ROOT / "models").glob("*.train.json"))
    assert [p.name for p in paths] == ["hemalabel-wbc-pbconly.train.json", "hemalabel-wbc.train.json",
                                       "lymphoid-screen.train.json"]
    for path in paths[:2]:
        config = TrainConfig.load(path)
        assert config.name == path.name.removesuffix(".train.json") and config.sources
    screen = ScreenConfig.load(paths[2])  # the optional screen's config, read by `train --screen`
    assert screen.name == "lymphoid-screen" and screen.target_recall == 0.98
