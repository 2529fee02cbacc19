"""The review actions' one door (core.review), without Qt: which cells an
action takes, the undo step it makes, and the one error it raises, which
names the project file and the problem."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core import review
from core.review import ReviewError
from core.schema import Box, CellKind, CorrectionAction, LabelSource, NewCell
from core.store import ProjectStore
from tests.conftest import REPO_ROOT
from tests.core.images import write_image


@pytest.fixture
def store(project_location: str, tmp_path: Path) -> Iterator[ProjectStore]:
    project = ProjectStore.create(project_location)
    project.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
    yield project
    project.close()


def _proposals(store: ProjectStore, *cells: tuple[CellKind, str | None]) -> list[int]:
    """Model proposals, not reviewed, one box each."""
    new = [
        NewCell(Box(4 * i, 4, 4 * i + 3, 7), kind, label=label, source=LabelSource.MODEL, score=0.9)
        for i, (kind, label) in enumerate(cells)
    ]
    return [cell.id for cell in store.add_cells(1, new, "Detect cells")]


def test_a_class_is_given_to_the_cells_it_fits_and_the_rest_are_named(store: ProjectStore) -> None:
    white, red = _proposals(store, (CellKind.WHITE, "neutrophil"), (CellKind.RED, None))
    outcome = review.set_class(store, [white, red], "monocyte")
    assert outcome.changed == (white,) and outcome.left == (red,)
    assert outcome.needs_kind is CellKind.WHITE
    assert outcome.note.startswith("1 cell set to Monocyte; 1 left as it was. This is a red cell")
    assert store.cell(white).label == "monocyte" and store.cell(red).label is None
    assert store.undo_description() == "Set class Monocyte"


def test_a_class_that_fits_no_cell_changes_nothing_and_names_the_project(store: ProjectStore) -> None:
    (red,) = _proposals(store, (CellKind.RED, None))
    before = store.undo_description()
    with pytest.raises(ReviewError) as refused:
        review.set_class(store, [red], "neutrophil")
    assert str(refused.value).startswith(f"{store.path}: This is a red cell")
    assert refused.value.needs_kind is CellKind.WHITE
    assert store.undo_description() == before and store.cell(red).label is None


def test_a_class_the_project_lacks_is_refused_by_name(store: ProjectStore) -> None:
    (white,) = _proposals(store, (CellKind.WHITE, "neutrophil"))
    with pytest.raises(ReviewError, match=re.escape(f"{store.path}: 'blast' is not a class of this project")):
        review.set_class(store, [white], "blast")


def test_confirm_leaves_unidentified_cells_for_a_class(store: ProjectStore) -> None:
    named, unnamed, unsure = _proposals(
        store, (CellKind.WHITE, "lymphocyte"), (CellKind.WHITE, None), (CellKind.WHITE, "unidentified")
    )
    outcome = review.confirm(store, [named, unnamed, unsure])
    assert outcome.changed == (named,) and outcome.left == (unnamed, unsure)
    assert outcome.note == "Confirmed 1 cell; 2 Unidentified left for a class"
    assert store.cell(named).reviewed and not store.cell(unnamed).reviewed and not store.cell(unsure).reviewed
    assert [c.action for c in store.corrections()] == [CorrectionAction.CONFIRM]
    with pytest.raises(ReviewError, match=re.escape(f"{store.path}: Unidentified cells need a class")):
        review.confirm(store, [unnamed, unsure])


def test_accept_takes_every_box_as_it_is_and_names_the_step_by_its_count(store: ProjectStore) -> None:
    ids = _proposals(store, (CellKind.WHITE, "lymphocyte"), (CellKind.WHITE, None), (CellKind.RED, None))
    outcome = review.accept_slide(store, 1)
    assert outcome.changed == tuple(ids) and all(store.cell(i).reviewed for i in ids)
    assert store.undo_description() == "Accept 3 cells"
    assert review.accept_slide(store, 1).note == "Nothing to accept: every box on this slide is reviewed."


def test_each_action_is_one_undo_step_worded_alike_from_any_view(store: ProjectStore) -> None:
    a, b, c = _proposals(store, (CellKind.WHITE, "neutrophil"), (CellKind.WHITE, "neutrophil"), (CellKind.RED, None))
    review.set_class(store, [a, b, a], "monocyte")  # an id twice is one cell
    assert store.undo_description() == "Set class Monocyte on 2 cells"
    review.confirm(store, [a, b])
    assert store.undo_description() == "Confirm 2 cells"
    review.set_kind(store, [c], CellKind.PLATELET)
    assert store.undo_description() == "Mark as platelet" and store.cell(c).kind is CellKind.PLATELET
    review.set_kind(store, [a, b], CellKind.RED)
    assert store.undo_description() == "Mark 2 cells as red cell"
    review.delete(store, [a, b])
    assert store.undo_description() == "Delete 2 boxes" and {cell.id for cell in store.cells()} == {c}
    store.undo()
    assert store.cell(a).kind is CellKind.RED and store.cell(b).label == "monocyte"


def test_boxes_are_drawn_moved_and_nudged_through_the_door(store: ProjectStore) -> None:
    drawn = review.draw_box(store, 1, Box(1, 1, 9, 9), CellKind.WHITE)
    assert drawn.source is LabelSource.HUMAN and drawn.reviewed and store.undo_description() == "Draw box"
    assert review.move_box(store, drawn.id, Box(2, 2, 10, 10)).box == Box(2, 2, 10, 10)
    assert store.undo_description() == "Move box"
    assert review.nudge_box(store, drawn.id, Box(3, 2, 11, 10)).box == Box(3, 2, 11, 10)
    assert store.undo_description() == "Nudge box"


def test_a_signed_slide_refuses_every_action_with_the_project_named_once(store: ProjectStore) -> None:
    (cell,) = _proposals(store, (CellKind.WHITE, "lymphocyte"))
    review.confirm(store, [cell])
    store.sign_off(1, "AB", target=1)
    actions: list[tuple[Callable[..., object], tuple[object, ...]]] = [
        (review.set_class, ([cell], "monocyte")),
        (review.confirm, ([cell],)),
        (review.accept, ([cell],)),
        (review.set_kind, ([cell], CellKind.RED)),
        (review.delete, ([cell],)),
        (review.move_box, (cell, Box(1, 1, 5, 5))),
        (review.draw_box, (1, Box(1, 1, 5, 5), CellKind.WHITE)),
    ]
    for action, args in actions:
        with pytest.raises(ReviewError) as refused:
            action(store, *args)
        message = str(refused.value)
        assert message.startswith(f"{store.path}: ") and message.count(str(store.path)) == 1, message
        assert "signed off" in message, message
    assert store.cell(cell).label == "lymphocyte" and len(store.cells()) == 1


def test_a_cell_gone_meanwhile_is_refused_by_name(store: ProjectStore) -> None:
    (cell,) = _proposals(store, (CellKind.WHITE, "lymphocyte"))
    with pytest.raises(ReviewError, match=re.escape(f"{store.path}: no cell with id 999")):
        review.confirm(store, [cell, 999])
    assert not store.cell(cell).reviewed  # nothing was done for the cells that were there


def test_a_read_only_project_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ro.hemalabel"
    with ProjectStore.create(path) as writer:
        writer.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
        (cell,) = _proposals(writer, (CellKind.WHITE, "lymphocyte"))
    with ProjectStore.open(path, read_only=True) as reader:
        with pytest.raises(ReviewError) as refused:
            review.set_class(reader, [cell], "monocyte")
        assert reader.cell(cell).label == "lymphocyte"
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and message.count(str(path)) == 1 and "read-only" in message


def test_no_view_edits_cells_but_through_the_door() -> None:
    """The canvas and the gallery call core.review, never the store's cell
    edits: one rule, one wording and one error for both."""
    edits = re.compile(r"store\.(set_label|confirm|set_kind|remove_cells|add_cell|move_cell|nudge_cell)\b")
    views = [REPO_ROOT / "app" / "gui" / "canvas" / "canvas_controller.py",
             REPO_ROOT / "app" / "gui" / "gallery" / "gallery_widget.py",
             REPO_ROOT / "app" / "gui" / "review_controller.py"]
    found = [f"{path.name}: {match.group(0)}" for path in views for match in edits.finditer(path.read_text("utf-8"))]
    assert found == []
