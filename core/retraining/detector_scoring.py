"""Comparing a fine-tuned detector with the one in use on the same fields:
the lab's held-out reviewed fields, and a few of the original validation
fields (what the fine-tune forgot)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from core.detection.evaluation import ImageResult, evaluate
from core.finite_json import finite_or_none

# The candidate must find white cells better than this on the lab's fields
# (white AP50) before promoting it is advised: smaller gaps are a cell or two.
MIN_WHITE_GAIN = 0.01
# Nor may it lose more than this of white precision or recall there, or of
# white AP50 on the original fields.
MAX_WHITE_DROP = 0.02
# Fewer white cells than this on the held-out fields and no advice is given.
MIN_WHITE_CELLS = 5


@dataclass(slots=True)
class DetectorScores:
    model: str
    fields: int
    white_cells: int
    white_ap50: float
    white_precision: float
    white_recall: float
    red_ap50: float
    platelet_ap50: float

    def to_dict(self) -> dict[str, Any]:
        """A figure with no value (NaN: a class with no box on the fields)
        is None, which JSON writes as null."""
        out: dict[str, Any] = finite_or_none(asdict(self))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorScores:
        values: dict[str, Any] = {key: float("nan") if value is None else value for key, value in data.items()}
        return cls(**values)

    def line(self) -> str:
        return (f"{self.model}: white AP50 {_figure(self.white_ap50)}, precision {_figure(self.white_precision)}, "
                f"recall {_figure(self.white_recall)}; red AP50 {_figure(self.red_ap50)}, platelet AP50 "
                f"{_figure(self.platelet_ap50)}")


def _figure(value: float) -> str:
    """A score as a person reads it: 'n/a' where the fields held no box to score."""
    return f"{value:.3f}" if math.isfinite(value) else "n/a"


def detector_scores(model: str, results: Sequence[ImageResult], thresholds: dict[str, float]) -> DetectorScores:
    """One detector's figures on some fields, at its card's thresholds.  A
    class with no box on the fields scores NaN (n/a in line(), null in to_dict())."""
    per_class = evaluate(list(results), thresholds)
    white = per_class["white"]
    return DetectorScores(model, len(results), int(sum(int((r.gt_classes == 0).sum()) for r in results)),
                          float(white["ap50"]), float(white["precision"]), float(white["recall"]),
                          float(per_class["red"]["ap50"]), float(per_class["platelet"]["ap50"]))


@dataclass(slots=True)
class DetectorComparison:
    held_out: tuple[DetectorScores, DetectorScores]  # the model in use, the candidate
    original: tuple[DetectorScores, DetectorScores] | None
    recommendation: str
    promote_advised: bool

    def to_dict(self) -> dict[str, Any]:
        return {"held_out": [s.to_dict() for s in self.held_out],
                "original": None if self.original is None else [s.to_dict() for s in self.original],
                "recommendation": self.recommendation, "promote_advised": self.promote_advised}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorComparison:
        held = data["held_out"]
        original = data.get("original")
        return cls((DetectorScores.from_dict(held[0]), DetectorScores.from_dict(held[1])),
                   None if original is None else (DetectorScores.from_dict(original[0]),
                                                  DetectorScores.from_dict(original[1])),
                   str(data["recommendation"]), bool(data["promote_advised"]))

    def lines(self) -> list[str]:
        out = [f"held-out reviewed fields ({self.held_out[0].fields}, {self.held_out[0].white_cells} white cells):",
               "  " + self.held_out[0].line(), "  " + self.held_out[1].line()]
        if self.original is not None:
            out += [f"original validation fields ({self.original[0].fields}, not trained on):",
                    "  " + self.original[0].line(), "  " + self.original[1].line()]
        return [*out, self.recommendation]


def _drop(before: float, after: float) -> float:
    """How much a figure fell (nan on either side: no fall is known)."""
    return before - after if before == before and after == after else 0.0


def compare(held_out: tuple[DetectorScores, DetectorScores],
            original: tuple[DetectorScores, DetectorScores] | None) -> DetectorComparison:
    """The comparison with its advice."""
    current, candidate = held_out
    if current.white_cells < MIN_WHITE_CELLS:
        text = (f"Too few held-out white cells ({current.white_cells}) to judge; review more fields before "
                "promoting a new detector.")
        return DetectorComparison(held_out, original, text, False)
    gain = candidate.white_ap50 - current.white_ap50
    losses = []
    for what, before, after in (("white precision", current.white_precision, candidate.white_precision),
                                ("white recall", current.white_recall, candidate.white_recall)):
        if _drop(before, after) > MAX_WHITE_DROP:
            losses.append(f"{what} falls {before:.3f} -> {after:.3f} on the held-out fields")
    if original is not None and _drop(original[0].white_ap50, original[1].white_ap50) > MAX_WHITE_DROP:
        losses.append(f"white AP50 on the original fields falls {original[0].white_ap50:.3f} -> "
                      f"{original[1].white_ap50:.3f}")
    if losses:
        return DetectorComparison(held_out, original, "Keep the detector in use: " + "; ".join(losses) + ".", False)
    if gain < MIN_WHITE_GAIN:
        return DetectorComparison(held_out, original, f"Keep the detector in use: white AP50 changes by {gain:+.3f} "
                                  "on the held-out fields, too little to be sure.", False)
    return DetectorComparison(held_out, original, f"Promote: white AP50 {current.white_ap50:.3f} -> "
                              f"{candidate.white_ap50:.3f} on the held-out reviewed fields.", True)
