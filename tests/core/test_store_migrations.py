"""Every earlier project version opens in the current store with its data."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from core.audit_trail import AuditFilter, audit_trail
from core.identity import BEFORE_IDENTITY, Identity
from core.schema import CellKind
from core.store import ProjectStore
from core.store_schema import CURRENT_VERSION, MIGRATIONS, migrate, schema_version
from core.taxonomy import default_taxonomy


def make_version_1_project(path: Path) -> None:
    """A project exactly as HemaLabel's first file format wrote it."""
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, target=1)
    assert schema_version(connection) == 1
    connection.executescript(
        f"""
        INSERT INTO meta(key, value) VALUES ('taxonomy', '{default_taxonomy().to_json().replace("'", "''")}');
        INSERT INTO slides(id, path, width, height, status, added_at)
            VALUES (1, 'img/a.png', 640, 480, 'in_review', 't');
        INSERT INTO cells(id, slide_id, x0, y0, x1, y1, kind, label, source, probabilities, model_version, reviewed)
            VALUES (7, 1, 10, 20, 110, 130, 'white', 'monocyte', 'human', '{json.dumps({"monocyte": 0.6})}',
                    'cls-1', 1);
        INSERT INTO edits(id, description, at) VALUES (1, 'Set class', 't');
        INSERT INTO changes(edit_id, cell_id, before, after) VALUES
            (1, 7, '{json.dumps(_state("lymphocyte", "model", False))}',
             '{json.dumps(_state("monocyte", "human", True))}');
        INSERT INTO corrections(at, edit_id, slide_id, cell_id, action, old_label, new_label, model_version)
            VALUES ('t', 1, 1, 7, 'relabel', 'lymphocyte', 'monocyte', 'cls-1');
        """
    )
    connection.close()


def make_project_at(path: Path, version: int, *statements: str) -> None:
    """The version-1 project as the HemaLabel of `version` left it, with
    `statements` run on it there."""
    make_version_1_project(path)
    connection = sqlite3.connect(path, isolation_level=None)
    migrate(connection, target=version)
    for statement in statements:
        connection.execute(statement)
    connection.close()


def _state(label: str, source: str, reviewed: bool) -> dict:
    return {
        "slide_id": 1,
        "box": [10, 20, 110, 130],
        "kind": "white",
        "label": label,
        "source": source,
        "probabilities": {"monocyte": 0.6},
        "model_version": "cls-1",
        "score": None,
        "reviewed": reviewed,
    }


def test_a_version_1_project_opens_upgraded_with_its_data_and_history(tmp_path: Path) -> None:
    path = tmp_path / "old.hemalabel"
    make_version_1_project(path)
    with ProjectStore.open(path) as store:
        assert store.schema_version == CURRENT_VERSION
        (slide,) = store.slides()
        assert (slide.path, slide.width, slide.signed_off_by) == ("img/a.png", 640, None)
        assert store.cell(7).label == "monocyte"
        (correction,) = store.corrections()
        assert correction.new_label == "monocyte"
        assert store.undo() == "Set class"
        assert store.cell(7).label == "lymphocyte"
        assert store.redo() == "Set class"
        store.sign_off(slide.id, "AB", target=1)  # a version-2 feature works on the upgraded file
    with ProjectStore.open(path) as store:
        assert store.slide(1).signed_off_by == "AB"


def test_every_migration_step_is_numbered_without_gaps() -> None:
    assert sorted(MIGRATIONS) == list(range(1, CURRENT_VERSION + 1))


def _index_names(path: Path) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        connection.close()


def test_the_indexes_that_change_no_layout_are_made_on_opening_without_a_new_version(tmp_path: Path) -> None:
    """They change no layout, so the file keeps a version number that the
    HemaLabel before them still opens."""
    path = tmp_path / "old.hemalabel"
    make_project_at(path, CURRENT_VERSION)  # a current file from before the indexes
    with ProjectStore.open(path, read_only=True):
        pass  # reading changes nothing
    assert "edits_undone" not in _index_names(path)
    with ProjectStore.open(path) as store:
        assert store.schema_version == CURRENT_VERSION
        assert store.undo() == "Set class" and store.redo() == "Set class"
    assert {"edits_undone", "corrections_by_edit", "cells_by_group"} <= _index_names(path)
    with ProjectStore.create(tmp_path / "new.hemalabel"):
        pass
    assert {"edits_undone", "corrections_by_edit", "cells_by_group"} <= _index_names(tmp_path / "new.hemalabel")


