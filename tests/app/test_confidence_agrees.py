"""The three places that once computed a cell's confidence by three rules
(the canvas tag, the gallery's sort and filter, the inspector's row) and the
report's flag now give one number for the same cell: core.confidence's.  For
a cell a person gave a class the classifier has no output for, they said
90%, 0% and a dash."""

from __future__ import annotations

import re

import pytest

from app.gui.gallery.model import _make_tile
from app.gui.presentation import cell_look, confidence_text
from core.confidence import cell_confidence
from core.report import LOW_CONFIDENCE, flag_of
from core.schema import Box, Cell, CellKind, LabelSource
from core.taxonomy import default_taxonomy
from core.wording import percent

TAXONOMY = default_taxonomy()
_PERCENT = re.compile(r"<?\d+(?:\.\d+)?%")


def _cell(kind: CellKind = CellKind.WHITE, source: LabelSource = LabelSource.MODEL, **fields: object) -> Cell:
    return Cell(id=7, slide_id=1, box=Box(0, 0, 10, 10), kind=kind, source=source, **fields)  # type: ignore[arg-type]


CELLS = {
    "outside the classifier": _cell(label="smudge", probabilities={"neutrophil": 0.9}),
    "model's class": _cell(label="neutrophil", probabilities={"neutrophil": 0.93, "ig": 0.07}),
    "person over the model": _cell(source=LabelSource.HUMAN, label="ig", reviewed=True,
                                   probabilities={"neutrophil": 0.93, "ig": 0.07}),
    "unsure": _cell(label="unidentified", probabilities={"eosinophil": 0.639, "neutrophil": 0.361}),
    "detected, not classified": _cell(score=0.95),
    "red cell": _cell(CellKind.RED, score=0.87),
    "drawn": _cell(source=LabelSource.HUMAN, reviewed=True),
}


@pytest.mark.parametrize("name", CELLS)
def test_canvas_gallery_inspector_and_report_give_the_cells_one_confidence(name: str) -> None:
    cell = CELLS[name]
    value = cell_confidence(cell).value
    assert _make_tile(cell, TAXONOMY).confidence == value  # the gallery's sort, filter and tile

    tag = _PERCENT.findall(cell_look(cell, TAXONOMY).tag)  # the canvas
    assert tag in ([], [percent(value)] if value is not None else [])

    text = confidence_text(cell, TAXONOMY)  # the inspector
    if value is None:
        assert text.startswith("\u2014"), text
    else:
        assert text.startswith(percent(value, 1)), text

    flag = flag_of(cell, {}, TAXONOMY)  # the report, which flags a class the classifier doubted
    low = flag is not None and flag.reason.startswith("low confidence")
    doubted = bool(cell.probabilities) and value is not None and value < LOW_CONFIDENCE
    assert low == doubted
    if low:
        assert value is not None and _PERCENT.findall(flag.reason) == [percent(value)]


def test_the_cell_the_three_rules_disagreed_on_has_no_number_anywhere() -> None:
    cell = CELLS["outside the classifier"]
    assert cell_confidence(cell).value is None
    assert _make_tile(cell, TAXONOMY).confidence is None
    assert "%" not in cell_look(cell, TAXONOMY).tag
    assert confidence_text(cell, TAXONOMY) == "\u2014 (not a class of the classifier)"
