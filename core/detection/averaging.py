"""An exponential moving average of a model's trainable weights (Polyak
averaging), kept beside the weights the optimizer moves.

Why: the detector's validation AP, platelets above all, swung by up to 0.07
between checkpoints five epochs apart while the loss fell smoothly: the last
step's weights are one noisy sample of where the optimizer wanders.  The
average over the last few hundred steps sits nearer the middle of that
wander; it is what gets validated, thresholded and saved.  Batch-norm
statistics are not averaged: they are re-estimated for the averaged weights
(training.recalibrate_batchnorm)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class WeightAverage:
    """Shadows of `variables`, updated by `update()` after each optimizer step.

    Early on the decay ramps up as (1 + n) / (10 + n) after n updates, as in
    TensorFlow's ExponentialMovingAverage, so the first random weights do not
    linger in the average."""

    def __init__(self, variables: Sequence[Any], decay: float) -> None:
        import tensorflow as tf

        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must lie between 0 and 1, got {decay}")
        self.decay = decay
        self._variables = list(variables)
        self._shadows = [tf.Variable(v.numpy(), trainable=False) for v in self._variables]
        self._updates = tf.Variable(0.0, trainable=False, dtype=tf.float32)

    def update(self) -> None:
        """Move every shadow toward its variable; callable inside tf.function."""
        import tensorflow as tf

        count = self._updates.assign_add(1.0)
        decay = tf.minimum(self.decay, (1.0 + count) / (10.0 + count))
        for shadow, variable in zip(self._shadows, self._variables):
            shadow.assign_sub((1.0 - decay) * (shadow - tf.convert_to_tensor(variable)))

    def copy_to_model(self) -> None:
        """Overwrite the variables with their averages, for good."""
        for shadow, variable in zip(self._shadows, self._variables):
            variable.assign(shadow.numpy())

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The averaged weights in place for the duration (validation); the
        optimizer's own weights come back afterwards."""
        saved = [variable.numpy() for variable in self._variables]
        self.copy_to_model()
        try:
            yield
        finally:
            for value, variable in zip(saved, self._variables):
                variable.assign(value)
