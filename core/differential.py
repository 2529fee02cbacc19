"""The white-cell differential count of a slide or a project.

Percentages are over the cells of classes that count in the differential
(the taxonomy says which).  Erythroblasts (NRBC) are reported per 100 of
those white cells, as labs report them, and never inflate the percentages.
Cells still Unidentified are counted apart: a differential with such cells
is not final, and sign-off is refused until they are resolved.

`counts_as` and `awaits_review` are the one rule of what a cell counts as:
the differential panel, the sign-off, the slide list, the gallery's groups,
the PDF and CSV reports and `hemalabel info` all count through them, so no
two of them can disagree about a cell.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.schema import Cell, CellKind
from core.taxonomy import UNIDENTIFIED, Taxonomy
from core.wording import counted_verb

NRBC_CLASS = "erythroblast"
# The white cells a differential counts before it is signed without a reason:
# 100 is the manual count labs report percentages over (200 for a lower
# variance; the window lets the reviewer choose).
DEFAULT_TARGET = 100


class CountsAs(str, enum.Enum):
    """Where a cell goes in a differential count."""

    CLASS = "class"                # a class of the differential: in its counts and percentages
    NRBC = "nrbc"                  # an erythroblast: per 100 counted white cells, apart
    UNIDENTIFIED = "unidentified"  # no class the project knows yet: blocks sign-off
    NOT_COUNTED = "not_counted"    # a class the taxonomy keeps out of the differential
    PLATELET = "platelet"
    RED = "red"


def class_of(label: str | None) -> str:
    """The class a white cell is counted and shown under: its label, or
    Unidentified when it has none (an imported box without a type)."""
    return UNIDENTIFIED if label is None else label


def counts_as(kind: CellKind, label: str | None, taxonomy: Taxonomy) -> CountsAs:
    """What one cell counts as.  Red and platelet boxes count by their kind.
    A white cell without a class, or with a label the taxonomy does not know
    (an imported type, a class since removed), is Unidentified: it must get a
    class the project knows before its count is final, never be dropped."""
    if kind is CellKind.PLATELET:
        return CountsAs.PLATELET
    if kind is CellKind.RED:
        return CountsAs.RED
    name = class_of(label)
    if name == UNIDENTIFIED or name not in taxonomy:
        return CountsAs.UNIDENTIFIED
    item = taxonomy.get(name)
    if item.differential:
        return CountsAs.CLASS
    if name == NRBC_CLASS:
        return CountsAs.NRBC
    if item.group == "platelet":  # a platelet boxed as a white cell and then corrected
        return CountsAs.PLATELET
    if item.group == "red":
        return CountsAs.RED
    return CountsAs.NOT_COUNTED


_KIND_WORDS = {CellKind.WHITE: "a white cell", CellKind.RED: "a red cell", CellKind.PLATELET: "a platelet"}


def class_fits(kind: CellKind, name: str, taxonomy: Taxonomy) -> bool:
    """Whether a cell of this kind can be given the class `name` without its
    kind changing.  A white cell takes every class (the classifier names what
    a white-cell box holds, platelet included, and `counts_as` places it by
    the class's group); a red cell or a platelet only a class of its own
    group.  Giving a class never changes a kind: that is its own act."""
    if kind is CellKind.WHITE:
        return True
    return name in taxonomy and taxonomy.get(name).group == kind.value


def class_refusal(kind: CellKind, name: str, taxonomy: Taxonomy) -> str | None:
    """Why a cell of this kind cannot take the class `name` (None: it can),
    in words for the status bar; the window adds how to change the kind."""
    if class_fits(kind, name, taxonomy):
        return None
    return (f"This is {_KIND_WORDS[kind]}, and {taxonomy.display_of(name)} is not a class for one: "
            "a class never changes what a box holds; change its kind first")


def awaits_review(kind: CellKind, reviewed: bool) -> bool:
    """Whether a cell still stands between its slide and sign-off for want of
    a review: a white cell nobody has reviewed.  Red cells and platelets are
    many and not counted one by one, so they never hold a slide back."""
    return kind is CellKind.WHITE and not reviewed


@dataclass(frozen=True, slots=True)
class Differential:
    counts: dict[str, int]          # per differential class, in taxonomy order
    percentages: dict[str, float]   # same keys; 0 when nothing is counted (shown by percent_text)
    counted: int                    # white cells in the differential
    nrbc: int
    nrbc_per_100_wbc: float | None  # None when no white cell is counted
    platelets: int
    red_cells: int
    unidentified: int               # white cells Unidentified, without a class or with one the taxonomy lacks
    unreviewed_white: int
    other_white: dict[str, int] = field(default_factory=dict)  # white cells of classes outside the count

    def percent_text(self, name: str, none: str = "–") -> str:
        """A class's share with one decimal, or `none` when no white cell is
        counted: 0 of 0 is no percentage, and a report that prints 0.0 for
        every class of an empty count states what was never measured."""
        return f"{self.percentages[name]:.1f}" if self.counted else none

    def progress(self, target: int) -> float:
        """How far the count is towards a target (100 or 200 cells)."""
        return 0.0 if target <= 0 else min(1.0, self.counted / target)

    def below_target(self, target: int) -> bool:
        """Whether fewer white cells are counted than `target`; a count of none
        is always short, whatever the target, as no differential was made."""
        return self.counted < max(1, target)

    def blockers(self) -> list[str]:
        """Why this count cannot be signed off yet (empty when it can)."""
        reasons = []
        if self.unidentified:
            reasons.append(counted_verb(self.unidentified, "cell", "is", "are") + " Unidentified")
        if self.unreviewed_white:
            reasons.append(counted_verb(self.unreviewed_white, "white cell", "is", "are") + " not reviewed")
        return reasons

    def as_dict(self) -> dict[str, Any]:
        """The count as plain JSON values (`hemalabel info --json`)."""
        return {
            "counted": self.counted,
            "counts": dict(self.counts),
            "percentages": {name: round(value, 1) for name, value in self.percentages.items()} if self.counted else {},
            "nrbc": self.nrbc,
            "nrbc_per_100_wbc": None if self.nrbc_per_100_wbc is None else round(self.nrbc_per_100_wbc, 1),
            "platelets": self.platelets,
            "red_cells": self.red_cells,
            "unidentified": self.unidentified,
            "unreviewed_white": self.unreviewed_white,
            "other_white": dict(self.other_white),
        }


CellGroup = tuple[CellKind, str | None, bool]  # kind, label, reviewed: all the count looks at


def groups_of(cells: Iterable[Cell]) -> Counter[CellGroup]:
    return Counter((cell.kind, cell.label, cell.reviewed) for cell in cells)


def differential(cells: Iterable[Cell], taxonomy: Taxonomy) -> Differential:
    return differential_of_groups(groups_of(cells), taxonomy)


def differential_of_groups(groups: Mapping[CellGroup, int], taxonomy: Taxonomy) -> Differential:
    """The differential from how many cells there are of each (kind, label,
    reviewed): what the store counts in SQL for a whole project
    (`ProjectStore.differential`) without reading every cell."""
    by_place: dict[CountsAs, Counter[str]] = {place: Counter() for place in CountsAs}
    unreviewed = 0
    for (kind, label, reviewed), n in groups.items():
        if awaits_review(kind, reviewed):
            unreviewed += n
        by_place[counts_as(kind, label, taxonomy)][class_of(label)] += n
    counts = {name: by_place[CountsAs.CLASS][name] for name in taxonomy.differential_classes()}
    counted = sum(counts.values())
    percentages = {name: (100.0 * n / counted if counted else 0.0) for name, n in counts.items()}
    # An erythroblast is NRBC even in a taxonomy that also counts it as a class.
    nrbc = by_place[CountsAs.NRBC][NRBC_CLASS] + by_place[CountsAs.CLASS][NRBC_CLASS]
    return Differential(
        counts=counts,
        percentages=percentages,
        counted=counted,
        nrbc=nrbc,
        nrbc_per_100_wbc=(100.0 * nrbc / counted) if counted else None,
        platelets=by_place[CountsAs.PLATELET].total(),
        red_cells=by_place[CountsAs.RED].total(),
        unidentified=by_place[CountsAs.UNIDENTIFIED].total(),
        unreviewed_white=unreviewed,
        other_white=dict(by_place[CountsAs.NOT_COUNTED]),
    )
