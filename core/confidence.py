"""A cell's confidence: one number, one rule, for the canvas, the gallery,
the inspector and the report.

The confidence is how sure a model is of what the cell is shown as now:
- a cell with a class the classifier scored: its probability for that class,
  whoever chose the class.  A technician's decision does not make it 100%,
  and a class the technician chose over the model's top class keeps the
  (low) probability the model gave it: that disagreement is worth seeing;
- a cell without a class yet (none, or Unidentified) that the classifier
  saw: its probability for its best guess, how close it came;
- a cell with a class the classifier has no output for (a technician's class
  outside the classifier): none, as the classifier was never asked;
- a cell the classifier never saw: the detector's score for its box, except
  for a white cell without a class, where a box score would read as a
  class's probability;
- nothing predicted at all: none.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from core.schema import Cell, CellKind
from core.taxonomy import UNIDENTIFIED


class ConfidenceBasis(enum.Enum):
    """Whose number a confidence is."""

    CLASS = "class"  # the classifier's probability for the cell's class
    BEST_GUESS = "best_guess"  # no class yet: the classifier's probability for its top class
    BOX = "box"  # not classified: the detector's score for the box
    OUTSIDE_CLASSIFIER = "outside_classifier"  # a class the classifier has no output for
    NONE = "none"  # nothing predicted


@dataclass(frozen=True, slots=True)
class Confidence:
    """`value` in 0..1, or None where there is no number to give; `guess`:
    the class a BEST_GUESS is for."""

    value: float | None
    basis: ConfidenceBasis
    guess: str | None = None

    def below(self, limit: float) -> bool:
        """Whether there is a number and it is under `limit`."""
        return self.value is not None and self.value < limit


_NO_NUMBER = Confidence(None, ConfidenceBasis.NONE)


def cell_confidence(cell: Cell) -> Confidence:
    """The confidence of a cell, by the rule in this module's docstring."""
    without_class = cell.label in (None, UNIDENTIFIED)
    if cell.probabilities:
        if without_class:
            name, probability = cell.top_classes(1)[0]
            return _of(probability, ConfidenceBasis.BEST_GUESS, name)
        if cell.label in cell.probabilities:
            return _of(cell.probabilities[cell.label], ConfidenceBasis.CLASS)
        return Confidence(None, ConfidenceBasis.OUTSIDE_CLASSIFIER)
    if cell.score is not None and not (without_class and cell.kind is CellKind.WHITE):
        return _of(cell.score, ConfidenceBasis.BOX)
    return _NO_NUMBER


def _of(value: float, basis: ConfidenceBasis, guess: str | None = None) -> Confidence:
    # A project may hold a NaN or an out-of-range number (an old import): no
    # number is better than one that sorts and reads as a probability.
    try:
        number = float(value)
    except (TypeError, ValueError):
        return Confidence(None, basis, guess)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        return Confidence(None, basis, guess)
    return Confidence(number, basis, guess)
