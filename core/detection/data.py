"""Ground truth for training and evaluating the detector, read through the
project's own VOC and YOLO readers, and the guard that keeps test images out
of training.

TXL-PBC re-annotated many BCCD fields under new file names, so BCCD test
fields appear in TXL-PBC train and TXL-PBC test fields in BCCD train.  Images
are therefore matched by content (a small grayscale thumbnail), and any
training image that is also a test image of either set is dropped: otherwise
both benchmarks would score images the model was trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from core.formats.common import AnnotatedImage
from core.imaging import ImageReadError, load_rgb, probe_image
from core.importing import read_source
from core.schema import CellKind
from core.taxonomy import default_taxonomy

KIND_INDEX = {CellKind.WHITE: 0, CellKind.RED: 1, CellKind.PLATELET: 2}

# BCCD's VOC boxes miss many red cells (TXL-PBC's relabelling of the same
# fields has about twice as many), so on BCCD images an unlabelled red-looking
# blob is only weakly counted as background.
BCCD_NEGATIVE_WEIGHTS = (1.0, 0.3, 1.0)

# Mean absolute difference (0-255) between 32x24 thumbnails below which two
# files are the same field; different fields differ by far more than this.
_SAME_FIELD_DISTANCE = 4.0


@dataclass(slots=True)
class GroundTruth:
    """One annotated image: boxes (N x 4, x0 y0 x1 y1, image pixels) and
    class indices into targets.CLASSES."""

    path: Path
    boxes: NDArray[Any]
    classes: NDArray[Any]
    source: str = ""
    negative_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    attributes: dict[str, str] = field(default_factory=dict)


def from_annotated(image: AnnotatedImage, source: str) -> GroundTruth:
    """The boxes of one annotated image.  A box listed more than once with
    the same class and coordinates is one cell: TXL-PBC's test labels repeat
    one white cell six times, which would otherwise count five misses that no
    detector can avoid.  How many were dropped is kept in the attributes."""
    unique = list(dict.fromkeys((b.box.as_tuple(), KIND_INDEX[b.kind]) for b in image.boxes))
    boxes = np.array([box for box, _ in unique], dtype=np.float32).reshape(-1, 4)
    classes = np.array([cls for _, cls in unique], dtype=np.int64)
    attributes = dict(image.attributes)
    if len(unique) < len(image.boxes):
        attributes["duplicate_boxes"] = str(len(image.boxes) - len(unique))
    return GroundTruth(image.path, boxes, classes, source, attributes=attributes)


def read_ground_truth(source: Path, fmt: str, split: str | None = None) -> list[GroundTruth]:
    """Every image of a VOC (BCCD-like) or YOLO (TXL-PBC-like) source."""
    plan = read_source(Path(source), fmt, default_taxonomy(), split)
    return [from_annotated(image, f"{fmt}:{Path(source).name}") for image in plan.images]


def thumbnail(path: Path) -> NDArray[Any] | None:
    try:
        image = load_rgb(path)
    except ImageReadError:
        return None
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)


class _OnAField(Protocol):
    @property  # read-only, so frozen dataclasses (LabelledCell) qualify
    def path(self) -> Path: ...


_Field = TypeVar("_Field", bound=_OnAField)


def drop_duplicates_of(
    candidates: Sequence[_Field],
    held_out: Iterable[_OnAField],
    thumbs: Callable[[Path], NDArray[Any] | None] = thumbnail,
) -> tuple[list[_Field], int]:
    """The candidates (annotated fields, or cells, anything with the path of
    its image) that are not the same field as any held-out image, and how
    many were dropped."""
    references = [t for t in (thumbs(gt.path) for gt in held_out) if t is not None]
    if not references:
        return list(candidates), 0
    stack = np.stack(references).reshape(len(references), -1)
    kept = []
    for gt in candidates:
        thumb = thumbs(gt.path)
        if thumb is not None and float(np.abs(stack - thumb.reshape(-1)).mean(axis=1).min()) < _SAME_FIELD_DISTANCE:
            continue
        kept.append(gt)
    return kept, len(candidates) - len(kept)


def drop_repeats(
    fields: Sequence[GroundTruth], thumbs: Callable[[Path], NDArray[Any] | None] = thumbnail
) -> tuple[list[GroundTruth], int]:
    """The fields with every later copy of an earlier one left out, and how
    many were left out."""
    kept: list[GroundTruth] = []
    for gt in fields:
        if not drop_duplicates_of([gt], kept, thumbs)[1]:
            kept.append(gt)
    return kept, len(fields) - len(kept)


def relabelled_fields(
    samples: Sequence[GroundTruth],
    relabelled: Sequence[GroundTruth],
    thumbs: Callable[[Path], NDArray[Any] | None] = thumbnail,
) -> list[GroundTruth]:
    """The samples that another source annotated again, each with that
    source's boxes (same image, same pixel grid).  Why: BCCD's own labels
    miss many red cells and a few white cells, and TXL-PBC relabelled 40 of
    BCCD's 72 test fields, so those fields can be scored against fuller
    labels beside BCCD's."""
    looked = [(gt, thumbs(gt.path)) for gt in relabelled]
    pairs = [(gt, t) for gt, t in looked if t is not None]
    if not pairs:
        return []
    stack = np.stack([t.reshape(-1) for _, t in pairs])
    found = []
    for gt in samples:
        thumb = thumbs(gt.path)
        if thumb is None:
            continue
        distances = np.abs(stack - thumb.reshape(-1)).mean(axis=1)
        best = int(np.argmin(distances))
        if distances[best] >= _SAME_FIELD_DISTANCE:
            continue
        other = pairs[best][0]
        if _image_size(other.path) != _image_size(gt.path):
            continue  # the same field at another size: its boxes would not line up
        attributes = {**gt.attributes, "labels_from": str(other.path)}
        found.append(GroundTruth(gt.path, other.boxes, other.classes, other.source, attributes=attributes))
    return found


