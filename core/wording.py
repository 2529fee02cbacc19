"""Counts in messages a technician reads: "1 white cell is", "3 white cells
are", never "1 cell(s) are"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun in the number that agrees with it."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def counted_verb(n: int, noun: str, singular_verb: str, plural_verb: str, plural: str | None = None) -> str:
    """`n`, the noun and a verb that agree: counted_verb(1, "cell", "is", "are")."""
    return f"{counted(n, noun, plural)} {singular_verb if n == 1 else plural_verb}"
