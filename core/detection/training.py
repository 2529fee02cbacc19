"""Training the detector, from scratch or on from a trained one's weights: a job (generator) that yields one
Progress per epoch with that epoch's metrics, honours cancel between steps,
and at the end picks operating thresholds on the validation images and
writes the weights and their model card.

Images are shrunk to the working scale once and kept in memory (about
0.1 MB each), so an epoch costs only augmentation and the network."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.detection.assess import predict_results
from core.detection.augment import AugmentConfig, augmented_sample
from core.detection.averaging import WeightAverage
from core.detection.data import GroundTruth
from core.detection.evaluation import evaluate
from core.detection.magnification import learnt_ruler
from core.detection.scale import DEFAULT_WORK_SCALE, to_work_scale
from core.detection.targets import CLASSES
from core.detection.tuning import operating_point
from core.imaging import ImageReadError, load_rgb
from core.jobs import CancelToken, Job, Progress
from core.models.detector_card import DetectorCard
from core.models.files import sha256_of


@dataclass(slots=True)
class DetectorTrainingConfig:
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    width: int = 32
    work_scale: float = DEFAULT_WORK_SCALE
    tile: int = 512  # network pixels; 1024 image pixels at half scale
    overlap: int = 160  # network pixels: more than the largest white cell
    seed: int = 0
    # Heatmap loss weight per class (white, red, platelet); see detection_loss.
    # The bundled detector's: a missed white cell costs most, platelets are
    # the rarest boxes.
    class_weights: tuple[float, float, float] = (1.5, 1.0, 2.0)
    # Decay of the moving average of the weights that is validated and saved
    # (averaging.WeightAverage); 0 validates and saves the last step's weights.
    ema_decay: float = 0.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    val_every: int = 5  # epochs between validation passes (and the last one)
    val_limit: int | None = 96  # images per intermediate validation pass
    # A trained detector's card to start from (its weights; its width then
    # rules), "" to start from scratch.  Fine-tuning teaches a trained
    # detector new data and augmentation in a fraction of the epochs.
    init_from: str = ""
    # Wall-time budget of the training steps in seconds, 0 for none: the
    # learning rate then follows the share of the budget spent (or of the
    # steps, whichever is further on) and training ends when it is spent.
    max_seconds: float = 0.0


@dataclass(slots=True)
class EpochMetrics:
    epoch: int
    epochs: int
    loss: float
    heat_loss: float
    size_loss: float
    offset_loss: float
    seconds: float
    val_ap50: dict[str, float] | None = None


@dataclass(slots=True)
class _Prepared:
    image: NDArray[Any]
    boxes: NDArray[Any]
    classes: NDArray[Any]
    negative_weights: tuple[float, float, float]


def prepare(samples: Sequence[GroundTruth], scale: float) -> list[_Prepared]:
    """Load and shrink every readable image; unreadable ones are skipped."""
    prepared = []
    for gt in samples:
        try:
            image = load_rgb(gt.path)
        except ImageReadError:
            continue
        prepared.append(_Prepared(to_work_scale(image, scale), gt.boxes * scale, gt.classes, gt.negative_weights))
    return prepared


def _batches(
    data: Sequence[_Prepared], config: DetectorTrainingConfig, rng: np.random.Generator, stop: threading.Event
) -> Iterator[tuple[NDArray[Any], NDArray[Any]]]:
    """One epoch of augmented batches, built on a helper thread so that
    augmentation overlaps the network's work (OpenCV releases the GIL)."""
    order = rng.permutation(len(data))
    steps = max(1, len(order) // config.batch_size)
    seeds = rng.integers(0, 2**31, size=steps)
    out: queue.Queue[Any] = queue.Queue(maxsize=3)

    def produce() -> None:
        try:
            for step in range(steps):
                if stop.is_set():
                    break
                local = np.random.default_rng(int(seeds[step]))
                pairs = [
                    augmented_sample(s.image, s.boxes, s.classes, local, config.augment, s.negative_weights)
                    for s in (data[i] for i in order[step * config.batch_size : (step + 1) * config.batch_size])
                ]
                out.put((np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])))
        except Exception as error:  # handed to the training loop: left here, it would wait for a batch for ever
            out.put(error)
            return
        out.put(None)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    while (item := out.get()) is not None:
        if isinstance(item, Exception):
            raise item
        yield item
    worker.join()


