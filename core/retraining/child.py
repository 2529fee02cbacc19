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
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.retraining.replay import ReplayError, queue_weight, replay_sample, standard_set
from core.training.samples import LabelledCell


@dataclass(slots=True)
class ChildRequest:
    base: str  # .keras path of the model being fine-tuned
    base_name: str
    name: str  # the candidate's name
    out_dir: str  # staging folder for its files
    classes: list[str]
    cells: list[LabelledCell]  # the project's reviewed cells; replay is added in the child
    folds: list[int]  # each cell's fold (core.retraining.out_of_fold.slide_folds)
    settings: dict[str, Any]
    taxonomy_json: str  # the project's: which classes each kind of cell may take


# How often the child checks that its parent still runs.
PARENT_POLL_SECONDS = 0.5


def run_child(request: ChildRequest, messages: Connection) -> None:
    """The child's entry point (must be importable by a spawned interpreter)."""
    serve(_fine_tune, request, messages)


# A child's work: (request, messages, log) -> the "done" message's value.
ChildWork = Callable[[Any, Connection, Callable[[str], None]], dict[str, Any]]


def serve(work: ChildWork, request: Any, messages: Connection) -> None:
    """Run a retrain's work in this child and send its end, whatever it is,
    as one message: the classifier's and the detector's children share it.
    `request` has the out_dir the errors name."""
    watch_parent()

    def log(line: str) -> None:
        messages.send(("log", line))

    try:
        result = work(request, messages, log)
    except ReplayError as error:
        messages.send(("error", str(error)))
        return
    except OSError as error:
        log(traceback.format_exc())
        if error.errno == errno.ENOSPC:
            messages.send(
                ("error", f"the disk is full ({error.filename or request.out_dir}); the candidate was discarded")
            )
        else:
            messages.send(("error", f"{error.filename or request.out_dir}: {error.strerror or error}"))
        return
    except Exception as error:  # everything must reach the parent as a message
        log(traceback.format_exc())
        messages.send(("error", f"training failed: {type(error).__name__}: {error}"))
        return
    messages.send(("done", result))


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


def _fine_tune(request: ChildRequest, messages: Connection, log: Any) -> dict[str, Any]:
    from core.classifier import load_classifier
    from core.models.classifier_card import read_card, write_card
    from core.taxonomy import Taxonomy

    started = time.monotonic()
    settings = request.settings
    replay_train, replay_val = replay_sample(
        settings["replay_path"],
        int(settings["replay_per_class"]),
        int(settings["seed"]),
        request.classes,
        str(settings.get("locate", "auto")),
    )
    standard = standard_set(settings["standard_set"], request.classes, str(settings.get("locate", "auto")))
    base = load_classifier(request.base)
    taxonomy = Taxonomy.from_json(request.taxonomy_json, "project taxonomy")
    folds = max(request.folds) + 1
    log(f"fine-tuning {request.base_name} ({len(base.classes)} classes) on {len(request.cells)} reviewed and "
        f"{len(replay_train)} replay cells, validating on {len(replay_val)}: one fit per fold of {folds} for the "
        "out-of-fold scores, then one on every reviewed cell")
    new_classes = [c for c in request.classes if c not in base.classes]
    if new_classes:
        log(f"new outputs: {', '.join(new_classes)}")
    lab = _LabCells.load(base, request, taxonomy)
    fitter = _Fitter(request, base, replay_train, replay_val, messages, log, fits=folds + 1, started=started)
    out_of_fold = np.zeros((len(lab.labels), len(request.classes)), np.float64)
    for fold in range(folds):
        inside = [cell for cell, f in zip(request.cells, request.folds) if f != fold]
        log(f"fold {fold + 1} of {folds}: fine-tuning on {len(inside)} reviewed cells, predicting the other "
            f"{len(request.cells) - len(inside)}")
        model = fitter.fit(inside, f"{request.name}-fold{fold + 1}")
        rows = lab.folds == fold
        if rows.any():
            out_of_fold[rows] = lab.logits_of(model, rows)
        fitter.discard(model)
    log("the candidate: fine-tuning on every reviewed cell")
    result = fitter.fit(request.cells, request.name, keep=True)
    candidate = load_classifier(result.weights)
    replay_views: dict[tuple[int, float], Any] = {}  # the replay's validation cells, cut once for both uses
    calibration = calibrate_out_of_fold(out_of_fold, lab.labels, float(candidate.temperature),
                                        _original_logits(candidate, replay_val, request.classes, replay_views))
    check = _replay_check(base, candidate, request, replay_val, taxonomy, replay_views)
    if check is not None:
        log(f"replay check ({check['cells']} cells of the original data, not trained on): accuracy "
            f"{check['base_accuracy']:.1%} -> {check['candidate_accuracy']:.1%}")
    trained_on = dict(sorted(Counter(c.label for c in request.cells + replay_train).items()))
    candidate_card = read_card(result.card)
    candidate_card.parent = request.base_name
    if calibration is not None:
        candidate_card.temperature = calibration["temperature"]
        log(f"temperature refitted on {calibration['cells']} out-of-fold predictions: "
            f"{calibration['temperature_before']:.3f} -> {calibration['temperature']:.3f}, ECE "
            f"{calibration['ece_before']:.1%} -> {calibration['ece_after']:.1%}")
    candidate_card.training_data = {**candidate_card.training_data, "trained_on": trained_on,
                                    "queue_cells": len(request.cells), "replay_cells": len(replay_train),
                                    "folds": folds, "replay_check": check, "out_of_fold_calibration": calibration}
    write_card(candidate_card, result.card)
    log("scoring the model in use, the instant path and the candidate out of fold")
    scores = {
        "out_of_fold": lab.scores(base, request.base_name, request.name, out_of_fold),
        "instant": lab.instant_scores(base, request.base_name),
        "standard": _score_pair(base, candidate, request.base_name, request.name, standard, request.classes, taxonomy),
    }
    return {"weights": str(result.weights), "card": str(result.card), "history": fitter.history,
            "trained_on": trained_on, "scores": scores, "created_at": candidate_card.created_at,
            "replay_check": check, "calibration": calibration,
            "seconds": time.monotonic() - started}


