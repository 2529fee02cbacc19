"""Our white-cell network, and the seed projects' networks for comparison.

HemaNet is built for a laptop CPU: a strided stem takes the 80 px crop to
40 px at once, then depthwise-separable blocks (the 3x3 spatial work costs
channels x 9 multiply-adds per pixel instead of channels^2 x 9) with
residual connections where shapes allow.  ReLU rather than swish: on CPU the
elementwise cost of swish is a visible share of so small a network.  The
model outputs logits; the classifier divides them by the calibration
temperature before the softmax.

TensorFlow/Keras is imported inside the functions so that importing
core.classifier stays cheap.
"""

from __future__ import annotations

from typing import Any

# (output channels, stride, repeats) after the stem.
# Keras's default 0.99 lets the moving statistics lag ~100 steps behind the
# batch statistics; with weight decay shrinking the weights ahead of each BN,
# that lag made validation predictions constant for the first epochs of a
# short CPU run.  0.9 tracks within ~10 steps.
BN_MOMENTUM = 0.9

HEMANET_STAGES: tuple[tuple[int, int, int], ...] = ((48, 1, 1), (96, 2, 2), (160, 2, 2), (256, 2, 2))


def build_hemanet(
    input_size: int,
    num_classes: int,
    stem_channels: int = 32,
    dropout: float = 0.2,
    standardize: bool = True,
    name: str = "hemanet",
) -> Any:
    import keras
    from keras import layers

    from core.classifier.layers import crop_standardization_layer

    inputs = keras.Input((input_size, input_size, 3), name="crop")
    # Pixels arrive as 0-255 floats; normalising inside the model keeps every
    # caller's preprocessing a plain resize.
    if standardize:
        x = crop_standardization_layer()(name="standardize")(inputs)
    else:
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    x = layers.Conv2D(stem_channels, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    block = 0
    for channels, stride, repeats in HEMANET_STAGES:
        for repeat in range(repeats):
            x = _separable_block(x, channels, stride if repeat == 0 else 1, f"b{block}")
            block += 1
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def _separable_block(x: Any, channels: int, stride: int, prefix: str) -> Any:
    from keras import layers

    shortcut = x
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{prefix}_dw")(x)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{prefix}_dw_bn")(y)
    y = layers.ReLU(name=f"{prefix}_dw_relu")(y)
    y = layers.Conv2D(channels, 1, use_bias=False, name=f"{prefix}_pw")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{prefix}_pw_bn")(y)
    if stride == 1 and shortcut.shape[-1] == channels:
        y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    return layers.ReLU(name=f"{prefix}_relu")(y)


def build_seed003(input_size: int, num_classes: int) -> Any:
    """Seed 003: Conv32-pool-Conv32-pool-Dropout-Dense128-Flatten-Dense (its
    Dense128 acts per pixel, before the flatten, as in the seed)."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="crop")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="seed003")


def build_seed004(input_size: int, num_classes: int) -> Any:
    """Seed 004: Conv32/64/64 with pooling, Dense64."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="crop")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    for channels in (32, 64, 64):
        x = layers.Conv2D(channels, 3, activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="seed004")


ARCHITECTURES = {"hemanet": build_hemanet, "seed003": build_seed003, "seed004": build_seed004}


def build(architecture: str, input_size: int, num_classes: int, **options: Any) -> Any:
    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    return builder(input_size, num_classes, **options)


def flops_per_cell(model: Any) -> int:
    """Multiply-adds x 2 of the convolution and dense layers for one crop
    (the work that dominates; BN, ReLU and pooling are left out)."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += 2 * h * w * c * k
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += 2 * h * w * c_out * c_in * k
        elif isinstance(layer, layers.Dense):
            units = layer.units
            in_shape = layer.input.shape
            positions = 1
            for dim in in_shape[1:-1]:
                positions *= dim
            total += 2 * positions * in_shape[-1] * units
    return int(total)
