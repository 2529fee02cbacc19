"""Training the lymphoid screen from fields labelled by diagnosis
(multiple-instance learning).

A field of a leukaemic patient holds blasts and often normal lymphocytes
too, so its label cannot be given to each cell.  The field is a bag of its
white cells; the model scores each cell (four logits: benign, early pre-B,
pre-B, pro-B) and the loss is on the bag:
- the field is malignant when its most blast-like cell is (a soft maximum
  of the cells' blast logits, binary cross-entropy against the diagnosis);
- every cell of a benign field is benign (a per-cell term), the one thing
  the weak label says of each cell;
- a field's red cells are benign whatever its diagnosis (a per-cell term
  on every field): the detector boxes some red cells as white, and without
  this the soft maximum of a leukaemic field could pick one of them and
  teach that red cells in such fields are blasts;
- other labs' white cells from healthy donors are benign (a per-cell
  term on a few in every step, when the config names them): the fields'
  own normal cells are of one hospital's stain only;
- the subtype is read from the cells weighted by how blast-like they are,
  cross-entropy against the subtype of a malignant field.
Fields without a white cell teach nothing and are left out of training.
Benign and malignant fields weigh alike whatever their counts.  The
operating point is the highest cell threshold that still suspects the
target share of malignant validation fields.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.jobs import CancelToken, Job, Progress
from core.models.screen_card import ScreenCard, write_screen_card
from core.screen.cells import FIELD_ENLARGEMENT, FieldCells, field_cells
from core.screen.config import ScreenConfig
from core.screen.fields import BENIGN, DIAGNOSES, list_fields, split_fields
from core.screen.normal_cells import config_normal_cells
from core.screen.pooling import (
    blast_logits,
    field_scores,
    scores_by_diagnosis,
    sigmoid,
    threshold_for_field_recall,
)
from core.training.augment import augment_batch
from core.training.budget import epoch_progress


@dataclass(slots=True)
class ScreenTrainResult:
    weights: Path
    card: Path
    history: list[dict[str, float]] = field(default_factory=list)


def screen_splits(config: ScreenConfig, detector: Any, cancel: CancelToken | None = None
                  ) -> Job[dict[str, list[FieldCells]]]:
    """The config's fields split by duplicate group, each with its white
    cells: the same split the benchmarks and `evaluate --screen` rebuild."""
    yield Progress(0, 1, "grouping duplicate fields")
    parts = split_fields(list_fields(config.fields), config.val, config.test, config.seed)
    result: dict[str, list[FieldCells]] = {}
    for name, fields in parts.items():
        job = field_cells(fields, detector, detector.card.sha256, config.input_size, config.crop_margin, cancel=cancel)
        result[name] = yield from _relabel(job, name)
    return result


def train_screen(config: ScreenConfig, detector: Any, cancel: CancelToken | None = None,
                 splits: dict[str, list[FieldCells]] | None = None, normal: NDArray[Any] | None = None
                 ) -> Job[ScreenTrainResult]:
    """Train and write <output_dir>/<name>.keras with its screen card.
    `splits` and `normal` (other labs' normal cells) default to the config's."""
    cancel = cancel or CancelToken()
    started = time.monotonic()
    if splits is None:
        splits = yield from screen_splits(config, detector, cancel)
    if normal is None:
        if config.normal_cells:
            yield Progress(0, 1, f"reading normal cells of {config.normal_cells}")
        normal = config_normal_cells(config)
    train = [f for f in splits["train"] if len(f.crops)]
    if not train or not any(f.field.label == BENIGN for f in train) or all(f.field.label == BENIGN for f in train):
        raise ValueError(f"{config.fields}: training needs benign and malignant fields with white cells")

    import keras
    import tensorflow as tf

    from core.classifier.architecture import build

    keras.utils.set_random_seed(config.seed)
    model = build(config.architecture, config.input_size, len(DIAGNOSES))
    optimizer = keras.optimizers.AdamW(learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    step = _train_step(model, optimizer, config, tf)
    rng = np.random.default_rng(config.seed)
    malignant_share = float(np.mean([f.field.label != BENIGN for f in train]))
    history: list[dict[str, float]] = []
    best_score, best_weights, since_best = -math.inf, model.get_weights(), 0
    fit_started = time.monotonic()
    for epoch in range(config.epochs):
        cancel.raise_if_cancelled()
        progress = epoch_progress(epoch, config.epochs, config.max_minutes, fit_started,
                                  history[-1]["seconds"] if history else None)
        if progress is None:
            break
        lr = config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))) + 1e-6
        optimizer.learning_rate.assign(lr)
        epoch_started = time.monotonic()
        losses = []
        order = rng.permutation(len(train))
        for start in range(0, len(order), config.fields_per_batch):
            cancel.raise_if_cancelled()
            batch = _bag_batch([train[i] for i in order[start : start + config.fields_per_batch]], config, rng,
                               malignant_share, normal)
            losses.append(float(step(*[tf.constant(part) for part in batch])))
        row = {"epoch": epoch + 1, "lr": lr, "loss": float(np.mean(losses)),
               "seconds": time.monotonic() - epoch_started}
        row.update(_validation_row(model, splits["val"], config, tf))
        history.append(row)
        # Chosen on what the screen is for: sensitivity at the operating
        # point first, then how few benign fields it flags.
        score = row["val_field_recall"] + row["val_field_specificity"] + 0.1 * row["val_subtype_accuracy"]
        if score > best_score + 1e-4:
            best_score, best_weights, since_best = score, model.get_weights(), 0
        else:
            since_best += 1
        yield Progress(epoch + 1, config.epochs, _describe(row), payload=row)
        if since_best >= config.early_stopping_patience:
            break
    model.set_weights(best_weights)
    threshold, reached, validation = _operating_point(model, splits["val"], config, tf)
    result = _save(model, config, threshold, reached, validation, splits, history, started, detector, len(normal))
    yield Progress(config.epochs, config.epochs, f"saved {result.weights}")
    return result


def cell_logits(model: Any, crops: NDArray[Any], tf: Any, batch: int = 256) -> NDArray[np.float64]:
    """The model's four logits for each crop (uint8, N x S x S x 3)."""
    out = [model(tf.constant(crops[i : i + batch], tf.float32), training=False).numpy()
           for i in range(0, len(crops), batch)]
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, len(DIAGNOSES)))


