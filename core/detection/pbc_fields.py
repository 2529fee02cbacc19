"""PBC's whole images as detector training fields.

Each PBC image (a CellaVision export, 360x363) comes with OI-PBC's boxes of
every cell in it (boxes/<stem>.txt), so it is a fully labelled small field:
one cell of the folder's class in the middle, red cells and platelets
around it.  The split is the classifier's (core.training: val 0.1, test
0.15, seed 0), so that the images the classifier and the locator are
tested on, and their val split, are never detector training fields.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.detection.data import GroundTruth
from core.imaging import probe_image
from core.training.pbc import pbc_cells, read_yolo_boxes
from core.training.splits import split_samples

# OI-PBC box classes: 0 BA, 1 BNE, 2 EO, 3 ERB, 4 LY, 5 MMY, 6 MO, 7 MY,
# 8 PLT, 9 PMY, 10 RBC, 11 SNE.  Erythroblasts are white cells, as the
# default taxonomy groups them (a nucleated cell the differential counts
# beside the white cells).
_DETECTOR_CLASS = {8: 2, 10: 1}  # platelet, red; every other class is a white cell (0)
# The classifier's split of PBC (models/hemalabel-wbc.train.json).
PBC_VAL, PBC_TEST, PBC_SEED = 0.1, 0.15, 0


@dataclass(slots=True)
class PbcFields:
    train: list[GroundTruth]  # the chosen training fields, with every OI-PBC box
    held_out: list[Path]  # the test and val images: never trained on
    without_boxes: int  # chosen train images that had no boxes file, skipped


def field_of(image: Path, boxes_file: Path) -> GroundTruth:
    """One PBC image with OI-PBC's boxes in image pixels (YOLO boxes are
    relative, so the image's own size is read from its header)."""
    info = probe_image(image, verify_pixels=False)
    read = read_yolo_boxes(boxes_file, info.width, info.height)
    boxes = np.array([box.as_tuple() for _, box in read], dtype=np.float32).reshape(-1, 4)
    classes = np.array([_DETECTOR_CLASS.get(kind, 0) for kind, _ in read], dtype=np.int64)
    return GroundTruth(image, boxes, classes, "pbc")


def pbc_fields(root: Path, per_class: int, seed: int = 0) -> PbcFields:
    """Up to `per_class` training images of each PBC class folder, drawn at
    random (seeded) from the classifier's train split, as detector fields."""
    cells, _ = pbc_cells(root)
    splits = split_samples(cells, PBC_VAL, PBC_TEST, PBC_SEED)
    by_label: dict[str, list[Path]] = defaultdict(list)
    for cell in splits["train"]:
        by_label[cell.label].append(cell.path)
    rng = np.random.default_rng(seed)
    chosen: list[Path] = []
    for label in sorted(by_label):
        paths = sorted(set(by_label[label]))
        take = min(per_class, len(paths))
        chosen.extend(paths[i] for i in sorted(rng.choice(len(paths), size=take, replace=False)))
    train, missing = [], 0
    for path in chosen:
        boxes_file = Path(root) / "boxes" / f"{path.stem}.txt"
        if not boxes_file.is_file():
            missing += 1
            continue
        train.append(field_of(path, boxes_file))
    held_out = sorted({cell.path for cell in splits["test"] + splits["val"]})
    return PbcFields(train, held_out, missing)
