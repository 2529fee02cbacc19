"""The project store: edits, undo/redo (also across reopening), the
correction queue, change announcements and read-only projects."""

from __future__ import annotations

import ast
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.schema import Box, CellKind, CorrectionAction, LabelSource, NewCell, SlideStatus
from core.store import ProjectStore, ReadOnlyProjectError, SlideLockedError, StoreError, StoreEvent, StoreEventKind
from tests.conftest import REPO_ROOT
from tests.core.images import write_image


@pytest.fixture
def project(project_location: str) -> Iterator[ProjectStore]:
    store = ProjectStore.create(project_location)
    yield store
    store.close()


def add_slide(store: ProjectStore, tmp_path: Path, name: str = "a.png") -> int:
    image = write_image(tmp_path / "images" / name)
    return store.add_slide(image, 64, 48).id


def proposal(box: Box, kind: CellKind = CellKind.WHITE, version: str = "det-1") -> NewCell:
    return NewCell(box=box, kind=kind, source=LabelSource.MODEL, model_version=version, score=0.9)


def snapshot(store: ProjectStore) -> list[tuple]:
    return [(c.id, c.box, c.kind, c.label, c.source, c.reviewed, c.probabilities) for c in store.cells()]


def test_project_file_is_wal_with_relative_image_paths(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p.hemalabel") as project:
        slide_id = add_slide(project, tmp_path)
        assert project.slide(slide_id).path == "images/a.png"
        assert project.image_path(project.slide(slide_id)) == tmp_path / "images" / "a.png"
        mode = sqlite3.connect(tmp_path / "p.hemalabel").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_server_project_stores_image_paths_absolute(postgres_url: str, tmp_path: Path) -> None:
    """A server project has no folder to be relative to: each workstation
    maps the stored folder to its own mount (image roots)."""
    with ProjectStore.create(postgres_url) as project:
        slide_id = add_slide(project, tmp_path)
        stored = project.slide(slide_id).path
        assert stored == (tmp_path / "images" / "a.png").as_posix()
        assert project.image_path(project.slide(slide_id)) == tmp_path / "images" / "a.png"
        assert project.back_up() is None


def test_the_project_folder_can_be_moved(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "lab" / "p.hemalabel") as store:
        image = write_image(tmp_path / "lab" / "img" / "s.png")
        store.add_slide(image, 64, 48)
    (tmp_path / "lab").rename(tmp_path / "moved")
    with ProjectStore.open(tmp_path / "moved" / "p.hemalabel") as store:
        (slide,) = store.slides()
        assert store.image_path(slide).is_file()


def test_adding_the_same_image_twice_gives_one_slide(project: ProjectStore, tmp_path: Path) -> None:
    first = add_slide(project, tmp_path)
    second = add_slide(project, tmp_path)
    assert first == second and len(project.slides()) == 1


def every_kind_of_edit(store: ProjectStore, slide_id: int) -> None:
    """One of each human and model edit, each its own undo step."""
    a, b = store.add_cells(slide_id, [proposal(Box(1, 1, 11, 11)), proposal(Box(20, 20, 30, 32))], "Detect cells")
    store.set_predictions([(a.id, "neutrophil", {"neutrophil": 0.9, "lymphocyte": 0.1})], "cls-1")
    drawn = store.add_cell(slide_id, Box(40, 5, 50, 15), CellKind.WHITE)
    store.move_cell(a.id, Box(2, 2, 13, 12))
    store.set_label([a.id], "lymphocyte")
    store.confirm([b.id])
    store.set_kind([drawn.id], CellKind.PLATELET)
    store.set_label([drawn.id], "platelet")
    store.remove_cells([b.id])


def test_undo_and_redo_round_trip_every_kind_of_edit(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    states = [snapshot(project)]
    steps = 0
    for edit in _edits_one_by_one(project, slide_id):
        edit()
        states.append(snapshot(project))
        steps += 1
    for expected in reversed(states[:-1]):
        assert project.undo() is not None
        assert snapshot(project) == expected
    assert project.undo() is None
    for expected in states[1:]:
        assert project.redo() is not None
        assert snapshot(project) == expected
    assert project.redo() is None and steps == 9


def test_undo_history_survives_reopening(project_location: str, tmp_path: Path) -> None:
    path = project_location
    with ProjectStore.create(path) as store:
        slide_id = add_slide(store, tmp_path)
        before = snapshot(store)
        every_kind_of_edit(store, slide_id)
        after = snapshot(store)
    with ProjectStore.open(path) as store:
        assert snapshot(store) == after
        while store.undo():
            pass
        assert snapshot(store) == before
    with ProjectStore.open(path) as store:
        assert snapshot(store) == before
        while store.redo():
            pass
        assert snapshot(store) == after


def test_a_new_edit_after_undo_drops_the_redo_branch(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    cell = project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE)
    project.set_label([cell.id], "monocyte")
    project.undo()
    project.set_label([cell.id], "basophil")
    assert not project.can_redo()
    assert [c.new_label for c in project.corrections()] == [None, "basophil"]


def test_one_gesture_is_one_undo_step(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    cells = project.add_cells(slide_id, [proposal(Box(i, i, i + 5, i + 5)) for i in range(5)], "Detect cells")
    with project.edit("Accept and label"):
        project.confirm([c.id for c in cells[:3]])
        project.set_label([cells[4].id], "eosinophil")
    assert project.undo_description() == "Accept and label"
    project.undo()
    assert not any(c.reviewed for c in project.cells())
    assert project.undo_description() == "Detect cells"


def test_a_failed_gesture_leaves_nothing_behind(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    cell = project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE)
    before = snapshot(project)
    with pytest.raises(StoreError, match="not a class"), project.edit("Two steps"):
        project.set_label([cell.id], "monocyte")
        project.set_label([cell.id], "no-such-class")
    assert snapshot(project) == before
    assert project.undo_description() == "Draw box"


def test_every_human_decision_is_queued_with_the_model_version_it_corrected(
    project: ProjectStore, tmp_path: Path
) -> None:
    slide_id = add_slide(project, tmp_path)
    every_kind_of_edit(project, slide_id)
    queue = project.corrections()
    actions = [c.action for c in queue]
    assert actions == [
        CorrectionAction.ADD,
        CorrectionAction.MOVE,
        CorrectionAction.RELABEL,
        CorrectionAction.CONFIRM,
        CorrectionAction.RELABEL,
        CorrectionAction.RELABEL,
        CorrectionAction.DELETE,
    ]
    relabel = queue[2]
    assert (relabel.old_label, relabel.new_label, relabel.model_version) == ("neutrophil", "lymphocyte", "cls-1")
    assert queue[1].old_box == Box(1, 1, 11, 11) and queue[1].new_box == Box(2, 2, 13, 12)
    assert all(c.at for c in queue)


def test_confirming_a_label_is_queued_as_confirmation(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    (cell,) = project.add_cells(slide_id, [proposal(Box(1, 1, 9, 9))])
    project.set_predictions([(cell.id, "monocyte", {"monocyte": 0.97})], "cls-2")
    project.set_label([cell.id], "monocyte")
    (correction,) = project.corrections()
    assert correction.action is CorrectionAction.CONFIRM and correction.model_version == "cls-2"
    assert project.cell(cell.id).reviewed and project.cell(cell.id).source is LabelSource.HUMAN


def test_undo_retracts_and_redo_restores_a_correction(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    cell = project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE)
    project.set_label([cell.id], "monocyte")
    project.undo()
    assert [c.action for c in project.corrections()] == [CorrectionAction.ADD]
    project.redo()
    assert [c.action for c in project.corrections()] == [CorrectionAction.ADD, CorrectionAction.RELABEL]


def test_model_predictions_do_not_overwrite_human_labels(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    cell = project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE, label="basophil")
    project.set_predictions([(cell.id, "neutrophil", {"neutrophil": 0.8})], "cls-1")
    after = project.cell(cell.id)
    assert after.label == "basophil" and after.probabilities == {"neutrophil": 0.8}


def test_changes_are_announced_after_commit(project: ProjectStore, tmp_path: Path) -> None:
    events: list[StoreEvent] = []
    slide_id = add_slide(project, tmp_path)
    project.subscribe(events.append)
    cell = project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE)
    project.set_label([cell.id], "monocyte")
    project.remove_cells([cell.id])
    kinds = [e.kind for e in events if e.kind.about_cells]
    assert kinds == [StoreEventKind.CELLS_ADDED, StoreEventKind.CELLS_CHANGED, StoreEventKind.CELLS_REMOVED]
    assert all(e.cell_ids == (cell.id,) for e in events if e.kind.about_cells)
    events.clear()
    with pytest.raises(StoreError):
        project.set_label([cell.id], "monocyte")  # the cell is gone
    assert events == []


def test_every_event_kind_is_announced_as_a_member_of_its_enum(project: ProjectStore, tmp_path: Path) -> None:
    # Views compare kinds against the members; an event carrying a plain
    # string (or a kind the enum lacks) would slip past every such comparison.
    events: list[StoreEvent] = []
    project.subscribe(events.append)
    slide_id = add_slide(project, tmp_path)
    cell = project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE)
    project.set_label([cell.id], "monocyte")
    project.remove_cells([cell.id])
    project.set_sample_id(slide_id, "S-1")
    project.set_taxonomy(project.taxonomy)
    assert all(type(event.kind) is StoreEventKind for event in events)
    assert {event.kind for event in events} == set(StoreEventKind)


def _compares_an_event_kind_with_text(node: ast.AST) -> bool:
    """`event.kind == "..."`, `e.kind in ("...",)` or `event.kind.startswith("...")`."""
    def is_event_kind(expr: ast.AST) -> bool:
        return (isinstance(expr, ast.Attribute) and expr.attr == "kind" and isinstance(expr.value, ast.Name)
                and expr.value.id in ("event", "e"))

    def holds_text(expr: ast.AST) -> bool:
        return any(isinstance(part, ast.Constant) and isinstance(part.value, str) for part in ast.walk(expr))

    if isinstance(node, ast.Compare):
        return is_event_kind(node.left) and any(holds_text(other) for other in node.comparators)
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and is_event_kind(node.func.value) and holds_text(node))


def test_views_compare_event_kinds_with_members_not_text() -> None:
    # A misspelt "reloded" matches nothing and nobody notices; a misspelt member fails at once.
    found = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
        for path in sorted((REPO_ROOT / "app").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.expr) and _compares_an_event_kind_with_text(node)
    ]
    assert found == []


