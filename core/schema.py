"""The one schema: slides, cells and boxes as plain dataclasses.

Geometry stays in image pixels as floats (x0, y0) top-left inclusive to
(x1, y1) bottom-right exclusive, the convention of numpy slicing.  The GUI
converts to Qt types at its edge; core never does.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any


class CellKind(str, enum.Enum):
    """What the detector (or an annotation) says a box holds."""

    WHITE = "white"
    RED = "red"
    PLATELET = "platelet"


class LabelSource(str, enum.Enum):
    """Who decided a cell's label last.

    IMPORT means the label came with an annotation file: it is treated as a
    reviewed, human-made label, but it is not a correction of any model.
    """

    MODEL = "model"
    HUMAN = "human"
    IMPORT = "import"


class SlideStatus(str, enum.Enum):
    NEW = "new"
    PROPOSED = "proposed"
    IN_REVIEW = "in_review"
    SIGNED_OFF = "signed_off"


class CorrectionAction(str, enum.Enum):
    """The human decisions queued for retraining."""

    CONFIRM = "confirm"
    RELABEL = "relabel"
    ADD = "add"
    MOVE = "move"
    DELETE = "delete"
    # The technician's decision on a flag of the lymphoid screen: the cell
    # is a blast (its label becomes Blast), or the screen was wrong.
    CONFIRM_BLAST = "confirm_blast"
    DISMISS_BLAST = "dismiss_blast"


class BlastFlag(str, enum.Enum):
    """A screened cell's flag: NONE when the screen did not suspect it."""

    NONE = "none"
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in image pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        # The sum first: it is finite when every term is, and every cell read
        # from a project passes through here.  Only an infinite or nan sum
        # (or a huge one) needs the test of each coordinate.
        values = (self.x0, self.y0, self.x1, self.y1)
        if not math.isfinite(sum(values)) and not all(math.isfinite(v) for v in values):
            raise ValueError(f"box has a non-finite coordinate: {values}")
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(f"box corners are reversed: {values}")

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> Box:
        return cls(x, y, x + w, y + h)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def is_empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def clipped(self, width: float, height: float) -> Box:
        """The part of this box inside an image of the given size."""
        x0 = min(max(self.x0, 0.0), width)
        y0 = min(max(self.y0, 0.0), height)
        x1 = min(max(self.x1, 0.0), width)
        y1 = min(max(self.y1, 0.0), height)
        return Box(x0, y0, max(x0, x1), max(y0, y1))

    def translated(self, dx: float, dy: float) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def iou(self, other: Box) -> float:
        ix = min(self.x1, other.x1) - max(self.x0, other.x0)
        iy = min(self.y1, other.y1) - max(self.y0, other.y0)
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        return inter / (self.area + other.area - inter)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


# The key of a slide's attributes that holds the sign-off comment.
COMMENT_KEY = "comment"
# The keys that record, with a sign-off, the white-cell target it was signed
# against and, for a count short of it, the reviewer's reason for signing anyway.
SIGNED_TARGET_KEY = "signed_target"
BELOW_TARGET_KEY = "below_target_reason"
# The key that holds a sample identifier the technician gave the slide (an
# accession or patient sample number); without one the image's file stem stands in.
SAMPLE_ID_KEY = "sample_id"


@dataclass(frozen=True, slots=True)
class Slide:
    """One smear image in a project.  `path` is relative to the project file."""

    id: int
    path: str
    width: int
    height: int
    status: SlideStatus = SlideStatus.NEW
    added_at: str = ""
    signed_off_by: str | None = None
    signed_off_at: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def comment(self) -> str:
        """The reviewer's comment given with the last sign-off ("" if none)."""
        return str(self.attributes.get(COMMENT_KEY, ""))

    @property
    def image_name(self) -> str:
        """The image's file name, without the folders of its stored path."""
        return PurePosixPath(self.path).name

    @property
    def sample_id(self) -> str:
        """The sample the slide is of, as the window, the reports and `info`
        name it: the identifier the technician gave, or else the image's file
        name without its suffix ("BloodImage_00010")."""
        given = str(self.attributes.get(SAMPLE_ID_KEY, "")).strip()
        return given or PurePosixPath(self.path).stem

    @property
    def signed_target(self) -> int | None:
        """The white-cell target the slide was signed off against (None: not
        signed, or signed before targets were recorded)."""
        value = self.attributes.get(SIGNED_TARGET_KEY)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def below_target_reason(self) -> str:
        """Why the slide was signed off with fewer white cells counted than its
        target ("" when the count reached it)."""
        return str(self.attributes.get(BELOW_TARGET_KEY, ""))


@dataclass(frozen=True, slots=True)
class BlastScreen:
    """What the lymphoid screen said of a cell, and what became of its flag."""

    p_blast: float
    subtype: str  # the likeliest B-ALL subtype, should the cell be a blast
    flag: BlastFlag
    model_version: str

    @property
    def flagged(self) -> bool:
        """The screen suspected the cell, whatever the technician decided since."""
        return self.flag is not BlastFlag.NONE


@dataclass(frozen=True, slots=True)
class Cell:
    """One box on a slide and what is known about it.

    `label` is a taxonomy class name, or None while nobody (model or human)
    has classified the cell.  `probabilities` maps class names to the model's
    calibrated probabilities; it is kept when a human relabels the cell, so the
    queue can tell what the model thought.  `model_version` names the model
    that last predicted this cell: the version a correction corrects.
    """

    id: int
    slide_id: int
    box: Box
    kind: CellKind
    label: str | None = None
    source: LabelSource = LabelSource.MODEL
    probabilities: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None
    score: float | None = None
    reviewed: bool = False
    screen: BlastScreen | None = None  # None: never screened
    # Grows with every change to the cell's row, so an edit made on what a
    # station showed is refused once another station has changed the cell.
    # Not part of what the cell is: two readings of one state compare (and print) equal.
    row_version: int = field(default=0, compare=False, repr=False)

    def with_changes(self, **changes: Any) -> Cell:
        return replace(self, **changes)

    @property
    def open_blast_flag(self) -> bool:
        """The lymphoid screen suspects a blast and nobody has decided: only a
        white cell's (the gallery shows no other, so one marked red or
        platelet has no flag to decide; ProjectReader.blast_tally agrees)."""
        return self.kind is CellKind.WHITE and self.screen is not None and self.screen.flag is BlastFlag.SUSPECTED

    def top_classes(self, n: int = 3) -> list[tuple[str, float]]:
        ranked = sorted(self.probabilities.items(), key=lambda item: item[1], reverse=True)
        return ranked[:n]


@dataclass(frozen=True, slots=True)
class NewCell:
    """A cell to be added: everything but the ids the store assigns."""

    box: Box
    kind: CellKind
    label: str | None = None
    source: LabelSource = LabelSource.HUMAN
    probabilities: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None
    score: float | None = None
    reviewed: bool = False


@dataclass(frozen=True, slots=True)
class Correction:
    """One human decision in the retraining queue."""

    id: int
    at: str
    slide_id: int
    cell_id: int
    action: CorrectionAction
    old_label: str | None
    new_label: str | None
    old_box: Box | None
    new_box: Box | None
    model_version: str | None
