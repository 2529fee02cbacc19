"""The replay set shipped beside the bundled classifier.

A fine-tune on a lab's few corrections forgets what the model knew unless
it sees some of its original training data again, and a lab has no copy
of PBC.  So a compact sample ships with the app: cells of PBC's train split
(the bundled model's own, never its test split) for replay, and cells of
its validation split to check what a candidate forgot.  Each cell is stored
as the training view the trainer cuts (core.training.loading): the cell's
OI-PBC box with TRAIN_VIEW_MARGIN around it, at the size the model's input
is cut from, as a JPEG.  replay.json says how, with PBC's attribution
(CC BY 4.0).

Reproduce from the project root with the data at ../shared/data:

    uv run python -m build_scripts.make_replay_set
"""

from __future__ import annotations

import json
import os
import random
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from core.classifier.preprocess import resize_square
from core.crops import crop_square
from core.formats.crops import inner_box
from core.imaging import load_rgb
from core.resources import resource_path
from core.training.loading import TRAIN_VIEW_MARGIN, train_view_size
from core.training.samples import DatasetError, LabelledCell

MANIFEST = "replay.json"
BUNDLED_NAME = "hemalabel-wbc"  # resources/replay/<name>: the classifier it replays for
PARTS = ("train", "check")
_JPEG_QUALITY = 92
ATTRIBUTION = (
    "Cells cut from PBC: Acevedo A., Merino A., Alferez S., Molina A., Boldu L., Rodellar J., 'A dataset of "
    "microscopic peripheral blood cell images for development of automatic recognition systems', Data in Brief "
    "30 (2020) 105474, doi:10.1016/j.dib.2020.105474; data licensed CC BY 4.0 "
    "(creativecommons.org/licenses/by/4.0). Changed: each cell cropped around its OI-PBC box and resized."
)


def bundled_replay_dir() -> Path:
    return resource_path(f"replay/{BUNDLED_NAME}")


def is_replay_set(root: str | os.PathLike[str]) -> bool:
    return (Path(root) / MANIFEST).is_file()


def read_replay_set(root: str | os.PathLike[str]) -> dict[str, list[LabelledCell]]:
    """The set's cells by part (train, check), each boxed where the cell
    is in its stored view."""
    base = Path(root)
    try:
        manifest = json.loads((base / MANIFEST).read_text(encoding="utf-8"))
        margin = float(manifest["margin"])
        size = int(manifest["size"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{base / MANIFEST}: not a readable replay set ({error})") from None
    box = inner_box((size, size), margin)
    parts: dict[str, list[LabelledCell]] = {}
    for part in PARTS:
        cells = []
        folder = base / part
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
            for path in sorted(class_dir.glob("*.jpg")):
                cells.append(LabelledCell(path, box, class_dir.name, f"replay:{path.name}", "replay"))
        parts[part] = cells
    if not parts["train"]:
        raise DatasetError(f"{base}: the replay set holds no training cells")
    return parts


def write_replay_set(
    splits: dict[str, list[LabelledCell]],
    out: Path,
    input_size: int,
    model_margin: float,
    per_class: int = 150,
    check_per_class: int = 30,
    seed: int = 0,
) -> dict[str, int]:
    """Write `per_class` cells a class of splits['train'] and
    `check_per_class` of splits['val'], as training views; returns the
    count per part."""
    rng = random.Random(seed)
    size = train_view_size(input_size, model_margin)
    counts = {}
    for part, source, wanted in (("train", splits["train"], per_class), ("check", splits["val"], check_per_class)):
        by_class: dict[str, list[LabelledCell]] = defaultdict(list)
        for cell in source:
            by_class[cell.label].append(cell)
        written = 0
        for label in sorted(by_class):
            folder = out / part / label
            folder.mkdir(parents=True, exist_ok=True)
            for cell in rng.sample(by_class[label], min(wanted, len(by_class[label]))):
                assert cell.box is not None
                view = resize_square(crop_square(load_rgb(cell.path), cell.box, TRAIN_VIEW_MARGIN), size)
                ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(view[:, :, ::-1]),
                                           [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
                if not ok:
                    raise OSError(f"could not encode the view of {cell.path}")
                (folder / f"{cell.path.stem}.jpg").write_bytes(encoded.tobytes())
                written += 1
        counts[part] = written
    manifest = {
        "what": "replay set of the bundled white-cell classifier",
        "source": "PBC (../shared/data/pbc): train split for 'train', validation split for 'check', of "
                  "models/hemalabel-wbc.train.json's split (seed 0); never its test split",
        "margin": TRAIN_VIEW_MARGIN,
        "size": size,
        "per_class": per_class,
        "check_per_class": check_per_class,
        "seed": seed,
        "cells": counts,
        "attribution": ATTRIBUTION,
        "licence": "CC BY 4.0",
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return counts

