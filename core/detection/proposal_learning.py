"""What a project's box corrections teach the detector at once, between
fine-tunes: the detector's instant path (core.project_learning is the
classifier's).

When the technician deletes a few wrong white boxes on one field, the same
mistake on the next fields should drop without waiting for a fine-tune.  So
each of the detector's proposals on the project's reviewed fields is an
example of a decision, kept, deleted or re-kinded, described by what a
person judges a box by (FEATURES): the colour of its middle and of its
darkest quarter (a nucleus), each beside the field's background, how uneven
its middle is, its size beside the field's red cells and the detector's
score.  For each kind of proposal with MIN_EXAMPLES or more examples of
keeping and of a change, a proposal on a field nobody reviewed takes the
change whose nearest example is nearer than the nearest kept one by a
margin.  The margin is the one under which the examples, each left out,
are decided best (balanced over the decisions), the larger among equals:
proposals are changed only where the project shows the detector wrong.

The decisions are the project's own (its cells, correction queue and
history), so an undone correction teaches nothing and reopening the project
restores what it taught.  Only slides the detector in use proposed on
teach: another detector's proposals and scores are not its own.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from core.detection.familiarity import Proposal as ColouredProposal
from core.detection.project_fields import box_corrections, is_reviewed
from core.imaging import ImageReadError
from core.schema import Cell, CellKind, CorrectionAction, Slide
from core.slide_pixels import load_slide_rgb
from core.store import ProjectStore
from core.wording import counted

FEATURES = ("middle_l", "middle_a", "middle_b", "dark_l", "dark_a", "dark_b", "unevenness", "size", "score")
# Fewer examples than this of keeping a kind of proposal, or of one change
# to it, teach nothing about it: a nearest neighbour needs a few to be more
# than chance, and leaving one out must leave some.
MIN_EXAMPLES = 3
# How much nearer than the nearest kept example a change's nearest must be
# (in the examples' spread); the left-out examples choose.
MARGINS = (1.0, 1.25, 1.5, 2.0, 3.0)
# Between margins that decide the examples equally well the larger wins.
PREFER_KEEPING = 1e-4
# Reviewed slides read to learn, the most lately corrected first: each is
# read whole at every detection run.
MAX_SLIDES = 40
KEPT, DELETED = "kept", "deleted"
# Pixels as bright as this share of the field or brighter are its background.
BACKGROUND_QUANTILE = 60.0
# The darkest quarter of a box's pixels: a white cell's nucleus.
DARK_QUANTILE = 25.0
# The background's colour is read from about this many pixels, evenly spread.
_BACKGROUND_PIXELS = 40_000
# A field's red-cell size is the median of its red proposals' when it has
# this many, else of all its proposals.
MIN_RED_RULER = 3

# The slide attribute `detect` writes what the lesson changed into.
SLIDE_KEY = "proposals_taught"


class Proposal(ColouredProposal, Protocol):
    """A detector's proposal (core.inference.Detection, or a stored Cell)
    with its score; read-only, so frozen dataclasses qualify."""

    @property
    def score(self) -> float | None: ...


P = TypeVar("P", bound=Proposal)


def proposal_features(image: NDArray[Any], proposals: Sequence[Proposal]) -> NDArray[np.float64]:
    """Each proposal's FEATURES (N x len(FEATURES)); colours are CIELAB as
    OpenCV scales it for 8-bit images, less the field's background."""
    if not proposals:
        return np.zeros((0, len(FEATURES)), np.float64)
    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB)
    step = max(1, int(np.sqrt(lab.shape[0] * lab.shape[1] / _BACKGROUND_PIXELS)))
    sample = lab[::step, ::step].reshape(-1, 3).astype(np.float32)
    background = sample[sample[:, 0] >= np.percentile(sample[:, 0], BACKGROUND_QUANTILE)].mean(axis=0)
    sides = np.array([np.sqrt(max(p.box.width, 1.0) * max(p.box.height, 1.0)) for p in proposals])
    red = sides[[p.kind is CellKind.RED for p in proposals]]
    ruler = float(np.median(red if len(red) >= MIN_RED_RULER else sides))
    height, width = lab.shape[:2]
    rows = []
    for proposal, side in zip(proposals, sides):
        box = proposal.box
        top, bottom = max(0, int(box.y0)), min(height, max(int(box.y0) + 1, int(np.ceil(box.y1))))
        left, right = max(0, int(box.x0)), min(width, max(int(box.x0) + 1, int(np.ceil(box.x1))))
        pixels = lab[top:bottom, left:right].astype(np.float32)
        if pixels.size == 0:
            pixels = background.reshape(1, 1, 3)
        h, w = pixels.shape[:2]
        middle = pixels[h // 4 : max(h // 4 + 1, 3 * h // 4), w // 4 : max(w // 4 + 1, 3 * w // 4)].reshape(-1, 3)
        flat = pixels.reshape(-1, 3)
        lightness = flat[:, 0]
        quantile = int(len(lightness) * DARK_QUANTILE / 100)
        dark = flat[lightness <= np.partition(lightness, quantile)[quantile]]
        rows.append([*(middle.mean(axis=0) - background), *(dark.mean(axis=0) - background),
                     float(middle[:, 0].std()), float(side / max(ruler, 1.0)), float(proposal.score or 0.0)])
    return np.array(rows, np.float64)


@dataclass(frozen=True, slots=True)
class KindLesson:
    """What the project taught about one kind of proposal: its examples
    (features in spreads, and the decision on each), and the margin."""

    kind: CellKind
    points: NDArray[np.float64]
    outcomes: tuple[str, ...]
    spread: NDArray[np.float64]
    margin: float

    def decide(self, features: NDArray[np.float64]) -> list[str]:
        """KEPT, DELETED or the kind a proposal becomes, for each row."""
        apart = _distances(features / self.spread, self.points)
        return _decisions(apart, np.array(self.outcomes), self.margin)


@dataclass(slots=True)
class Changed:
    """What a lesson changed on one field."""

    removed: int = 0
    rekinded: int = 0

    @property
    def any(self) -> bool:
        return bool(self.removed or self.rekinded)

    def to_attribute(self, examples: int) -> dict[str, int]:
        return {"removed": self.removed, "rekinded": self.rekinded, "examples": examples}


@dataclass(frozen=True, slots=True)
class ProposalLesson:
    """The project's lesson for the detector in use: a KindLesson per kind
    of proposal it can judge, the proposals it was learnt from and the
    slides they are on (those are not changed: they are the teaching)."""

    detector_version: str
    kinds: dict[CellKind, KindLesson]
    examples: int
    reviewed_slides: frozenset[int] = field(default_factory=frozenset)

    def apply(self, image: NDArray[Any], proposals: Sequence[P]) -> tuple[list[P], Changed]:
        """The field's proposals as the project taught: those that look like
        the ones the technician deleted dropped, those like the ones re-kinded
        given the new kind."""
        changed = Changed()
        kept: list[P] = []
        for proposal, decision in zip(proposals, self.decide(image, proposals)):
            if decision == DELETED:
                changed.removed += 1
            elif decision == KEPT:
                kept.append(proposal)
            else:
                changed.rekinded += 1
                kept.append(dataclasses.replace(proposal, kind=CellKind(decision)))  # type: ignore[type-var]
        return kept, changed

    def decide(self, image: NDArray[Any], proposals: Sequence[Proposal]) -> list[str]:
        """KEPT, DELETED or the kind it becomes, for each of a field's
        proposals (each described among all of them)."""
        decisions = [KEPT] * len(proposals)
        if not any(p.kind in self.kinds for p in proposals):
            return decisions
        features = proposal_features(image, proposals)
        for kind, lesson in self.kinds.items():
            rows = [i for i, p in enumerate(proposals) if p.kind is kind]
            if rows:
                for row, decision in zip(rows, lesson.decide(features[rows])):
                    decisions[row] = decision
        return decisions


def _distances(features: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64]:
    apart: NDArray[np.float64] = np.sqrt(((features[:, None, :] - points[None, :, :]) ** 2).sum(axis=2))
    return apart


def _decisions(apart: NDArray[np.float64], outcomes: NDArray[Any], margin: float) -> list[str]:
    """Per row of distances to the examples: the change whose nearest
    example is nearer than margin times the nearest kept one, else KEPT."""
    changes = [o for o in dict.fromkeys(outcomes.tolist()) if o != KEPT]
    kept = apart[:, outcomes == KEPT].min(axis=1)
    nearest = np.stack([apart[:, outcomes == o].min(axis=1) for o in changes], axis=1)
    best = nearest.argmin(axis=1)
    changed = nearest[np.arange(len(apart)), best] * margin < kept
    return [changes[b] if c else KEPT for b, c in zip(best, changed)]


def learn_kind(kind: CellKind, features: NDArray[np.float64], outcomes: Sequence[str]) -> KindLesson | None:
    """The lesson on proposals of one kind from their examples; None when
    there are too few (MIN_EXAMPLES of keeping and of some change) or when
    no margin decides the left-out examples better than keeping them all."""
    counts = {o: outcomes.count(o) for o in set(outcomes)}
    wanted = [i for i, o in enumerate(outcomes) if counts[o] >= MIN_EXAMPLES]
    chosen = np.array([outcomes[i] for i in wanted])
    if counts.get(KEPT, 0) < MIN_EXAMPLES or len(set(chosen.tolist())) < 2:
        return None
    rows = features[wanted]
    spread = rows.std(axis=0)
    spread[spread <= 1e-9] = 1.0  # a feature the same on every example: its own units
    points = rows / spread
    apart = _distances(points, points)
    np.fill_diagonal(apart, np.inf)  # each example left out
    classes = sorted(set(chosen.tolist()))
    best, margin = 1.0 / len(classes) + 1e-9, 0.0  # keeping them all: one decision of len(classes) right
    for candidate in MARGINS:
        decided = np.array(_decisions(apart, chosen, candidate))
        balanced = float(np.mean([np.mean(decided[chosen == o] == o) for o in classes]))
        if balanced + PREFER_KEEPING * candidate > best + PREFER_KEEPING * margin:
            best, margin = balanced, candidate
    if margin == 0.0:
        return None
    return KindLesson(kind, points, tuple(chosen.tolist()), spread, margin)


def learn_proposals(store: ProjectStore, detector_version: str,
                    corrections: tuple[Counter[str], list[int]] | None = None) -> ProposalLesson | None:
    """What the project's decisions teach about the proposals of the
    detector `detector_version`; None when they teach nothing (no
    proposal deleted or re-kinded, too few examples, or none that helps).
    On a reviewed slide (signed off, or with a box correction) every
    proposal is an example, those left standing kept; elsewhere the
    proposals a person confirmed or classified are kept ones.  A caller
    that has just read box_corrections(store) hands it as `corrections`."""
    counts, corrected = corrections if corrections is not None else box_corrections(store)
    if not counts.get("deleted") and not counts.get("re-kinded"):
        return None  # nothing was changed: the speed of a project never corrected is untouched
    corrected_set = set(corrected)
    slides = {slide.id: slide for slide in store.slides()}
    reviewed = frozenset(s for s, slide in slides.items() if is_reviewed(slide, corrected_set))
    by_slide: dict[int, list[Cell]] = {}
    for cell in store.cells():
        by_slide.setdefault(cell.slide_id, []).append(cell)
    confirmed = {s for s, cells in by_slide.items() if any(c.reviewed and _proposed(c) for c in cells)}
    order = [s for s in corrected if s in slides] + sorted((reviewed | confirmed) - corrected_set)
    teaching = [slides[s] for s in order if slides[s].attributes.get("detector_version") == detector_version]
    originals = _proposals_as_made(store)
    by_kind: dict[CellKind, tuple[list[NDArray[np.float64]], list[str]]] = {}
    for slide in teaching[:MAX_SLIDES]:
        found = _slide_examples(store, slide, by_slide.get(slide.id, []), originals, slide.id in reviewed)
        if found is None:
            continue
        features, kinds, outcomes = found
        for row, kind, outcome in zip(features, kinds, outcomes):
            rows, decided = by_kind.setdefault(kind, ([], []))
            rows.append(row)
            decided.append(outcome)
    lessons = {}
    for kind, (rows, decided) in by_kind.items():
        lesson = learn_kind(kind, np.array(rows), decided)
        if lesson is not None:
            lessons[kind] = lesson
    if not lessons:
        return None
    examples = sum(len(lesson.outcomes) for lesson in lessons.values())
    return ProposalLesson(detector_version, lessons, examples, reviewed)


def _proposed(cell: Cell) -> bool:
    """Whether the detector proposed the cell: it has the detector's score
    (a box drawn or imported has none; classifying or confirming a
    proposal keeps it)."""
    return cell.score is not None


def _proposals_as_made(store: ProjectStore) -> dict[int, Cell]:
    """The detector's proposals a person deleted or re-kinded, by cell id,
    as the detector made them (before the first such correction)."""
    originals: dict[int, Cell] = {}
    for _correction, before in store.corrections_with_cells((CorrectionAction.DELETE, CorrectionAction.RELABEL)):
        if _proposed(before):
            originals.setdefault(before.id, before)
    return originals


def _slide_examples(store: ProjectStore, slide: Slide, cells: Sequence[Cell], originals: dict[int, Cell],
                    whole: bool) -> tuple[NDArray[np.float64], list[CellKind], list[str]] | None:
    """The features, proposed kinds and decisions of a slide's decided
    proposals (whole: every proposal on it, else those a person
    reviewed), each described among all the slide's proposals as the
    detector made them; None when there are none or its image cannot be
    read."""
    current = {cell.id: cell for cell in cells}
    proposals: list[Cell] = []
    outcomes: list[str | None] = []  # None: not decided, there only to describe the others
    for cell in current.values():
        if not _proposed(cell):
            continue
        made = originals.get(cell.id, cell)
        proposals.append(made)
        decided = whole or cell.reviewed or cell.id in originals
        outcomes.append((KEPT if cell.kind is made.kind else cell.kind.value) if decided else None)
    for cell_id, made in originals.items():
        if made.slide_id == slide.id and cell_id not in current:
            proposals.append(made)
            outcomes.append(DELETED)
    rows = [i for i, outcome in enumerate(outcomes) if outcome is not None]
    if not rows:
        return None
    try:
        image = load_slide_rgb(store, slide)
    except (ImageReadError, OSError):
        return None
    features = proposal_features(image, proposals)[rows]
    return features, [proposals[i].kind for i in rows], [str(outcomes[i]) for i in rows]


def taught_sentence(removed: int, rekinded: int, slides: int, examples: int) -> str:
    """What `detect` and the window say of what the lesson changed."""
    changes = [f"{counted(removed, 'proposal')} removed" if removed else "",
               f"{counted(rekinded, 'proposal')} re-kinded" if rekinded else ""]
    done = " and ".join(part for part in changes if part) or "no proposal changed"
    return (f"Taught by {counted(examples, 'reviewed proposal')} of this project: {done} on "
            f"{counted(slides, 'slide')}")


def taught_by_corrections(slides: Sequence[Slide]) -> dict[str, int] | None:
    """What the last detection run's lesson changed on these slides (their
    SLIDE_KEY attributes) summed: proposals removed and re-kinded, slides
    changed and the examples it was learnt from; None when no lesson was
    applied to any of them."""
    applied = [slide.attributes[SLIDE_KEY] for slide in slides if isinstance(slide.attributes.get(SLIDE_KEY), dict)]
    if not applied:
        return None
    return {"removed": sum(int(a.get("removed", 0)) for a in applied),
            "rekinded": sum(int(a.get("rekinded", 0)) for a in applied),
            "slides": sum(1 for a in applied if a.get("removed") or a.get("rekinded")),
            "examples": max(int(a.get("examples", 0)) for a in applied)}
