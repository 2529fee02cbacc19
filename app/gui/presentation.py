"""How cells and slides are shown: colours, tags, status words.  Plain
Python, so the canvas, the browser and the inspector agree on one look."""

from __future__ import annotations

from dataclasses import dataclass

from core.confidence import ConfidenceBasis, cell_confidence
from core.differential import CountsAs, counts_as
from core.schema import BlastFlag, Cell, CellKind, LabelSource, SlideStatus
from core.store import CellTally
from core.taxonomy import UNIDENTIFIED, Taxonomy
from core.wording import percent

# Colours for boxes nobody has classified yet, by what the detector saw.
KIND_COLOURS = {
    CellKind.WHITE: "#00c8e6",
    CellKind.RED: "#ff8a80",
    CellKind.PLATELET: "#d4e157",
}
KIND_NAMES = {CellKind.WHITE: "White cell", CellKind.RED: "Red cell", CellKind.PLATELET: "Platelet"}

STATUS_TEXT = {
    SlideStatus.NEW: "New",
    SlideStatus.PROPOSED: "Proposed",
    SlideStatus.IN_REVIEW: "In review",
    SlideStatus.SIGNED_OFF: "Signed off",
}
STATUS_COLOURS = {
    SlideStatus.NEW: "#8a939c",
    SlideStatus.PROPOSED: "#2f7fd8",
    SlideStatus.IN_REVIEW: "#e69a1c",
    SlideStatus.SIGNED_OFF: "#2e9e5b",
}
SOURCE_TEXT = {LabelSource.MODEL: "Model", LabelSource.HUMAN: "Technician", LabelSource.IMPORT: "Imported annotation"}


@dataclass(frozen=True, slots=True)
class CellLook:
    colour: str
    tag: str
    show_tag: bool
    proposal: bool
    kind: str
    line_width: float
    suspected_blast: bool = False  # a flag of the lymphoid screen not yet decided: marked on the box


# What a box's tag and a gallery tile add for an undecided flag of the lymphoid screen.
BLAST_MARK = "blast?"
BLAST_COLOUR = "#d0021b"


def blast_screen_text(cell: Cell) -> str:
    """What the inspector says of a flag of the lymphoid screen ("" for a
    cell it did not flag)."""
    from core.screen.fields import SUBTYPE_NAMES

    screen = cell.screen
    if screen is None or screen.flag is BlastFlag.NONE:
        return ""
    said = f"P(blast) {percent(screen.p_blast, 1)}"
    subtype = SUBTYPE_NAMES.get(screen.subtype, screen.subtype)
    return {
        BlastFlag.SUSPECTED: f"Suspected blast, {subtype}: {said}",
        BlastFlag.CONFIRMED: f"Blast confirmed, {subtype}: {said}",
        BlastFlag.DISMISSED: f"Blast flag dismissed: {said}",
    }[screen.flag]


def suspected_blast(cell: Cell) -> bool:
    """The lymphoid screen flagged the white cell and nobody has decided the flag yet."""
    return cell.open_blast_flag


def confidence_text(cell: Cell, taxonomy: Taxonomy) -> str:
    """The inspector's Confidence row: the cell's confidence
    (core.confidence) with whose number it is, as a percent that never
    reads as certainty."""
    confidence = cell_confidence(cell)
    value, basis = confidence.value, confidence.basis
    if value is not None and basis is ConfidenceBasis.CLASS:
        return f"{percent(value, 1)} (classifier, for this class)"
    if value is not None and basis is ConfidenceBasis.BEST_GUESS and confidence.guess is not None:
        unsure = ": too unsure to name" if cell.label == UNIDENTIFIED else ""
        return f"{percent(value, 1)} for {taxonomy.display_of(confidence.guess)}, the classifier's best guess{unsure}"
    if value is not None and basis is ConfidenceBasis.BOX:
        return f"{percent(value, 1)} (detector's score for the box)"
    if basis is ConfidenceBasis.OUTSIDE_CLASSIFIER:
        return "\u2014 (not a class of the classifier)"
    if cell.score is not None and cell.kind is CellKind.WHITE:
        # Not the confidence (no class to be sure of), but what the detector said of the box.
        return f"\u2014 (no class yet; the detector's score for the box is {percent(cell.score, 1)})"
    return "\u2014"


