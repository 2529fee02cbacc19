"""The white-cell classifier's card: a JSON file beside the weights that
says what the model is and lets loading refuse weights that are not what
the card describes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.formats.common import atomic_write_text
from core.models.files import ModelCardError, sha256_of
from core.models.kinds import read_card_json

CARD_FORMAT = 1


@dataclass(slots=True)
class ModelCard:
    name: str
    version: str
    architecture: str
    classes: list[str]
    input_size: int
    crop_margin: float
    weights_file: str
    sha256: str
    temperature: float = 1.0
    confidence_threshold: float = 0.5
    class_thresholds: dict[str, float] = field(default_factory=dict)
    target_recall: dict[str, dict[str, float]] = field(default_factory=dict)
    preprocessing: str = (
        "crop_square(image, box, crop_margin) from core.crops; resize_square to input_size "
        "(INTER_AREA shrinking, linear enlarging); RGB uint8 as float 0-255; the model standardises each crop"
    )
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    parent: str = ""  # the model this one was fine-tuned from ("" for one trained from scratch)
    format: int = CARD_FORMAT

    def threshold_for(self, label: str) -> float:
        return float(self.class_thresholds.get(label, self.confidence_threshold))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def card_path_for(weights: Path) -> Path:
    return weights.with_suffix(".json")


def write_card(card: ModelCard, path: Path) -> None:
    atomic_write_text(path, card.to_json() + "\n")  # a crash mid-write must not leave half a card


def read_card(path: Path) -> ModelCard:
    data = read_card_json(path, "classifier")
    known = set(ModelCard.__dataclass_fields__)
    try:
        card = ModelCard(**{key: value for key, value in data.items() if key in known})
    except TypeError as error:
        raise ModelCardError(f"{path}: model card lacks a field ({error})") from None
    if not card.classes or len(set(card.classes)) != len(card.classes):
        raise ModelCardError(f"{path}: model card must list distinct classes, found {card.classes}")
    return card


def check_weights(card: ModelCard, card_file: Path, weights: Path) -> None:
    """Refuse weights whose bytes are not the ones the card describes."""
    if not weights.is_file():
        raise ModelCardError(f"{weights}: weights file named by {card_file} not found")
    actual = sha256_of(weights)
    if actual != card.sha256:
        raise ModelCardError(
            f"{weights}: checksum {actual[:12]}... does not match its card {card_file} ({card.sha256[:12]}...); "
            "the weights were changed or the card belongs to another model — refused"
        )


def check_model(card: ModelCard, card_file: Path, model: Any) -> None:
    """Refuse a model whose input or output disagrees with the card."""
    input_shape = tuple(model.input_shape[1:])
    if input_shape != (card.input_size, card.input_size, 3):
        raise ModelCardError(
            f"{card_file}: card says input {card.input_size}x{card.input_size}x3 but the model takes {input_shape}; "
            "refused"
        )
    outputs = int(model.output_shape[-1])
    if outputs != len(card.classes):
        raise ModelCardError(
            f"{card_file}: card lists {len(card.classes)} classes ({', '.join(card.classes)}) "
            f"but the model has {outputs} outputs; refused"
        )