# Fewer out-of-fold predictions than this, or of one class only, leave the
# temperature the fine-tune chose on its validation cells.
MIN_CALIBRATION_CELLS = 20


def calibrate_out_of_fold(logits: NDArray[Any], labels: NDArray[Any], temperature: float,
                          original: tuple[NDArray[Any], NDArray[Any]] | None = None) -> dict[str, Any] | None:
    """The temperature for the lab's cells, and the calibration error on
    them before and after.  The fine-tune chose one on the replay's
    validation cells, another lab's; the lab's own cells, each predicted by
    a fit that never saw its slide, come from fits taught fewer of them than
    the candidate, so alone they make it too unsure.  Both halves count
    equally: the out-of-fold cells, and the candidate on the original data's
    validation cells (`original`: its logits and labels) when there are any."""
    from core.classifier.calibration import (
        ece_of_calibrated_model,
        expected_calibration_error,
        fit_temperature,
        softmax,
    )

    if len(labels) < MIN_CALIBRATION_CELLS or len(np.unique(labels)) < 2:
        return None
    both_logits, both_labels, weights = logits, labels, np.full(len(labels), 1.0 / len(labels))
    if original is not None and len(original[1]):
        both_logits = np.concatenate([logits, original[0]])
        both_labels = np.concatenate([labels, original[1]])
        weights = np.concatenate([weights, np.full(len(original[1]), 1.0 / len(original[1]))])
    fitted = fit_temperature(both_logits, both_labels, weights)
    return {"cells": int(len(labels)), "original_cells": int(len(both_labels) - len(labels)),
            "temperature_before": float(temperature), "temperature": float(fitted),
            "ece_before": expected_calibration_error(softmax(logits, temperature), labels),
            "ece_after": expected_calibration_error(softmax(logits, fitted), labels),
            "ece_floor": ece_of_calibrated_model(softmax(logits, fitted))[0]}


def _original_logits(
    candidate: Any, cells: list[LabelledCell], classes: list[str], views: dict[tuple[int, float], Any]
) -> tuple[NDArray[Any], NDArray[Any]] | None:
    """The candidate's logits and the labels of the replay's validation cells."""
    if not cells:
        return None
    arrays = _cut(views, cells, classes, candidate)
    return candidate.logits(arrays.eval_view), arrays.labels


def _cut(views: dict[tuple[int, float], Any], cells: list[LabelledCell], classes: list[str], model: Any) -> Any:
    """The cells as `model` sees them, cut once per input size and margin
    (a candidate shares its base's)."""
    from core.jobs import run_job
    from core.training.loading import load_cells

    key = (int(model.card.input_size), float(model.crop_margin))
    if key not in views:
        views[key] = run_job(load_cells(cells, classes, *key, with_train_view=False))
    return views[key]