def recalibrate_batchnorm(
    model: Any, data: Sequence[_Prepared], config: DetectorTrainingConfig, rng: np.random.Generator, batches: int = 30
) -> None:
    """Re-estimate every BatchNorm's moving statistics for the current
    weights.  Why: while the weights still move fast the moving averages
    (momentum 0.99) lag behind them, and a model evaluated with lagging
    statistics finds nothing though its training loss is low."""
    import tensorflow as tf
    from keras import layers

    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.9  # 0.9**30: the old statistics weigh 4%
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32), training=True), autograph=False)
    stop = threading.Event()
    try:
        for step, (images, _) in enumerate(_batches(data, config, rng, stop)):
            if step >= batches:
                break
            forward(images)
    finally:
        stop.set()
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum


def _red_cell_range(train: Sequence[GroundTruth]) -> list[float]:
    """The card's red_cell_range; empty (every image looked at as it is)
    when no training field holds enough red cells to measure."""
    try:
        ruler = learnt_ruler([(gt.boxes, gt.classes) for gt in train])
    except ValueError:
        return []
    return [ruler.low, ruler.high]


def timed_learning_rate(config: DetectorTrainingConfig, progress: float, total_steps: int) -> float:
    """The learning rate a share `progress` (0-1) through a timed run: the
    same warm-up then cosine decay to 2% as the epoch-counted schedule."""
    warmup = min(0.1, config.warmup_steps / max(1, total_steps))
    if progress < warmup:
        return config.learning_rate * progress / warmup
    decay = min(1.0, (progress - warmup) / max(1e-9, 1.0 - warmup))
    return config.learning_rate * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * decay)))


