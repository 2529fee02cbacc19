"""The classifier's network run by TensorFlow Lite's CPU kernels (XNNPACK).

Why: HemaNet is a depthwise-separable network, and XNNPACK's kernels for
depthwise and 1x1 convolutions beat TensorFlow's own on a laptop CPU.  On
2 cores: 4,600-4,700 cells/s against 3,300-3,430 for the folded TensorFlow
graph, and a single cell in a fraction of a millisecond.

The Lite model is converted in memory from the folded function
(folding.py) the first time the classifier runs (0.15 s); nothing new is
written, so the .keras file and its checksum stay the one source of truth.

tf.lite.Interpreter is deprecated in favour of LiteRT, a package outside
our stack.  If a TensorFlow release drops it, or conversion fails for a
model, `lite_network` says why and the classifier keeps the folded
TensorFlow function: same logits, only slower.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray


class LiteNetwork:
    """Callable: N x size x size x 3 uint8 pixels -> N x classes logits.
    Thread-safe (one interpreter runs at a time)."""

    def __init__(self, flatbuffer: bytes, input_size: int, batch_size: int, threads: int) -> None:
        self.batch_size = batch_size
        # Two fixed shapes: resizing an interpreter's input re-plans its
        # kernels, so full batches and single cells each get their own.
        self._full = _Shaped(flatbuffer, batch_size, input_size, threads)
        # One cell is too little work to share: on two busy cores a second
        # thread made the screen's single cell eight times slower (waiting
        # for the other thread), and the logits are the same either way.
        self._single = _Shaped(flatbuffer, 1, input_size, 1)
        self._lock = threading.Lock()

    def __call__(self, pixels: NDArray[Any]) -> NDArray[Any]:
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        out = []
        with self._lock:
            full = len(pixels) - len(pixels) % self.batch_size
            for start in range(0, full, self.batch_size):
                out.append(self._full.run(pixels[start : start + self.batch_size]))
            # A remainder runs cell by cell: XNNPACK's single-cell rate is
            # within a fifth of its batch rate, and one shape less to plan.
            for index in range(full, len(pixels)):
                out.append(self._single.run(pixels[index : index + 1]))
        if not out:
            return np.zeros((0, self._full.classes), np.float32)
        return np.concatenate(out)


def lite_network(function: Any, input_size: int, batch_size: int) -> tuple[LiteNetwork | None, str]:
    """A LiteNetwork for a traced tf.function (uint8 pixels -> logits) and
    "", or None and the reason it could not be built."""
    try:
        import tensorflow as tf

        concrete = function.get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], function)
        flatbuffer = converter.convert()
        network = LiteNetwork(flatbuffer, input_size, batch_size, threads=os.cpu_count() or 1)
    except Exception as error:  # any failure leaves the TensorFlow path
        return None, f"TensorFlow Lite unavailable: {type(error).__name__}: {error}"
    return network, ""


class _Shaped:
    """One interpreter planned for one batch size, with its tensor indices
    looked up once (get_input_details builds a list of dicts per call)."""

    def __init__(self, flatbuffer: bytes, batch: int, size: int, threads: int) -> None:
        import tensorflow as tf

        with warnings.catch_warnings():
            # The deprecation notice names a package we do not ship.
            warnings.simplefilter("ignore")
            self._interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._interpreter.resize_tensor_input(self._input, [batch, size, size, 3], strict=True)
        self._interpreter.allocate_tensors()
        output = self._interpreter.get_output_details()[0]
        self._output = output["index"]
        self.classes = int(output["shape"][-1])

    def run(self, pixels: NDArray[Any]) -> NDArray[Any]:
        self._interpreter.set_tensor(self._input, pixels)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output))  # a copy: the interpreter reuses its buffer
