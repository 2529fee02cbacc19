"""Bringing a located cell's box to the box the classifier learnt from.

The classifier learnt PBC's cells cut by their OI-PBC boxes, and the
detector draws its boxes its own way: a basophil's box takes in the ragged
granular rim OI-PBC leaves out, an erythroblast's can stop at its nucleus.
So a single-cell image's located box is handed to a small network that saw
the cell and its surroundings (a view of CONTEXT times the box's longer
side) and says how far each edge of the box lies from where OI-PBC would
draw it, in units of the box's longer side.  It learnt that from PBC's
training split alone (hemalabel train-box-refiner), so the classifier's
training and its inference cut cells the same way.

A move larger than the card's max_shift is not believed (the view is of
something the refiner never learnt): the box stays as located.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.finite_json import strict_dumps
from core.formats.common import atomic_write_text
from core.models.files import ModelCardError, checked_weights
from core.models.kinds import BOX_REFINER_CARD_FORMAT, card_kind, read_card_json
from core.resources import bundled_models_dir
from core.schema import Box

CARD_NAME = "cell-box-refiner.json"
# The view's side over the box's longer side: the cell, and enough of its
# surroundings to tell where it ends.
CONTEXT = 1.6
# The view's side in pixels: a 60-150 px cell seen at 40 px, enough for its
# edges; the network costs about a tenth of the locator's time an image.
VIEW_SIDE = 64


@dataclass(slots=True)
class BoxRefinerCard:
    name: str
    version: str
    weights: str  # file name, beside the card
    sha256: str
    view_side: int = VIEW_SIDE
    context: float = CONTEXT
    # A predicted edge move beyond this fraction of the box's longer side is
    # not believed, and the box is kept as located.
    max_shift: float = 0.3
    convention: str = "OI-PBC's per-cell boxes of the PBC dataset (the boxes the classifier's PBC cells are cut by)"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: str = BOX_REFINER_CARD_FORMAT

    def save(self, path: Path) -> None:
        atomic_write_text(path, strict_dumps(asdict(self)) + "\n")  # a crash mid-write must not leave half a card

    @classmethod
    def load(cls, path: Path) -> BoxRefinerCard:
        data = read_card_json(path, "box-refiner")
        if card_kind(data) != "box-refiner":
            raise ModelCardError(f"{path}: not a box refiner's card (format must be {BOX_REFINER_CARD_FORMAT!r})")
        try:
            card = cls(**data)
        except TypeError as error:
            raise ModelCardError(f"{path}: malformed model card ({error})") from None
        if card.view_side < 16 or card.context < 1.0 or not 0.0 < card.max_shift <= 1.0:
            raise ModelCardError(f"{path}: view_side {card.view_side}, context {card.context} or "
                                 f"max_shift {card.max_shift} out of range")
        return card

    def check_weights(self, card_path: Path) -> Path:
        return checked_weights(card_path, self.weights, self.sha256)


def view(image: NDArray[Any], box: Box, side: int = VIEW_SIDE, context: float = CONTEXT) -> NDArray[np.uint8]:
    """The refiner's view of a box: a square of `context` times its longer
    side around its centre, `side` pixels a side, the border replicated
    beyond the image.  Training and refining both cut it here."""
    extent = context * max(box.width, box.height, 1.0)
    scale = side / extent
    cx, cy = box.centre
    # Box corners are pixel edges and the warp maps pixel centres: hence the halves.
    shift_x, shift_y = side / 2 - 0.5 + (0.5 - cx) * scale, side / 2 - 0.5 + (0.5 - cy) * scale
    warp = np.array([[scale, 0.0, shift_x], [0.0, scale, shift_y]], np.float32)
    cut = cv2.warpAffine(image, warp, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(cut, np.uint8)


def edge_offsets(box: Box, target: Box) -> NDArray[np.float32]:
    """How far each edge of `target` (x0, y0, x1, y1) lies from `box`'s, in
    units of `box`'s longer side: what the refiner learns to say."""
    unit = max(box.width, box.height, 1.0)
    offsets: NDArray[np.float32] = ((np.array(target.as_tuple()) - np.array(box.as_tuple())) / unit).astype(np.float32)
    return offsets


def moved(box: Box, offsets: NDArray[Any], width: int, height: int) -> Box | None:
    """`box` with its edges moved by edge_offsets' units, clipped to an
    image of width x height; None when no box is left."""
    unit = max(box.width, box.height, 1.0)
    x0, y0, x1, y1 = (float(v) for v in np.array(box.as_tuple()) + np.asarray(offsets, np.float64) * unit)
    x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)
    return Box(x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def bundled_refiner_card() -> Path:
    return bundled_models_dir() / CARD_NAME


class BoxRefiner:
    """A trained refiner and its card."""

    def __init__(self, model: Any, card: BoxRefinerCard) -> None:
        self.model = model
        self.card = card
        self.version = f"{card.name}-{card.version}"

    @classmethod
    def load(cls, card_path: str | os.PathLike[str] | None = None) -> BoxRefiner:
        """The refiner whose card is at `card_path` (default: the bundled
        one); ModelCardError naming the file if card and weights disagree."""
        from core.keras_files import load_keras_file

        path = Path(card_path) if card_path is not None else bundled_refiner_card()
        card = BoxRefinerCard.load(path)
        model = load_keras_file(card.check_weights(path), ModelCardError, "the box refiner's weights")
        shape = tuple(model.input_shape[1:])
        if shape != (card.view_side, card.view_side, 3) or tuple(model.output_shape[1:]) != (4,):
            raise ModelCardError(f"{path}: the network takes {shape} and gives {model.output_shape[1:]}, "
                                 f"the card says views of {card.view_side} px and four edge moves")
        return cls(model, card)

    def offsets(self, images: Sequence[NDArray[Any]], boxes: Sequence[Box]) -> NDArray[np.float32]:
        """The network's edge moves for each (image, box), N x 4."""
        if not boxes:
            return np.zeros((0, 4), np.float32)
        views = np.stack([view(image, box, self.card.view_side, self.card.context)
                          for image, box in zip(images, boxes)])
        out: NDArray[np.float32] = np.asarray(self.model.predict_on_batch(views.astype(np.float32)), np.float32)
        return out

    def refine(self, images: Sequence[NDArray[Any]], boxes: Sequence[Box]) -> list[Box]:
        """Each box moved to where the refiner says OI-PBC would draw it,
        clipped to its image; kept as it is when the move is beyond
        max_shift or would leave no box."""
        refined = []
        for image, box, offsets in zip(images, boxes, self.offsets(images, boxes)):
            believed = bool(np.all(np.isfinite(offsets))) and float(np.abs(offsets).max()) <= self.card.max_shift
            new = moved(box, offsets, image.shape[1], image.shape[0]) if believed else None
            refined.append(new if new is not None else box)
        return refined
