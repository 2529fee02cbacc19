"""PBC (Acevedo et al. 2020) as labelled cells, cut by its per-cell boxes.

Each PBC image is centred on one cell of its folder's class, with red cells
and platelets around it.  boxes/<stem>.txt (OI-PBC) holds YOLO boxes of every
cell; we take the box of the image's class nearest the centre, so training
crops what the detector will box at inference.  About 2% of images lack such
a box: they get a centred box of their class's median size rather than being
dropped, since dropping would remove exactly the unusual cells.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from statistics import median

from core.schema import Box
from core.training.samples import DatasetError, LabelledCell, file_digest

# OI-PBC box classes: 0 BA, 1 BNE, 2 EO, 3 ERB, 4 LY, 5 MMY, 6 MO, 7 MY, 8 PLT, 9 PMY, 10 RBC, 11 SNE
BOX_CLASSES_OF_FOLDER: dict[str, frozenset[int]] = {
    "basophil": frozenset({0}),
    "neutrophil": frozenset({1, 11}),
    "eosinophil": frozenset({2}),
    "erythroblast": frozenset({3}),
    "lymphocyte": frozenset({4}),
    "ig": frozenset({5, 7, 9}),
    "monocyte": frozenset({6}),
    "platelet": frozenset({8}),
}

# PBC images are 360x363 (a few 366x369 or 360x360); reading each header to
# learn its size would double the loading time, and the nearest-centre choice
# and the fallback box only need the size roughly.
_NOMINAL_SIZE = (360, 363)


def read_yolo_boxes(path: Path, width: int, height: int) -> list[tuple[int, Box]]:
    boxes: list[tuple[int, Box]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue
        cls = int(float(parts[0]))
        cx, cy, w, h = (float(v) for v in parts[1:])
        boxes.append(
            (cls, Box((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height))
        )
    return boxes


def pbc_cells(root: str | os.PathLike[str], classes: list[str] | None = None) -> tuple[list[LabelledCell], int]:
    """Every PBC image as one labelled cell.  Returns the cells and how many
    got the fallback centred box."""
    base = Path(root)
    images_dir, boxes_dir = base / "images", base / "boxes"
    if not images_dir.is_dir():
        raise DatasetError(f"{base}: not PBC (no images/ folder)")
    wanted = classes or sorted(BOX_CLASSES_OF_FOLDER)
    width, height = _NOMINAL_SIZE
    found: list[tuple[Path, str, Box | None]] = []
    sides: dict[str, list[float]] = defaultdict(list)
    for folder in sorted(p for p in images_dir.iterdir() if p.is_dir()):
        label = folder.name.lower()
        if label not in wanted or label not in BOX_CLASSES_OF_FOLDER:
            continue
        for path in sorted(folder.glob("*.jpg")):
            box = None
            box_file = boxes_dir / (path.stem + ".txt")
            if box_file.is_file():
                own = [b for c, b in read_yolo_boxes(box_file, width, height) if c in BOX_CLASSES_OF_FOLDER[label]]
                if own:
                    box = min(own, key=lambda b: (b.centre[0] - width / 2) ** 2 + (b.centre[1] - height / 2) ** 2)
                    sides[label].append(max(box.width, box.height))
            found.append((path, label, box))
    cells: list[LabelledCell] = []
    fallbacks = 0
    for path, label, box in found:
        if box is None:
            side = median(sides[label]) if sides[label] else min(width, height) / 2
            box = Box(width / 2 - side / 2, height / 2 - side / 2, width / 2 + side / 2, height / 2 + side / 2)
            fallbacks += 1
        cells.append(LabelledCell(path, box, label, file_digest(path), "pbc"))
    return cells, fallbacks


def has_own_box(cell: LabelledCell, root: str | os.PathLike[str]) -> bool:
    """Whether OI-PBC boxes a cell of the image's class (pbc_cells gives the
    rest a centred box of their class's median size: nothing to learn a box
    from, or to score a located box against)."""
    box_file = Path(root) / "boxes" / f"{cell.path.stem}.txt"
    return box_file.is_file() and any(
        kind in BOX_CLASSES_OF_FOLDER[cell.label] for kind, _ in read_yolo_boxes(box_file, *_NOMINAL_SIZE)
    )
