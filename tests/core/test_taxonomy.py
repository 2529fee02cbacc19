"""The taxonomy names classes for people: "Immature granulocyte" where the
data says "ig", and a class it lacks as it is rather than an error."""

from __future__ import annotations

from core.taxonomy import default_taxonomy


def test_display_names_and_names_the_taxonomy_lacks() -> None:
    taxonomy = default_taxonomy()
    assert taxonomy.display_of("ig") == "Immature granulocyte"
    assert taxonomy.display_of("neutrophil") == "Neutrophil"
    assert taxonomy.display_of("blast") == "blast"  # a model's output the taxonomy does not list
    assert taxonomy.match("immature granulocyte") == "ig"
