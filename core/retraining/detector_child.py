"""The detector fine-tune's child process: fine-tune the detector in use on
a lab's reviewed fields (and a replay of its original ones), save the
candidate, score both detectors.  It runs through the classifier retrain's
child machinery (child.serve), so its messages are the same:
("log", str), ("epoch", dict with a "text"), ("done", dict), ("error", str)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from core.detection.data import GroundTruth
from core.retraining.child import serve

# The share of the budget kept for what follows the fine-tune: saving and
# re-estimating its normalisation statistics.
FINISH_SHARE = 0.08
# The least a fine-tune is given, however slow the reading and scoring were.
MIN_TRAIN_SECONDS = 20.0


@dataclass(slots=True)
class DetectorChildRequest:
    base_card: str  # card of the detector being fine-tuned
    base_name: str
    name: str  # the candidate's name
    out_dir: str  # staging folder for its files
    train: list[GroundTruth]  # the project's reviewed fields trained on
    held_out: list[GroundTruth]  # its reviewed fields kept for the comparison
    settings: dict[str, Any]  # DetectorRetrainSettings.to_dict(), replay_root resolved


def run_detector_child(request: DetectorChildRequest, messages: Connection) -> None:
    """The child's entry point (importable by a spawned interpreter)."""
    serve(_fine_tune_detector, request, messages)


def _fine_tune_detector(request: DetectorChildRequest, messages: Connection,
                        log: Callable[[str], None]) -> dict[str, Any]:
    from core.detection.detector import KerasCellDetector
    from core.detection.training import train_detector
    from core.retraining.detector_scoring import compare

    started = time.monotonic()
    settings = request.settings
    replay, original = _original_fields(settings, log)
    base = KerasCellDetector.load(request.base_card)
    log(f"scoring {request.base_name} on {len(request.held_out)} held-out reviewed fields"
        + (f" and {len(original)} original validation fields" if original else ""))
    scoring_started = time.monotonic()
    base_held = _scores(base, request.base_name, request.held_out)
    base_original = _scores(base, request.base_name, original) if original else None
    scoring_seconds = time.monotonic() - scoring_started
    # The candidate looks at as many fields again to learn its familiarity reference.
    scored = len(request.held_out) + len(original)
    familiarity_seconds = scoring_seconds / max(1, scored) * (len(request.train) + len(replay))
    fields = _training_list(request.train, replay)
    config = _config(base.card, request.base_card, settings)
    budget = float(settings["max_minutes"]) * 60.0
    if budget > 0:
        # What is left once the candidate is scored as the base just was.
        spent = time.monotonic() - started
        config.max_seconds = max(MIN_TRAIN_SECONDS, budget * (1.0 - FINISH_SHARE) - spent - scoring_seconds
                                 - familiarity_seconds)
    log(f"fine-tuning {request.base_name} on {len(request.train)} reviewed fields (each seen "
        f"{_repeat(request.train, replay)} times an epoch) and {len(replay)} replayed original fields"
        + (f", for at most {config.max_seconds:.0f} s" if config.max_seconds else ""))
    del base  # its network is loaded again as the fine-tune's start
    history: list[dict[str, Any]] = []
    job = train_detector(fields, [], Path(request.out_dir), config, name=request.name, version=request.name,
                         data_summary=_summary(request, replay))
    train_started = time.monotonic()
    while True:
        try:
            step = next(job)
        except StopIteration as finished:
            card_path = Path(finished.value)
            break
        if step.payload is None:
            log(step.message)
            continue
        row = _epoch_row(step.payload, step.message, time.monotonic() - train_started, config.max_seconds)
        history.append(row)
        messages.send(("epoch", row))
    candidate_card = _finish_card(card_path, request)
    candidate = KerasCellDetector.load(card_path)
    candidate_card.familiarity = _familiarity(candidate, request.train, replay, log)
    candidate_card.save(card_path)
    log(f"scoring the candidate {request.name}")
    held = (base_held, _scores(candidate, request.name, request.held_out))
    pair = (base_original, _scores(candidate, request.name, original)) if base_original is not None else None
    comparison = compare(held, pair)
    for line in comparison.lines():
        log(line)
    return {"card": str(card_path), "history": history, "comparison": comparison.to_dict(),
            "created_at": candidate_card.training.get("created_at", ""),
            "trained_on": _trained_on(request.train, replay), "replay_fields": len(replay),
            "seconds": time.monotonic() - started}


def _original_fields(settings: dict[str, Any], log: Callable[[str], None]) -> tuple[list[GroundTruth],
                                                                                   list[GroundTruth]]:
    """The replay and the original check fields; none, said in the log,
    when the original data is not there."""
    from core.detection.replay_fields import check_fields, replay_fields

    root = settings.get("replay_root")
    if not root:
        log("the detector's original training data (txl-pbc/ and bccd/) is not there: fine-tuning on the "
            "project's fields alone, with no replay and no check on the original fields")
        return [], []
    seed = int(settings["seed"])
    try:
        replay = replay_fields(Path(root), int(settings["replay_fields"]), seed)
        original = check_fields(Path(root), int(settings["check_fields"]), seed)
    except FileNotFoundError as error:
        log(f"{error}: fine-tuning on the project's fields alone, with no replay and no check on the original "
            "fields")
        return [], []
    return replay, original


