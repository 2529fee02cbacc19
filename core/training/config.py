"""The JSON file `hemalabel train --config FILE` reads.  Relative paths are
taken from the current folder (the project root in models/README.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.locating import LOCATE_MODES
from core.training.augment import COLOUR_JITTER, DEFAULT_SCALE_JITTER
from core.training.samples import DatasetError
from core.wording import json_error_place

SOURCE_TYPES = ("pbc", "bccd", "folder", "project")


@dataclass(slots=True)
class SourceConfig:
    type: str
    path: str
    val: float = 0.1  # fractions held out (pbc, folder, project)
    test: float = 0.0
    splits: list[str] = field(default_factory=lambda: ["train"])  # bccd: its own splits, all for training
    locate: str = "auto"  # folder: find each image's cell (core.locating), or "off" for crops cut tight


@dataclass(slots=True)
class TrainConfig:
    name: str
    sources: list[SourceConfig]
    version: str = "1.0.0"
    architecture: str = "hemanet"
    classes: list[str] = field(
        default_factory=lambda: [
            "neutrophil",
            "eosinophil",
            "basophil",
            "lymphocyte",
            "monocyte",
            "ig",
            "erythroblast",
            "platelet",
        ]
    )
    input_size: int = 80
    crop_margin: float = 0.15
    epochs: int = 40
    max_minutes: float = 0.0  # 0: no limit; else the LR schedule runs on wall time
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 0.02
    label_smoothing: float = 0.05
    early_stopping_patience: int = 10
    augment_strength: float = 1.0
    colour_jitter: str = "standard"  # core.training.augment.COLOUR_JITTER
    scale_jitter: float = DEFAULT_SCALE_JITTER  # crop scale varies by up to this fraction either way
    source_weights: dict[str, float] = field(default_factory=dict)
    target_recall: dict[str, float] = field(default_factory=dict)
    target_accuracy_above_threshold: float = 0.995
    seed: int = 0
    output_dir: str = "models"

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> TrainConfig:
        """A config from parsed JSON, every value checked for its type and
        range here: a wrong one would otherwise surface after minutes of
        reading images, as a traceback or a Keras message naming no file."""
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: expected a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise DatasetError(f"{where}: unknown keys {unknown}; known keys: {sorted(known)}")
        if "name" not in data or "sources" not in data:
            raise DatasetError(f"{where}: needs 'name' and 'sources'")
        for key, value in data.items():
            if key in _CHECKS:
                _check(where, key, value, *_CHECKS[key])
        if not _SAFE_NAME.fullmatch(data["name"]):
            raise DatasetError(f"{where}: name {data['name']!r} becomes the model's file name: use letters, digits, "
                               "'.', '_' and '-' only")
        if not isinstance(data["sources"], list):
            raise DatasetError(f"{where}: sources must be a list of {{'type': ..., 'path': ...}} objects")
        sources = [_source(where, index, entry) for index, entry in enumerate(data["sources"])]
        config = cls(**{**data, "sources": sources})
        from core.classifier.architecture import ARCHITECTURES  # keras is imported only when a network is built

        if config.architecture not in ARCHITECTURES:
            raise DatasetError(f"{where}: architecture {config.architecture!r} is not one of {sorted(ARCHITECTURES)}")
        if len(set(config.classes)) != len(config.classes) or len(config.classes) < 2:
            raise DatasetError(f"{where}: classes must be two or more different names, not {config.classes}")
        if config.colour_jitter not in COLOUR_JITTER:
            raise DatasetError(f"{where}: colour_jitter {config.colour_jitter!r} is not one of {sorted(COLOUR_JITTER)}")
        if not 0.0 <= config.scale_jitter < 0.5:
            raise DatasetError(f"{where}: scale_jitter {config.scale_jitter!r} must be at least 0 and below 0.5")
        for label in config.target_recall:
            if label not in config.classes:
                raise DatasetError(f"{where}: target_recall names {label!r}, not one of {config.classes}")
        return config

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}: not valid JSON at {json_error_place(error)}") from None
        return cls.from_dict(data, str(path))


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NUMBER = (int, float)

# key: (expected type, lowest, highest, whether the lowest itself is allowed,
# what the value should be, in words).  JSON's true and false are not numbers.
_CHECKS: dict[str, tuple[Any, float | None, float | None, bool, str]] = {
    "name": (str, None, None, True, "a text"),
    "version": (str, None, None, True, "a text"),
    "architecture": (str, None, None, True, "a text"),
    "classes": (list, None, None, True, "a list of class names"),
    "input_size": (int, 16, 1024, True, "a whole number of pixels from 16 to 1024"),
    "crop_margin": (_NUMBER, 0, 1, True, "a number from 0 to 1"),
    "epochs": (int, 1, None, True, "a whole number, at least 1"),
    "max_minutes": (_NUMBER, 0, None, True, "a number of minutes, 0 for no limit"),
    "batch_size": (int, 1, None, True, "a whole number, at least 1"),
    "learning_rate": (_NUMBER, 0, None, False, "a number above 0"),
    "weight_decay": (_NUMBER, 0, None, True, "a number, at least 0"),
    "label_smoothing": (_NUMBER, 0, 0.99, True, "a number from 0 to below 1"),
    "early_stopping_patience": (int, 1, None, True, "a whole number of epochs, at least 1"),
    "augment_strength": (_NUMBER, 0, None, True, "a number, at least 0"),
    "colour_jitter": (str, None, None, True, "a text"),
    "scale_jitter": (_NUMBER, None, None, True, "a number"),
    "source_weights": (dict, None, None, True, "an object of source name: weight"),
    "target_recall": (dict, None, None, True, "an object of class name: recall"),
    "target_accuracy_above_threshold": (_NUMBER, 0, 1, False, "a number above 0, at most 1"),
    "seed": (int, None, None, True, "a whole number"),
    "output_dir": (str, None, None, True, "a folder's path"),
}


def _check(where: str, key: str, value: Any, kind: Any, low: float | None, high: float | None,
           low_allowed: bool, wanted: str) -> None:
    fits = isinstance(value, kind) and not isinstance(value, bool)
    if fits and low is not None:
        fits = value >= low if low_allowed else value > low
    if fits and high is not None:
        fits = value <= high
    if fits and kind is list:
        fits = all(isinstance(item, str) and item for item in value)
    if fits and kind is dict:
        fits = all(isinstance(v, _NUMBER) and not isinstance(v, bool) and v >= 0 for v in value.values())
        if key == "target_recall":
            fits = fits and all(0 < v <= 1 for v in value.values())
    if not fits:
        raise DatasetError(f"{where}: {key} must be {wanted}, not {json.dumps(value)}")


def _source(where: str, index: int, entry: Any) -> SourceConfig:
    place = f"{where}: source #{index + 1}"
    if not isinstance(entry, dict) or entry.get("type") not in SOURCE_TYPES or not isinstance(entry.get("path"), str):
        raise DatasetError(f"{place} needs 'type' (one of {SOURCE_TYPES}) and 'path'")
    unknown = sorted(set(entry) - set(SourceConfig.__dataclass_fields__))
    if unknown:
        raise DatasetError(f"{place}: unknown keys {unknown}; known keys: {sorted(SourceConfig.__dataclass_fields__)}")
    for key in ("val", "test"):
        if key in entry:
            _check(place, key, entry[key], _NUMBER, 0, 0.9, True, "a fraction from 0 to 0.9")
    if "splits" in entry:
        _check(place, "splits", entry["splits"], list, None, None, True, "a list of split names")
    if entry.get("locate", "auto") not in LOCATE_MODES:
        raise DatasetError(f"{place}: locate must be one of {list(LOCATE_MODES)}, not {json.dumps(entry['locate'])}")
    return SourceConfig(**entry)
