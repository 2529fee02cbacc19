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
