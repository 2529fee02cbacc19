"""The screen model at work: P(blast) and a subtype for each white-cell crop.

Loaded like the white-cell classifier (its card beside it, checksum, input
and outputs checked, Keras safe mode), but never in its place: it is an
optional second opinion on lymphoid cells, not a differential.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.classifier.model import BATCH_SIZE
from core.classifier.preprocess import resize_square
from core.crops import crop_square
from core.models.files import ModelCardError
from core.models.resolver import resolve_screen_model
from core.models.screen_card import ScreenCard, check_screen_weights, read_screen_card
from core.schema import Box
from core.screen.fields import SUBTYPES
from core.screen.pooling import attention_subtype, blast_logits, sigmoid


@dataclass(frozen=True, slots=True)
class CellScreen:
    p_blast: float
    subtype: str  # one of SUBTYPES: the likeliest should the cell be a blast
    suspected: bool  # p_blast reaches the card's operating threshold


class ScreenModel:
    def __init__(self, card: ScreenCard, keras_model: Any, path: Path) -> None:
        self.card = card
        self.model = keras_model
        self.path = path
        self._call: Any = None
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return float(self.card.blast_threshold)

    def logits(self, crops: NDArray[Any]) -> NDArray[np.float64]:
        """Four logits per crop (N x S x S x 3 uint8 at the card's input size)."""
        if not len(crops):
            return np.zeros((0, len(self.card.classes)))
        call = self._compiled()
        pixels = np.ascontiguousarray(crops, np.uint8)
        out = [np.asarray(call(pixels[i : i + BATCH_SIZE])) for i in range(0, len(pixels), BATCH_SIZE)]
        result: NDArray[np.float64] = np.concatenate(out).astype(np.float64)
        return result

    def _compiled(self) -> Any:
        # The classifier's fast path (BN folded, TensorFlow Lite kernels):
        # the screen must add little to a slide's classification time.
        with self._lock:
            if self._call is None:
                from core.classifier.folding import folded_inference
                from core.classifier.lite import lite_network

                folded = folded_inference(self.model, self.card.input_size)
                lite, _ = lite_network(folded, self.card.input_size, BATCH_SIZE)
                self._call = lite if lite is not None else folded
            return self._call

    def screen_crops(self, crops: NDArray[Any]) -> list[CellScreen]:
        logits = self.logits(crops)
        probabilities = sigmoid(blast_logits(logits))
        return [CellScreen(float(p), SUBTYPES[int(np.argmax(row[1:]))], bool(p >= self.threshold))
                for p, row in zip(probabilities, logits)]

    def screen_boxes(self, image: NDArray[Any], boxes: list[Box]) -> list[CellScreen]:
        """Each box's cell in an RGB uint8 image, cut as the model was trained."""
        return self.screen_crops(cut_crops(image, boxes, self.card.input_size, self.card.crop_margin))

    def field_subtype(self, logits: NDArray[Any]) -> str:
        """A field's subtype from its cells' logits (the training's pooling)."""
        return SUBTYPES[attention_subtype(logits, blast_logits(logits), float(self.card.sharpness))]


def cut_crops(image: NDArray[Any], boxes: Sequence[Box], input_size: int, margin: float) -> NDArray[Any]:
    """The screen model's input for each box: crop_square then resize_square,
    as every classifier in the project is fed."""
    crops = np.zeros((len(boxes), input_size, input_size, 3), np.uint8)
    for i, box in enumerate(boxes):
        crops[i] = resize_square(crop_square(image, box, margin), input_size)
    return crops


def load_screen_model(name_or_path: str | os.PathLike[str] | None = None) -> ScreenModel:
    """Resolve, check and load: the card must be a screen's, its checksum
    match the weights and the network's input and outputs match the card."""
    card_file = resolve_screen_model(name_or_path)
    card = read_screen_card(card_file)
    weights = check_screen_weights(card, card_file)
    from core.classifier.layers import crop_standardization_layer
    from core.keras_files import load_keras_file

    crop_standardization_layer()
    model = load_keras_file(weights, ModelCardError, "the screen model")
    if tuple(model.input_shape[1:]) != (card.input_size, card.input_size, 3) or model.output_shape[-1] != len(
            card.classes):
        raise ModelCardError(f"{card_file}: card says input {card.input_size}x{card.input_size}x3 and "
                             f"{len(card.classes)} outputs, the model has {tuple(model.input_shape[1:])} and "
                             f"{model.output_shape[-1]}; refused")
    return ScreenModel(card, model, weights)
