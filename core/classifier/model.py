"""The bundled white-cell classifier behind the CellClassifier protocol."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from core.classifier.calibration import softmax
from core.classifier.card import ModelCard, ModelCardError, card_path_for, check_model, check_weights, read_card
from core.classifier.folding import folded_inference
from core.classifier.preprocess import batch_of
from core.classifier.resolver import resolve_model

# Cells per network call: 64 keeps a block's activations in the CPU cache
# (on 2 cores, 6% more cells per second than 256).
BATCH_SIZE = 64


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

    def logits(self, crops: Sequence[np.ndarray], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Uncalibrated logits, N x classes.  crops: a sequence of RGB crops
        of any size, or an N x S x S x 3 array already at the input size S."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        call = self._compiled()
        size = self.card.input_size
        starts = range(0, len(crops), batch_size)
        presized = isinstance(crops, np.ndarray) and crops.ndim == 4 and crops.shape[1:] == (size, size, 3)
        if presized:
            crops = crops if crops.dtype == np.uint8 else np.clip(np.rint(crops), 0, 255).astype(np.uint8)
        prepare: Callable[[Any], np.ndarray] = (lambda part: part) if presized else (lambda part: batch_of(part, size))
        if presized or len(starts) == 1:
            return np.concatenate([np.asarray(call(prepare(crops[s : s + batch_size]))) for s in starts])
        # Resize the next batch while the network runs this one: OpenCV and
        # TensorFlow both release the interpreter lock, and resizing 2,000
        # full-size crops took 0.25-0.6 s against the network's 0.6 s.
        out = []
        with ThreadPoolExecutor(1, thread_name_prefix="classifier-resize") as resizer:
            pending = resizer.submit(prepare, crops[:batch_size])
            for start in starts:
                pixels = pending.result()
                following = start + batch_size
                if following < len(crops):
                    pending = resizer.submit(prepare, crops[following : following + batch_size])
                out.append(np.asarray(call(pixels)))
        return np.concatenate(out)

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated probabilities (softmax of logits / temperature)."""
        return softmax(self.logits(crops), self.temperature).astype(np.float32)

    def _compiled(self) -> Any:
        # One traced function for any batch size: Keras's predict() sets up
        # a data pipeline per call, which costs more than a 1-cell inference.
        # Batch normalisation is folded into the convolutions (folding.py).
        with self._lock:
            if self._call is None:
                self._call = folded_inference(self.keras_model, self.card.input_size)
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