@dataclass(slots=True)
class _LabCells:
    """The project's reviewed cells as the models see them, cut once."""

    pixels: NDArray[Any]
    labels: NDArray[Any]  # indices into the request's classes
    folds: NDArray[Any]
    kinds: list[Any]
    masks: NDArray[Any]  # classes each cell's kind allows, over the request's classes
    classes: list[str]
    taxonomy: Any

    @classmethod
    def load(cls, base: Any, request: ChildRequest, taxonomy: Any) -> _LabCells:
        from core.inference import allowed_classes
        from core.jobs import run_job
        from core.training.loading import load_cells

        arrays = run_job(load_cells(request.cells, request.classes, base.card.input_size, base.crop_margin,
                                    with_train_view=False))
        fold_of = {id(cell): fold for cell, fold in zip(request.cells, request.folds)}
        kinds = [cell.kind for cell in arrays.samples]
        masks = np.array([allowed_classes(request.classes, kind, taxonomy) for kind in kinds], bool)
        return cls(arrays.eval_view, arrays.labels, np.array([fold_of[id(c)] for c in arrays.samples], np.int64),
                   kinds, masks.reshape(-1, len(request.classes)), list(request.classes), taxonomy)

    def logits_of(self, model: Any, rows: NDArray[Any]) -> NDArray[Any]:
        """A model over the request's classes (a fold's fit) on some cells."""
        return np.where(self.masks[rows], model.logits(self.pixels[rows]), -1e9)

    def _base_view(self, base: Any) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
        """The model in use's logits over its own classes, the classes each
        cell's kind allows among them, and where each of its classes sits
        among the request's."""
        from core.inference import allowed_classes

        positions = np.array([self.classes.index(name) for name in base.classes])
        masks = np.array([allowed_classes(base.classes, kind, self.taxonomy) for kind in self.kinds], bool)
        return base.logits(self.pixels), masks.reshape(-1, len(base.classes)), positions

    def scores(self, base: Any, base_name: str, name: str, out_of_fold: NDArray[Any]) -> list[dict[str, Any]] | None:
        from core.retraining.scoring import score

        if not len(self.labels):
            return None
        logits, masks, positions = self._base_view(base)
        predicted = positions[np.where(masks, logits, -1e9).argmax(1)]
        return [score(base_name, predicted, self.labels, self.classes).to_dict(),
                score(name, out_of_fold.argmax(1), self.labels, self.classes).to_dict()]

    def instant_scores(self, base: Any, base_name: str) -> dict[str, Any] | None:
        """What the window's instant path would have predicted for each cell,
        taught by the other folds' white cells."""
        from core.project_learning import FeatureModel
        from core.retraining.out_of_fold import instant_out_of_fold, network_log_probabilities
        from core.retraining.scoring import score

        if not len(self.labels):
            return None
        logits, masks, positions = self._base_view(base)
        embeddings, _ = FeatureModel(base).of_pixels(self.pixels)
        own = {name: i for i, name in enumerate(base.classes)}
        labels = np.array([own.get(self.classes[i], -1) for i in self.labels], np.int64)
        logp = network_log_probabilities(logits, float(base.temperature), masks)
        probabilities = instant_out_of_fold(embeddings, logp, labels, self.kinds, self.folds.tolist())
        return score(f"{base_name}+taught", positions[probabilities.argmax(1)], self.labels, self.classes).to_dict()


# The part of the time budget kept for scoring the models after the fits,
# and the least a fit is given however late it starts.
SCORING_SHARE = 0.1
MIN_FIT_SECONDS = 10.0
# The candidate is what the lab gets; the folds' fits only estimate it, so
# it is given the time of this many of them (with 3 folds, 40% of the fits').
CANDIDATE_WEIGHT = 2.0


