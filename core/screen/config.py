"""The JSON file `hemalabel train --screen --config FILE` reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.training.augment import COLOUR_JITTER
from core.training.samples import DatasetError
from core.wording import json_error_place


@dataclass(slots=True)
class ScreenConfig:
    name: str
    fields: str  # a folder of benign/early/pre/pro fields
    version: str = "1.0.0"
    architecture: str = "hemanet"
    input_size: int = 64
    crop_margin: float = 0.5  # around the box: the neighbouring red cells show how large the cell is
    val: float = 0.15  # fractions of the duplicate groups held out
    test: float = 0.2
    cells_per_field: int = 8  # a bag's cells in one step (a random few of a crowded field)
    fields_per_batch: int = 16
    epochs: int = 30
    max_minutes: float = 15.0  # 0: no limit
    learning_rate: float = 3e-3
    weight_decay: float = 0.02
    sharpness: float = 4.0  # of the soft maximum pooling a field's cells
    benign_cell_weight: float = 0.5  # every cell of a benign field is benign: a per-cell loss too
    red_cells_per_field: int = 4  # a field's red cells in one step, each benign whatever the diagnosis
    red_cell_weight: float = 0.5
    # Other labs' smears of healthy donors (a YOLO folder): each white cell benign (core.screen.normal_cells).
    normal_cells: str = ""
    normal_cells_splits: str = "train,val"  # the folder's splits to read, comma-separated
    normal_cells_image_size: str = ""  # "WxH": that size's images only; "" every image
    normal_cells_per_batch: int = 16
    normal_cell_weight: float = 0.5
    # "": flips, quarter turns and a light gain and offset; else a name in
    # core.training.augment.COLOUR_JITTER, the classifier's stain and colour jitter.
    colour_jitter: str = ""
    early_stopping_patience: int = 8
    target_recall: float = 0.98  # of validation fields, for the operating point
    seed: int = 0
    output_dir: str = "models"

    @classmethod
    def from_dict(cls, data: Any, where: str = "config") -> ScreenConfig:
        if not isinstance(data, dict):
            raise DatasetError(f"{where}: expected a JSON object")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise DatasetError(f"{where}: unknown keys {unknown}; known keys: {sorted(cls.__dataclass_fields__)}")
        if not isinstance(data.get("name"), str) or not isinstance(data.get("fields"), str):
            raise DatasetError(f"{where}: needs 'name' and 'fields' (the folder of benign/early/pre/pro fields)")
        defaults = cls(name="", fields="")
        for key, value in data.items():
            wanted = type(getattr(defaults, key))
            fits = isinstance(value, (int, float) if wanted is float else wanted) and not isinstance(value, bool)
            if not fits:
                raise DatasetError(f"{where}: {key} must be {wanted.__name__}, not {json.dumps(value)}")
        config = cls(**data)
        if not 0 < config.target_recall <= 1:
            raise DatasetError(f"{where}: target_recall must be above 0 and at most 1, not {config.target_recall}")
        if config.val <= 0 or config.test < 0 or config.val + config.test >= 1:
            raise DatasetError(f"{where}: val ({config.val}) and test ({config.test}) must leave fields to train on")
        if config.red_cells_per_field < 0 or config.red_cell_weight < 0:
            raise DatasetError(f"{where}: red_cells_per_field and red_cell_weight must not be negative")
        if config.normal_cells_per_batch < 0 or config.normal_cell_weight < 0:
            raise DatasetError(f"{where}: normal_cells_per_batch and normal_cell_weight must not be negative")
        config.normal_cells_size(where)
        if config.colour_jitter and config.colour_jitter not in COLOUR_JITTER:
            raise DatasetError(f"{where}: colour_jitter must be one of {sorted(COLOUR_JITTER)} or \"\", "
                               f"not {config.colour_jitter!r}")
        for key in ("input_size", "cells_per_field", "fields_per_batch", "epochs", "early_stopping_patience"):
            if getattr(config, key) < 1:
                raise DatasetError(f"{where}: {key} must be at least 1")
        return config

    def normal_cells_size(self, where: str = "config") -> tuple[int, int] | None:
        """normal_cells_image_size as (width, height); None for every size."""
        text = self.normal_cells_image_size
        if not text:
            return None
        width, _, height = text.lower().partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise DatasetError(f"{where}: normal_cells_image_size must be WIDTHxHEIGHT in pixels, not {text!r}")
        return int(width), int(height)

    @classmethod
    def load(cls, path: str | Path) -> ScreenConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DatasetError(f"{path}: screen training config not found") from None
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}: not valid JSON at {json_error_place(error)}") from None
        return cls.from_dict(data, str(path))
