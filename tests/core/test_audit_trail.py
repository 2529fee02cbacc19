"""The audit trail: every edit records who made it and where, undo keeps
that and says who undid it, the filters pick what a quality manager asks
for, and the CSV is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import socket
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from core.audit_trail import CSV_COLUMNS, AuditEntry, AuditFilter, AuditTrailError, audit_trail, write_audit_csv
from core.identity import Identity, system_login
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from tests.core.images import write_image

AB = Identity("AB", "bench-1")
CD = Identity("CD", "bench-2")


@pytest.fixture
def store(project_location: str, tmp_path: Path) -> Iterator[ProjectStore]:
    with ProjectStore.create(project_location, identity=AB) as project:
        for name in ("a.png", "b.png"):
            project.add_slide(write_image(tmp_path / "images" / name), 64, 48)
        yield project


def edits(store: ProjectStore, where: AuditFilter | None = None) -> list[AuditEntry]:
    """The trail less the fixture's two images being added."""
    return [entry for entry in audit_trail(store, where) if entry.action != "Added slide"]


def proposal(x: float) -> NewCell:
    return NewCell(box=Box(x, 5, x + 10, 15), kind=CellKind.WHITE, label="lymphocyte", source=LabelSource.MODEL,
                   model_version="cls-1", score=0.9)


def test_the_identity_is_the_system_login_on_this_host_unless_initials_are_set() -> None:
    assert Identity.of_this_computer() == Identity(system_login(), socket.gethostname())
    assert Identity.of_this_computer("  ").user == system_login()
    assert Identity.of_this_computer(" EF ").user == "EF"


def test_a_store_opened_without_an_identity_records_the_system_login(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "q.hemalabel") as project:
        slide = project.add_slide(write_image(tmp_path / "a.png"), 64, 48)
        project.add_cell(slide.id, Box(1, 1, 9, 9), CellKind.WHITE, "monocyte")
        added, entry = audit_trail(project)
    assert (added.user, added.action, added.change) == (system_login(), "Added slide", "image a.png")
    assert (entry.user, entry.workstation) == (system_login(), socket.gethostname())
    assert entry.action == "Draw box" and entry.change == "added white cell, Monocyte at 1,1 to 9,9"


def test_every_change_names_its_user_slide_and_cell_and_says_what_changed_in_words(store: ProjectStore) -> None:
    (cell,) = store.add_cells(1, [proposal(10)], description="Detect")
    store.set_label([cell.id], "neutrophil")
    store.move_cell(cell.id, Box(12, 5, 22, 15))
    store.set_kind([cell.id], CellKind.RED)
    store.identity = CD  # the technician at the bench set other initials
    store.remove_cells([cell.id])
    trail = edits(store)
    assert [(e.user, e.workstation, e.slide, e.cell_id, e.action) for e in trail] == [
        ("AB", "bench-1", "a", cell.id, "Detect"),
        ("AB", "bench-1", "a", cell.id, "Set class"),
        ("AB", "bench-1", "a", cell.id, "Move box"),
        ("AB", "bench-1", "a", cell.id, "Set kind"),
        ("CD", "bench-2", "a", cell.id, "Delete"),
    ]
    assert [e.change for e in trail] == [
        "added white cell, Lymphocyte at 10,5 to 20,15",
        "class Lymphocyte -> Neutrophil; marked reviewed",
        "box 10,5 to 20,15 -> 12,5 to 22,15",
        "kind white cell -> red cell",
        "deleted red cell, Neutrophil at 12,5 to 22,15",
    ]
    assert [e.at for e in trail] == sorted(e.at for e in trail)


def test_undo_keeps_who_made_the_edit_and_says_who_undid_it_and_a_new_edit_keeps_it_in_the_trail(
    store: ProjectStore,
) -> None:
    (cell,) = store.add_cells(1, [proposal(10)], description="Detect")
    store.set_label([cell.id], "monocyte")
    store.identity = CD
    if not store.is_file:
        # Where several stations edit, each undoes its own steps only (tests/core/test_claims.py).
        assert store.undo_description() is None and store.undo() is None
        return
    assert store.undo() == "Set class"
    undone = edits(store)[-1]
    assert (undone.user, undone.undone) == ("AB", True)
    assert undone.undone_text.startswith("undone by CD on bench-2 at ")
    assert store.redo() == "Set class"
    assert edits(store)[-1].undone_text == ""
    store.undo()
    store.set_label([cell.id], "basophil")  # ends the redo branch: the undone edit can never come back
    assert not store.can_redo()
    assert [(e.user, e.change, e.undone) for e in edits(store)[1:]] == [
        ("AB", "class Lymphocyte -> Monocyte; marked reviewed", True),
        ("CD", "class Lymphocyte -> Basophil; marked reviewed", False),
    ]
    assert store.undo() == "Set class" and store.cell(cell.id).label == "lymphocyte"
    assert store.undo() == "Detect" and store.undo() is None


