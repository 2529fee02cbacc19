"""Counts in messages agree with their nouns and verbs."""

from core.wording import counted, counted_verb


def test_counts_agree_with_their_nouns() -> None:
    assert counted(1, "slide") == "1 slide"
    assert counted(0, "slide") == "0 slides"
    assert counted(3, "white cell") == "3 white cells"
    assert counted(2, "box", "boxes") == "2 boxes"
    assert counted_verb(1, "cell", "is", "are") == "1 cell is"
    assert counted_verb(4, "white cell", "has", "have") == "4 white cells have"
