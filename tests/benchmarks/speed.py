"""Speed figures of a Classifier on this machine's CPU."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def matmul_flops_per_second(n: int = 1024, repeats: int = 10) -> float:
    """Measured dense float32 matmul rate through TensorFlow: the floor a
    network's FLOPs are compared with."""
    import tensorflow as tf

    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2.0 * n**3 / best


def _median_seconds(work: Any, repeats: int = 5) -> float:
    work()  # trace and warm the caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def speed_figures(classifier: Any, crops: list[np.ndarray]) -> dict[str, float | str]:
    """End to end (full-size crops, resize included) and the network alone
    (crops already at the input size), with two baselines in the same run:
    the folded network on TensorFlow's own kernels (runtime "tensorflow"),
    and the network unfolded (plain Keras call, batch normalisation
    separate)."""
    import tensorflow as tf

    from core.classifier import Classifier
    from core.classifier.architecture import flops_per_cell
    from core.classifier.model import BATCH_SIZE
    from core.classifier.preprocess import batch_of

    batch_seconds = _median_seconds(lambda: classifier.predict(crops))
    pixels = batch_of(crops, classifier.card.input_size)
    network_seconds = _median_seconds(lambda: classifier.logits(pixels))
    # The same loaded network, run on TensorFlow's kernels: no second load.
    on_tensorflow = Classifier(classifier.card, classifier.keras_model, classifier.path, runtime="tensorflow")
    tensorflow_seconds = _median_seconds(lambda: on_tensorflow.predict(crops))
    tensorflow_network_seconds = _median_seconds(lambda: on_tensorflow.logits(pixels))
    model = classifier.keras_model
    unfolded = tf.function(lambda x: model(x, training=False), autograph=False, reduce_retracing=True)
    floats = pixels.astype(np.float32)
    unfolded_seconds = _median_seconds(
        lambda: [unfolded(floats[i : i + BATCH_SIZE]).numpy() for i in range(0, len(floats), BATCH_SIZE)]
    )
    one = crops[:1]
    classifier.predict(one)
    latencies = []
    for i in range(100):
        started = time.perf_counter()
        classifier.predict(crops[i : i + 1])
        latencies.append(time.perf_counter() - started)
    flops = flops_per_cell(classifier.keras_model)
    rate = matmul_flops_per_second()
    cells_per_second = len(crops) / batch_seconds
    floor_cells_per_second = rate / flops
    network_cells_per_second = len(crops) / network_seconds
    return {
        "cells": len(crops),
        "runtime": classifier.runtime,
        "cells_per_second": cells_per_second,
        "network_cells_per_second": network_cells_per_second,
        "tensorflow_cells_per_second": len(crops) / tensorflow_seconds,
        "tensorflow_network_cells_per_second": len(crops) / tensorflow_network_seconds,
        "unfolded_network_cells_per_second": len(crops) / unfolded_seconds,
        "single_cell_ms_median": 1000 * float(np.median(latencies)),
        "single_cell_ms_p95": 1000 * float(np.percentile(latencies, 95)),
        "weights_mb": classifier.path.stat().st_size / 1e6,
        "parameters": int(classifier.keras_model.count_params()),
        "mflops_per_cell": flops / 1e6,
        "matmul_gflops_per_second": rate / 1e9,
        "floor_cells_per_second": floor_cells_per_second,
        "gap_to_floor": floor_cells_per_second / cells_per_second,
        "network_gap_to_floor": floor_cells_per_second / network_cells_per_second,
    }
