"""Training the locator's box refiner (core.box_refiner) on PBC.

It learns from the bundled classifier's own PBC training split (the same
source, classes and seed as models/hemalabel-wbc.train.json), so the
classifier's validation and test images stay unseen by both: for each
image whose class OI-PBC boxes, the views of a few boxes jittered around
OI-PBC's box and of the box the locator finds without a refiner, each with
the edge moves that bring it to OI-PBC's box.  It is scored on the
validation split: how many located boxes agree with OI-PBC's (IoU >= 0.7)
before and after refining.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.box_refiner import CARD_NAME, CONTEXT, VIEW_SIDE, BoxRefiner, BoxRefinerCard, edge_offsets, view
from core.imaging import load_rgb
from core.locating import CellLocator, DetectorProposer, Placement, kind_of_label, read_and_locate
from core.models.files import sha256_of
from core.schema import Box
from core.training.datasets import pbc_splits_of
from core.training.pbc import has_own_box
from core.training.samples import LabelledCell

AGREES = 0.7  # IoU with OI-PBC's box at which a located box counts as the same box
JITTERED = 5  # boxes jittered around OI-PBC's a training image
LOCATED_COPIES = 2  # and the locator's own box, weighted as this many


@dataclass(frozen=True, slots=True)
class RefinerTrainingConfig:
    data: Path  # the folder holding pbc/
    classifier_config: Path  # whose PBC split is used: the bundled classifier's
    epochs: int = 8
    seed: int = 0
    view_side: int = VIEW_SIDE
    version: str = "1.0"
    # One training image in this many: a third of PBC's train split (about
    # 1,900 images, 13,000 views) teaches the box as well and trains in a
    # quarter of an hour on 2 cores.
    every: int = 3


def pbc_splits(config: RefinerTrainingConfig) -> dict[str, list[LabelledCell]]:
    """The classifier's PBC train and validation images that OI-PBC boxes."""
    root = config.data / "pbc"
    splits = pbc_splits_of(config.classifier_config, root)
    boxed = {name: [c for c in splits[name] if has_own_box(c, root)] for name in ("train", "val")}
    return {"train": boxed["train"][:: config.every], "val": boxed["val"]}


def located_boxes(locator: CellLocator, cells: Sequence[LabelledCell]) -> list[Box | None]:
    """The locator's box of each cell's image (its class known), None where
    it found none near the centre."""
    kinds = [kind_of_label(cell.label) for cell in cells]
    return [
        read.cell.box if read.cell is not None and read.cell.placement is Placement.LOCATED else None
        for read in read_and_locate([cell.path for cell in cells], locator, kinds)
    ]


def jittered(box: Box, rng: np.random.Generator) -> Box:
    """A box about `box`: its centre moved and its sides scaled about as far
    as the detector's boxes lie from OI-PBC's."""
    width, height = box.width, box.height
    cx, cy = box.centre
    scale_x, scale_y = np.exp(rng.normal(0.0, 0.12, 2))
    shift_x, shift_y = rng.normal(0.0, 0.07, 2)
    cx, cy, width, height = cx + shift_x * width, cy + shift_y * height, width * scale_x, height * scale_y
    return Box(cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)


def training_views(
    cells: Sequence[LabelledCell], located: Sequence[Box | None], side: int, rng: np.random.Generator
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Views and their edge moves to OI-PBC's box.  Not mirrored: OI-PBC's
    boxes sit a little high on their cells, a habit mirroring would teach
    away."""
    views, offsets = [], []
    for cell, found in zip(cells, located):
        assert cell.box is not None
        image = load_rgb(cell.path)
        boxes = [jittered(cell.box, rng) for _ in range(JITTERED)]
        boxes += [found] * LOCATED_COPIES if found is not None else []
        for box in boxes:
            views.append(view(image, box, side, CONTEXT))
            offsets.append(edge_offsets(box, cell.box))
    return np.stack(views), np.stack(offsets)


def build_refiner_network(side: int) -> Any:
    """Four stages of two 3x3 convolutions and a pooling, then the four
    edge moves: small enough to cost a fraction of the detector's look."""
    import keras

    inputs = keras.Input((side, side, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    for filters in (24, 48, 96, 128):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(4)(x), name="box_refiner")


def agreement(found: Sequence[Box | None], truth: Sequence[LabelledCell]) -> dict[str, float]:
    """How many boxes agree with OI-PBC's (IoU >= AGREES), of all images
    (an image with no located box disagrees), and the mean IoU."""
    ious = [box.iou(cell.box) if box is not None and cell.box is not None else 0.0 for box, cell in zip(found, truth)]
    agree = sum(iou >= AGREES for iou in ious)
    return {"images": len(ious), "agree": agree, "share": agree / max(1, len(ious)),
            "mean_iou": float(np.mean(ious)) if ious else 0.0}


def train_box_refiner(
    config: RefinerTrainingConfig, out: Path, locator: CellLocator | None = None,
    progress: Callable[[str], None] = print,
) -> BoxRefinerCard:
    """Train, score on the validation split, and write the weights and card
    into `out`; returns the card."""
    import keras

    from core.detection.detector import KerasCellDetector

    started = time.monotonic()
    if locator is None:
        detector = KerasCellDetector.load()
        locator = CellLocator(DetectorProposer(detector), detector.version)  # no refiner: the boxes it learns from
    splits = pbc_splits(config)
    progress(f"locating {len(splits['train'])} training and {len(splits['val'])} validation images")
    located = {name: located_boxes(locator, cells) for name, cells in splits.items()}
    rng = np.random.default_rng(config.seed)
    x, y = training_views(splits["train"], located["train"], config.view_side, rng)
    progress(f"{len(x)} training views")
    keras.utils.set_random_seed(config.seed)
    network = build_refiner_network(config.view_side)
    network.compile(keras.optimizers.Adam(1e-3), loss=keras.losses.Huber(0.05))
    report = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: progress(f"epoch {epoch + 1}/{config.epochs}: loss {logs['loss']:.6f}"))
    network.fit(x, y, batch_size=64, epochs=config.epochs, shuffle=True, verbose=0, callbacks=[report])
    out.mkdir(parents=True, exist_ok=True)
    weights = out / CARD_NAME.replace(".json", ".keras")
    network.save(weights)
    card = BoxRefinerCard(
        name="cell-box-refiner", version=config.version, weights=weights.name, sha256=sha256_of(weights),
        view_side=config.view_side, context=CONTEXT,
        training={
            "data": "PBC (Acevedo et al. 2020) with OI-PBC's per-cell boxes, CC BY 4.0",
            "split": f"the train split of {config.classifier_config.name} (its val and test images never seen)",
            "train_images": len(splits["train"]), "every": config.every, "train_views": len(x),
            "epochs": config.epochs,
            "seed": config.seed, "boxes_from": locator.version,
            "command": f"hemalabel train-box-refiner --data DATA --out DIR --epochs {config.epochs} "
                       f"--seed {config.seed} --view-side {config.view_side} --every {config.every}",
            "minutes": round((time.monotonic() - started) / 60, 1),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    # Scored as the app locates: the same detector's boxes, then refined.
    val = splits["val"]
    refined = located_boxes(CellLocator(locator.proposer, locator.version, BoxRefiner(network, card)), val)
    card.metrics = {"validation_located": agreement(located["val"], val), "validation_refined": agreement(refined, val)}
    card.save(out / CARD_NAME)
    progress(f"validation: {card.metrics['validation_located']['agree']} -> "
             f"{card.metrics['validation_refined']['agree']} of {len(val)} boxes agree with OI-PBC's")
    return card
