"""The moving average of weights that the detector's training validates and
saves: its arithmetic, and that swapping it in for validation gives the
optimizer's weights back."""

from __future__ import annotations

import numpy as np
import pytest


def _dense_model():
    import keras

    inputs = keras.Input(shape=(2,))
    return keras.Model(inputs, keras.layers.Dense(1)(inputs))


def test_the_average_follows_the_ramped_decay() -> None:
    from core.detection.averaging import WeightAverage

    model = _dense_model()
    kernel = model.trainable_variables[0]
    kernel.assign(np.zeros((2, 1), np.float32))
    average = WeightAverage(model.trainable_variables, decay=0.5)
    expected = np.zeros((2, 1), np.float32)
    for step, value in enumerate((4.0, 8.0, -2.0), start=1):
        kernel.assign(np.full((2, 1), value, np.float32))
        average.update()
        decay = min(0.5, (1 + step) / (10 + step))  # the ramp caps the first steps' decay
        expected = decay * expected + (1 - decay) * value
    with average.swapped_in():
        np.testing.assert_allclose(kernel.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(kernel.numpy(), np.full((2, 1), -2.0, np.float32))


def test_copy_to_model_keeps_the_average() -> None:
    from core.detection.averaging import WeightAverage

    model = _dense_model()
    bias = model.trainable_variables[1]
    average = WeightAverage(model.trainable_variables, decay=0.9)
    bias.assign(np.array([10.0], np.float32))
    average.update()
    average.copy_to_model()
    assert 0.0 < float(bias.numpy()[0]) < 10.0


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.5])
def test_a_decay_outside_zero_to_one_is_refused(decay: float) -> None:
    from core.detection.averaging import WeightAverage

    with pytest.raises(ValueError, match="decay"):
        WeightAverage(_dense_model().trainable_variables, decay)
