"""Moving a box from the keyboard: every key press is saved, and the presses
in a row on one box are one undo step and one correction, like one drag."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.schema import Box, CellKind, CorrectionAction, LabelSource, NewCell
from core.store import ProjectStore, history


@pytest.fixture
def store(project_location: str, tmp_path: Path):  # noqa: ANN201
    store = ProjectStore.create(project_location)
    slide = store.add_slide(tmp_path / "a.png", 200, 100)
    store.add_cells(
        slide.id,
        [NewCell(Box(10, 10, 40, 40), CellKind.WHITE, source=LabelSource.MODEL),
         NewCell(Box(60, 10, 90, 40), CellKind.WHITE, source=LabelSource.MODEL)],
    )
    yield store
    store.close()


def _moves(store: ProjectStore) -> list[tuple[Box | None, Box | None]]:
    return [(c.old_box, c.new_box) for c in store.corrections() if c.action is CorrectionAction.MOVE]


def test_presses_in_a_row_are_one_step_and_one_correction(store: ProjectStore) -> None:
    first, _second = store.cells()
    for step in (1, 2, 3):
        store.nudge_cell(first.id, Box(10 + step, 10, 40 + step, 40))
        assert store.cell(first.id).box == Box(10 + step, 10, 40 + step, 40)  # saved at every press
    assert store.cell(first.id).reviewed
    assert _moves(store) == [(Box(10, 10, 40, 40), Box(13, 10, 43, 40))]
    assert store.undo() == "Nudge box"
    assert store.cell(first.id).box == Box(10, 10, 40, 40) and not store.cell(first.id).reviewed
    assert store.undo_description() == "Add cells" and _moves(store) == []  # its correction is retracted with it
    assert store.redo() == "Nudge box" and store.cell(first.id).box == Box(13, 10, 43, 40)


def test_another_box_another_edit_or_an_undo_starts_a_new_step(store: ProjectStore) -> None:
    first, second = store.cells()
    store.nudge_cell(first.id, Box(11, 10, 41, 40))
    store.nudge_cell(second.id, Box(61, 10, 91, 40))  # another box
    store.nudge_cell(first.id, Box(12, 10, 42, 40))
    store.set_label([first.id], "monocyte")  # another edit
    store.nudge_cell(first.id, Box(13, 10, 43, 40))
    assert store.undo() == "Nudge box"
    store.nudge_cell(first.id, Box(14, 10, 44, 40))  # after an undo
    assert len(_moves(store)) == 4
    steps = [store.undo() for _ in range(5)]
    assert steps == ["Nudge box", "Set class", "Nudge box", "Nudge box", "Nudge box"]
    assert [cell.box for cell in store.cells()] == [Box(10, 10, 40, 40), Box(60, 10, 90, 40)]


def test_a_pause_starts_a_new_step(store: ProjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _second = store.cells()
    monkeypatch.setattr(history, "NUDGES_JOIN_WITHIN_S", -1.0)  # every press comes "after a pause"
    store.nudge_cell(first.id, Box(11, 10, 41, 40))
    store.nudge_cell(first.id, Box(12, 10, 42, 40))
    assert store.undo() == "Nudge box" and store.cell(first.id).box == Box(11, 10, 41, 40)


def test_a_step_is_joined_for_being_a_nudge_not_for_its_name(store: ProjectStore) -> None:
    first, _second = store.cells()
    store.move_cell(first.id, Box(11, 10, 41, 40), description="Nudge box")  # a drag that happens to read alike
    store.nudge_cell(first.id, Box(12, 10, 42, 40))
    assert len(_moves(store)) == 2
    assert store.undo() == "Nudge box" and store.cell(first.id).box == Box(11, 10, 41, 40)
