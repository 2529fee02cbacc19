"""A project moved between engines by `copy_project` (hemalabel migrate):
every table equal, ids kept, history that still undoes, images still found,
and a copy that cannot be whole writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.schema import Box, CellKind
from core.store import ProjectStore, StoreError
from core.store.project_copy import TABLES, copy_project
from core.taxonomy import Taxonomy, TaxonomyClass, default_taxonomy


def _worked_project(location: str, images: Path) -> None:
    """A project with what a day's review leaves: a user class, cells added,
    corrected and deleted, an undone step, a sign-off, queued corrections."""
    base = default_taxonomy()
    smudge = TaxonomyClass("smudge", "Smudge cell", "", "#654321", "white", False)
    taxonomy = Taxonomy(base.name, (*base.classes, smudge))
    with ProjectStore.create(location, taxonomy) as store:
        for n in range(2):
            slide = store.add_slide(images / f"field_{n}.png", 64, 48)
            a = store.add_cell(slide.id, Box(1, 1, 20, 20), CellKind.WHITE, "lymphocyte")
            b = store.add_cell(slide.id, Box(30, 5, 50, 25), CellKind.WHITE)
            store.set_label([b.id], "smudge")
            store.move_cell(a.id, Box(2, 2, 21, 21))
            store.remove_cells([b.id])
            store.undo()
            store.confirm([a.id])
        store.set_label([b.id], "neutrophil")
        store.sign_off(1, "AB", target=1)


def _contents(store: ProjectStore) -> dict[str, list[dict]]:
    tables = {}
    for table in TABLES:
        rows = [dict(row) for row in store.raw_rows(table)]
        if table == "meta":
            rows = [row for row in rows if row["key"] not in store.engine_meta_keys()]
        if table == "slides":
            for row in rows:
                row["path"] = str(store.image_path(store.slide(row["id"])).resolve())
        tables[table] = rows
    return tables


@pytest.mark.parametrize("there", ["sqlite", "postgres"])
def test_a_project_copied_there_and_back_is_the_same_project(there: str, tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    images = tmp_path / "images"
    images.mkdir()
    _worked_project(str(tmp_path / "start.hemalabel"), images)
    middle = str(request.getfixturevalue("postgres_url")) if there == "postgres" else str(tmp_path / "b.hemalabel")
    with ProjectStore.open(tmp_path / "start.hemalabel") as source:
        before = _contents(source)
        with ProjectStore.create(middle, source.taxonomy) as target:
            copied = copy_project(source, target)
            assert {t.name: t.rows for t in copied.tables}["cells"] == 4
    back = tmp_path / "elsewhere" / "back.hemalabel"
    with ProjectStore.open(middle) as source, ProjectStore.create(back, source.taxonomy) as target:
        copy_project(source, target)
    with ProjectStore.open(back) as store:
        assert _contents(store) == before  # ids, history, queue, trail; images where they were
        assert store.taxonomy.names[-1] == "smudge"
        assert store.slide(1).signed_off_by == "AB"
        # The history still undoes, and new ids start above the copied ones.
        assert store.undo() == "Set class"
        assert store.cell(4).label == "smudge"
        new = store.add_cell(2, Box(3, 3, 9, 9), CellKind.WHITE)
        assert new.id > max(row["id"] for row in before["cells"])


def test_new_ids_on_the_server_start_above_the_copied_ones(tmp_path: Path, postgres_url: str) -> None:
    _worked_project(str(tmp_path / "start.hemalabel"), tmp_path)
    with ProjectStore.open(tmp_path / "start.hemalabel") as source, \
            ProjectStore.create(postgres_url, source.taxonomy) as target:
        copy_project(source, target)
        highest = max(row["id"] for row in target.raw_rows("cells"))
        assert target.add_cell(2, Box(1, 1, 5, 5), CellKind.RED).id > highest
        target.set_label([3], "monocyte")  # a new edit and a queued correction after the copied ones


def test_a_project_that_holds_slides_is_not_copied_into(tmp_path: Path) -> None:
    _worked_project(str(tmp_path / "a.hemalabel"), tmp_path)
    _worked_project(str(tmp_path / "b.hemalabel"), tmp_path)
    with ProjectStore.open(tmp_path / "a.hemalabel") as source, ProjectStore.open(tmp_path / "b.hemalabel") as target:
        with pytest.raises(StoreError, match="already holds slides"):
            copy_project(source, target)
        assert len(target.cells()) == 4
