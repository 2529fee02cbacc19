"""The bundled white-cell classifier behind the CellClassifier protocol."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.classifier.calibration import softmax
from core.classifier.card import ModelCard, ModelCardError, card_path_for, check_model, check_weights, read_card
from core.classifier.preprocess import batch_of
from core.classifier.resolver import resolve_model


class Classifier:
    """Calibrated class probabilities for crops cut by core.crops.crop_square
    with `crop_margin`.  Thread-safe for predict; build with load_classifier."""

    def __init__(self, card: ModelCard, keras_model: Any, path: Path) -> None:
        self.card = card
        self.keras_model = keras_model
        self.path = path
        self.version = f"{card.name}-{card.version}"
        self.classes: tuple[str, ...] = tuple(card.classes)
        self.crop_margin = float(card.crop_margin)
        self.temperature = float(card.temperature)
        self._call: Any = None
        self._lock = threading.Lock()

    def threshold_for(self, label: str) -> float:
        return self.card.threshold_for(label)

    def logits(self, crops: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Uncalibrated logits, N x classes."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        call = self._compiled()
        out = []
        for start in range(0, len(crops), batch_size):
            pixels = batch_of(crops[start : start + batch_size], self.card.input_size).astype(np.float32)
            out.append(np.asarray(call(pixels)))
        return np.concatenate(out)

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated probabilities (softmax of logits / temperature)."""
        return softmax(self.logits(crops), self.temperature).astype(np.float32)

    def _compiled(self) -> Any:
        # One traced function for any batch size: Keras's predict() sets up
        # a data pipeline per call, which costs more than a 1-cell inference.
        with self._lock:
            if self._call is None:
                import tensorflow as tf

                model = self.keras_model
                size = self.card.input_size
                # autograph off: there is no Python control flow to convert,
                # and in a frozen bundle it cannot read the lambda's source
                # (it warns on every start).
                self._call = tf.function(
                    lambda x: model(x, training=False),
                    input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
                    reduce_retracing=True,
                    autograph=False,
                )
            return self._call


def load_classifier(name_or_path: str | os.PathLike[str] | None = None) -> Classifier:
    """Resolve, check and load a model: the card must exist, its sha256 must
    match the weights, and the model's input and classes must match the
    card; anything else is refused with a ModelCardError naming the file."""
    weights = resolve_model(name_or_path)
    card_file = card_path_for(weights)
    card = read_card(card_file)
    check_weights(card, card_file, weights)
    import keras

    from core.classifier.layers import crop_standardization_layer

    crop_standardization_layer()  # registers the custom layer before loading
    try:
        model = keras.saving.load_model(weights, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad file
        raise ModelCardError(f"{weights}: cannot load the model ({error})") from None
    check_model(card, card_file, model)
    return Classifier(card, model, weights)
