"""Training a white-cell classifier: a generator that yields per-epoch
metrics and honours a CancelToken, so the GUI's worker (in its own process)
and the command line drive it alike.

Recipe: AdamW; a cosine learning rate with a short warm-up that runs on
epochs or on wall time, whichever is further along (so a time budget still
ends annealed); balanced sampling over classes (with optional extra weight
for small sources from other labs); label smoothing; early stopping on
validation NLL keeping the best weights; then temperature scaling, the
confidence threshold and per-class operating points on the validation split.
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

from core.classifier.calibration import (
    expected_calibration_error,
    fit_temperature,
    nll,
    softmax,
    threshold_for_accuracy,
    threshold_for_recall,
)
from core.jobs import CancelToken, Job, Progress
from core.models.classifier_card import ModelCard, card_path_for, write_card
from core.models.files import sha256_of
from core.training.budget import epoch_progress
from core.training.config import TrainConfig
from core.training.datasets import gather_samples
from core.training.loading import CellArrays, load_cells
from core.training.samples import LabelledCell


@dataclass(slots=True)
class TrainResult:
    weights: Path
    card: Path
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False


def train_classifier(
    config: TrainConfig,
    base_model: Any = None,
    cancel: CancelToken | None = None,
    splits: dict[str, list[LabelledCell]] | None = None,
) -> Job[TrainResult]:
    """Train (or fine-tune `base_model`, a Keras model with the same classes
    and input) and write <output_dir>/<name>.keras with its card.  `splits`
    ("train", "val") replaces the config's sources when the caller has
    already chosen the cells (a retrain on a project's queue)."""
    cancel = cancel or CancelToken()
    started = time.monotonic()
    yield Progress(0, 1, "gathering samples")
    if splits is None:
        splits, data_summary = gather_samples(config)
    else:
        data_summary = {"sources": [{"type": "given", **{f"{name}_cells": len(cells) for name, cells in splits.items()},
                                     "train_classes": dict(sorted(Counter(c.label for c in splits["train"]).items()))}]}
    if not splits["train"]:
        raise ValueError("no training samples in the configured sources")
    train = yield from _load(splits["train"], config, True, cancel, "training")
    val = yield from _load(splits["val"], config, False, cancel, "validation")

    import keras
    import tensorflow as tf

    from core.classifier.architecture import build

    keras.utils.set_random_seed(config.seed)
    model = build(config.architecture, config.input_size, len(config.classes))
    if base_model is not None:
        model.set_weights(base_model.get_weights())
    optimizer = keras.optimizers.AdamW(learning_rate=config.learning_rate, weight_decay=config.weight_decay)
    model.compile(optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    weights = _sampling_weights(train, config)

    from core.training.augment import train_dataset

    history: list[dict[str, float]] = []
    best_loss, best_weights, since_best, stopped_early = math.inf, model.get_weights(), 0, False
    fit_started = time.monotonic()
    for epoch in range(config.epochs):
        cancel.raise_if_cancelled()
        progress = epoch_progress(epoch, config.epochs, config.max_minutes, fit_started,
                                  history[-1]["seconds"] if history else None)
        if progress is None:
            break
        lr = _learning_rate(config, epoch, progress)
        optimizer.learning_rate.assign(lr)
        dataset = train_dataset(
            train.train_view,
            train.labels,
            weights,
            len(config.classes),
            train.eval_window,
            config.input_size,
            config.batch_size,
            config.label_smoothing,
            config.seed + epoch,
            config.augment_strength,
            config.colour_jitter,
            config.scale_jitter,
        )
        epoch_started = time.monotonic()
        fit = model.fit(dataset, epochs=1, verbose=0, callbacks=[_CancelCallback(cancel, keras)])
        cancel.raise_if_cancelled()
        row = {"epoch": epoch + 1, "lr": lr, "loss": float(fit.history["loss"][-1]),
               "accuracy": float(fit.history["accuracy"][-1]), "seconds": time.monotonic() - epoch_started}
        if len(val.labels):
            logits = _logits(model, val.eval_view, tf)
            row["val_loss"] = nll(logits, val.labels, 1.0)
            row["val_accuracy"] = float((logits.argmax(1) == val.labels).mean())
        history.append(row)
        monitored = row.get("val_loss", row["loss"])
        if monitored < best_loss - 1e-4:
            best_loss, best_weights, since_best = monitored, model.get_weights(), 0
        else:
            since_best += 1
        yield Progress(epoch + 1, config.epochs, _describe(row), payload=row)
        if since_best >= config.early_stopping_patience:
            stopped_early = True
            break
    model.set_weights(best_weights)
    card_metrics, thresholds = _calibrate(model, val, config, tf)
    result = _save(model, config, card_metrics, thresholds, data_summary, train, history, started)
    result.stopped_early = stopped_early
    yield Progress(config.epochs, config.epochs, f"saved {result.weights}")
    return result


def _load(samples: list[LabelledCell], config: TrainConfig, with_train_view: bool, cancel: CancelToken,
          what: str) -> Job[CellArrays]:
    job = load_cells(samples, config.classes, config.input_size, config.crop_margin, with_train_view, cancel)
    while True:
        try:
            step = next(job)
        except StopIteration as finished:
            arrays: CellArrays = finished.value
            return arrays
        yield Progress(step.done, step.total, f"{what}: {step.message}")


def _sampling_weights(train: CellArrays, config: TrainConfig) -> NDArray[Any]:
    """Each class equally likely; within it, samples of a source weighted by
    source_weights (a small set from another lab can count for more)."""
    counts = Counter(train.labels.tolist())
    source = np.array([config.source_weights.get(s.source, 1.0) for s in train.samples])
    weights: NDArray[np.float64] = source / np.array([counts[label] for label in train.labels])
    return weights


def _learning_rate(config: TrainConfig, epoch: int, progress: float) -> float:
    if epoch == 0 and config.epochs > 2:
        return config.learning_rate * 0.3  # warm-up: BN statistics settle first
    return float(config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))) + 1e-6)


