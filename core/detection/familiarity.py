"""Whether a field looks like the fields the detector learnt from.

The detector decides "white cell" largely by colour: a lab whose red cells
stain blue-grey gets nearly every red cell proposed as a white cell, and
nothing in the proposals' scores says so.  So each field is described by
the colours of what the detector proposed (the middle of its red boxes and
of its white boxes) and of its background, in CIELAB's a* and b*, and
measured against the same description of the detector's training fields
(a field without a white proposal by its darkest colour instead of the
white boxes'): a field whose colours are far from every training field's
is unlike them, and its proposals are not to be trusted unchecked.  So is a field where the
detector proposes more white cells than on any training field, at a share
of the white and red proposals above a typical training field's: the
fields of a lab whose colours pass can still be misread that way (a field
the detector looks at enlarged, its red cells being small, has more cells
in all, so the share is asked too).

The reference fields, their spread and the threshold live in the
detector's card (DetectorCard.familiarity), learnt on its own training and
validation fields (core.detection.familiarity_learning), so a detector
trained elsewhere carries its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from core.schema import Box, CellKind, Slide

if TYPE_CHECKING:  # colour_turns judges fields through this module
    from core.detection.colour_turns import HueTurn

FEATURES = ("background_a", "background_b", "red_a", "red_b", "white_a", "white_b", "dark_a", "dark_b")
# A field with a white proposal is compared on its background, red and
# white colours; one without, on its background, red and darkest colours
# (most fields of a smear hold no white cell, and the training fields'
# darkest colours are read with their white boxes left out, to match).
WITH_WHITE = (0, 1, 2, 3, 4, 5)
WITHOUT_WHITE = (0, 1, 2, 3, 6, 7)
WHITE_A = FEATURES.index("white_a")  # NaN in a field without a white proposal
# The distance to the third-nearest training field, not the nearest: one
# odd training field must not make its odd neighbours look familiar.
NEIGHBOURS = 3
# Pixels as bright as this share of the field or brighter are background
# (plasma and glass); as dark as this share or darker (outside white boxes)
# are its darkest colour: mostly red cells' rims and platelets.
BACKGROUND_QUANTILE = 60.0
DARK_QUANTILE = 25.0
# Colours are read from at most about this many pixels of a field, evenly
# spread: a large scan's colours are those of its strided pixels.
_PIXELS_READ = 1_000_000

# The slide attribute `detect` writes its verdict into, and its entry
# naming the colours an unlike field's proposals were found in.
SLIDE_KEY = "proposals_check"
TURN_KEY = "colours_turned"  # the turn in words (HueTurn.describe), for people
TURN_SPEC_KEY = "colour_turn"  # the same turn for the models (HueTurn.to_attribute)
UNRELIABLE = "Proposals unreliable on this slide: check them or teach the detector"


class Proposal(Protocol):
    """A detection (core.inference.Detection), as far as colours need it;
    read-only, so frozen dataclasses qualify."""

    @property
    def box(self) -> Box: ...

    @property
    def kind(self) -> CellKind: ...


@dataclass(frozen=True, slots=True)
class FamiliarityReference:
    """The training fields' colours (N x len(FEATURES)), their spread per
    feature (distances are measured in it), the distances above which a
    field with a white proposal (threshold) and one without
    (threshold_without_white) are unlike them; and the share of white
    among white and red proposals above which a field with min_white or
    more white proposals is unlike them."""

    points: NDArray[np.float64]
    spread: NDArray[np.float64]
    threshold: float
    threshold_without_white: float
    white_share: float
    min_white: int

    @classmethod
    def from_card(cls, data: Mapping[str, Any]) -> FamiliarityReference | None:
        """From a card's familiarity section; None when it has none.
        ValueError, saying what is wrong, when the section is malformed."""
        if not data:
            return None
        try:
            features = tuple(data["features"])
            points = np.asarray(data["points"], dtype=np.float64)
            spread = np.asarray(data["spread"], dtype=np.float64)
            thresholds = float(data["threshold"]), float(data["threshold_without_white"])
            white_share = float(data["white_share"])
            min_white = int(data["min_white"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed familiarity section ({error})") from None
        if features != FEATURES:
            raise ValueError(f"familiarity features {list(features)} are not {list(FEATURES)}")
        if points.ndim != 2 or points.shape[1] != len(FEATURES) or len(points) < NEIGHBOURS + 1:
            raise ValueError(f"familiarity points must be at least {NEIGHBOURS + 1} rows of "
                             f"{len(FEATURES)} numbers")
        if spread.shape != (len(FEATURES),) or not np.all(spread > 0):
            raise ValueError(f"familiarity spread must be {len(FEATURES)} positive numbers")
        return cls(points, spread, *thresholds, white_share, min_white)

    def to_card(self, chosen_on: Mapping[str, Any]) -> dict[str, Any]:
        """The card's familiarity section; chosen_on says which fields made it."""
        return {
            "features": list(FEATURES),
            "neighbours": NEIGHBOURS,
            "threshold": round(self.threshold, 3),
            "threshold_without_white": round(self.threshold_without_white, 3),
            "white_share": round(self.white_share, 3),
            "min_white": self.min_white,
            "spread": [round(float(value), 3) for value in self.spread],
            "points": [[round(float(value), 1) for value in row] for row in self.points],
            "chosen_on": dict(chosen_on),
        }

    def unlikeness(self, colours: NDArray[Any]) -> float:
        """How far a field's colours (field_colours) are from the training
        fields': the distance to the NEIGHBOURS-th nearest, in spreads, on
        the features its proposals give (WITH_WHITE or WITHOUT_WHITE)."""
        return float(self.distances(colours[None, :], with_white=not np.isnan(colours[WHITE_A]))[0])

    def distances(self, colours: NDArray[Any], with_white: bool, leave_out_self: bool = False) -> NDArray[np.float64]:
        """unlikeness of several fields' colours (M x len(FEATURES)) compared
        on one set of features; leave_out_self: they are the points
        themselves, each not counted as its own neighbour."""
        columns = list(WITH_WHITE if with_white else WITHOUT_WHITE)
        scaled = (colours[:, columns] / self.spread[columns])[:, None, :]
        apart = np.sqrt(((scaled - self.points[:, columns] / self.spread[columns]) ** 2).sum(axis=2))
        kth: NDArray[np.float64] = np.sort(apart, axis=1)[:, NEIGHBOURS if leave_out_self else NEIGHBOURS - 1]
        return kth

    def threshold_for(self, colours: NDArray[Any]) -> float:
        return self.threshold if not np.isnan(colours[WHITE_A]) else self.threshold_without_white