def needs_class(cell: Cell, taxonomy: Taxonomy) -> bool:
    """A white cell the differential counts as Unidentified: no class yet
    (an imported box without a type, a detection not classified) or one the
    taxonomy lacks.  Reviewed or not, it still needs a class."""
    return counts_as(cell.kind, cell.label, taxonomy) is CountsAs.UNIDENTIFIED


def cell_title(cell: Cell, taxonomy: Taxonomy) -> str:
    """What a cell is called: its class, "Unidentified" (with the unknown
    label, if any) for a white cell without one the project knows, else
    its kind.  A white cell with no class was called "White cell", which
    read as an answer; the count holds it as Unidentified."""
    if needs_class(cell, taxonomy):
        unknown = cell.label not in (None, UNIDENTIFIED)
        return taxonomy.display_of(UNIDENTIFIED) + (f" ({cell.label})" if unknown else "")
    if cell.label and cell.label in taxonomy:
        return taxonomy.get(cell.label).display
    return KIND_NAMES[cell.kind]


def cell_look(cell: Cell, taxonomy: Taxonomy, threshold: float = 0.0) -> CellLook:
    known_class = cell.label if cell.label is not None and cell.label in taxonomy else None
    labelled = known_class is not None
    colour = taxonomy.get(known_class).colour if known_class is not None else KIND_COLOURS[cell.kind]
    title = cell_title(cell, taxonomy)
    confidence = cell_confidence(cell)
    tag = title
    # A box's detector score beside "Unidentified" (a label the taxonomy
    # lacks) would read as a class's probability.
    detector_only = confidence.basis is ConfidenceBasis.BOX and needs_class(cell, taxonomy)
    if cell.source is LabelSource.MODEL and confidence.value is not None and not detector_only:
        tag = f"{title} {percent(confidence.value)}"
        if threshold > 0 and confidence.below(threshold) and cell.label != UNIDENTIFIED:
            tag += " ?"
    elif cell.reviewed and cell.source is not LabelSource.MODEL and not needs_class(cell, taxonomy):
        tag = f"{title} \u2713"  # no tick for a cell that still needs a class
    flagged = suspected_blast(cell)
    if flagged:
        tag = f"{tag} \u00b7 {BLAST_MARK}"  # in words too, not by colour alone
    # Red cells are many and alike: their tag only shows when selected.
    show_tag = cell.kind is not CellKind.RED or labelled
    return CellLook(
        colour=colour,
        tag=tag,
        show_tag=show_tag,
        proposal=not cell.reviewed,
        kind=cell.kind.value,
        line_width=1.5 if cell.kind is CellKind.RED else 2.0,
        suspected_blast=flagged,
    )


class SlideCounts(CellTally):
    """A slide's cell counts (`ProjectStore.cell_tallies`) as the slide list shows them."""

    __slots__ = ()

    def text(self) -> str:
        return f"{self.white} WBC \u00b7 {self.red} RBC \u00b7 {self.platelet} PLT"

    def review_text(self) -> str:
        """What is left to review, white cells first: only they stand
        between the slide and its sign-off ("to review: 1 white \u00b7 19
        other"); "" when every box is reviewed."""
        other = self.unreviewed - self.unreviewed_white
        parts = [f"{n} {what}" for n, what in ((self.unreviewed_white, "white"), (other, "other")) if n]
        return "to review: " + " \u00b7 ".join(parts) if parts else ""


def hidden_kinds_note(hidden: list[tuple[CellKind, str]]) -> str:
    """The canvas's note of the kinds whose boxes are hidden, each with the
    key that shows them again: "Red cells and platelets hidden (R, P)"."""
    if not hidden:
        return ""
    names = [KIND_NAMES[kind].lower() + "s" for kind, _key in hidden]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    keys = ", ".join(key for _kind, key in hidden if key)
    return f"{listed[:1].upper()}{listed[1:]} hidden" + (f" ({keys})" if keys else "")