def _relabel(job: Job[list[FieldCells]], name: str) -> Job[list[FieldCells]]:
    while True:
        try:
            step = next(job)
        except StopIteration as finished:
            cells: list[FieldCells] = finished.value
            return cells
        yield Progress(step.done, step.total, f"{name}: {step.message}")


def _bag_batch(bags: list[FieldCells], config: ScreenConfig, rng: np.random.Generator, malignant_share: float,
               normal: NDArray[Any]) -> tuple[NDArray[Any], ...]:
    """Crops (B*(K+R)+N x S x S x 3 float: each field's K white cells then
    its R red cells, then N of the other labs' normal cells), white mask
    (B x K), red mask (B x R), malignant (B), subtype index (B, 0 for
    benign) and bag weight (B): a random few cells of a field holding more,
    padding masked out."""
    k, r, size = config.cells_per_field, config.red_cells_per_field, config.input_size
    crops = np.zeros((len(bags), k + r, size, size, 3), np.float32)
    mask = np.zeros((len(bags), k), np.float32)
    red_mask = np.zeros((len(bags), r), np.float32)
    for b, bag in enumerate(bags):
        chosen = rng.permutation(len(bag.crops))[:k]
        crops[b, : len(chosen)] = bag.crops[chosen]
        mask[b, : len(chosen)] = 1.0
        reds = rng.permutation(len(bag.red_crops))[:r]
        crops[b, k : k + len(reds)] = bag.red_crops[reds]
        red_mask[b, : len(reds)] = 1.0
    malignant = np.array([bag.field.label != BENIGN for bag in bags], np.float32)
    subtype = np.array([max(DIAGNOSES.index(bag.field.label) - 1, 0) for bag in bags], np.int32)
    weight = np.where(malignant > 0, 0.5 / malignant_share, 0.5 / (1.0 - malignant_share)).astype(np.float32)
    others = normal[rng.permutation(len(normal))[: config.normal_cells_per_batch]].astype(np.float32)
    return np.concatenate([crops.reshape(-1, size, size, 3), others]), mask, red_mask, malignant, subtype, weight


