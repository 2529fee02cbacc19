"""How probabilities read on the canvas, in the gallery and in the inspector."""

from __future__ import annotations

import pytest

from app.gui.presentation import percent


@pytest.mark.parametrize(
    ("probability", "decimals", "text"),
    [
        (0.86, 0, "86%"),
        (1.0, 0, "100%"),
        (0.0, 0, "0%"),
        (0.996, 0, "99.6%"),  # not "100%": the model was not certain
        (0.9999, 0, "99.9%"),
        (0.004, 0, "0.4%"),  # not "0%": the model did not rule it out
        (0.0004, 0, "<0.1%"),
        (0.996, 1, "99.6%"),
        (0.99996, 1, "99.99%"),
        (0.00004, 1, "<0.01%"),
        (0.5, 1, "50.0%"),
    ],
)
def test_percent_never_rounds_to_certainty_or_to_nothing(probability: float, decimals: int, text: str) -> None:
    assert percent(probability, decimals) == text


def test_the_inspectors_confidence_says_whose_number_it_is_and_never_claims_certainty() -> None:
    from app.gui.presentation import confidence_text as text_of
    from core.schema import Box, Cell, CellKind, LabelSource
    from core.taxonomy import default_taxonomy

    def confidence_text(cell: Cell) -> str:
        return text_of(cell, default_taxonomy())

    def cell(**kwargs) -> Cell:  # noqa: ANN003
        return Cell(id=1, slide_id=1, box=Box(0, 0, 10, 10), kind=kwargs.pop("kind", CellKind.WHITE), **kwargs)

    classified = cell(label="neutrophil", source=LabelSource.MODEL,
                      probabilities={"neutrophil": 0.99996, "ig": 0.00004})
    assert confidence_text(classified) == "99.99% (classifier, for this class)"  # was "1.000"
    relabelled = cell(label="ig", source=LabelSource.HUMAN, probabilities={"neutrophil": 0.99996, "ig": 0.00004})
    assert confidence_text(relabelled) == "<0.01% (classifier, for this class)"
    outside = cell(label="smudge", source=LabelSource.HUMAN, probabilities={"neutrophil": 0.9})
    assert confidence_text(outside) == "\u2014 (not a class of the classifier)"  # not the neutrophil's 90%
    red = cell(kind=CellKind.RED, source=LabelSource.MODEL, score=0.87)
    assert confidence_text(red) == "87.0% (detector's score for the box)"
    assert confidence_text(cell(kind=CellKind.RED, source=LabelSource.HUMAN)) == "\u2014"
    unsure = cell(label="unidentified", source=LabelSource.MODEL,
                  probabilities={"eosinophil": 0.639, "neutrophil": 0.36})
    assert confidence_text(unsure) == "63.9% for Eosinophil, the classifier's best guess: too unsure to name"


def test_the_slide_list_says_how_many_white_cells_stand_before_sign_off() -> None:
    from app.gui.presentation import SlideCounts

    assert SlideCounts(white=1, red=18, platelet=1, unreviewed=20, unreviewed_white=1).review_text() == (
        "to review: 1 white \u00b7 19 other")
    assert SlideCounts(white=3, red=10, unreviewed=10).review_text() == "to review: 10 other"
    assert SlideCounts(white=3, unreviewed=3, unreviewed_white=3).review_text() == "to review: 3 white"
    assert SlideCounts(white=3, red=5).review_text() == ""
