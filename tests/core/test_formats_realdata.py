"""BCCD imports, exports to every format and imports back to the same counts."""

from __future__ import annotations

import pytest

from core.exporting import EXPORT_FORMATS, ExportOptions, export_dataset
from core.importing import import_source
from core.jobs import run_job
from core.store import ProjectStore
from tests.conftest import real_data_path


@pytest.fixture(scope="module")
def bccd_project(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("bccd")
    store = ProjectStore.create(folder / "bccd.hemalabel")
    report = run_job(import_source(store, real_data_path("bccd")))
    assert (report.slides_added, report.cells_added, report.skipped) == (364, 4888, [])
    yield store, folder
    store.close()


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
@pytest.mark.slow
def test_bccd_round_trip_keeps_the_counts(bccd_project, fmt: str) -> None:
    store, folder = bccd_project
    out = folder / f"export_{fmt}"
    export = run_job(export_dataset(store, out, ExportOptions(format=fmt, split=(0.8, 0.1, 0.1), seed=3)))
    assert (export.slides, export.cells) == (364, 4888)
    with ProjectStore.create(folder / f"{fmt}.hemalabel") as copy:
        report = run_job(import_source(copy, out))
        assert report.format == fmt and report.skipped == []
        before, after = store.summary(), copy.summary()
        assert after["cells"] == before["cells"]
        assert after["classes"] == before["classes"]
        # Crops hold one cell per image; every other format one slide per field.
        assert after["slides"] == (4888 if fmt == "crops" else 364)
        splits = [str(slide.attributes.get("split")) for slide in copy.slides()]
        assert sorted(set(splits)) == ["test", "train", "val"]
