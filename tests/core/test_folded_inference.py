"""Batch normalisation folded into the convolutions must not change a
single prediction: checked against the plain Keras call, with batch-norm
statistics far from their initial values, for every architecture."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core.classifier.architecture import ARCHITECTURES, build
from core.classifier.folding import folded_inference


def _with_random_statistics(model, seed: int = 0):
    """Trained-looking BN layers: moving mean/variance, gamma and beta away
    from 0/1, so that a wrong fold cannot pass by accident."""
    from keras import layers

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, channels).astype(np.float32))
            layer.beta.assign(rng.normal(0, 0.3, channels).astype(np.float32))
            layer.moving_mean.assign(rng.normal(0, 0.5, channels).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.2, 3.0, channels).astype(np.float32))
    return model


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_folded_network_matches_keras(architecture: str) -> None:
    model = _with_random_statistics(build(architecture, 32, 5))
    pixels = np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3)).astype(np.uint8)
    expected = np.asarray(model(pixels.astype(np.float32), training=False))
    folded = np.asarray(folded_inference(model, 32)(pixels))
    assert np.abs(folded - expected).max() < 1e-3 * max(1.0, np.abs(expected).max())


def test_every_batch_norm_of_hemanet_is_folded() -> None:
    """All of HemaNet's BNs follow a convolution, so the traced graph must
    contain no batch-norm arithmetic of Keras's (its rsqrt)."""
    import tensorflow as tf

    model = build("hemanet", 32, 5)
    function: Any = folded_inference(model, 32)  # a tf.function
    graph = function.get_concrete_function(tf.TensorSpec([None, 32, 32, 3], tf.uint8)).graph
    assert not [op.name for op in graph.get_operations() if op.type == "Rsqrt"]


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_lite_network_matches_keras(architecture: str) -> None:
    """The TensorFlow Lite runtime gives Keras's logits, for full batches and
    for the remainder it runs cell by cell."""
    from core.classifier.lite import lite_network

    model = _with_random_statistics(build(architecture, 32, 5), seed=2)
    pixels = np.random.default_rng(3).integers(0, 256, (11, 32, 32, 3)).astype(np.uint8)
    expected = np.asarray(model(pixels.astype(np.float32), training=False))
    network, why_not = lite_network(folded_inference(model, 32), 32, batch_size=4)
    assert network is not None, why_not
    got = network(pixels)  # two batches of 4, then 3 single cells
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-3 * max(1.0, np.abs(expected).max())
    assert network(pixels[:0]).shape == (0, 5)


def test_lite_network_says_why_it_cannot_be_built() -> None:
    from core.classifier.lite import lite_network

    network, why_not = lite_network(object(), 32, batch_size=4)
    assert network is None
    assert why_not.startswith("TensorFlow Lite unavailable: AttributeError")
