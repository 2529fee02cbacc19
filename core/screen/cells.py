"""The white cells of a field, cut as the screen model sees them, cached.

The fields of the B-ALL set are 224 px wide with red cells about 15 px
across, a fifth of the size the detector learnt; at their own size it finds a
tenth of their white cells.  The screen's data preparation looks at each
field enlarged FIELD_ENLARGEMENT times: at 2x a
quarter of the pro-B fields showed no white cell, at 4x red cells began to
pass for white ones, at 3x every one of 60 fields checked had its cells
(and all 1,900 had at least one).  Crops are cut from the field at its own
size, so they are the pixels the field holds, and cached outside the
repository (crops of the data are never committed).

Each field also keeps a few of the red cells the detector finds: a red cell
is never a blast, whatever the field's diagnosis, so they are the one cell
label a leukaemic field gives for certain (training's red-cell term).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.detection.targets import CLASSES
from core.imaging import ImageReadError, load_rgb
from core.jobs import CancelToken, Job, Progress
from core.schema import Box
from core.screen.fields import Field
from core.screen.model import cut_crops
from core.training.samples import file_digest
from core.version import app_version

FIELD_ENLARGEMENT = 3.0
CACHE_VERSION = 2
# Red cells kept per field, spread over the detector's scores so that the
# doubtful ones (those it may also box as white) are among them.
RED_CELLS_KEPT = 12


@functools.cache
def cell_finder_digest() -> str:
    """What the cached cells depend on beyond the detector's weights: the
    code that finds and cuts them (core.detection and this module).  A
    change there must find the cells afresh, or a benchmark would score a
    model on cells today's detection no longer finds."""
    import core.detection

    digest = hashlib.sha1()
    for source in [*sorted(Path(core.detection.__file__).parent.rglob("*.py")), Path(__file__)]:
        try:
            digest.update(source.read_bytes())
        except OSError:  # an installed bundle keeps no source: its version stands for the code
            digest.update(app_version().encode())
    return digest.hexdigest()[:16]


@dataclass(slots=True)
class FieldCells:
    field: Field
    boxes: list[Box]  # white cells, in the field's own pixels
    crops: NDArray[Any]  # K x S x S x 3 uint8, K = len(boxes) (0 for a field with no white cell)
    red_crops: NDArray[Any] = dataclass_field(default_factory=lambda: np.zeros((0, 1, 1, 3), np.uint8))


def screen_cache_dir() -> Path:
    """HEMALABEL_CACHE_DIR if set, else a folder in the system's temp folder."""
    folder = Path(os.environ.get("HEMALABEL_CACHE_DIR") or Path(tempfile.gettempdir()) / "hemalabel-cache")
    return folder / "screen-cells"


def boxes_enlarged(detector: Any, image: NDArray[Any], factor: float = FIELD_ENLARGEMENT
                   ) -> tuple[list[Box], list[Box]]:
    """The detector's white and red cells with the image looked at enlarged
    `factor` times, as boxes in the image's own pixels, each at the card's
    operating threshold for its class.  A fixed factor rather than the
    detector's own estimate (cell-detector 2.2.1): on these fields the
    estimate left 19 malignant fields without a white cell and a model
    trained on its cells scored worse (models/README.md).  Each class comes
    most sure first."""
    thresholds = detector.card.thresholds
    boxes, scores, classes = detector.detect_arrays(image, min_score=float(min(thresholds.values())), factor=factor)
    found: dict[str, list[tuple[float, Box]]] = {"white": [], "red": []}
    for box, score, cls in zip(boxes, scores, classes):
        name = CLASSES[int(cls)]
        if name in found and score >= float(thresholds[name]):
            found[name].append((float(score), Box(*map(float, box))))
    white, red = ([box for _, box in sorted(found[name], key=lambda pair: -pair[0])] for name in ("white", "red"))
    return white, red


def spread(boxes: Sequence[Box], count: int) -> list[Box]:
    """`count` of the boxes evenly spaced through the list (all when fewer)."""
    if len(boxes) <= count:
        return list(boxes)
    return [boxes[int(i)] for i in np.linspace(0, len(boxes) - 1, count).round()]


def field_cells(
    fields: Sequence[Field],
    detector: Any,
    detector_id: str,
    input_size: int,
    margin: float,
    cache: Path | None = None,
    cancel: CancelToken | None = None,
) -> Job[list[FieldCells]]:
    """A job: each field's white cells, from the cache when it holds them for
    this detector (`detector_id`: its weights' checksum), the code that finds
    them, size and margin.
    Unreadable fields are left out."""
    cancel = cancel or CancelToken()
    cache = cache or screen_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    found: list[FieldCells] = []
    for done, field in enumerate(fields, start=1):
        cancel.raise_if_cancelled()
        key = (f"{CACHE_VERSION}:{file_digest(field.path)}:{detector_id}:{cell_finder_digest()}:{FIELD_ENLARGEMENT}:"
               f"{input_size}:{margin}")
        cached = cache / f"{hashlib.sha1(key.encode()).hexdigest()}.npz"
        if cached.is_file():
            with np.load(cached) as stored:
                boxes = [Box(*map(float, row)) for row in stored["boxes"]]
                crops, red_crops = stored["crops"], stored["red_crops"]
        else:
            try:
                image = load_rgb(field.path)
            except ImageReadError:
                continue
            boxes, red = boxes_enlarged(detector, image)
            crops = cut_crops(image, boxes, input_size, margin)
            red_crops = cut_crops(image, spread(red, RED_CELLS_KEPT), input_size, margin)
            temporary = cached.with_name(cached.stem + ".tmp.npz")
            np.savez(temporary, boxes=np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes], np.float32).reshape(-1, 4),
                     crops=crops, red_crops=red_crops)
            temporary.replace(cached)
        found.append(FieldCells(field, boxes, crops, red_crops))
        if done % 50 == 0 or done == len(fields):
            yield Progress(done, len(fields), f"white cells of {done} of {len(fields)} fields")
    return found