@dataclass(frozen=True, slots=True)
class FieldVerdict:
    unlikeness: float  # of the field's colours (FamiliarityReference.unlikeness)
    threshold: float
    white: int  # white proposals
    white_share: float  # their share of the white and red ones
    white_share_limit: float
    min_white: int

    @property
    def unlike(self) -> bool:
        too_white = self.white >= self.min_white and self.white_share > self.white_share_limit
        return self.unlikeness > self.threshold or too_white

    def to_attribute(self, detector_version: str, turn: HueTurn | None = None) -> dict[str, Any]:
        """What a slide keeps of it (see slide_is_unlike); `turn`: how the
        colours its proposals were found in were turned."""
        kept = {"unlike": self.unlike, "unlikeness": round(self.unlikeness, 3),
                "threshold": round(self.threshold, 3), "white_proposals": self.white,
                "white_share": round(self.white_share, 3), "detector": detector_version}
        if turn is None:
            return kept
        return kept | {TURN_KEY: turn.describe(), TURN_SPEC_KEY: turn.to_attribute()}


def white_share(detections: Sequence[Proposal]) -> tuple[int, float]:
    """How many proposals are white cells, and their share of the white
    and red ones (0 when there are none)."""
    white = sum(1 for d in detections if d.kind is CellKind.WHITE)
    red = sum(1 for d in detections if d.kind is CellKind.RED)
    return white, white / (white + red) if white + red else 0.0