def train_detector(
    train: Sequence[GroundTruth],
    val: Sequence[GroundTruth],
    out_dir: Path,
    config: DetectorTrainingConfig | None = None,
    cancel: CancelToken | None = None,
    name: str = "cell-detector",
    version: str = "1",
    data_summary: dict[str, Any] | None = None,
) -> Job[Path]:
    """Train, choose thresholds on `val`, save `<name>.keras` and
    `<name>.json` into out_dir; returns the card's path.  Each epoch yields
    Progress(epoch, epochs, message, payload=EpochMetrics)."""
    import keras
    import tensorflow as tf

    from core.detection.detector import KerasCellDetector
    from core.detection.loss import detection_loss
    from core.detection.model import build_detector_model

    config = config or DetectorTrainingConfig()
    cancel = cancel or CancelToken()
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    yield Progress(0, config.epochs, f"loading {len(train)} training images")
    data = prepare(train, config.work_scale)
    if not data:
        raise ValueError("no readable training images")
    cancel.raise_if_cancelled()

    start: dict[str, str] = {}
    if config.init_from:
        initial = KerasCellDetector.load(config.init_from)
        model = initial.model
        start = {"card": str(config.init_from), "version": initial.version, "sha256": initial.card.sha256}
    else:
        model = build_detector_model(config.width)
    steps_per_epoch = max(1, len(data) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, total_steps - config.warmup_steps),
        warmup_target=config.learning_rate,
        warmup_steps=min(config.warmup_steps, max(0, total_steps - 1)),
        alpha=0.02,
    )
    timed = config.max_seconds > 0
    optimizer = keras.optimizers.AdamW(
        learning_rate=timed_learning_rate(config, 0.0, total_steps) if timed else schedule,
        weight_decay=config.weight_decay,
        clipnorm=10.0,
    )
    average = WeightAverage(model.trainable_variables, config.ema_decay) if config.ema_decay else None

    @tf.function(reduce_retracing=True)  # type: ignore[untyped-decorator]  # TensorFlow has no type stubs
    def train_step(images: Any, targets: Any) -> Any:
        with tf.GradientTape() as tape:
            raw = model(tf.cast(images, tf.float32), training=True)
            loss, parts = detection_loss(targets, raw, config.class_weights)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        if average is not None:
            average.update()
        return loss, parts["heat"], parts["size"], parts["offset"]

    card = DetectorCard(
        name=name,
        version=version,
        weights=f"{name}.keras",
        sha256="",
        classes=list(CLASSES),
        work_scale=config.work_scale,
        tile=config.tile,
        overlap=config.overlap,
        thresholds={c: 0.3 for c in CLASSES},
        red_cell_range=_red_cell_range(train),
    )
    detector = KerasCellDetector(model, card)
    history: list[dict[str, Any]] = []
    training_started = time.perf_counter()
    done_steps = 0
    out_of_time = False
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        sums = np.zeros(4)
        steps = 0
        stop = threading.Event()
        try:
            for images, targets in _batches(data, config, rng, stop):
                if cancel.cancelled:
                    stop.set()
                    cancel.raise_if_cancelled()
                if timed:
                    spent = (time.perf_counter() - training_started) / config.max_seconds
                    if spent >= 1.0 and done_steps:
                        out_of_time = True
                        stop.set()
                        break
                    progress = max(spent, done_steps / total_steps)
                    optimizer.learning_rate = timed_learning_rate(config, progress, total_steps)
                values = train_step(images, targets)
                done_steps += 1
                sums += [float(v) for v in values]
                steps += 1
        finally:
            stop.set()
        means = sums / max(steps, 1)
        if not math.isfinite(means[0]):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {means[0]})")
        loss, heat_loss, size_loss, offset_loss = map(float, means)
        metrics = EpochMetrics(
            epoch, config.epochs, loss, heat_loss, size_loss, offset_loss, seconds=time.perf_counter() - started
        )
        last = epoch == config.epochs or out_of_time
        if last or (val and epoch % config.val_every == 0):
            if last and average is not None:
                average.copy_to_model()  # what is validated last is what is saved
            # Checkpoints validate the averaged weights; training goes on from its own.
            with average.swapped_in() if average is not None and not last else nullcontext():
                recalibrate_batchnorm(model, data, config, rng)
                if val:
                    subset = list(val) if last or config.val_limit is None else list(val)[: config.val_limit]
                    per_class = evaluate(predict_results(detector, subset), card.thresholds)
                    metrics.val_ap50 = {c: round(per_class[c]["ap50"], 4) for c in CLASSES}
        history.append(asdict(metrics))
        val_text = f", val AP50 {metrics.val_ap50}" if metrics.val_ap50 else ""
        yield Progress(
            epoch,
            config.epochs,
            f"epoch {epoch}/{config.epochs}: loss {metrics.loss:.3f} (heat {metrics.heat_loss:.3f}, "
            f"size {metrics.size_loss:.3f}, offset {metrics.offset_loss:.3f}) in {metrics.seconds:.0f} s{val_text}",
            payload=metrics,
        )
        if last:
            break

    cancel.raise_if_cancelled()
    metrics_out: dict[str, Any] = {}
    if val:
        card.thresholds, metrics_out["validation"] = operating_point(predict_results(detector, val))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / card.weights
    temporary = out_dir / f"{name}.tmp.keras"
    model.save(temporary)
    temporary.replace(weights)
    card.sha256 = sha256_of(weights)
    card.metrics = metrics_out
    card.training = {
        "config": {k: v for k, v in asdict(config).items() if k != "augment"},
        "augment": asdict(config.augment),
        "data": data_summary or {"train_images": len(train), "val_images": len(val)},
        **({"started_from": start} if start else {}),
        "history": history,
    }
    card_path = out_dir / f"{name}.json"
    card.save(card_path)
    return card_path