def _plan_of(store: ProjectStore, read: Callable[[], object]) -> str:
    """SQLite's plan for the one query on cells that `read` runs."""
    statements: list[str] = []
    db = store._db
    assert isinstance(db, sqlite3.Connection)  # a file's
    db.set_trace_callback(statements.append)
    read()
    db.set_trace_callback(None)
    (query,) = [statement for statement in statements if "FROM cells" in statement]
    return " | ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))


def test_the_project_differential_is_counted_from_an_index_alone(tmp_path: Path) -> None:
    """Counting every slide's cells after each edit must not read the cells table."""
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        assert "COVERING INDEX cells_by_group" in _plan_of(store, store.cell_groups)


def test_a_projects_cells_of_one_kind_are_read_from_the_table(tmp_path: Path) -> None:
    """Through cells_by_group SQLite would fetch each row apart and then sort them."""
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        assert _plan_of(store, lambda: store.cells(kind=CellKind.WHITE)) == "SCAN cells"
        assert "cells_by_slide" in _plan_of(store, lambda: store.cells(1, kind=CellKind.WHITE))


def test_a_version_2_project_opens_with_its_cells_unscreened_and_takes_a_screen(tmp_path: Path) -> None:
    """Version 3 adds the lymphoid screen's columns: old cells were never
    screened, and an undo step saved before them still plays."""
    path = tmp_path / "old.hemalabel"
    make_project_at(path, 2)
    with ProjectStore.open(path) as store:
        assert store.schema_version == CURRENT_VERSION
        assert store.cell(7).screen is None
        assert store.blast_tally().screened == 0
        store.record_screen(1, [(7, 0.9, "pre", True)], "screen-1")
        assert store.cell(7).screen is not None and store.blast_tally().open == 1
        assert store.undo() == "Screen for blasts" and store.cell(7).screen is None
        assert store.undo() == "Set class" and store.cell(7).label == "lymphocyte"


def test_a_version_3_project_opens_with_its_edits_by_nobody_known_and_records_who_from_then_on(
    tmp_path: Path,
) -> None:
    """Version 4 records who made each edit and where: the edits saved before
    say so in the trail, an undo of one still plays, and every new edit, a
    sign-off included, names the identity the project was opened with."""
    path = tmp_path / "old.hemalabel"
    make_project_at(path, 3, "UPDATE edits SET at = '2026-01-05T09:00:00.000+00:00'")
    with ProjectStore.open(path, identity=Identity("CD", "bench-2")) as store:
        assert store.schema_version == CURRENT_VERSION
        (old,) = audit_trail(store)
        assert (old.user, old.workstation, old.action) == (BEFORE_IDENTITY, BEFORE_IDENTITY, "Set class")
        assert old.change == "class Lymphocyte -> Monocyte; marked reviewed"
        assert [entry.action for entry in audit_trail(store, AuditFilter(user=BEFORE_IDENTITY))] == ["Set class"]
        store.set_label([7], "neutrophil")
        store.sign_off(1, "CD", target=1)
        new_edit, sign_off = audit_trail(store, AuditFilter(user="CD"))
        assert (new_edit.user, new_edit.workstation, new_edit.change) == ("CD", "bench-2",
                                                                         "class Monocyte -> Neutrophil")
        assert (sign_off.action, sign_off.workstation) == ("Signed off", "bench-2")


def test_a_version_4_project_opens_with_every_cell_at_its_first_row_version_and_no_claims(tmp_path: Path) -> None:
    """Version 5 (several workstations on one project) adds each cell's row
    version and the slides' claims: a file from before has every cell at 0
    and no slide claimed, and its data and history are as they were."""
    path = tmp_path / "old.hemalabel"
    make_project_at(path, 4)
    with ProjectStore.open(path) as store:
        assert store.schema_version == CURRENT_VERSION
        assert [dict(row)["row_version"] for row in store.raw_rows("cells")] == [0]
        assert store.raw_rows("claims") == []
        assert store.undo() == "Set class" and store.cell(7).label == "lymphocyte"
