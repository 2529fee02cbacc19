"""hemalabel migrate: a project file onto a PostgreSQL server and back,
history included, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from core.schema import Box, CellKind
from core.store import ProjectStore, StoreError
from core.store import project_copy as project_copy_module
from tests.core.images import write_image


def _reviewed_project(tmp_path: Path) -> Path:
    project = tmp_path / "ward.hemalabel"
    with ProjectStore.create(project) as store:
        slide = store.add_slide(write_image(tmp_path / "smears" / "a.png"), 64, 48)
        cell = store.add_cell(slide.id, Box(2, 2, 30, 30), CellKind.WHITE, "lymphocyte")
        store.set_label([cell.id], "monocyte")
    return project


def test_a_file_project_goes_to_the_server_and_comes_back_whole(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _reviewed_project(tmp_path)
    assert main(["migrate", "--from", str(project), "--to", postgres_url]) == 0
    out = capsys.readouterr().out
    assert (f"Copied {project} to {postgres_url}: 1 slide, 1 cell, 2 undo steps, 2 cell changes, "
            "2 queued corrections, 1 audit entry; every table read back equal") in out
    with ProjectStore.open(postgres_url) as store:
        assert store.cell(1).label == "monocyte" and store.image_path(store.slide(1)).is_file()
        assert store.undo() == "Set class"  # the history came too
    back = tmp_path / "back" / "ward.hemalabel"
    assert main(["migrate", "--from", postgres_url, "--to", str(back), "--json"]) == 0
    copied = json.loads(capsys.readouterr().out)
    assert copied["tables"]["edits"] == 2 and copied["tables"]["cells"] == 1
    with ProjectStore.open(back) as store:
        assert store.cell(1).label == "lymphocyte" and store.redo() == "Set class"
        assert store.image_path(store.slide(1)).is_file()


def test_a_target_that_exists_is_refused_and_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _reviewed_project(tmp_path)
    other = tmp_path / "other.hemalabel"
    ProjectStore.create(other).close()
    assert main(["migrate", "--from", str(project), "--to", str(other)]) == 2
    assert "a project already exists here" in capsys.readouterr().err
    assert other.is_file()


def test_a_copy_that_fails_leaves_no_project_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    project = _reviewed_project(tmp_path)
    real_write = project_copy_module._write

    def fail_on_corrections(target, table, rows):  # noqa: ANN001, ANN202
        if table == "corrections":
            raise StoreError(f"{target.display_name}: the disk is full (test)")
        real_write(target, table, rows)

    monkeypatch.setattr(project_copy_module, "_write", fail_on_corrections)
    target = tmp_path / "copy.hemalabel"
    assert main(["migrate", "--from", str(project), "--to", str(target)]) == 2
    assert "the disk is full" in capsys.readouterr().err
    assert not target.exists()
    with ProjectStore.open(project) as store:  # the source is as it was, and free again
        assert store.cell(1).label == "monocyte"
