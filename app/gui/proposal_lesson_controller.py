"""The detector's lesson while the technician reviews: after each decision
(any edit that enters the history, an undo or redo included) that changes
what the reviewed fields teach about boxes, the proposals stored on the
fields nobody reviewed are withdrawn, re-kinded or given back as it now
says (core.detection.withheld_proposals), on a worker thread; the store's
events repaint every view.  Models > Learn From Each Decision turns it off
with the classifier's instant learning."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Hashable
from typing import cast

from PySide6.QtCore import QObject

from app.gui.decision_follower import DecisionFollower
from app.gui.session import ProjectSession
from app.gui.worker import JobFactory
from core.detection.project_fields import box_corrections
from core.detection.withheld_proposals import WITHHELD_KEY, Withheld, refresh_withheld_proposals
from core.jobs import CancelToken, Progress
from core.store import ProjectStore

# Decisions closer together than this are taught in one refresh.
DEBOUNCE_MS = 150


def lesson_inputs(store: ProjectStore, corrections: tuple[Counter[str], list[int]]) -> Hashable:
    """What the lesson is learnt from, in short: the box corrections in
    force (box_corrections(store)), the proposals a person kept, the
    slides.  The same again teaches the same, so a class decision costs no
    refresh."""
    counts, corrected = corrections
    kept = sum(1 for cell in store.cells() if cell.reviewed and cell.score is not None)
    return tuple(sorted(counts.items())), tuple(corrected), kept, len(store.slides())


class ProposalLessonController(DecisionFollower):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__("Learning from reviewed boxes", DEBOUNCE_MS, parent)
        self._inputs: Hashable = None  # what the last refresh learnt from

    def forget(self) -> None:
        self._inputs = None

    def wanted_at_open(self, session: ProjectSession) -> bool:
        # A project reopened with box corrections or withheld proposals is
        # refreshed at once; one with neither waits for a decision.
        counts, _corrected = box_corrections(session.store)
        return bool(counts.get("deleted") or counts.get("re-kinded")) or any(
            WITHHELD_KEY in slide.attributes for slide in session.store.slides())

    def job(self, session: ProjectSession) -> JobFactory:
        store, known = session.store, self._inputs

        def job(token: CancelToken) -> Generator[Progress, None, tuple[Hashable, Withheld | None]]:
            yield Progress(0, 1, "Learning from this project's reviewed boxes")
            corrections = box_corrections(store)
            inputs = lesson_inputs(store, corrections)
            if inputs == known:
                return inputs, None
            withheld = refresh_withheld_proposals(store, lambda: token.cancelled, corrections)
            token.raise_if_cancelled()
            return inputs, withheld

        return job

    def done(self, result: object) -> None:
        inputs, withheld = cast(tuple[Hashable, Withheld | None], result)
        self._inputs = inputs
        if withheld is None:
            return
        self.taught.emit(withheld)
        if withheld.written:
            self.message.emit(withheld.sentence())