def test_batch_listeners_hear_one_call_per_transaction(project: ProjectStore, tmp_path: Path) -> None:
    batches: list[list[StoreEvent]] = []
    slide_id = add_slide(project, tmp_path)
    cells = project.add_cells(slide_id, [proposal(Box(i, 1, i + 5, 6)) for i in range(3)])
    unsubscribe = project.subscribe_batches(batches.append)
    project.confirm([c.id for c in cells])
    project.undo()  # announces each restored cell on its own
    assert len(batches) == 2
    assert sum(1 for e in batches[1] if e.kind is StoreEventKind.CELLS_CHANGED) >= 1
    assert {cell_id for e in batches[1] for cell_id in e.cell_ids} == {c.id for c in cells}
    unsubscribe()
    project.redo()
    assert len(batches) == 2


def test_slide_status_follows_the_work(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    assert project.slide(slide_id).status is SlideStatus.NEW
    (cell,) = project.add_cells(slide_id, [proposal(Box(1, 1, 9, 9))])
    assert project.slide(slide_id).status is SlideStatus.PROPOSED
    project.confirm([cell.id])
    assert project.slide(slide_id).status is SlideStatus.IN_REVIEW


def test_a_signed_off_slide_is_locked_until_unlocked_with_a_reason(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    cell = project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE, label="monocyte")
    project.sign_off(slide_id, "AB", target=1)
    with pytest.raises(SlideLockedError, match="signed off"):
        project.set_label([cell.id], "basophil")
    with pytest.raises(SlideLockedError):
        project.undo()
    with pytest.raises(StoreError, match="reason"):
        project.unlock(slide_id, "AB", "  ")
    project.unlock(slide_id, "AB", "wrong count")
    project.set_label([cell.id], "basophil")
    assert [a["action"] for a in project.audit_trail(slide_id)] == ["sign_off", "unlock"]


def test_a_sign_off_comment_is_kept_with_the_slide_through_an_unlock(project: ProjectStore, tmp_path: Path) -> None:
    """The reviewer's comment (red cell and platelet morphology, say) goes
    with the count into the report; an unlock keeps it for the next
    sign-off, and the audit trail holds each sign-off's comment."""
    slide_id = add_slide(project, tmp_path)
    project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE, label="monocyte")
    signed = project.sign_off(slide_id, "AB", "  RBC normocytic; platelets clumped  ", target=1)
    assert signed.comment == "RBC normocytic; platelets clumped"
    project.unlock(slide_id, "AB", "recount")
    assert project.slide(slide_id).comment == "RBC normocytic; platelets clumped"
    assert project.sign_off(slide_id, "CD", "", target=1).comment == ""  # cleared on purpose
    trail = [(a["action"], a["who"], a["reason"]) for a in project.audit_trail(slide_id)]
    assert trail == [("sign_off", "AB", "RBC normocytic; platelets clumped"), ("unlock", "AB", "recount"),
                     ("sign_off", "CD", "")]
    assert "comment" not in project.slide(slide_id).attributes


