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


def speed_figures(classifier: Any, crops: list[np.ndarray]) -> dict[str, float]:
    from core.classifier.architecture import flops_per_cell

    classifier.predict(crops[:256])  # trace once
    started = time.perf_counter()
    classifier.predict(crops)
    batch_seconds = time.perf_counter() - started
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
    return {
        "cells": len(crops),
        "cells_per_second": cells_per_second,
        "single_cell_ms_median": 1000 * float(np.median(latencies)),
        "single_cell_ms_p95": 1000 * float(np.percentile(latencies, 95)),
        "weights_mb": classifier.path.stat().st_size / 1e6,
        "parameters": int(classifier.keras_model.count_params()),
        "mflops_per_cell": flops / 1e6,
        "matmul_gflops_per_second": rate / 1e9,
        "floor_cells_per_second": floor_cells_per_second,
        "gap_to_floor": floor_cells_per_second / cells_per_second,
    }
