"""Other labs' normal white cells, for the screen's training: each is benign.

The B-ALL fields come from one hospital, so a screen trained on them alone
has seen normal lymphoid cells of one stain only, and flags some mature
lymphocytes of other labs.  A smear of a healthy donor gives a label for
every white cell on it, as a red cell does in a leukaemic field.  The
source is a YOLO folder (images/<split>/ beside labels/<split>/, as
TXL-PBC); `image_size` keeps only its images of one size, which is how
TXL-PBC's parts can be told apart (its Raabin-WBC part, from healthy
donors, is its 575x575 images).

Off in the bundled config: trained with Raabin-WBC's normal cells, the
screen learnt "another stain, so benign" and found fewer blasts in other
labs' colours (models/README.md, lymphoid-screen 1.2.0).  It is for a lab
that can check the result on blasts of its own stain.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.formats.common import AnnotationError
from core.imaging import ImageReadError, load_rgb
from core.importing import ImportSourceError, read_source
from core.schema import CellKind
from core.screen.config import ScreenConfig
from core.screen.model import cut_crops
from core.taxonomy import default_taxonomy
from core.training.samples import DatasetError


def normal_cell_crops(source: str | Path, splits: Sequence[str], image_size: tuple[int, int] | None,
                      input_size: int, margin: float) -> NDArray[Any]:
    """Every white cell of the source's images in `splits` (of `image_size`
    only, when given), cut as the screen model sees a cell: N x S x S x 3 uint8."""
    root = Path(source)
    if not root.is_dir():
        raise DatasetError(f"{root}: normal cells' folder not found")
    crops: list[NDArray[Any]] = []
    for split in splits:
        try:
            plan = read_source(root, "yolo", default_taxonomy(), split)
        except (AnnotationError, ImportSourceError) as error:
            raise DatasetError(f"{root}: normal cells could not be read: {error}") from None
        for image in plan.images:
            if image_size is not None and image.size != image_size:
                continue
            boxes = [b.box for b in image.boxes if b.kind is CellKind.WHITE]
            if not boxes:
                continue
            try:
                pixels = load_rgb(image.path)
            except ImageReadError:
                continue
            crops.append(cut_crops(pixels, boxes, input_size, margin))
    if not crops:
        size = f" of {image_size[0]}x{image_size[1]} px" if image_size else ""
        raise DatasetError(f"{root}: no white cell in its images{size} of split {', '.join(splits)}")
    return np.concatenate(crops)


def config_normal_cells(config: ScreenConfig) -> NDArray[Any]:
    """The config's normal cells (none when it names no folder)."""
    if not config.normal_cells:
        return np.zeros((0, config.input_size, config.input_size, 3), np.uint8)
    splits = [part.strip() for part in config.normal_cells_splits.split(",") if part.strip()]
    return normal_cell_crops(config.normal_cells, splits, config.normal_cells_size(), config.input_size,
                             config.crop_margin)