def test_unknown_labels_are_refused_naming_the_classes(project: ProjectStore, tmp_path: Path) -> None:
    slide_id = add_slide(project, tmp_path)
    with pytest.raises(StoreError, match="neutrophil"):
        project.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE, label="blast")


def test_open_refuses_files_that_are_not_projects(tmp_path: Path) -> None:
    bogus = tmp_path / "x.hemalabel"
    bogus.write_text("hello, not sqlite" * 100)
    with pytest.raises(StoreError, match="not a HemaLabel project"):
        ProjectStore.open(bogus)
    with pytest.raises(StoreError, match="no project file"):
        ProjectStore.open(tmp_path / "missing.hemalabel")


def test_open_leaves_empty_tiny_and_foreign_files_untouched(tmp_path: Path) -> None:
    """SQLite would take an empty or tiny file for a new database and write
    a project over it, or add a project's tables to another program's
    database.  Such files are refused and left exactly as they were."""
    empty, tiny, foreign = tmp_path / "empty.hemalabel", tmp_path / "tiny.hemalabel", tmp_path / "other.hemalabel"
    empty.write_bytes(b"")
    tiny.write_bytes(b"x")
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.execute("INSERT INTO notes VALUES ('keep me')")
    connection.commit()
    connection.close()
    for path, reason in ((empty, "the file is empty"), (tiny, "not an SQLite database"),
                         (foreign, "another program's SQLite database")):
        before = path.read_bytes()
        with pytest.raises(StoreError, match=reason):
            ProjectStore.open(path)
        with pytest.raises(StoreError, match=reason):
            ProjectStore.open_or_create(path)
        assert path.read_bytes() == before and not path.with_name(path.name + "-wal").exists()