def _image_size(path: Path) -> tuple[int, int]:
    """From the file's header: the pixels were decoded for the thumbnail."""
    info = probe_image(path, verify_pixels=False)
    return info.width, info.height


@dataclass(slots=True)
class TrainingData:
    train: list[GroundTruth]
    val: list[GroundTruth]
    summary: dict[str, object]


def bundled_training_data(
    data_root: Path, bccd_negative_weights: tuple[float, float, float] | None = None, pbc_per_class: int = 0
) -> TrainingData:
    """TXL-PBC train + BCCD train for training, their val splits for choosing
    thresholds, with every test field (of either set) kept out of both.
    bccd_negative_weights: how much an unlabelled area of a BCCD image counts
    as background, per class (white, red, platelet); None: the bundled
    detector's, BCCD_NEGATIVE_WEIGHTS.  pbc_per_class: that many whole PBC
    images of each class from the classifier's PBC train split join the
    training fields (pbc_fields); then no training field may be one of
    PBC's test or val images (TXL-PBC holds PBC-sourced fields)."""
    from core.detection.pbc_fields import pbc_fields

    # A tuple even when the command line gave a list.
    white, red, platelet = bccd_negative_weights or BCCD_NEGATIVE_WEIGHTS
    bccd_weights = (white, red, platelet)
    txl_root, bccd_root = Path(data_root) / "txl-pbc", Path(data_root) / "bccd"
    txl_train = read_ground_truth(txl_root, "yolo", "train")
    txl_val = read_ground_truth(txl_root, "yolo", "val")
    txl_test = read_ground_truth(txl_root, "yolo", "test")
    bccd_train = read_ground_truth(bccd_root, "voc", "train")
    bccd_val = read_ground_truth(bccd_root, "voc", "val")
    bccd_test = read_ground_truth(bccd_root, "voc", "test")
    for gt in bccd_train + bccd_val:
        gt.negative_weights = bccd_weights

    cache: dict[Path, NDArray[Any] | None] = {}

    def cached(path: Path) -> NDArray[Any] | None:
        if path not in cache:
            cache[path] = thumbnail(path)
        return cache[path]

    tests = txl_test + bccd_test
    txl_train_kept, txl_dropped = drop_duplicates_of(txl_train, tests, cached)
    bccd_train_kept, bccd_dropped_test = drop_duplicates_of(bccd_train, tests, cached)
    # A BCCD field that TXL-PBC relabelled is taken once, with TXL-PBC's
    # more complete labels.
    bccd_train_kept, bccd_dropped_dup = drop_duplicates_of(bccd_train_kept, txl_train_kept, cached)
    pbc_summary: dict[str, object] = {}
    pbc_kept: list[GroundTruth] = []
    if pbc_per_class > 0:
        pbc = pbc_fields(Path(data_root) / "pbc", pbc_per_class)
        held_out = [GroundTruth(path, np.zeros((0, 4), np.float32), np.zeros(0, np.int64)) for path in pbc.held_out]
        txl_train_kept, txl_dropped_pbc = drop_duplicates_of(txl_train_kept, held_out, cached)
        pbc_kept, pbc_dropped_test = drop_duplicates_of(pbc.train, tests, cached)
        pbc_kept, pbc_dropped_dup = drop_duplicates_of(pbc_kept, txl_train_kept, cached)
        pbc_summary = {
            "pbc_fields_per_class": pbc_per_class,
            "pbc_train_used": len(pbc_kept),
            "pbc_train_without_boxes": pbc.without_boxes,
            "pbc_train_dropped_as_test_fields": pbc_dropped_test,
            "pbc_train_dropped_as_txl_pbc_duplicates": pbc_dropped_dup,
            "txl_pbc_train_dropped_as_pbc_test_or_val": txl_dropped_pbc,
        }
    # Validation chooses the operating thresholds, so it must hold no field
    # the network is tested or trained on: fields it has learnt score higher
    # than new ones, and thresholds chosen on them sit too high for new
    # fields.  Of the two val splits' 375 images, 21 are test fields and 71
    # training fields (TXL-PBC and BCCD relabelled each other's fields across
    # splits).  Of the rest, 10 BCCD val fields are TXL-PBC val fields too
    # and TXL-PBC val holds 2 fields twice: each counts once, TXL-PBC's copy
    # (fuller labels) first.
    training = txl_train_kept + bccd_train_kept + pbc_kept
    txl_val_kept, txl_val_test = drop_duplicates_of(txl_val, tests, cached)
    bccd_val_kept, bccd_val_test = drop_duplicates_of(bccd_val, tests, cached)
    txl_val_kept, txl_val_train = drop_duplicates_of(txl_val_kept, training, cached)
    bccd_val_kept, bccd_val_train = drop_duplicates_of(bccd_val_kept, training, cached)
    val, val_repeats = drop_repeats(txl_val_kept + bccd_val_kept, cached)
    summary = {
        "train_images": len(training),
        "txl_pbc_train_used": len(txl_train_kept),
        "txl_pbc_train_dropped_as_test_fields": txl_dropped,
        "bccd_train_used": len(bccd_train_kept),
        "bccd_train_dropped_as_test_fields": bccd_dropped_test,
        "bccd_train_dropped_as_txl_pbc_duplicates": bccd_dropped_dup,
        "bccd_negative_weights": list(bccd_weights),
        **pbc_summary,
        "val_images": len(val),
        "val_dropped_as_test_fields": txl_val_test + bccd_val_test,
        "val_dropped_as_training_fields": txl_val_train + bccd_val_train,
        "val_dropped_as_repeats": val_repeats,
        "train_boxes": {
            name: int(sum(int((gt.classes == index).sum()) for gt in training))
            for index, name in enumerate(("white", "red", "platelet"))
        },
    }
    return TrainingData(train=training, val=val, summary=summary)
