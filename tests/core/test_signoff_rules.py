"""What a lab can sign (issue 27): a slide below its white-cell target, or
with no white cell at all, is signed only with a reason, which the slide,
the audit trail and both reports keep; and an undo or redo never changes a
signed slide."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.report import write_report
from core.schema import Box, CellKind, LabelSource, NewCell, SlideStatus
from core.store import HistoryStep, ProjectStore, SignOffRefusedError, SlideLockedError, StoreError
from tests.core.images import write_image
from tests.core.test_differential_report import pdf_text


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProjectStore]:
    with ProjectStore.create(tmp_path / "p.hemalabel") as project:
        for name in ("a.png", "b.png"):
            project.add_slide(write_image(tmp_path / "img" / name, 64, 48), 64, 48)
        yield project


def reviewed_white(label: str, n: int) -> list[NewCell]:
    return [NewCell(Box(2, 2, 20, 20), CellKind.WHITE, label, source=LabelSource.HUMAN, reviewed=True)] * n


def test_a_count_below_its_target_is_refused_without_a_reason(store: ProjectStore) -> None:
    store.add_cells(1, reviewed_white("neutrophil", 37))
    with pytest.raises(SignOffRefusedError, match="37 of the 100 white cells"):
        store.sign_off(1, "AB")
    with pytest.raises(SignOffRefusedError, match="reason"):
        store.sign_off(1, "AB", target=100, below_target_reason="   ")
    assert store.slide(1).status is not SlideStatus.SIGNED_OFF and store.audit_trail(1) == []


def test_a_reason_signs_a_short_count_and_is_recorded_beside_it(store: ProjectStore) -> None:
    store.add_cells(1, reviewed_white("neutrophil", 37))
    signed = store.sign_off(1, "AB", "platelets clumped", target=100, below_target_reason="  thin smear, few cells  ")
    assert signed.status is SlideStatus.SIGNED_OFF
    assert (signed.signed_target, signed.below_target_reason) == (100, "thin smear, few cells")
    trail = [(a["action"], a["who"], a["reason"]) for a in store.audit_trail(1)]
    assert trail == [("sign_off", "AB", "platelets clumped"),
                     ("below_target", "AB", "37 of 100 white cells counted: thin smear, few cells")]
    # The unlock takes the reason away with the count it was given for; the trail keeps it.
    unlocked = store.unlock(1, "AB", "recount")
    assert (unlocked.signed_target, unlocked.below_target_reason) == (None, "")
    assert unlocked.comment == "platelets clumped"
    assert [a["action"] for a in store.audit_trail(1)] == ["sign_off", "below_target", "unlock"]


def test_a_slide_without_white_cells_is_signed_only_with_a_reason(store: ProjectStore) -> None:
    """A never-detected slide of a plain folder was signed with 0 of 100."""
    with pytest.raises(SignOffRefusedError, match="0 of the 100"):
        store.sign_off(2, "AB")
    with pytest.raises(SignOffRefusedError, match="0 of the 1 "):
        store.sign_off(2, "AB", target=1)  # no target is low enough to sign nothing counted
    with pytest.raises(StoreError, match="at least 1"):
        store.sign_off(2, "AB", target=0)
    assert store.sign_off(2, "AB", below_target_reason="no white cells in this field").below_target_reason


def test_a_count_that_reaches_its_target_needs_no_reason_and_records_none(store: ProjectStore) -> None:
    store.add_cells(1, reviewed_white("lymphocyte", 100))
    signed = store.sign_off(1, "AB", below_target_reason="not needed")
    assert (signed.signed_target, signed.below_target_reason) == (100, "")
    assert [a["action"] for a in store.audit_trail(1)] == ["sign_off"]


def test_the_reports_print_the_target_and_the_reason_next_to_the_count(store: ProjectStore, tmp_path: Path) -> None:
    store.add_cells(1, reviewed_white("neutrophil", 37))
    store.add_cells(2, reviewed_white("monocyte", 200))
    store.sign_off(1, "AB", below_target_reason="thin smear")
    store.sign_off(2, "AB", target=200)
    (tmp_path / "out").mkdir()
    rows = {row["slide"]: row for row in csv.DictReader(
        write_report(store, tmp_path / "out" / "r.csv").open(encoding="utf-8-sig"))}
    assert (rows["img/a.png"]["white_cells_counted"], rows["img/a.png"]["target"],
            rows["img/a.png"]["below_target_reason"]) == ("37", "100", "thin smear")
    assert (rows["img/b.png"]["target"], rows["img/b.png"]["below_target_reason"]) == ("200", "")
    text = " ".join(pdf_text(write_report(store, tmp_path / "out" / "r.pdf")).split())
    assert "Target: 100 white cells, not reached (37 counted) Below the target because: thin smear" in text
    assert "Target: 200 white cells, reached" in text


def test_undo_and_redo_never_change_a_signed_slide(store: ProjectStore) -> None:
    (cell,) = store.add_cells(1, reviewed_white("monocyte", 1))
    store.set_label([cell.id], "lymphocyte")
    store.sign_off(1, "AB", target=1)
    refused = r'Undo of "Set class" refused: it would change a\.png, which is signed off'
    with pytest.raises(SlideLockedError, match=refused):
        store.undo()
    assert store.cell(cell.id).label == "lymphocyte"
    assert store.undo_description() == "Set class"  # the step stays, for after an unlock
    store.unlock(1, "AB", "recount")
    assert store.undo_step() == HistoryStep("Set class", ((1, cell.id),))
    assert store.cell(cell.id).label == "monocyte"
    store.sign_off(1, "AB", target=1)
    with pytest.raises(SlideLockedError, match=r'Redo of "Set class" refused: it would change a\.png'):
        store.redo()
    assert store.cell(cell.id).label == "monocyte" and store.redo_description() == "Set class"


def test_an_undo_says_which_slides_and_cells_it_changed(store: ProjectStore) -> None:
    first = store.add_cells(1, reviewed_white("monocyte", 2))
    second = store.add_cells(2, reviewed_white("monocyte", 1))
    store.set_label([first[1].id, second[0].id], "basophil")
    step = store.undo_step()
    assert step is not None and step.description == "Set class"
    assert set(step.cells) == {(1, first[1].id), (2, second[0].id)} and set(step.slide_ids) == {1, 2}
    assert store.redo_step().cells == tuple(reversed(step.cells))  # redone in the order first done
    store.remove_cells([second[0].id])
    assert store.undo_step().cells == ((2, second[0].id),)  # a removed cell is put back on its slide
