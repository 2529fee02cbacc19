"""The retrain's child process: fine-tune, save the candidate, score both
models.  Everything heavy happens here, so the window (or the command line)
only reads messages, and a crash or a cancel cannot touch the model in use.

Messages on the queue are (kind, value) tuples:
  ("log", str)             a line for the log view
  ("epoch", dict)          one epoch's row, with eta_seconds
  ("done", dict)           the candidate's files, history, scores and counts
  ("error", str)           why it failed (the log holds the traceback)
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.retraining.replay import ReplayError, queue_weight, replay_sample, standard_set
from core.training.samples import LabelledCell


@dataclass(slots=True)
class ChildRequest:
    base: str  # .keras path of the model being fine-tuned
    base_name: str
    name: str  # the candidate's name
    out_dir: str  # staging folder for its files
    classes: list[str]
    train: list[LabelledCell]  # the project's cells; replay is added in the child
    val: list[LabelledCell]
    held_out: list[LabelledCell]
    settings: dict[str, Any]
    taxonomy_json: str  # the project's: which classes each kind of cell may take


# How often the child checks that its parent still runs.
PARENT_POLL_SECONDS = 0.5


def run_child(request: ChildRequest, messages: Any) -> None:
    """The child's entry point (must be importable by a spawned interpreter)."""
    watch_parent()

    def log(line: str) -> None:
        messages.put(("log", line))

    try:
        result = _fine_tune(request, messages, log)
    except ReplayError as error:
        messages.put(("error", str(error)))
        return
    except OSError as error:
        log(traceback.format_exc())
        if error.errno == errno.ENOSPC:
            messages.put(("error", f"the disk is full ({error.filename or request.out_dir}); the candidate was discarded"))
        else:
            messages.put(("error", f"{error.filename or request.out_dir}: {error.strerror or error}"))
        return
    except Exception as error:  # everything must reach the parent as a message
        log(traceback.format_exc())
        messages.put(("error", f"training failed: {type(error).__name__}: {error}"))
        return
    messages.put(("done", result))