def _logits(model: Any, views: NDArray[Any], tf: Any, batch: int = 256) -> NDArray[Any]:
    out = [
        model(tf.constant(views[i : i + batch], tf.float32), training=False).numpy()
        for i in range(0, len(views), batch)
    ]
    return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]))


def _describe(row: dict[str, float]) -> str:
    text = f"epoch {int(row['epoch'])}: loss {row['loss']:.3f}"
    if "val_loss" in row:
        text += f", val loss {row['val_loss']:.3f}, val accuracy {row['val_accuracy']:.4f}"
    return text + f" ({row['seconds']:.0f} s)"


def _calibrate(model: Any, val: CellArrays, config: TrainConfig, tf: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if not len(val.labels):
        return {}, {"temperature": 1.0, "threshold": 0.5, "class_thresholds": {}, "target_recall": {}}
    logits = _logits(model, val.eval_view, tf)
    temperature = fit_temperature(logits, val.labels)
    raw, calibrated = softmax(logits), softmax(logits, temperature)
    threshold = threshold_for_accuracy(calibrated, val.labels, config.target_accuracy_above_threshold)
    class_thresholds: dict[str, float] = {}
    target_recall: dict[str, dict[str, float]] = {}
    for label, target in config.target_recall.items():
        value, reached = threshold_for_recall(calibrated, val.labels, config.classes.index(label), target)
        class_thresholds[label] = value
        target_recall[label] = {"target": target, "threshold": value, "validation_recall": reached}
    accepted = calibrated.max(1) >= threshold
    metrics = {
        "validation_cells": int(len(val.labels)),
        "validation_accuracy": float((logits.argmax(1) == val.labels).mean()),
        "validation_ece_before_calibration": expected_calibration_error(raw, val.labels),
        "validation_ece_after_calibration": expected_calibration_error(calibrated, val.labels),
        "validation_coverage_above_threshold": float(accepted.mean()),
    }
    thresholds = {"temperature": temperature, "threshold": threshold, "class_thresholds": class_thresholds,
                  "target_recall": target_recall}
    return metrics, thresholds


def _save(model: Any, config: TrainConfig, metrics: dict[str, Any], thresholds: dict[str, Any],
          data_summary: dict[str, Any],
          train: CellArrays, history: list[dict[str, float]], started: float) -> TrainResult:
    from core.classifier.architecture import build

    out_dir = Path(config.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{config.name}.keras"
    # A fresh, uncompiled copy: the file then holds no optimizer state
    # (smaller, and nothing a loader has to trust beyond layers and weights).
    clean = build(config.architecture, config.input_size, len(config.classes))
    clean.set_weights(model.get_weights())
    temporary = weights.with_name(weights.stem + ".tmp.keras")
    clean.save(temporary)
    temporary.replace(weights)
    metrics = {**metrics, "epochs_run": len(history), "training_minutes": round((time.monotonic() - started) / 60.0, 1),
               "history": history}
    card = ModelCard(
        name=config.name,
        version=config.version,
        architecture=config.architecture,
        classes=list(config.classes),
        input_size=config.input_size,
        crop_margin=config.crop_margin,
        weights_file=weights.name,
        sha256=sha256_of(weights),
        temperature=thresholds["temperature"],
        confidence_threshold=thresholds["threshold"],
        class_thresholds=thresholds["class_thresholds"],
        target_recall=thresholds["target_recall"],
        training_data={**data_summary, "skipped": len(train.skipped),
                       "augmentation": {"colour_jitter": config.colour_jitter, "strength": config.augment_strength,
                                        "scale_jitter": config.scale_jitter}},
        metrics=metrics,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    card_file = card_path_for(weights)
    write_card(card, card_file)
    return TrainResult(weights=weights, card=card_file, history=history)


def _CancelCallback(cancel: CancelToken, keras: Any) -> Any:
    """A Keras callback that stops fit within a batch of a cancel."""

    class CancelCallback(keras.callbacks.Callback):  # type: ignore[misc]  # Keras has no type stubs
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if cancel.cancelled:
                self.model.stop_training = True

    return CancelCallback()
