"""The model card: a JSON file beside the weights that says what the model
is and lets loading refuse weights that are not what the card describes."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.detection.card import is_detector_card
from core.wording import json_error_place

CARD_FORMAT = 1


class ModelCardError(ValueError):
    """A card that is missing, malformed, or does not match its weights."""


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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def card_path_for(weights: Path) -> Path:
    return weights.with_suffix(".json")


def write_card(card: ModelCard, path: Path) -> None:
    """Written to a temporary name then moved into place: a crash mid-write
    must not leave a half card that refuses the model for good."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(card.to_json() + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_card(path: Path) -> ModelCard:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelCardError(f"{path}: model card not found (every model needs its card beside it)") from None
    except json.JSONDecodeError as error:
        raise ModelCardError(f"{path}: model card is not valid JSON ({json_error_place(error)})") from None
    if not isinstance(data, dict):
        raise ModelCardError(f"{path}: model card must be a JSON object")
    if is_detector_card(data):
        raise ModelCardError(f"{path}: the card of a cell detector, not of a white-cell classifier; "
                             "give it to `hemalabel detect --model`")
    if data.get("task") == "lymphoid-screen":
        raise ModelCardError(f"{path}: the card of the lymphoid screen, not of a white-cell classifier; "
                             "it screens with `--screen` (evaluate, classify) or the project's screen setting")
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
