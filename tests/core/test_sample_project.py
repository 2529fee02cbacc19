"""The bundled sample project (Help > Open Sample Project): six BCCD fields
made into a project in the user's folder, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.jobs import run_job
from core.sample_project import SAMPLE_PROJECT_NAME, bundled_sample_dir, prepare_sample_project, sample_folder
from core.schema import CellKind, LabelSource
from core.store import ProjectStore


def test_the_bundled_sample_is_small_and_carries_its_licence() -> None:
    sample = bundled_sample_dir()
    images = sorted((sample / "JPEGImages").glob("*.jpg"))
    assert len(images) == 6
    assert {p.stem for p in (sample / "Annotations").glob("*.xml")} == {p.stem for p in images}
    assert "MIT License" in (sample / "LICENSE").read_text(encoding="utf-8")
    assert "github.com/Shenggan/BCCD_Dataset" in (sample / "README.md").read_text(encoding="utf-8")
    assert sum(p.stat().st_size for p in sample.rglob("*") if p.is_file()) < 1_000_000


def test_the_sample_lives_in_the_users_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEMALABEL_DATA_DIR", str(tmp_path))
    assert sample_folder().parent == tmp_path


def test_the_sample_project_has_every_box_and_white_cells_for_the_classifier(tmp_path: Path) -> None:
    project = run_job(prepare_sample_project(tmp_path / "sample"))
    assert project == tmp_path / "sample" / SAMPLE_PROJECT_NAME
    with ProjectStore.open(project) as store:
        assert len(store.slides()) == 6
        white = store.cells(kind=CellKind.WHITE)
        assert len(white) == 7
        # Proposals, so the classifier labels them and the newcomer reviews.
        assert all(cell.source is LabelSource.MODEL and not cell.reviewed and cell.label is None for cell in white)
        red = store.cells(kind=CellKind.RED)
        assert len(red) == 89 and all(cell.reviewed for cell in red)
        assert len(store.cells(kind=CellKind.PLATELET)) == 11
        # The images were copied: the project never points into the install.
        assert all(store.image_path(slide).is_relative_to(tmp_path) for slide in store.slides())
    assert (tmp_path / "sample" / "LICENSE").is_file()


def test_a_second_call_reopens_the_sample_as_it_is(tmp_path: Path) -> None:
    project = run_job(prepare_sample_project(tmp_path))
    with ProjectStore.open(project) as store:
        cell = store.cells(kind=CellKind.RED)[0]
        store.remove_cells([cell.id])  # a reviewer's edit, which a second call must keep
        count = len(store.cells())
    assert run_job(prepare_sample_project(tmp_path)) == project
    with ProjectStore.open(project) as store:
        assert len(store.cells()) == count


def test_an_empty_sample_project_is_filled(tmp_path: Path) -> None:
    """A first attempt cut short left the project without slides."""
    ProjectStore.create(tmp_path / SAMPLE_PROJECT_NAME).close()
    project = run_job(prepare_sample_project(tmp_path))
    with ProjectStore.open(project) as store:
        assert len(store.slides()) == 6
