"""The detector network: a small fully-convolutional CenterNet.

Why this shape: the cells are blobs of known kinds, so a heatmap of centres
plus a width/height regression (CenterNet, Zhou et al. 2019) needs no anchors
and no learned NMS, and a fully-convolutional net runs on any image size.  The
backbone is a plain stride-32 conv stack with a small FPN back to stride 4:
about 0.5 GMAC for a 640x480 field at half resolution, which meets the
100 ms budget on two CPU cores, and ~1 MB of weights.
"""

from __future__ import annotations

from typing import Any

from core.detection.targets import CLASSES, OUTPUT_STRIDE

# Heatmap logits start at p=0.1 (CenterNet's prior) so the focal loss is not
# swamped by the sea of background cells at the first steps.
_HEATMAP_BIAS = -2.19
HEAD_CHANNELS = len(CLASSES) + 4  # heatmap logits, log(w), log(h), dx, dy


def build_detector_model(width: int = 32) -> Any:
    """A Keras model: uint8-range RGB (H x W x 3, H and W multiples of 32)
    to a stride-4 map of HEAD_CHANNELS raw outputs."""
    import keras
    from keras import layers

    def conv(x: Any, filters: int, stride: int = 1, kernel: int = 3, name: str = "") -> Any:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    w = width
    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    x = conv(x, w * 3 // 4, 2, name="stem")  # /2
    x = conv(x, w, 2, name="s4a")  # /4
    c4 = conv(x, w, name="s4b")
    x = conv(c4, w * 2, 2, name="s8a")  # /8
    c8 = conv(x, w * 2, name="s8b")
    x = conv(c8, w * 3, 2, name="s16a")  # /16
    x = conv(x, w * 3, name="s16b")
    c16 = conv(x, w * 3, name="s16c")
    x = conv(c16, w * 4, 2, name="s32a")  # /32
    x = conv(x, w * 4, name="s32b")
    c32 = conv(x, w * 4, name="s32c")

    # Top-down path: large white cells need the stride-32 context, platelets
    # the stride-4 detail.
    p = conv(c32, w * 2, kernel=1, name="lat32")
    p = layers.UpSampling2D(2, name="up16")(p)
    p = layers.Add(name="add16")([p, conv(c16, w * 2, kernel=1, name="lat16")])
    p = conv(p, w * 2, name="p16")
    p = layers.UpSampling2D(2, name="up8")(p)
    p = layers.Add(name="add8")([p, conv(c8, w * 2, kernel=1, name="lat8")])
    p = conv(p, w * 3 // 2, name="p8")
    p = layers.UpSampling2D(2, name="up4")(p)
    p = layers.Add(name="add4")([p, conv(c4, w * 3 // 2, kernel=1, name="lat4")])
    p = conv(p, w * 3 // 2, name="p4")

    heat = conv(p, w, name="heat_hidden")
    heat = layers.Conv2D(
        len(CLASSES), 1, name="heat_out", bias_initializer=keras.initializers.Constant(_HEATMAP_BIAS)
    )(heat)
    geometry = conv(p, w, name="geo_hidden")
    geometry = layers.Conv2D(4, 1, name="geo_out")(geometry)
    outputs = layers.Concatenate(name="head", dtype="float32")([heat, geometry])
    assert OUTPUT_STRIDE == 4
    return keras.Model(inputs, outputs, name="hemalabel_cell_detector")
