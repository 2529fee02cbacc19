"""The cell detector's card: a JSON file beside the weights that says what
the model is, how to feed it, its thresholds and metrics, and the sha256 of
the weights it describes (checked before loading)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.finite_json import strict_dumps
from core.formats.common import atomic_write_text
from core.models.files import ModelCardError, checked_weights
from core.models.kinds import DETECTOR_CARD_FORMAT, card_kind, read_card_json


@dataclass(slots=True)
class DetectorCard:
    name: str
    version: str
    weights: str  # file name, beside the card
    sha256: str
    classes: list[str]
    work_scale: float  # image pixels -> network pixels
    tile: int  # tile side, in network pixels (tile / work_scale image pixels)
    overlap: int  # tile overlap, in network pixels
    thresholds: dict[str, float]
    nms_iou: float = 0.5
    min_score: float = 0.05  # lowest score kept for AP evaluation
    flip_average: bool = False  # average the heatmap with that of the mirrored image
    # More working scales to look at each tile with; their detections are
    # fused with work_scale's (fusion.fuse_detections).  Empty: one look.
    extra_scales: list[float] = field(default_factory=list)
    # Looks taken by a second trained network, another run of the recipe:
    # its weights file beside the card, their sha256, and the working scales
    # it looks at; fused with the looks above.  Two runs disagree on doubtful
    # cells more than one run at two scales does, so the cells both believe
    # rank higher (models/README.md, "A second network").  Empty: none.
    partner_weights: str = ""
    partner_sha256: str = ""
    partner_scales: list[float] = field(default_factory=list)
    # The training fields' red-cell sides, image pixels, as [low, high] (2nd
    # and 95th percentile of each field's median): the ruler by which an
    # image's magnification is judged (core.detection.magnification.RedRuler).
    # Empty: unknown, every image is looked at as it is.  red_cell_median:
    # the median field's, which a lab at another magnification is brought
    # to; None: unknown, the middle of the range stands for it.  Both as the
    # detector reads them (core.detection.ruler_learning), or, before it has
    # read them, as the labels say.
    red_cell_range: list[float] = field(default_factory=list)
    red_cell_median: float | None = None
    # The colours of the training fields and the distance from them above
    # which a field's proposals are unreliable
    # (core.detection.familiarity.FamiliarityReference.to_card).  Empty:
    # unknown, no field is judged.
    familiarity: dict[str, Any] = field(default_factory=dict)
    preprocessing: str = "RGB uint8 values 0-255 (the model rescales); image shrunk by work_scale with INTER_AREA"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: str = DETECTOR_CARD_FORMAT

    def to_json(self) -> str:
        return strict_dumps(asdict(self))  # a figure with no value (NaN) is written null

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.to_json() + "\n")  # a crash mid-write must not leave half a card

    @classmethod
    def load(cls, path: Path) -> DetectorCard:
        data = read_card_json(path, "detector")
        if card_kind(data) != "detector":
            raise ModelCardError(f"{path}: not a HemaLabel detector card (format must be {DETECTOR_CARD_FORMAT!r})")
        try:
            return cls(**data)
        except TypeError as error:
            raise ModelCardError(f"{path}: malformed model card ({error})") from None

    def weights_path(self, card_path: Path) -> Path:
        return Path(card_path).with_name(self.weights)

    def check_weights(self, card_path: Path) -> Path:
        """The weights file, refused if it is missing or is not the one the
        card describes."""
        return checked_weights(card_path, self.weights, self.sha256)

    def check_partner_weights(self, card_path: Path) -> Path | None:
        """The second network's weights file (None if the card names none),
        checked as the first's are."""
        if not self.partner_weights:
            if self.partner_scales:
                raise ModelCardError(f"{card_path}: partner_scales given but no partner_weights")
            return None
        if not self.partner_scales:
            raise ModelCardError(f"{card_path}: partner_weights {self.partner_weights} given but no partner_scales")
        return checked_weights(card_path, self.partner_weights, self.partner_sha256)