def test_open_refuses_a_project_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "p.hemalabel"
    ProjectStore.create(path).close()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(StoreError, match="newer HemaLabel"):
        ProjectStore.open(path)


def test_a_project_on_read_only_media_opens_read_only(tmp_path: Path, read_only_folder) -> None:
    folder = tmp_path / "ro"
    with ProjectStore.create(folder / "p.hemalabel") as store:
        slide_id = add_slide(store, folder)
        store.add_cell(slide_id, Box(0, 0, 5, 5), CellKind.WHITE, label="monocyte")
    with read_only_folder(folder), ProjectStore.open(folder / "p.hemalabel") as store:
        assert store.read_only
        assert len(store.cells()) == 1
        with pytest.raises(ReadOnlyProjectError, match="read-only"):
            store.set_label([store.cells()[0].id], "basophil")


def _edits_one_by_one(store: ProjectStore, slide_id: int):
    """every_kind_of_edit, as separate callables so a test can snapshot between."""
    ids: dict[str, int] = {}

    def detect() -> None:
        a, b = store.add_cells(slide_id, [proposal(Box(1, 1, 11, 11)), proposal(Box(20, 20, 30, 32))])
        ids.update(a=a.id, b=b.id)

    def draw() -> None:
        ids["drawn"] = store.add_cell(slide_id, Box(40, 5, 50, 15), CellKind.WHITE).id

    return [
        detect,
        lambda: store.set_predictions([(ids["a"], "neutrophil", {"neutrophil": 0.9})], "cls-1"),
        draw,
        lambda: store.move_cell(ids["a"], Box(2, 2, 13, 12)),
        lambda: store.set_label([ids["a"]], "lymphocyte"),
        lambda: store.confirm([ids["b"]]),
        lambda: store.set_kind([ids["drawn"]], CellKind.PLATELET),
        lambda: store.set_label([ids["drawn"]], "platelet"),
        lambda: store.remove_cells([ids["b"]]),
    ]


def test_sign_off_is_refused_while_white_cells_are_unresolved(project: ProjectStore, tmp_path: Path) -> None:
    from core.store import SignOffRefusedError

    slide_id = add_slide(project, tmp_path)
    (cell,) = project.add_cells(slide_id, [proposal(Box(1, 1, 9, 9))])
    project.set_predictions([(cell.id, "unidentified", {"monocyte": 0.4})], "cls-1")
    with pytest.raises(SignOffRefusedError, match="1 cell is Unidentified"):
        project.sign_off(slide_id, "AB", target=1)
    project.set_label([cell.id], "monocyte")
    assert project.sign_off(slide_id, "AB", target=1).status is SlideStatus.SIGNED_OFF