def test_sign_offs_and_unlocks_are_in_the_trail_with_their_workstation(store: ProjectStore) -> None:
    store.add_cell(1, Box(1, 1, 9, 9), CellKind.WHITE, "monocyte")
    store.sign_off(1, "AB", "all normal", target=1)
    store.identity = CD
    store.unlock(1, "CD", "recount the monocytes")
    actions = [(e.user, e.workstation, e.action, e.change) for e in edits(store) if e.cell_id is None]
    assert actions == [("AB", "bench-1", "Signed off", "comment: all normal"),
                       ("CD", "bench-2", "Unlocked", "reason: recount the monocytes")]


def test_the_filters_pick_slide_user_days_and_cell(store: ProjectStore) -> None:
    first = store.add_cell(1, Box(1, 1, 9, 9), CellKind.WHITE, "monocyte")
    store.identity = CD
    second = store.add_cell(2, Box(1, 1, 9, 9), CellKind.WHITE, "eosinophil")
    store.set_label([first.id], "basophil")
    today = date.today()
    assert [e.cell_id for e in edits(store, AuditFilter(slide_id=2))] == [second.id]
    assert [e.change[:20] for e in edits(store, AuditFilter(user="AB"))] == ["added white cell, Mo"]
    assert [e.user for e in audit_trail(store, AuditFilter(cell_id=first.id))] == ["AB", "CD"]
    assert len(edits(store, AuditFilter(since=today, until=today))) == 3
    assert [e.change for e in audit_trail(store, AuditFilter(slide_id=2)) if e.cell_id is None] == [
        f"image {store.slide(2).path}"]  # who brought the image in is in its slide's trail
    assert audit_trail(store, AuditFilter(since=today + timedelta(days=1))) == []
    assert audit_trail(store, AuditFilter(until=today - timedelta(days=1))) == []
    with pytest.raises(AuditTrailError, match="run backwards"):
        audit_trail(store, AuditFilter(since=today, until=today - timedelta(days=1)))
    assert store.trail_users() == ["AB", "CD"]


def test_the_csv_holds_every_entry_and_runs_no_formula(store: ProjectStore, tmp_path: Path) -> None:
    store.identity = Identity("=HYPERLINK(1)", "bench-1")
    store.add_cell(1, Box(1, 1, 9, 9), CellKind.WHITE, "monocyte")
    store.sign_off(1, "@AB", "+fine", target=1)
    out = write_audit_csv(edits(store), tmp_path / "trail.csv")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3
    assert rows[1][1] == "'=HYPERLINK(1)" and rows[1][5] == "Draw box"
    assert rows[2][1] == "'@AB" and rows[2][6] == "comment: +fine"
    with pytest.raises(AuditTrailError, match="trail.txt: the audit trail is written as a .csv file"):
        write_audit_csv([], tmp_path / "trail.txt")
    with pytest.raises(AuditTrailError, match="missing: folder does not exist"):
        write_audit_csv([], tmp_path / "missing" / "trail.csv")


def test_the_reviewers_of_a_slide_are_who_decided_on_its_cells_and_who_signed_it(store: ProjectStore) -> None:
    (cell,) = store.add_cells(1, [proposal(10)], description="Detect")  # a model's proposal is no decision
    store.set_label([cell.id], "monocyte")
    store.identity = CD
    other = store.add_cell(2, Box(1, 1, 9, 9), CellKind.WHITE, "eosinophil")
    store.set_label([other.id], "basophil")
    store.undo()  # CD's relabel on slide 2 no longer stands, the drawn cell does
    store.sign_off(1, "EF", target=1)
    assert store.reviewers() == {1: ["AB", "EF"], 2: ["CD"]}
