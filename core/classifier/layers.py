"""The one custom layer of our network, registered so that Keras loads it
with safe_mode on (no Lambda layers, no pickled code)."""

from __future__ import annotations

from typing import Any

_LAYER: Any = None


def crop_standardization_layer() -> Any:
    """The class CropStandardization, defined on first use so that TensorFlow
    loads only when a model is built or loaded."""
    global _LAYER
    if _LAYER is not None:
        return _LAYER
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="hemalabel")
    class CropStandardization(keras.layers.Layer):  # type: ignore[misc]  # Keras has no type stubs
        """Each crop, each colour channel, to zero mean and unit spread.

        Labs differ in stain strength, illumination and camera white balance;
        those are mostly a per-channel gain and offset over the whole crop,
        which this removes before the network sees the pixels.  The relative
        colours that tell classes apart (orange eosinophil granules against a
        purple nucleus) stay.  The floor on the spread keeps a blank crop
        from being blown up into noise."""

        def call(self, inputs: Any) -> Any:
            x = ops.cast(inputs, "float32") / 255.0
            mean = ops.mean(x, axis=(1, 2), keepdims=True)
            spread = ops.sqrt(ops.mean(ops.square(x - mean), axis=(1, 2), keepdims=True))
            return (x - mean) / ops.maximum(spread, 0.05)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    _LAYER = CropStandardization
    return _LAYER