def test_cell_tallies_count_what_the_cells_say(project_location: str, tmp_path: Path) -> None:
    from core.store import CellTally

    with ProjectStore.create(project_location) as store:
        first = store.add_slide(tmp_path / "a.png", 100, 80)
        second = store.add_slide(tmp_path / "b.png", 100, 80)
        empty = store.add_slide(tmp_path / "c.png", 100, 80)
        store.add_cells(first.id, [
            NewCell(Box(1, 1, 9, 9), CellKind.WHITE, label="unidentified", source=LabelSource.MODEL),
            NewCell(Box(1, 1, 9, 9), CellKind.WHITE, label="monocyte", source=LabelSource.MODEL),
            NewCell(Box(1, 1, 9, 9), CellKind.RED, source=LabelSource.MODEL),
            NewCell(Box(1, 1, 9, 9), CellKind.PLATELET, label="platelet", source=LabelSource.MODEL),
        ])
        store.add_cell(second.id, Box(1, 1, 9, 9), CellKind.WHITE, label="lymphocyte")
        store.confirm([store.cells(first.id)[1].id])
        tallies = store.cell_tallies()
        assert tallies == {
            first.id: CellTally(white=2, red=1, platelet=1, unreviewed=3, unidentified=1, unreviewed_white=1),
            second.id: CellTally(white=1, unreviewed=0),
        }
        assert empty.id not in tallies
        assert store.cell_tallies(second.id) == {second.id: tallies[second.id]}


def test_the_counted_differential_is_the_one_of_the_cells(project_location: str, tmp_path: Path) -> None:
    """ProjectStore.differential counts in SQL; it must agree with
    core.differential over the very cells, slide by slide and in all."""
    from core.differential import differential

    with ProjectStore.create(project_location) as store:
        slides = [store.add_slide(tmp_path / f"{n}.png", 100, 80) for n in range(3)]
        labels = [
            None,
            "neutrophil",
            "neutrophil",
            "lymphocyte",
            "unidentified",
            "erythroblast",
            "platelet",
            "basophil",
        ]
        for n, slide in enumerate(slides[:2]):
            store.add_cells(slide.id, [
                NewCell(Box(1, 1, 9, 9), CellKind.WHITE, label=label, source=LabelSource.MODEL)
                for label in labels[n:]
            ] + [NewCell(Box(1, 1, 9, 9), CellKind.RED, source=LabelSource.MODEL)] * (n + 2)
              + [NewCell(Box(1, 1, 9, 9), CellKind.PLATELET, label="platelet", source=LabelSource.MODEL)])
        store.confirm([cell.id for cell in store.cells(slides[0].id)[1:4]])
        for slide_id in [slide.id for slide in slides] + [None]:
            assert store.differential(slide_id) == differential(store.cells(slide_id), store.taxonomy)
        assert store.differential().counted == 8 and store.differential(slides[2].id).counted == 0


def test_a_class_never_changes_a_kind(project: ProjectStore, tmp_path: Path) -> None:
    """A white-cell class for a red cell is refused whole, nothing written:
    a kind changes only by set_kind (issue 27)."""
    from core.store import ClassKindError

    slide_id = add_slide(project, tmp_path)
    white, red, platelet = project.add_cells(
        slide_id, [proposal(Box(0, 0, 9, 9)), proposal(Box(20, 0, 29, 9), CellKind.RED),
                   proposal(Box(40, 0, 49, 9), CellKind.PLATELET)]
    )
    before, last_step = snapshot(project), project.undo_description()
    with pytest.raises(ClassKindError, match="red cell"):
        project.set_label([white.id, red.id], "neutrophil")
    with pytest.raises(ClassKindError, match="platelet"):
        project.set_label([platelet.id], "unidentified")
    assert snapshot(project) == before and project.undo_description() == last_step
    project.set_label([white.id], "platelet")  # the classifier's class for a white-cell box: its kind stays
    project.set_label([platelet.id], "platelet")
    assert project.cell(white.id).kind is CellKind.WHITE and project.cell(platelet.id).kind is CellKind.PLATELET
