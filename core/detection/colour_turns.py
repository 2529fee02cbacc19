"""Looking at a field unlike the training fields in the colours it learnt.

The detector decides "white cell" largely by colour, so on a field whose
stain turned the colours (a lab's red cells blue-grey, a camera's channels
swapped) it calls red cells white or finds nothing.  Such a field is told
by its familiarity verdict (core.detection.familiarity).  Its colours can
often be brought back: every hue turned by a common angle, or red and blue
swapped (a hue reflection), leaves each cell's shape and darkness as they
were.  So an unlike field is looked at again under each such turn; of the
turns under which the field is no longer unlike, the one whose proposals
the detector is surest of (the largest sum of their scores) is taken: in
the colours it learnt the detector finds every cell, and surely.

A lab's fields share their stain, so within one detection run the first
fields searched vote, and once VOTES have voted and more than half of
them agree, their turn is tried on each later field (one look instead of
23; votes that disagree, as on a stain no turn undoes, set no turn and
the searching goes on field by field): an unlike field is
looked at in it if it makes the field familiar, and so is a field that
passes for familiar as it is when the detector is surer of it turned (a
red-blue swap leaves some fields' colours near the training fields').  Fields no turn
makes familiar (a greyed field has no hue to turn) stop the searching after
FRUITLESS of them.  The verdict kept is the field's own, unlike, so the
technician is still told to check: only the proposals come from the
turned colours.

The run agrees on its fields' magnification in the same way
(core.detection.magnification.LabMagnification): each field is looked at
first by the lab's factor, in its own colours and in turned ones alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.detection.familiarity import (
    TURN_SPEC_KEY,
    FamiliarityReference,
    FieldVerdict,
    judge_field,
    slide_check_entry,
)
from core.detection.magnification import LabMagnification, Magnification, MagnifyingDetector
from core.schema import Slide

if TYPE_CHECKING:  # core.inference detects through this module
    from core.inference import CellDetector, Detection

# Hue turns tried, degrees: the reference's neighbours are about this far
# apart in hue, so the nearest turn lands within the training fields' spread.
STEP = 30
# Searched fields whose chosen turns must agree before the majority's is
# tried first, and fields no turn could make familiar before searching stops.
VOTES = 3
FRUITLESS = 10


@dataclass(frozen=True, slots=True)
class HueTurn:
    """Red and blue swapped first (a reflection of the hue circle about
    green) if `swapped`, then every hue turned by `degrees`."""

    swapped: bool
    degrees: int

    def describe(self) -> str:
        turned = f"hues turned by {self.degrees}\N{DEGREE SIGN}" if self.degrees else ""
        swapped = "red and blue swapped" if self.swapped else ""
        return ", ".join(part for part in (swapped, turned) if part)

    def to_attribute(self) -> dict[str, Any]:
        return {"swapped": self.swapped, "degrees": self.degrees}

    @classmethod
    def from_attribute(cls, value: Any) -> HueTurn | None:
        """The turn a slide attribute records; None when it records none or
        is not one (written by hand, or by a later version)."""
        if not isinstance(value, dict):
            return None
        swapped, degrees = value.get("swapped"), value.get("degrees")
        if not isinstance(swapped, bool) or not isinstance(degrees, int) or isinstance(degrees, bool):
            return None
        turn = cls(swapped, degrees % 360)
        return turn if turn in TURNS else None


TURNS = tuple(
    HueTurn(swapped, degrees) for swapped in (False, True) for degrees in range(0, 360, STEP) if swapped or degrees
)


def agreed_turn(votes: Counter[HueTurn]) -> HueTurn | None:
    """The turn of a lab's fields: chosen by VOTES fields at least and by
    more than half of those that chose one; None while they disagree (a
    stain no turn undoes gives each field a turn of its own)."""
    cast = sum(votes.values())
    if cast < VOTES:
        return None
    turn, count = votes.most_common(1)[0]
    return turn if 2 * count > cast else None


def slide_turn(slide: Slide) -> HueTurn | None:
    """The turn a slide's proposals were found in (the last detection's), None if its own colours."""
    return HueTurn.from_attribute(slide_check_entry(slide, TURN_SPEC_KEY))


def project_turn(slides: Iterable[Slide]) -> HueTurn | None:
    """The turn the project's fields agreed on when their proposals were found (agreed_turn)."""
    return agreed_turn(Counter(turn for slide in slides if (turn := slide_turn(slide)) is not None))


def in_model_colours(image: NDArray[Any], slide: Slide, lab_turn: HueTurn | None) -> NDArray[Any]:
    """The slide's pixels as the classifier, the screen and the learning
    look at them: in the colours its proposals were found in when that is
    the turn its lab's fields agreed on (project_turn), else as they are.
    A lab's shared turn brings back the colours the classifier learnt too;
    a field turned on its own, as on a stain no turn undoes, is left as it
    is, since a turn that made it familiar to the detector can mislead the
    classifier there (models/README.md has the figures)."""
    turn = model_colours(slide, lab_turn)
    return turned(image, turn) if turn is not None else image


