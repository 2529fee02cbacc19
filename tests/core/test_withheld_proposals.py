"""The detector's lesson applied at once to stored proposals (issue 30
item 5): after Detect on every field and a few reviewed, the like
proposals on the others are withdrawn without detecting again, kept out of
every count and out of the history, and given back when the decisions that
taught them are undone."""

from __future__ import annotations

import pytest

from core import image_bands
from core.detection import withheld_proposals
from core.detection.proposal_learning import MIN_EXAMPLES
from core.detection.withheld_proposals import WITHHELD_KEY, refresh_withheld_proposals
from core.inference import detect_slides
from core.jobs import run_job
from core.schema import CellKind, SlideStatus
from core.store import ProjectStore
from tests.core.test_familiarity import RED_CENTRES
from tests.core.test_proposal_learning import (  # noqa: F401 (project is a fixture)
    RedAsWhiteDetector,
    is_white_cell,
    project,
    review,
    whites,
)


def detected_and_reviewed(store: ProjectStore, rekind: bool = False) -> list[int]:
    """Every field detected (no lesson yet), then the first MIN_EXAMPLES reviewed."""
    slides = [slide.id for slide in store.slides()]
    run_job(detect_slides(store, RedAsWhiteDetector(), slides))
    for slide_id in slides[:MIN_EXAMPLES]:
        review(store, slide_id, rekind=rekind)
    return slides


def test_boxes_deleted_on_reviewed_fields_withdraw_the_like_proposals_stored_on_the_others(
    project: ProjectStore,  # noqa: F811
) -> None:
    slides = detected_and_reviewed(project)
    before = {slide_id: [cell.id for cell in project.cells(slide_id)] for slide_id in slides}
    undo, corrections = project.undo_description(), len(project.corrections())
    withheld = refresh_withheld_proposals(project)
    rest = slides[MIN_EXAMPLES:]
    assert (withheld.withdrawn, withheld.rekinded, withheld.slides) == (len(RED_CENTRES) * len(rest), 0, len(rest))
    assert withheld.examples == MIN_EXAMPLES * (len(RED_CENTRES) + 1)
    assert withheld.sentence() == (f"Taught by {withheld.examples} reviewed proposals: {withheld.withdrawn} "
                                   f"proposals withdrawn, 0 re-kinded on {len(rest)} slides")
    for slide_id in rest:
        assert [is_white_cell(cell.box) for cell in project.cells(slide_id)] == [True]
        assert project.cell_tallies(slide_id)[slide_id].white == 1  # counts are without the withdrawn
        assert len(project.slide(slide_id).attributes[WITHHELD_KEY]["withdrawn"]) == len(RED_CENTRES)
    # Neither the technician's undo step nor a correction: the lesson is no one's decision.
    assert (project.undo_description(), len(project.corrections())) == (undo, corrections)
    for slide_id in slides[:MIN_EXAMPLES]:  # the teaching is left as the technician made it
        assert whites(project, slide_id) == 1 and WITHHELD_KEY not in project.slide(slide_id).attributes
    assert refresh_withheld_proposals(project).written == 0  # nothing new to write
    # Undoing a reviewed field's deletions leaves too few kept examples: everything comes back, same ids.
    project.undo()
    back = refresh_withheld_proposals(project)
    assert (back.withdrawn, back.slides, back.written) == (0, 0, len(RED_CENTRES) * len(rest))
    for slide_id in rest:
        assert sorted(cell.id for cell in project.cells(slide_id)) == sorted(before[slide_id])
        assert project.slide(slide_id).attributes[WITHHELD_KEY] is None
    project.redo()  # the deletions again: the lesson again
    assert refresh_withheld_proposals(project).withdrawn == len(RED_CENTRES) * len(rest)


def test_re_kinded_boxes_re_kind_the_like_proposals_and_an_undo_gives_their_kind_back(
    project: ProjectStore,  # noqa: F811
) -> None:
    slides = detected_and_reviewed(project, rekind=True)
    last = slides[-1]
    withheld = refresh_withheld_proposals(project)
    assert (withheld.withdrawn, withheld.rekinded) == (0, len(RED_CENTRES) * (len(slides) - MIN_EXAMPLES))
    assert whites(project, last) == 1
    assert sum(cell.kind is CellKind.RED for cell in project.cells(last)) == len(RED_CENTRES)
    project.undo()
    refresh_withheld_proposals(project)
    assert whites(project, last) == len(RED_CENTRES) + 1


def withdrawn_somewhere(store: ProjectStore, slide_ids: list[int]) -> bool:
    return any(store.slide(slide_id).attributes.get(WITHHELD_KEY) for slide_id in slide_ids)


def test_a_proposal_a_person_decided_and_a_signed_or_re_detected_slide_are_left_alone(
    project: ProjectStore,  # noqa: F811
) -> None:
    slides = detected_and_reviewed(project)
    confirmed = next(cell for cell in project.cells(slides[-1]) if not is_white_cell(cell.box))
    project.confirm([confirmed.id])
    signed = slides[-2]
    project.set_slide_status(signed, SlideStatus.SIGNED_OFF)
    refresh_withheld_proposals(project)
    assert project.cell(confirmed.id).reviewed  # kept, and taught as kept
    assert withdrawn_somewhere(project, slides[MIN_EXAMPLES:-2])
    assert whites(project, signed) == len(RED_CENTRES) + 1
    # A new detection replaces the proposals and forgets what was withheld among them.
    run_job(detect_slides(project, RedAsWhiteDetector(), [slides[-3]]))
    assert project.slide(slides[-3]).attributes.get(WITHHELD_KEY) is None


def test_a_withdrawn_proposal_whose_detection_was_undone_is_not_given_back(project: ProjectStore) -> None:  # noqa: F811
    slides = detected_and_reviewed(project)
    assert refresh_withheld_proposals(project).withdrawn
    while project.can_undo():  # the deletions, then every detection
        project.undo()
    back = refresh_withheld_proposals(project)
    assert (back.withdrawn, back.written) == (0, 0)
    assert all(not project.cells(slide_id) for slide_id in slides)
    assert all(project.slide(slide_id).attributes.get(WITHHELD_KEY) is None for slide_id in slides)


def test_a_scan_read_in_bands_is_never_decoded_whole_for_the_lesson(
    project: ProjectStore, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    detected_and_reviewed(project)
    # The fields are PNGs: counted as scans from here on, as detection reads them in bands.
    monkeypatch.setattr(image_bands, "LARGE_IMAGE_PIXELS", 1)

    def decoded_whole(*_args: object) -> None:
        raise AssertionError("a scan read in bands was decoded whole")

    monkeypatch.setattr(withheld_proposals, "load_slide_rgb", decoded_whole)
    assert refresh_withheld_proposals(project).withdrawn == 0
