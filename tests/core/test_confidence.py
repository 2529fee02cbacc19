"""A cell's confidence (core.confidence): one rule for a cell with no
prediction, a cell a person decided, and a cell whose class is not the
model's top class."""

from __future__ import annotations

import pytest

from core.confidence import Confidence, ConfidenceBasis, cell_confidence
from core.schema import Box, Cell, CellKind, LabelSource

BASIS = ConfidenceBasis


def _cell(kind: CellKind = CellKind.WHITE, **fields: object) -> Cell:
    return Cell(id=1, slide_id=1, box=Box(0, 0, 10, 10), kind=kind, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        # The model's class: its probability for it.
        (_cell(label="neutrophil", probabilities={"neutrophil": 0.93, "ig": 0.07}), Confidence(0.93, BASIS.CLASS)),
        # A person chose a class the model ranked second: the model's (low)
        # probability for that class, not its top class's, and not 100%.
        (_cell(label="ig", source=LabelSource.HUMAN, reviewed=True, probabilities={"neutrophil": 0.93, "ig": 0.07}),
         Confidence(0.07, BASIS.CLASS)),
        # Too unsure to name, or never named: how close the best guess came.
        (_cell(label="unidentified", probabilities={"eosinophil": 0.6, "neutrophil": 0.4}),
         Confidence(0.6, BASIS.BEST_GUESS, "eosinophil")),
        (_cell(probabilities={"eosinophil": 0.6, "neutrophil": 0.4}), Confidence(0.6, BASIS.BEST_GUESS, "eosinophil")),
        # A class the classifier has no output for: it was never asked (the
        # three former rules said 0.9, 0.0 and a dash for this cell).
        (_cell(label="smudge", source=LabelSource.HUMAN, probabilities={"neutrophil": 0.9}),
         Confidence(None, BASIS.OUTSIDE_CLASSIFIER)),
        # Never classified: the detector's score for the box, but not for a
        # white cell without a class, where it would read as a class's.
        (_cell(CellKind.RED, score=0.87), Confidence(0.87, BASIS.BOX)),
        (_cell(label="lymphocyte", source=LabelSource.IMPORT, score=0.7), Confidence(0.7, BASIS.BOX)),
        (_cell(score=0.95), Confidence(None, BASIS.NONE)),
        (_cell(label="unidentified", score=0.95), Confidence(None, BASIS.NONE)),
        # Nothing predicted.
        (_cell(CellKind.RED, source=LabelSource.HUMAN), Confidence(None, BASIS.NONE)),
        # A number that is no probability (an old import) is no number.
        (_cell(label="neutrophil", probabilities={"neutrophil": float("nan")}), Confidence(None, BASIS.CLASS)),
        (_cell(CellKind.PLATELET, score=7.5), Confidence(None, BASIS.BOX)),
    ],
)
def test_one_rule_for_every_cell(cell: Cell, expected: Confidence) -> None:
    assert cell_confidence(cell) == expected


def test_below_is_false_without_a_number() -> None:
    assert Confidence(0.5, BASIS.CLASS).below(0.8) and not Confidence(0.9, BASIS.CLASS).below(0.8)
    assert not Confidence(None, BASIS.NONE).below(0.8)