def field_colours(image: NDArray[Any], detections: Sequence[Proposal]) -> NDArray[np.float64]:
    """A field's description (FEATURES order): the a* and b* of its
    background, of the middle of its red boxes and of its white boxes, each
    box weighing the same, and of its darkest pixels outside white boxes.
    A field without red boxes takes the whole field's colour in their
    place; one without white boxes has NaN for theirs."""
    step = max(1, int(np.sqrt(image.shape[0] * image.shape[1] / _PIXELS_READ)))
    sample = np.ascontiguousarray(image[::step, ::step])
    lab = cv2.cvtColor(sample, cv2.COLOR_RGB2LAB).astype(np.float32)
    lightness, chroma = lab[:, :, 0], lab[:, :, 1:] - 128.0
    background = chroma[lightness >= np.percentile(lightness, BACKGROUND_QUANTILE)].mean(axis=0)
    red = _boxes_colour(image, detections, CellKind.RED, step)
    white = _boxes_colour(image, detections, CellKind.WHITE, step)
    if red is None:
        red = chroma.reshape(-1, 2).mean(axis=0)
    outside = np.ones(lightness.shape, dtype=bool)
    for detection in detections:
        if detection.kind is CellKind.WHITE:
            box = detection.box
            top, left = max(0, int(box.y0 / step)), max(0, int(box.x0 / step))
            outside[top : int(box.y1 / step) + 1, left : int(box.x1 / step) + 1] = False
    if not outside.any():
        outside[:] = True  # a white box over the whole field: its darkest pixels are its own
    dark_lightness, dark_chroma = lightness[outside], chroma[outside]
    dark = dark_chroma[dark_lightness <= np.percentile(dark_lightness, DARK_QUANTILE)].mean(axis=0)
    colours: NDArray[np.float64] = np.concatenate(
        [background, red, white if white is not None else (np.nan, np.nan), dark]
    ).astype(np.float64)
    return colours


def _boxes_colour(
    image: NDArray[Any], detections: Sequence[Proposal], kind: CellKind, step: int
) -> NDArray[np.float64] | None:
    """The mean a*, b* of the middle half (each way) of the boxes of one
    kind, box by box; None when there are none."""
    height, width = image.shape[:2]
    colours = []
    for detection in detections:
        if detection.kind is not kind:
            continue
        box = detection.box
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        half_w, half_h = (box.x1 - box.x0) / 4, (box.y1 - box.y0) / 4
        top, bottom = max(0, int(cy - half_h)), min(height, int(cy + half_h) + 1)
        left, right = max(0, int(cx - half_w)), min(width, int(cx + half_w) + 1)
        if bottom <= top or right <= left:
            continue
        middle = np.ascontiguousarray(image[top:bottom:step, left:right:step])
        lab = cv2.cvtColor(middle, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
        colours.append(lab[:, 1:].mean(axis=0) - 128.0)
    if not colours:
        return None
    mean: NDArray[np.float64] = np.mean(colours, axis=0, dtype=np.float64)
    return mean


def judge_field(
    image: NDArray[Any], detections: Sequence[Proposal], reference: FamiliarityReference | None
) -> FieldVerdict | None:
    """The verdict on one field's proposals; None without a reference."""
    if reference is None or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 2:
        return None
    white, share = white_share(detections)
    colours = field_colours(image, detections)
    return FieldVerdict(reference.unlikeness(colours), reference.threshold_for(colours), white, share,
                        reference.white_share, reference.min_white)


def unlike_sentence(unlike: int, judged: int) -> str:
    """What `detect` says of the fields it judged."""
    if not unlike:
        return f"None of the {judged} fields judged is unlike the detector's training fields"
    verb = "is" if unlike == 1 else "are"
    return (f"{unlike} of {judged} fields {verb} unlike the detector's training fields: "
            "check their proposals or teach the detector")


def slide_was_judged(slide: Slide) -> bool:
    """Whether the detector's last run over the slide judged it (see judge_field)."""
    return isinstance(slide.attributes.get(SLIDE_KEY), dict)


def slide_check_entry(slide: Slide, key: str) -> Any:
    """One entry of the verdict the detector's last run wrote on the slide
    (FieldVerdict.to_attribute); None when it wrote none."""
    check = slide.attributes.get(SLIDE_KEY)
    return check.get(key) if isinstance(check, dict) else None


def slide_is_unlike(slide: Slide) -> bool:
    """Whether the detector's last run over the slide found it unlike its
    training fields."""
    return slide_check_entry(slide, "unlike") is True


def slide_colour_turn(slide: Slide) -> str | None:
    """How an unlike slide's colours were turned to find its proposals
    ("hues turned by 180°"), None if they were its own."""
    turn = slide_check_entry(slide, TURN_KEY)
    return turn if isinstance(turn, str) else None