def _train_step(model: Any, optimizer: Any, config: ScreenConfig, tf: Any) -> Any:
    k, reds, r = config.cells_per_field, config.red_cells_per_field, config.sharpness

    def augment(crops: Any) -> Any:
        if config.colour_jitter:
            # Geometry kept to the eight symmetries: the crop's margin is what shows the cell's size.
            return augment_batch(crops, 1.0, config.input_size, jitter=config.colour_jitter, scale_jitter=0.0)
        crops = tf.image.random_flip_left_right(tf.image.random_flip_up_down(crops))
        crops = tf.image.rot90(crops, tf.random.uniform([], 0, 4, tf.int32))
        n = tf.shape(crops)[0]
        gain = tf.random.uniform([n, 1, 1, 3], 0.9, 1.1)  # stain and lamp differ a little from slide to slide
        offset = tf.random.uniform([n, 1, 1, 1], -15.0, 15.0)
        return tf.clip_by_value(crops * gain + offset, 0.0, 255.0)

    @tf.function(reduce_retracing=True)  # type: ignore[untyped-decorator]  # TensorFlow has no type stubs
    def step(crops: Any, mask: Any, red_mask: Any, malignant: Any, subtype: Any, weight: Any) -> Any:
        with tf.GradientTape() as tape:
            out = model(augment(crops), training=True)
            in_fields = tf.shape(mask)[0] * (k + reds)
            every = tf.reshape(out[:in_fields], [-1, k + reds, len(DIAGNOSES)])
            normal_blast = tf.reduce_logsumexp(out[in_fields:, 1:], axis=-1) - out[in_fields:, 0]
            normal_cells = tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(normal_blast), normal_blast)
            normal_loss = tf.reduce_sum(normal_cells) / tf.maximum(tf.cast(tf.size(normal_blast), tf.float32), 1.0)
            every_blast = tf.reduce_logsumexp(every[:, :, 1:], axis=-1) - every[:, :, 0]
            logits, blast, red_blast = every[:, :k], every_blast[:, :k], every_blast[:, k:]
            hidden = (1.0 - mask) * -1e4
            # Soft maximum over the bag's cells: log-mean-exp, so one cell
            # carries a field while several agreeing cells are surer.
            count = tf.reduce_sum(mask, axis=1)
            pooled = (tf.reduce_logsumexp(r * blast + hidden, axis=1) - tf.math.log(count)) / r
            field_loss = tf.nn.sigmoid_cross_entropy_with_logits(malignant, pooled)
            per_cell = tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(blast), blast) * mask
            benign_loss = (1.0 - malignant) * tf.reduce_sum(per_cell, axis=1) / count
            attention = tf.nn.softmax(r * blast + hidden, axis=1)
            subtype_logits = tf.reduce_sum(attention[:, :, None] * logits[:, :, 1:], axis=1)
            subtype_loss = malignant * tf.nn.sparse_softmax_cross_entropy_with_logits(subtype, subtype_logits)
            red_cells = tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(red_blast), red_blast) * red_mask
            red_loss = tf.reduce_sum(red_cells, axis=1) / tf.maximum(tf.reduce_sum(red_mask, axis=1), 1.0)
            loss = tf.reduce_sum(weight * (field_loss + config.benign_cell_weight * benign_loss + subtype_loss
                                           + config.red_cell_weight * red_loss))
            loss = loss / tf.reduce_sum(weight) + config.normal_cell_weight * normal_loss
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return step


def field_predictions(model: Any, bags: list[FieldCells], tf: Any) -> list[NDArray[np.float64]]:
    """Each field's cells' four logits (0 x 4 for a field with no cell)."""
    crops = [bag.crops for bag in bags if len(bag.crops)]
    logits = cell_logits(model, np.concatenate(crops) if crops else np.zeros((0, 1, 1, 3), np.uint8), tf)
    out: list[NDArray[np.float64]] = []
    start = 0
    for bag in bags:
        out.append(logits[start : start + len(bag.crops)])
        start += len(bag.crops)
    return out


def _validation_row(model: Any, val: list[FieldCells], config: ScreenConfig, tf: Any) -> dict[str, float]:
    threshold, recall, measured = _operating_point(model, val, config, tf)
    return {"val_threshold": threshold, "val_field_recall": recall,
            "val_field_specificity": measured["field_specificity"],
            "val_subtype_accuracy": measured["subtype_accuracy"]}


