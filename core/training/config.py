"""The JSON file `hemalabel train --config FILE` reads.  Relative paths are
taken from the current folder (the project root in models/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass(slots=True)
class TrainConfig:
    name: str
    sources: list[SourceConfig]
    version: str = "1.0.0"
    architecture: str = "hemanet"
    classes: list[str] = field(
        default_factory=lambda: ["neutrophil", "eosinophil", "basophil", "lymphocyte", "monocyte", "ig", "erythroblast", "platelet"]
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
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: expected a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise DatasetError(f"{where}: unknown keys {unknown}; known keys: {sorted(known)}")
        if "name" not in data or "sources" not in data:
            raise DatasetError(f"{where}: needs 'name' and 'sources'")
        sources = []
        for index, entry in enumerate(data["sources"]):
            if not isinstance(entry, dict) or entry.get("type") not in SOURCE_TYPES or "path" not in entry:
                raise DatasetError(f"{where}: source #{index + 1} needs 'type' (one of {SOURCE_TYPES}) and 'path'")
            sources.append(SourceConfig(**entry))
        config = cls(**{**data, "sources": sources})
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
