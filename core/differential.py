"""The white-cell differential count of a slide or a project.

Percentages are over the cells of classes that count in the differential
(the taxonomy says which).  Erythroblasts (NRBC) are reported per 100 of
those white cells, as labs report them, and never inflate the percentages.
Cells still Unidentified or unclassified are counted apart: a differential
with such cells is not final, and sign-off is refused until they are resolved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.schema import Cell, CellKind
from core.taxonomy import UNIDENTIFIED, Taxonomy
from core.wording import counted_verb

NRBC_CLASS = "erythroblast"


@dataclass(frozen=True, slots=True)
class Differential:
    counts: dict[str, int]          # per differential class, in taxonomy order
    percentages: dict[str, float]   # same keys; 0 when nothing is counted (shown by percent_text)
    counted: int                    # white cells in the differential
    nrbc: int
    nrbc_per_100_wbc: float | None  # None when no white cell is counted
    platelets: int
    red_cells: int
    unidentified: int
    unclassified: int
    unreviewed_white: int
    other_white: dict[str, int] = field(default_factory=dict)  # white-group classes outside the count

    def percent_text(self, name: str, none: str = "–") -> str:
        """A class's share with one decimal, or `none` when no white cell is
        counted: 0 of 0 is no percentage, and a report that prints 0.0 for
        every class of an empty count states what was never measured."""
        return f"{self.percentages[name]:.1f}" if self.counted else none

    def progress(self, target: int) -> float:
        """How far the count is towards a target (100 or 200 cells)."""
        return 0.0 if target <= 0 else min(1.0, self.counted / target)

    def blockers(self) -> list[str]:
        """Why this count cannot be signed off yet (empty when it can)."""
        reasons = []
        if self.unidentified:
            reasons.append(counted_verb(self.unidentified, "cell", "is", "are") + " Unidentified")
        if self.unclassified:
            reasons.append(counted_verb(self.unclassified, "white cell", "has", "have") + " no class yet")
        if self.unreviewed_white:
            reasons.append(counted_verb(self.unreviewed_white, "white cell", "is", "are") + " not reviewed")
        return reasons


CellGroup = tuple[CellKind, str | None, bool]  # kind, label, reviewed: all the count looks at


def differential(cells: Iterable[Cell], taxonomy: Taxonomy) -> Differential:
    return differential_of_groups(Counter((cell.kind, cell.label, cell.reviewed) for cell in cells), taxonomy)


def differential_of_groups(groups: Mapping[CellGroup, int], taxonomy: Taxonomy) -> Differential:
    """The differential from how many cells there are of each (kind, label,
    reviewed): what the store counts in SQL for a whole project
    (`ProjectStore.differential`) without reading every cell."""
    counted_classes = taxonomy.differential_classes()
    labels: Counter[str] = Counter()
    platelets = red = unclassified = unreviewed = 0
    for (kind, label, reviewed), n in groups.items():
        if kind is CellKind.PLATELET:
            platelets += n
            continue
        if kind is CellKind.RED:
            red += n
            continue
        if not reviewed:
            unreviewed += n
        if label is None:
            unclassified += n
        elif label == "platelet":
            platelets += n  # a platelet boxed as a white cell and then corrected
        else:
            labels[label] += n
    counts = {name: labels.get(name, 0) for name in counted_classes}
    counted = sum(counts.values())
    percentages = {name: (100.0 * n / counted if counted else 0.0) for name, n in counts.items()}
    nrbc = labels.get(NRBC_CLASS, 0)
    other = {
        name: n for name, n in labels.items() if name not in counts and name not in (NRBC_CLASS, UNIDENTIFIED)
    }
    return Differential(
        counts=counts,
        percentages=percentages,
        counted=counted,
        nrbc=nrbc,
        nrbc_per_100_wbc=(100.0 * nrbc / counted) if counted else None,
        platelets=platelets,
        red_cells=red,
        unidentified=labels.get(UNIDENTIFIED, 0),
        unclassified=unclassified,
        unreviewed_white=unreviewed,
        other_white=other,
    )
