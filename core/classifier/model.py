"""The bundled white-cell classifier behind the CellClassifier protocol."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.classifier.calibration import softmax
from core.classifier.folding import folded_inference
from core.classifier.lite import lite_network
from core.classifier.preprocess import batch_of
from core.models.classifier_card import ModelCard, card_path_for, check_model, check_weights, read_card
from core.models.files import ModelCardError
from core.models.resolver import resolve_model

# Cells per network call: 64 keeps a block's activations in the CPU cache
# (on 2 cores, 6% more cells per second than 256).
BATCH_SIZE = 64
# Crops resized per turn (logits): 512 at 80 px hold 10 MB of pixels.
_RESIZE_BLOCK = 512
# "auto": TensorFlow Lite's CPU kernels where they load (lite.py), else the
# folded TensorFlow graph; "tensorflow" forces the latter (a baseline).
RUNTIMES = ("auto", "tensorflow")


class Classifier:
    """Calibrated class probabilities for crops cut by core.crops.crop_square
    with `crop_margin`.  Thread-safe for predict; build with load_classifier."""

    def __init__(self, card: ModelCard, keras_model: Any, path: Path, runtime: str = "auto") -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
        self.card = card
        self.keras_model = keras_model
        self.path = path
        self.version = f"{card.name}-{card.version}"
        self.classes: tuple[str, ...] = tuple(card.classes)
        self.crop_margin = float(card.crop_margin)
        self.temperature = float(card.temperature)
        self._requested_runtime = runtime
        # What runs the network, known after the first call: "tflite", or
        # "tensorflow" with the reason Lite was not used.
        self.runtime = ""
        self._call: Any = None
        self._lock = threading.Lock()

    def threshold_for(self, label: str) -> float:
        return self.card.threshold_for(label)

    def logits(self, crops: Sequence[NDArray[Any]] | NDArray[Any], batch_size: int = BATCH_SIZE) -> NDArray[Any]:
        """Uncalibrated logits, N x classes.  crops: a sequence of RGB crops
        of any size, or an N x S x S x 3 array already at the input size S."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        call = self._compiled()
        size = self.card.input_size
        if isinstance(crops, np.ndarray) and crops.ndim == 4 and crops.shape[1:] == (size, size, 3):
            pixels = crops if crops.dtype == np.uint8 else np.clip(np.rint(crops), 0, 255).astype(np.uint8)
            return self._run(call, pixels, batch_size)
        # Resize a block on every core, then run the network on it: taking
        # turns beats resizing beside the network, whose threads keep every
        # core busy (on 2 cores, overlapped: 2,930 cells/s; in turns: 3,370).
        # A block bounds the memory of the resized pixels, however many
        # crops come in.
        threads = os.cpu_count() or 1
        return np.concatenate(
            [
                self._run(call, batch_of(crops[start : start + _RESIZE_BLOCK], size, threads), batch_size)
                for start in range(0, len(crops), _RESIZE_BLOCK)
            ]
        )

    @staticmethod
    def _run(call: Any, pixels: NDArray[Any], batch_size: int) -> NDArray[Any]:
        return np.concatenate([np.asarray(call(pixels[s : s + batch_size])) for s in range(0, len(pixels), batch_size)])

    def predict(self, crops: Sequence[NDArray[Any]]) -> NDArray[Any]:
        """Calibrated probabilities (softmax of logits / temperature)."""
        return softmax(self.logits(crops), self.temperature).astype(np.float32)

    def _compiled(self) -> Any:
        # One traced function for any batch size: Keras's predict() sets up
        # a data pipeline per call, which costs more than a 1-cell inference.
        # Batch normalisation is folded into the convolutions (folding.py),
        # and the folded graph runs on TensorFlow Lite's kernels (lite.py).
        with self._lock:
            if self._call is None:
                folded = folded_inference(self.keras_model, self.card.input_size)
                self._call, self.runtime = folded, "tensorflow"
                if self._requested_runtime == "auto":
                    lite, why_not = lite_network(folded, self.card.input_size, BATCH_SIZE)
                    if lite is not None:
                        self._call, self.runtime = lite, "tflite"
                    else:
                        self.runtime = f"tensorflow ({why_not})"
            return self._call


def load_classifier(name_or_path: str | os.PathLike[str] | None = None, runtime: str = "auto") -> Classifier:
    """Resolve, check and load a model: the card must exist, its sha256 must
    match the weights, and the model's input and classes must match the
    card; anything else is refused with a ModelCardError naming the file."""
    weights = resolve_model(name_or_path)
    card_file = card_path_for(weights)
    card = read_card(card_file)
    check_weights(card, card_file, weights)
    from core.classifier.layers import crop_standardization_layer
    from core.keras_files import load_keras_file

    crop_standardization_layer()  # registers the custom layer before loading
    model = load_keras_file(weights, ModelCardError, "the model")
    check_model(card, card_file, model)
    return Classifier(card, model, weights, runtime)
