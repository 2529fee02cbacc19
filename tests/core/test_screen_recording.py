"""The screen written into a project: `classify --project P --screen` and the
project's setting, with fake models (no TensorFlow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import core.classifier
import core.screen.model
from app.cli.main import main
from core import review
from core.jobs import run_job
from core.schema import BlastFlag, Box, CellKind, LabelSource, NewCell
from core.screen.settings import ScreenSettings, load_screen_settings, save_screen_settings
from core.screen.slides import screen_slides
from core.store import ProjectStore, StoreError
from tests.app.fake_models import FakeClassifier, FakeScreenModel
from tests.core.images import write_image


def _project(tmp_path: Path, slides: int = 2) -> Path:
    path = tmp_path / "p.hemalabel"
    with ProjectStore.create(path) as store:
        for n in range(slides):
            slide = store.add_slide(write_image(tmp_path / "images" / f"s{n}.png"), 64, 48)
            store.add_cells(slide.id, [NewCell(Box(10, 10, 30, 30), CellKind.WHITE, source=LabelSource.MODEL)],
                            "Detect cells")
    return path


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> FakeScreenModel:
    screen = FakeScreenModel()
    monkeypatch.setattr(core.classifier, "load_classifier", lambda *_args: FakeClassifier())
    monkeypatch.setattr(core.screen.model, "load_screen_model", lambda *_args: screen)
    return screen


def test_classify_with_screen_stores_the_flags_and_prints_the_line(
        tmp_path: Path, fakes: FakeScreenModel, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path)
    # The fake classifier calls these pinkish cells neutrophils: every white cell is screened.
    assert main(["classify", "--project", str(project), "--learn", "off", "--screen", "--screen-all-white"]) == 0
    out = capsys.readouterr().out
    assert "All slides: Blasts suspected: 2 of 2 lymphoid cells (fake-screen 1, operating point 0.5000)" in out
    with ProjectStore.open(project, read_only=True) as store:
        screens = [cell.screen for cell in store.cells()]
        assert all(s is not None and s.flag is BlastFlag.SUSPECTED and s.model_version == "fake-screen 1"
                   for s in screens)


def test_the_projects_setting_screens_without_asking_at_its_own_operating_point(
        tmp_path: Path, fakes: FakeScreenModel, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path, slides=1)
    with ProjectStore.open(project) as store:
        save_screen_settings(store, ScreenSettings(on=True, all_white=True, operating_point=0.95))
    assert main(["classify", "--project", str(project), "--learn", "off", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["screen"]["threshold"] == 0.95 and summary["screen"]["suspected"] == 0
    with ProjectStore.open(project, read_only=True) as store:
        (cell,) = store.cells()
        assert cell.screen is not None and cell.screen.flag is BlastFlag.NONE
        assert store.blast_tally().line() == "Blasts suspected: 0 of 1 lymphoid cells"
    assert main(["info", "--project", str(project)]) == 0
    assert "Lymphoid screen: Blasts suspected: 0 of 1 lymphoid cells" in capsys.readouterr().out
    assert main(["info", "--project", str(project), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lymphoid_screen"]["screened"] == 1


def test_a_missing_screen_model_is_said_once_when_only_the_setting_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from core.models.files import ModelCardError

    def missing(*_args: object) -> None:
        raise ModelCardError("screen model 'lymphoid-screen' not found (looked in models)")

    monkeypatch.setattr(core.classifier, "load_classifier", lambda *_args: FakeClassifier())
    monkeypatch.setattr(core.screen.model, "load_screen_model", missing)
    project = _project(tmp_path, slides=1)
    with ProjectStore.open(project) as store:
        save_screen_settings(store, ScreenSettings(on=True))
    assert main(["classify", "--project", str(project), "--learn", "off"]) == 0
    err = capsys.readouterr().err
    assert err.count("the project's lymphoid screen is on but its model cannot be used") == 1
    assert main(["classify", "--project", str(project), "--learn", "off", "--screen"]) == 2
    assert "screen model 'lymphoid-screen' not found" in capsys.readouterr().err


def test_a_signed_slide_keeps_its_screen_and_a_slide_without_lymphoid_cells_says_so(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with ProjectStore.open(project) as store:
        first, second = store.slides()
        (cell,) = store.cells(first.id)
        store.set_label([cell.id], "neutrophil")
        (other,) = store.cells(second.id)
        store.set_label([other.id], "lymphocyte")
        results = run_job(screen_slides(store, FakeScreenModel(), [first.id, second.id], record=True))
        assert results[0].problem == "no lymphoid white cell to screen" and results[1].suspected
        assert store.cell(cell.id).screen is None
        # An empty screen leaves the open flag open: only a decision ends it.
        store.record_screen(second.id, [], "fake-screen 1")
        assert store.cell(other.id).screen.flag is BlastFlag.SUSPECTED  # type: ignore[union-attr]
        review.dismiss_blast(store, [other.id])
        store.sign_off(second.id, "AB", target=1)
        results = run_job(screen_slides(store, FakeScreenModel(), [second.id], record=True))
        assert results[0].problem == "signed off; its screen is kept as it was"


def test_a_damaged_or_impossible_setting_is_refused_by_the_file(tmp_path: Path) -> None:
    with ProjectStore.open(_project(tmp_path, slides=0)) as store:
        assert load_screen_settings(store) == ScreenSettings()
        with pytest.raises(StoreError, match="operating point must lie between 0 and 1"):
            save_screen_settings(store, ScreenSettings(on=True, operating_point=1.5))
        store.set_meta("lymphoid_screen", "{not json")
        with pytest.raises(StoreError, match=f"{store.path}: the lymphoid screen setting is damaged"):
            load_screen_settings(store)


def test_the_cards_validation_scores_give_any_operating_points_figures() -> None:
    import numpy as np

    from core.screen.pooling import measured_at, scores_by_diagnosis

    record = scores_by_diagnosis(np.array([0.9, 0.1, 0.5, 0.6]), np.array([True, False, True, False]))
    assert record == {"malignant": [0.5, 0.9], "benign": [0.1, 0.6]}
    assert measured_at(record, 0.5) == (1.0, 0.5)
    assert measured_at(record, 0.7) == (0.5, 1.0)
    assert measured_at({"malignant": [0.5]}, 0.5) is None