class _Fitter:
    """One fine-tune of the base on some reviewed cells plus the replay,
    within its share of the time budget; its epochs reported as parts of
    the whole run."""

    def __init__(self, request: ChildRequest, base: Any, replay_train: list[LabelledCell],
                 replay_val: list[LabelledCell], messages: Connection, log: Any, fits: int, started: float) -> None:
        self.request, self.base, self.messages, self.log = request, base, messages, log
        self.replay_train, self.replay_val = replay_train, replay_val
        self.fits, self.done = fits, 0
        self.started = started  # the child's start: reading the cells counts against the budget too
        self.history: list[dict[str, Any]] = []

    def fit(self, cells: list[LabelledCell], name: str, keep: bool = False) -> Any:
        from core.classifier import load_classifier
        from core.training.augment import DEFAULT_SCALE_JITTER
        from core.training.config import TrainConfig
        from core.training.trainer import train_classifier

        settings, card = self.request.settings, self.base.card
        out_dir = self.request.out_dir if keep else os.path.join(self.request.out_dir, name)
        config = TrainConfig(
            name=name,
            sources=[],
            version=card.version,
            architecture=card.architecture,
            classes=list(self.request.classes),
            input_size=card.input_size,
            crop_margin=card.crop_margin,
            epochs=int(settings["epochs"]),
            max_minutes=self._fit_minutes(),
            learning_rate=float(settings["learning_rate"]),
            early_stopping_patience=max(4, int(settings["epochs"]) // 3),
            # As the base was trained: a model taught not to mind how tight a box
            # is should not unlearn it in a fine-tune (older cards name none).
            scale_jitter=float(card.training_data.get("augmentation", {}).get("scale_jitter", DEFAULT_SCALE_JITTER)),
            source_weights=queue_weight(cells, self.replay_train),
            target_recall={k: v["target"] for k, v in card.target_recall.items() if k in self.request.classes},
            seed=int(settings["seed"]) + self.done,
            output_dir=out_dir,
        )
        model = widened_model(self.base.keras_model, card, len(self.request.classes))
        job = train_classifier(config, model, splits={"train": cells + self.replay_train, "val": self.replay_val})
        while True:
            try:
                step = next(job)
            except StopIteration as finished:
                result = finished.value
                break
            if isinstance(step.payload, dict):
                self._report(dict(step.payload), config)
            else:
                self.log(step.message)
        self.done += 1
        return result if keep else load_classifier(result.weights)

    def _fit_minutes(self) -> float:
        """This fit's share of what is left of the budget, once the scoring
        after the last fit has its share: the budget bounds the whole run.
        The candidate's own fit weighs CANDIDATE_WEIGHT folds' fits."""
        total = float(self.request.settings["max_minutes"]) * 60.0
        if total <= 0:
            return 0.0  # no limit: the epochs decide
        left = total * (1.0 - SCORING_SHARE) - (time.monotonic() - self.started)
        folds_left = self.fits - 1 - self.done
        weight = 1.0 if folds_left > 0 else CANDIDATE_WEIGHT
        return max(MIN_FIT_SECONDS, left * weight / (max(0, folds_left) + CANDIDATE_WEIGHT)) / 60.0

    def discard(self, model: Any) -> None:
        """A fold's fit: only its predictions were wanted."""
        import shutil

        shutil.rmtree(os.path.join(self.request.out_dir, model.card.name), ignore_errors=True)

    def _report(self, row: dict[str, Any], config: Any) -> None:
        row["fit"], row["fits"] = self.done + 1, self.fits
        row["epoch"] = self.done * config.epochs + int(row["epoch"])
        row["epochs"] = self.fits * config.epochs
        elapsed = time.monotonic() - self.started
        by_epochs = elapsed / max(1, row["epoch"]) * (row["epochs"] - row["epoch"])
        total = float(self.request.settings["max_minutes"]) * 60.0
        row["eta_seconds"] = float(max(0.0, min(by_epochs, total - elapsed)) if total > 0 else by_epochs)
        self.history.append(row)
        self.messages.send(("epoch", row))


def _replay_check(base: Any, candidate: Any, request: ChildRequest, cells: list[LabelledCell],
                  taxonomy: Any, views: dict[tuple[int, float], Any]) -> dict[str, Any] | None:
    """What the candidate forgot: both models' accuracy on the replay's
    validation cells (PBC's validation split for the shipped set), which
    the fine-tune only validated on."""
    pair = _score_pair(base, candidate, request.base_name, request.name, cells, request.classes, taxonomy, views)
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


def _score_pair(base: Any, candidate: Any, base_name: str, name: str, cells: list[LabelledCell],
                classes: list[str], taxonomy: Any,
                views: dict[tuple[int, float], Any] | None = None) -> list[dict[str, Any]] | None:
    """Both models on the same cells, scored as the app labels them: a white
    cell never gets a platelet class (core.inference.allowed_classes)."""
    if not cells:
        return None
    from core.inference import allowed_classes, rule_out_logits
    from core.retraining.scoring import score

    views = {} if views is None else views
    pair = []
    for model, model_name in ((base, base_name), (candidate, name)):
        arrays = _cut(views, cells, classes, model)
        by_kind = {kind: allowed_classes(model.classes, kind, taxonomy) for kind in {c.kind for c in arrays.samples}}
        masks = np.array([by_kind[c.kind] for c in arrays.samples]).reshape(-1, len(model.classes))
        logits = rule_out_logits(model.logits(arrays.eval_view), masks)
        predicted = np.array([classes.index(model.classes[i]) for i in logits.argmax(1)])
        pair.append(score(model_name, predicted, arrays.labels, classes).to_dict())
    return pair
