"""Cutting labelled cells into arrays for training and evaluation.

Two views of each cell come from one decode of its image:
- the evaluation view, exactly what inference computes: crop_square with the
  model's margin, then resize_square to the input size;
- the training view, a wider crop (more margin, a little more resolution)
  from which augmentation cuts shifted and rescaled windows, so a shifted
  window still shows real pixels rather than padding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.classifier.preprocess import resize_square
from core.crops import crop_square
from core.detection.colour_turns import turned
from core.imaging import ImageReadError, load_rgb
from core.jobs import CancelToken, Job, Progress
from core.schema import Box
from core.training.samples import LabelledCell

# The training view's margin (see crop_square): wider than any model margin,
# so the evaluation crop is a centred window of it (CellArrays.eval_window).
TRAIN_VIEW_MARGIN = 0.3


@dataclass(slots=True)
class CellArrays:
    train_view: NDArray[Any]  # N x R x R x 3 uint8 (R = train_view_size)
    eval_view: NDArray[Any]  # N x S x S x 3 uint8 (S = input size)
    labels: NDArray[Any]  # N int32 indices into classes
    samples: list[LabelledCell]
    skipped: list[tuple[str, str]]
    margin: float

    @property
    def eval_window(self) -> float:
        """The evaluation crop's side as a fraction of the training view's."""
        return (1.0 + 2.0 * self.margin) / (1.0 + 2.0 * TRAIN_VIEW_MARGIN)

    def subset(self, mask: NDArray[Any]) -> CellArrays:
        indices = np.flatnonzero(mask)
        return CellArrays(
            train_view=self.train_view[indices] if len(self.train_view) else self.train_view,
            eval_view=self.eval_view[indices],
            labels=self.labels[indices],
            samples=[self.samples[i] for i in indices],
            skipped=list(self.skipped),
            margin=self.margin,
        )


def train_view_size(input_size: int, margin: float) -> int:
    return int(np.ceil(input_size * (1.0 + 2.0 * TRAIN_VIEW_MARGIN) / (1.0 + 2.0 * margin)))


def whole_file_box(image: NDArray[Any], margin: float) -> Box:
    """The box for which crop_square(image, box, margin) is the whole file:
    how a ready-made crop from a class folder joins the same code path."""
    height, width = image.shape[:2]
    side = max(height, width) / (1.0 + 2.0 * margin)
    cx, cy = width / 2.0, height / 2.0
    return Box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def load_cells(
    samples: Sequence[LabelledCell],
    classes: Sequence[str],
    input_size: int,
    margin: float,
    with_train_view: bool = True,
    cancel: CancelToken | None = None,
) -> Job[CellArrays]:
    """A job: decode each image once and cut every view.  Unreadable images
    are listed in `skipped` and left out.  Returns CellArrays."""
    cancel = cancel or CancelToken()
    index_of = {name: i for i, name in enumerate(classes)}
    by_path: dict[str, list[int]] = defaultdict(list)
    for i, sample in enumerate(samples):
        by_path[str(sample.path)].append(i)
    size_r = train_view_size(input_size, margin)
    n = len(samples)
    train_view = np.zeros((n if with_train_view else 0, size_r, size_r, 3), np.uint8)
    eval_view = np.zeros((n, input_size, input_size, 3), np.uint8)
    keep = np.zeros(n, bool)
    skipped: list[tuple[str, str]] = []
    for done, (path, indices) in enumerate(by_path.items(), start=1):
        cancel.raise_if_cancelled()
        try:
            image = load_rgb(path)
        except ImageReadError as error:
            skipped.append((path, error.reason))
            continue
        if (turn := samples[indices[0]].colours) is not None:  # a field's cells share its colours
            image = turned(image, turn)
        for i in indices:
            box = samples[i].box or whole_file_box(image, margin)
            eval_view[i] = resize_square(crop_square(image, box, margin), input_size)
            if with_train_view:
                train_view[i] = resize_square(crop_square(image, box, TRAIN_VIEW_MARGIN), size_r)
            keep[i] = True
        if done % 200 == 0 or done == len(by_path):
            yield Progress(done, len(by_path), f"read {done} of {len(by_path)} images")
    kept = [s for s, k in zip(samples, keep) if k]
    arrays = CellArrays(
        train_view=train_view[keep] if with_train_view else train_view,
        eval_view=eval_view[keep],
        labels=np.array([index_of[s.label] for s in kept], np.int32),
        samples=kept,
        skipped=skipped,
        margin=margin,
    )
    return arrays
