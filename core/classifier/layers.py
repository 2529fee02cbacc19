"""The custom layers of our network, registered so that Keras loads them
with safe_mode on (no Lambda layers, no pickled code)."""

from __future__ import annotations

from typing import Any

_LAYER: Any = None
_LAB_LAYER: Any = None

# sRGB (D65) to CIE XYZ, rows X, Y, Z, each divided by the D65 white point
# so that white maps to (1, 1, 1).
_RGB_TO_XYZ_WHITE = (
    (0.4124564 / 0.95047, 0.3575761 / 0.95047, 0.1804375 / 0.95047),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339 / 1.08883, 0.1191920 / 1.08883, 0.9503041 / 1.08883),
)


def crop_standardization_layer() -> Any:
    """The class CropStandardization, defined on first use so that TensorFlow
    loads only when a model is built or loaded."""
    global _LAYER
    if _LAYER is not None:
        return _LAYER
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="hemalabel")
    class CropStandardization(keras.layers.Layer):
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


def lab_standardization_layer() -> Any:
    """The class LabStandardization, defined on first use (see above)."""
    global _LAB_LAYER
    if _LAB_LAYER is not None:
        return _LAB_LAYER
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="hemalabel")
    class LabStandardization(keras.layers.Layer):
        """Each crop to CIE L*a*b*, then each of L, a and b to zero mean and
        unit spread over the crop.

        This is Reinhard's colour transfer built into the network: matching
        a crop's L*a*b* means and spreads to a reference is the classic way
        to carry one lab's smears into another's colours, and a crop
        standardised this way looks the same whatever reference it was
        matched to.  A pale, low-contrast smear (BCCD's nuclei have half
        PBC's lightness spread) reaches the network as PBC's would; per-RGB
        standardisation cannot do that, because lightness and colour are
        tangled across the three channels.  The floor on the spread (in
        L*a*b* units, 0-100 for L) keeps a flat crop's noise from being
        amplified."""

        def call(self, inputs: Any) -> Any:
            x = ops.cast(inputs, "float32") / 255.0
            linear = ops.where(x <= 0.04045, x / 12.92, ops.power((ops.maximum(x, 0.04045) + 0.055) / 1.055, 2.4))
            xyz = ops.einsum("bhwc,dc->bhwd", linear, ops.convert_to_tensor(_RGB_TO_XYZ_WHITE, "float32"))
            f = ops.where(xyz > 0.008856, ops.power(ops.maximum(xyz, 0.008856), 1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
            fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
            lab = ops.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)
            mean = ops.mean(lab, axis=(1, 2), keepdims=True)
            spread = ops.sqrt(ops.mean(ops.square(lab - mean), axis=(1, 2), keepdims=True))
            return (lab - mean) / ops.maximum(spread, 3.0)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    _LAB_LAYER = LabStandardization
    return _LAB_LAYER


def register_custom_layers() -> None:
    """Defines (and so registers) every custom layer: call before loading a
    model, since a card does not say which of them its network uses."""
    crop_standardization_layer()
    lab_standardization_layer()
