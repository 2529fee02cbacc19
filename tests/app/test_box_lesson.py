"""The detector's lesson while reviewing, in the real window (issue 30
item 5): after Detect on every field, the technician deletes the red cells
boxed as white on a few fields, and the like proposals already stored on
the other fields are withdrawn at once; the status bar says so, an undo
brings them back, and Models > Learn From Each Decision turns it off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import wait_image
from PIL import Image

from core.detection.proposal_learning import MIN_EXAMPLES
from core.inference import detect_slides
from core.jobs import run_job
from core.store import ProjectStore
from tests.core.test_familiarity import PURPLE, RED_CENTRES, stained
from tests.core.test_proposal_learning import BLUE_GREY, RedAsWhiteDetector, is_white_cell

FIELDS = 6


def _detected_project(tmp_path: Path) -> Path:
    path = tmp_path / "lab.hemalabel"
    rng = np.random.default_rng(0)
    with ProjectStore.create(path) as store:
        for i in range(FIELDS):
            Image.fromarray(stained(BLUE_GREY, PURPLE, rng)).save(tmp_path / f"field{i}.png")
            store.add_slide(tmp_path / f"field{i}.png", 200, 230)
        run_job(detect_slides(store, RedAsWhiteDetector(), [slide.id for slide in store.slides()]))
    return path


def _taught_after(qtbot, controller, decide) -> None:
    """Make the decision and wait for the lesson it starts to be written."""
    with qtbot.waitSignal(controller.box_lesson.taught, timeout=60000):
        decide()
    qtbot.waitUntil(lambda: not controller.box_lesson.running, timeout=60000)


def test_boxes_deleted_on_reviewed_slides_withdraw_the_like_proposals_on_the_others(qtbot, open_window, tmp_path):
    window, controller = open_window(_detected_project(tmp_path))
    window.actions["learn_at_once"].setChecked(True)
    store = controller.session.store
    slides = [slide.id for slide in store.slides()]
    last = slides[-1]
    proposed = sorted(cell.id for cell in store.cells(last))
    assert len(proposed) == len(RED_CENTRES) + 1
    qtbot.waitUntil(lambda: not controller.box_lesson.running, timeout=60000)  # the opening's refresh
    for slide_id in slides[:MIN_EXAMPLES]:
        controller.show_slide_id(slide_id)
        wait_image(qtbot, controller)
        controller.canvas.select_cells([cell.id for cell in store.cells(slide_id) if not is_white_cell(cell.box)])
        _taught_after(qtbot, controller, window.actions["delete"].trigger)
    assert [is_white_cell(cell.box) for cell in store.cells(last)] == [True]
    rest = FIELDS - MIN_EXAMPLES
    assert window.statusBar().currentMessage() == (
        f"Taught by {MIN_EXAMPLES * (len(RED_CENTRES) + 1)} reviewed proposals: {len(RED_CENTRES) * rest} "
        f"proposals withdrawn, 0 re-kinded on {rest} slides")
    assert store.cell_tallies(last)[last].white == 1
    # Undoing one reviewed slide's deletions leaves too few kept boxes to teach: every proposal is back.
    _taught_after(qtbot, controller, window.actions["undo"].trigger)
    assert sorted(cell.id for cell in store.cells(last)) == proposed
    # Turned off, a decision teaches nothing.
    window.actions["learn_at_once"].setChecked(False)
    window.actions["redo"].trigger()
    qtbot.wait(400)
    assert not controller.box_lesson.running
    assert sorted(cell.id for cell in store.cells(last)) == proposed