def _repeat(train: Sequence[GroundTruth], replay: Sequence[GroundTruth]) -> int:
    """How often each reviewed field appears in an epoch: about as often as
    the replay's fields together, so a lab's ten fields are not drowned by
    forty of other labs'."""
    return max(1, round(len(replay) / max(1, len(train))))


def _training_list(train: Sequence[GroundTruth], replay: Sequence[GroundTruth]) -> list[GroundTruth]:
    return [*list(train) * _repeat(train, replay), *replay]


def _config(card: Any, card_path: str, settings: dict[str, Any]) -> Any:
    """The fine-tune's recipe: the base's own (its augmentation, loss
    weights and scales), from its weights, at a fine-tune's learning rate."""
    from core.detection.augment import AugmentConfig
    from core.detection.training import DetectorTrainingConfig

    recipe = card.training.get("config", {})
    augment = AugmentConfig()
    try:
        saved: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                                 for key, value in card.training.get("augment", {}).items()}
        augment = AugmentConfig(**saved)
    except TypeError:
        pass  # a card from another version of the recipe: the standard augmentation
    return DetectorTrainingConfig(
        epochs=int(settings["epochs"]),
        batch_size=int(settings["batch_size"]),
        learning_rate=float(settings["learning_rate"]),
        warmup_steps=10,
        work_scale=float(card.work_scale),
        tile=int(card.tile),
        overlap=int(card.overlap),
        seed=int(settings["seed"]),
        class_weights=tuple(recipe.get("class_weights", (1.5, 1.0, 2.0))),
        augment=augment,
        init_from=card_path,
    )


def _scores(detector: Any, name: str, fields: Sequence[GroundTruth]) -> Any:
    """The detector's figures on the fields as `detect` would find their
    cells, an unlike field in the colours a turn brings back included."""
    from core.detection.assess import predict_results
    from core.detection.colour_turns import ColourTurner
    from core.retraining.detector_scoring import detector_scores

    looked_at = predict_results(detector, fields, detector.card.min_score, ColourTurner(detector))
    return detector_scores(name, looked_at, detector.card.thresholds)


def _epoch_row(metrics: Any, message: str, seconds: float, budget: float) -> dict[str, Any]:
    """An epoch as the parent relays it: the epoch count it expects is what
    fits the time budget at this pace."""
    row = {key: value for key, value in asdict(metrics).items() if key != "val_ap50"}
    epoch = int(row["epoch"])
    expected = int(row["epochs"])
    if budget > 0:
        expected = min(expected, max(epoch, round(epoch * budget / max(seconds, 1e-6))))
    row["epochs"] = expected
    row["eta_seconds"] = float(max(0.0, (budget - seconds) if budget > 0 else seconds / epoch * (expected - epoch)))
    row["text"] = message.replace(f"/{metrics.epochs}", f"/{expected}", 1)
    return row


def _familiarity(candidate: Any, train: Sequence[GroundTruth], replay: Sequence[GroundTruth],
                 log: Callable[[str], None]) -> dict[str, Any]:
    """The candidate's familiarity section, learnt on the fields it was
    fine-tuned on as it proposes on them (familiarity_learning.
    fine_tune_reference): without one a promoted candidate would judge no
    field.  Empty, said in the log, when too few of them hold a white
    proposal to judge by."""
    from core.detection.familiarity_learning import fine_tune_reference
    from core.jobs import run_job

    log(f"learning which fields {candidate.version} knows, on the {len(train)} reviewed and "
        f"{len(replay)} replayed fields it learnt from")
    try:
        reference, chosen_on = run_job(fine_tune_reference(candidate, [gt.path for gt in train],
                                                           [gt.path for gt in replay]))
    except ValueError as error:
        log(f"no familiarity reference for the candidate ({error}): it will judge no field unlike")
        return {}
    log(f"familiarity reference: {len(reference.points)} fields, threshold {reference.threshold:.2f}")
    section: dict[str, Any] = reference.to_card(chosen_on)
    return section


def _finish_card(card_path: Path, request: DetectorChildRequest) -> Any:
    """The candidate looks at fields as the base does (its thresholds,
    scales and magnification ruler): only its weights were fine-tuned.  Its
    familiarity reference, the base's being of other weights, is learnt
    afresh (_familiarity)."""
    from core.models.detector_card import DetectorCard

    base = DetectorCard.load(Path(request.base_card))
    card = DetectorCard.load(card_path)
    card.thresholds = dict(base.thresholds)
    card.nms_iou, card.min_score, card.flip_average = base.nms_iou, base.min_score, base.flip_average
    card.extra_scales = list(base.extra_scales)
    if base.red_cell_range:
        card.red_cell_range, card.red_cell_median = list(base.red_cell_range), base.red_cell_median
    card.familiarity = {}
    card.training = {**card.training, "parent": request.base_name,
                     "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                     "held_out_fields": [gt.source for gt in request.held_out]}
    card.save(card_path)
    return card


def _trained_on(train: Sequence[GroundTruth], replay: Sequence[GroundTruth]) -> dict[str, int]:
    """Boxes of each kind the candidate was taught, the replay's included."""
    names = ("white", "red", "platelet")
    return {name: int(sum(int((gt.classes == index).sum()) for gt in (*train, *replay)))
            for index, name in enumerate(names)}


def _summary(request: DetectorChildRequest, replay: Sequence[GroundTruth]) -> dict[str, Any]:
    return {"project_fields": len(request.train), "held_out_fields": len(request.held_out),
            "replay_fields": len(replay), "train_boxes": _trained_on(request.train, replay)}