def model_colours(slide: Slide, lab_turn: HueTurn | None) -> HueTurn | None:
    """The turn in_model_colours looks at the slide in; None: its own colours."""
    turn = slide_turn(slide)
    return turn if turn is not None and turn == lab_turn else None


def turned(image: NDArray[Any], turn: HueTurn) -> NDArray[np.uint8]:
    """The image under `turn`, its saturation and value kept."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int16)
    hue = hsv[:, :, 0]  # OpenCV's hue runs 0-179, two degrees a step
    if turn.swapped:
        hue = (120 - hue) % 180  # 240 - h degrees: red and blue change places, green stays
    hsv[:, :, 0] = (hue + turn.degrees // 2) % 180
    return np.asarray(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB), np.uint8)


@dataclass(frozen=True, slots=True)
class SeenField:
    detections: list[Detection]
    verdict: FieldVerdict | None  # of the field as it is (None: not judged)
    turn: HueTurn | None  # the colours the detections were found in; None: the field's own
    # The magnification the detections were found at; None: not measured
    # (a detector without a ruler).
    magnification: Magnification | None = None


# A look's detections and the magnification they were found at.
_Look = tuple[list["Detection"], Magnification | None]


class ColourTurner:
    """Detection over one run of fields (a `detect`, a Detect All): each
    field detected at its lab's magnification, judged, and, when unlike,
    looked at again in turned colours.  Not shared between threads."""

    def __init__(self, detector: CellDetector) -> None:
        self.detector = detector
        self.reference: FamiliarityReference | None = getattr(detector, "familiarity", None)
        self.votes: Counter[HueTurn] = Counter()
        self.fruitless = 0
        # A detector with a ruler is looked through at the lab's magnification.
        self._measuring = detector if isinstance(detector, MagnifyingDetector) else None
        self.lab = LabMagnification(self._measuring.ruler() if self._measuring is not None else None)

    def detect(self, image: NDArray[Any]) -> SeenField:
        seen = self._seen(image)
        if seen.magnification is not None:
            self.lab.observe(seen.magnification)
        return seen

    def _seen(self, image: NDArray[Any]) -> SeenField:
        detections, magnification = self._detections(image)
        verdict = judge_field(image, detections, self.reference)
        own = SeenField(detections, verdict, None, magnification)
        turn = agreed_turn(self.votes)
        if verdict is None or not (verdict.unlike or turn is not None) or not _has_hue(image):
            return own
        if turn is not None:
            found = self._look(image, turn)
            # A field of a turned lab can pass for familiar as it is: in the
            # run's turn it is taken if the detector is surer of it there.
            if found is not None and (verdict.unlike or _sureness(found[0]) > _sureness(detections)):
                return SeenField(found[0], verdict, turn, found[1])
            return own
        best = self._search(image) if self.fruitless < FRUITLESS else None
        if best is None:
            self.fruitless += 1
            return own
        (found_detections, found_magnification), best_turn = best
        self.votes[best_turn] += 1
        return SeenField(found_detections, verdict, best_turn, found_magnification)

    def colours_for(self, image: NDArray[Any]) -> NDArray[Any]:
        """The image in the colours this run finds its cells in: for scoring
        a detector's proposals as `detect` makes them."""
        turn = self.detect(image).turn
        return turned(image, turn) if turn is not None else image

    def _detections(self, image: NDArray[Any]) -> _Look:
        """The detector's detections, looked at first by the lab's factor."""
        if self._measuring is not None:
            magnification, detections = self._measuring.detect_magnified(image, self.lab.start())
            return detections, magnification
        return self.detector.detect(image), None

    def _look(self, image: NDArray[Any], turn: HueTurn) -> _Look | None:
        """The detections in turned colours if the field is familiar in them."""
        recoloured = turned(image, turn)
        detections, magnification = self._detections(recoloured)
        verdict = judge_field(recoloured, detections, self.reference)
        return (detections, magnification) if verdict is not None and not verdict.unlike else None

    def _search(self, image: NDArray[Any]) -> tuple[_Look, HueTurn] | None:
        """Of the turns that make the field familiar, the one whose
        proposals the detector is surest of; None when no turn does."""
        familiar = [(found, turn) for turn in TURNS if (found := self._look(image, turn)) is not None]
        return max(familiar, key=lambda pair: _sureness(pair[0][0]), default=None)


def _sureness(detections: Sequence[Detection]) -> float:
    return float(sum(detection.score for detection in detections))


def _has_hue(image: NDArray[Any]) -> bool:
    """Whether turning hues can change the image: not a grey one."""
    if image.ndim != 3 or image.shape[2] != 3:
        return False
    sample = image[::4, ::4].astype(np.int16)
    spread = sample.max(axis=2) - sample.min(axis=2)  # 0 where a pixel is grey
    return bool(spread.max() > 8)