def watch_parent(poll: float = PARENT_POLL_SECONDS) -> None:
    """Exit at once when the parent dies.  A killed window or command line
    left its training child running for a minute or more (the queue it
    reported to read by no one); now the child goes within `poll` seconds.
    POSIX: the child is handed to another parent, so os.getppid() changes
    (already changed if the parent died before this started); elsewhere
    the parent's process handle says it has ended."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return  # not a spawned child (a test calling run_child directly)
    posix = os.name == "posix"

    def gone() -> bool:
        return os.getppid() != parent.pid if posix else not parent.is_alive()

    def watch() -> None:
        while not gone():
            time.sleep(poll)
        os._exit(1)  # no cleanup: nobody reads what it would write

    threading.Thread(target=watch, name="hemalabel-retrain-parent-watch", daemon=True).start()


def _fine_tune(request: ChildRequest, messages: Any, log: Any) -> dict[str, Any]:
    from core.classifier import load_classifier
    from core.classifier.card import read_card, write_card
    from core.training.augment import DEFAULT_SCALE_JITTER
    from core.training.config import TrainConfig
    from core.training.trainer import train_classifier

    started = time.monotonic()
    settings = request.settings
    locate = str(settings.get("locate", "auto"))
    replay_train, replay_val = replay_sample(settings["replay_path"], int(settings["replay_per_class"]),
                                             int(settings["seed"]), request.classes, locate)
    standard = standard_set(settings["standard_set"], request.classes, locate)
    train, val = request.train + replay_train, request.val + replay_val
    base = load_classifier(request.base)
    log(f"fine-tuning {request.base_name} ({len(base.classes)} classes) on {len(request.train)} queued and "
        f"{len(replay_train)} replay cells, validating on {len(val)}")
    new_classes = [c for c in request.classes if c not in base.classes]
    if new_classes:
        log(f"new outputs: {', '.join(new_classes)}")
    card = base.card
    config = TrainConfig(
        name=request.name,
        sources=[],
        version=card.version,
        architecture=card.architecture,
        classes=list(request.classes),
        input_size=card.input_size,
        crop_margin=card.crop_margin,
        epochs=int(settings["epochs"]),
        max_minutes=float(settings["max_minutes"]),
        learning_rate=float(settings["learning_rate"]),
        early_stopping_patience=max(4, int(settings["epochs"]) // 3),
        # As the base was trained: a model taught not to mind how tight a box
        # is should not unlearn it in a fine-tune (older cards name none).
        scale_jitter=float(card.training_data.get("augmentation", {}).get("scale_jitter", DEFAULT_SCALE_JITTER)),
        source_weights=queue_weight(request.train, replay_train),
        target_recall={k: v["target"] for k, v in card.target_recall.items() if k in request.classes},
        seed=int(settings["seed"]),
        output_dir=request.out_dir,
    )
    model = widened_model(base.keras_model, card, len(request.classes))
    fit_started = time.monotonic()
    job = train_classifier(config, model, splits={"train": train, "val": val})
    while True:
        try:
            step = next(job)
        except StopIteration as finished:
            result = finished.value
            break
        if isinstance(step.payload, dict):
            row = dict(step.payload)
            row["epochs"] = config.epochs
            row["eta_seconds"] = _eta(row, config, time.monotonic() - fit_started)
            messages.put(("epoch", row))
        else:
            log(step.message)
    trained_on = dict(sorted(Counter(c.label for c in train).items()))
    candidate = load_classifier(result.weights)
    from core.taxonomy import Taxonomy

    taxonomy = Taxonomy.from_json(request.taxonomy_json, "project taxonomy")
    check = _replay_check(base, candidate, request, replay_val, taxonomy)
    if check is not None:
        log(f"replay check ({check['cells']} cells of the original data, not trained on): accuracy "
            f"{check['base_accuracy']:.1%} -> {check['candidate_accuracy']:.1%}")
    candidate_card = read_card(result.card)
    candidate_card.parent = request.base_name
    candidate_card.training_data = {**candidate_card.training_data, "trained_on": trained_on,
                                    "queue_cells": len(request.train), "replay_cells": len(replay_train),
                                    "replay_check": check}
    write_card(candidate_card, result.card)
    log("scoring both models on held-out cells")
    scores = {
        "held_out": _score_pair(base, candidate, request.base_name, request.name, request.held_out, request.classes, taxonomy),
        "standard": _score_pair(base, candidate, request.base_name, request.name, standard, request.classes, taxonomy),
    }
    return {"weights": str(result.weights), "card": str(result.card), "history": result.history,
            "trained_on": trained_on, "scores": scores, "created_at": candidate_card.created_at,
            "replay_check": check,
            "seconds": time.monotonic() - started}


def _replay_check(base: Any, candidate: Any, request: ChildRequest, cells: list[LabelledCell],
                  taxonomy: Any) -> dict[str, Any] | None:
    """What the candidate forgot: both models' accuracy on the replay's
    validation cells (PBC's validation split for the shipped set), which
    the fine-tune only validated on."""
    pair = _score_pair(base, candidate, request.base_name, request.name, cells, request.classes, taxonomy)
    if pair is None:
        return None
    before, after = pair[0]["accuracy"], pair[1]["accuracy"]
    return {"cells": len(cells), "base_accuracy": before, "candidate_accuracy": after,
            "change_points": round(100.0 * (after - before), 2)}


def widened_model(keras_model: Any, card: Any, outputs: int) -> Any:
    """The base model with `outputs` logits: the old classes keep their
    weights, a new class starts from the mean of the old ones' weights (a
    neutral start the fine-tune moves from)."""
    if outputs == len(card.classes):
        return keras_model
    from core.classifier.architecture import build

    widened = build(card.architecture, card.input_size, outputs)
    for old_layer, new_layer in zip(keras_model.layers, widened.layers):
        old_weights = old_layer.get_weights()
        if old_layer.name != keras_model.layers[-1].name:
            new_layer.set_weights(old_weights)
            continue
        kernel, bias = old_weights
        extra = outputs - kernel.shape[1]
        new_kernel = np.concatenate([kernel, np.repeat(kernel.mean(1, keepdims=True), extra, 1)], 1)
        new_bias = np.concatenate([bias, np.full(extra, bias.mean() - 1.0, bias.dtype)])
        new_layer.set_weights([new_kernel, new_bias])
    return widened


def _eta(row: dict[str, Any], config: Any, elapsed: float) -> float:
    per_epoch = elapsed / max(1, row["epoch"])
    by_epochs = per_epoch * (config.epochs - row["epoch"])
    if config.max_minutes > 0:
        return float(max(0.0, min(by_epochs, config.max_minutes * 60.0 - elapsed)))
    return float(by_epochs)


def _score_pair(base: Any, candidate: Any, base_name: str, name: str, cells: list[LabelledCell],
                classes: list[str], taxonomy: Any) -> list[dict[str, Any]] | None:
    """Both models on the same cells, scored as the app labels them: a white
    cell never gets a platelet class (core.inference.allowed_classes)."""
    if not cells:
        return None
    from core.inference import allowed_classes, rule_out_logits
    from core.jobs import run_job
    from core.retraining.scoring import score
    from core.training.loading import load_cells

    views: dict[tuple[int, float], Any] = {}  # the candidate shares its base's crop: cut once
    pair = []
    for model, model_name in ((base, base_name), (candidate, name)):
        key = (model.card.input_size, model.crop_margin)
        if key not in views:
            views[key] = run_job(load_cells(cells, classes, *key, with_train_view=False))
        arrays = views[key]
        by_kind = {kind: allowed_classes(model.classes, kind, taxonomy) for kind in {c.kind for c in arrays.samples}}
        masks = np.array([by_kind[c.kind] for c in arrays.samples]).reshape(-1, len(model.classes))
        logits = rule_out_logits(model.logits(arrays.eval_view), masks)
        predicted = np.array([classes.index(model.classes[i]) for i in logits.argmax(1)])
        pair.append(score(model_name, predicted, arrays.labels, classes).to_dict())
    return pair