def _operating_point(model: Any, val: list[FieldCells], config: ScreenConfig, tf: Any
                     ) -> tuple[float, float, dict[str, Any]]:
    from core.screen.pooling import attention_subtype

    logits = field_predictions(model, val, tf)
    scores = field_scores([sigmoid(blast_logits(cells)) for cells in logits])
    malignant = np.array([bag.field.label != BENIGN for bag in val])
    threshold, reached = threshold_for_field_recall(scores, malignant, config.target_recall)
    flagged = scores >= threshold
    subtype_right = [attention_subtype(cells, blast_logits(cells), config.sharpness) + 1
                     == DIAGNOSES.index(bag.field.label)
                     for bag, cells in zip(val, logits) if bag.field.label != BENIGN and len(cells)]
    measured = {
        "validation_fields": len(val),
        "validation_fields_without_white_cell": int(sum(1 for bag in val if not len(bag.crops))),
        "field_sensitivity": reached,
        "field_specificity": float((~flagged[~malignant]).mean()) if (~malignant).any() else 0.0,
        "subtype_accuracy": float(np.mean(subtype_right)) if subtype_right else 0.0,
        # Every field's score, so the project settings can say what another operating point measured.
        "validation_field_scores": scores_by_diagnosis(scores, malignant),
    }
    return threshold, reached, measured


def _save(model: Any, config: ScreenConfig, threshold: float, reached: float, validation: dict[str, Any],
          splits: dict[str, list[FieldCells]], history: list[dict[str, float]], started: float, detector: Any,
          normal_cells: int) -> ScreenTrainResult:
    from core.classifier.architecture import build
    from core.models.files import sha256_of

    out_dir = Path(config.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{config.name}.keras"
    clean = build(config.architecture, config.input_size, len(DIAGNOSES))
    clean.set_weights(model.get_weights())
    temporary = weights.with_name(weights.stem + ".tmp.keras")
    clean.save(temporary)
    temporary.replace(weights)
    summary = {
        "fields": Path(config.fields).as_posix(),
        "split": {"val": config.val, "test": config.test, "seed": config.seed, "by": "duplicate group (bytes, dHash)"},
        **{f"{name}_fields": dict(sorted(Counter(bag.field.label for bag in bags).items()))
           for name, bags in splits.items()},
        **{f"{name}_cells": int(sum(len(bag.crops) for bag in bags)) for name, bags in splits.items()},
        "cells_from": f"detector {detector.card.name} white boxes on each field enlarged {FIELD_ENLARGEMENT:g}x",
    }
    if normal_cells:
        size = f", {config.normal_cells_image_size} images" if config.normal_cells_image_size else ""
        where = (f" of {Path(config.normal_cells).as_posix()} (splits {config.normal_cells_splits}{size})"
                 if config.normal_cells else "")
        summary["normal_cells"] = f"{normal_cells} white cells{where}, each benign"
    card = ScreenCard(
        name=config.name, version=config.version, architecture=config.architecture, classes=list(DIAGNOSES),
        input_size=config.input_size, crop_margin=config.crop_margin, weights_file=weights.name,
        sha256=sha256_of(weights), blast_threshold=round(threshold, 6), target_recall=config.target_recall,
        sharpness=config.sharpness,
        pooling=f"field = soft maximum (log-mean-exp, sharpness {config.sharpness:g}) of its cells' blast logits; "
                "P(blast) = sigmoid(logsumexp(subtype logits) - benign logit)",
        training_data=summary,
        metrics={**validation, "validation_recall_reached": reached, "epochs_run": len(history),
                 "training_minutes": round((time.monotonic() - started) / 60.0, 1), "history": history},
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    card_file = weights.with_suffix(".json")
    write_screen_card(card, card_file)
    return ScreenTrainResult(weights=weights, card=card_file, history=history)


def _describe(row: dict[str, float]) -> str:
    return (f"epoch {int(row['epoch'])}: loss {row['loss']:.3f}, val fields: recall {row['val_field_recall']:.3f} "
            f"at specificity {row['val_field_specificity']:.3f}, subtype {row['val_subtype_accuracy']:.3f} "
            f"({row['seconds']:.0f} s)")
