"""The CenterNet loss in TensorFlow (imported by the training job only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.detection.targets import HEAT, NEG_WEIGHT, OFFSET, REG_WEIGHT, SIZE

# Weights of the loss parts: the focal loss is normalised per object, the
# regressions per unit of regression weight, so all three are O(1).
SIZE_WEIGHT = 1.0
OFFSET_WEIGHT = 1.0


def detection_loss(
    target: Any, raw: Any, class_weights: Sequence[float] = (1.0, 1.0, 1.0)
) -> tuple[Any, dict[str, Any]]:
    """Total loss and its parts for a batch of targets (B x h x w x 11) and
    raw head outputs (B x h x w x 7).  `class_weights` scales each class's
    heatmap loss: red cells outnumber platelets 25 to 1 in the training
    boxes, so with one normaliser for all classes the shared layers learn
    mostly what red cells need."""
    import tensorflow as tf

    heat_true = target[..., HEAT]
    neg_weight = target[..., NEG_WEIGHT]
    logits = raw[..., 0:3]
    prob = tf.clip_by_value(tf.sigmoid(logits), 1e-4, 1 - 1e-4)
    positive = tf.cast(heat_true >= 1.0, tf.float32)
    # Penalty-reduced focal loss (CenterNet): negatives near a centre count less.
    pos_loss = -tf.math.log(prob) * tf.square(1 - prob) * positive
    neg_loss = -tf.math.log(1 - prob) * tf.square(prob) * tf.pow(1 - heat_true, 4) * (1 - positive) * neg_weight
    n_pos = tf.maximum(tf.reduce_sum(positive), 1.0)
    weights = tf.constant(list(class_weights), dtype=tf.float32)
    heat_loss = tf.reduce_sum((pos_loss + neg_loss) * weights) / n_pos

    reg_weight = target[..., REG_WEIGHT]
    norm = tf.maximum(tf.reduce_sum(reg_weight), 1e-3)
    size_loss = tf.reduce_sum(tf.reduce_sum(tf.abs(raw[..., 3:5] - target[..., SIZE]), -1) * reg_weight) / norm
    offset_loss = tf.reduce_sum(tf.reduce_sum(tf.abs(raw[..., 5:7] - target[..., OFFSET]), -1) * reg_weight) / norm
    total = heat_loss + SIZE_WEIGHT * size_loss + OFFSET_WEIGHT * offset_loss
    return total, {"heat": heat_loss, "size": size_loss, "offset": offset_loss}
