"""What classifying a project does to the flags an earlier lymphoid screen
left (core.screen.after_classifying, the door of the CLI and the window):
decided flags stay decided, open flags stay open and are counted, so a
suspected blast is never dropped unseen and sign-off still waits for it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import core.classifier
from app.cli.main import main
from core import review
from core.jobs import run_job
from core.schema import BlastFlag, Box, CellKind, LabelSource, NewCell
from core.screen.after_classifying import classify_and_screen
from core.store import ProjectStore, SignOffRefusedError
from core.taxonomy import BLAST
from tests.app.fake_models import CLASSES, FakeClassifier, FakeScreenModel
from tests.core.images import write_image


def _flagged_project(tmp_path: Path) -> tuple[Path, list[int]]:
    """One slide, four lymphocytes: an open flag, a confirmed one, a
    dismissed one, and one the screen cleared."""
    path = tmp_path / "p.hemalabel"
    with ProjectStore.create(path) as store:
        slide = store.add_slide(write_image(tmp_path / "images" / "s.png"), 64, 48)
        new = [NewCell(Box(2 + 15 * i, 10, 14 + 15 * i, 22), CellKind.WHITE, label="lymphocyte",
                       source=LabelSource.MODEL) for i in range(4)]
        ids = [cell.id for cell in store.add_cells(slide.id, new, "Detect cells")]
        store.record_screen(slide.id, [(ids[0], 0.9, "pre", True), (ids[1], 0.8, "pro", True),
                                       (ids[2], 0.7, "early", True), (ids[3], 0.1, "pre", False)], "screen 1.0.0")
        review.confirm_blast(store, [ids[1]])
        review.dismiss_blast(store, [ids[2]])
    return path, ids


def _flags(store: ProjectStore, ids: list[int]) -> list[BlastFlag | None]:
    return [None if (screen := store.cell(cell_id).screen) is None else screen.flag for cell_id in ids]


def test_classifying_with_the_screen_off_keeps_every_flag_and_says_how_many_stay_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # The fake classifier calls these pinkish cells neutrophils: each model label changes.
    monkeypatch.setattr(core.classifier, "load_classifier", lambda *_args: FakeClassifier())
    project, ids = _flagged_project(tmp_path)
    assert main(["classify", "--project", str(project), "--learn", "off"]) == 0
    assert "1 cell keeps an open blast flag from an earlier screen; sign-off waits until each is decided" in (
        capsys.readouterr().out)
    with ProjectStore.open(project) as store:
        assert [store.cell(cell_id).label for cell_id in ids] == ["neutrophil", BLAST, "neutrophil", "neutrophil"]
        assert _flags(store, ids) == [BlastFlag.SUSPECTED, BlastFlag.CONFIRMED, BlastFlag.DISMISSED, BlastFlag.NONE]
        with pytest.raises(SignOffRefusedError, match="1 suspected blast is not decided"):
            store.sign_off(1, "AB", target=1)
    assert main(["classify", "--project", str(project), "--learn", "off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["open_flags_kept"]["cells"] == 1


def test_a_project_without_open_flags_says_nothing_of_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(core.classifier, "load_classifier", lambda *_args: FakeClassifier())
    project, ids = _flagged_project(tmp_path)
    with ProjectStore.open(project) as store:
        review.dismiss_blast(store, [ids[0]])
    assert main(["classify", "--project", str(project), "--learn", "off"]) == 0
    assert "blast flag" not in capsys.readouterr().out


class _LabelsInTurn(FakeClassifier):
    """Calls the cells it is given, in order, by the labels it holds."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__()
        self.labels = labels

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        rows = np.full((len(crops), len(CLASSES)), 0.01)
        for row, label in zip(rows, self.labels):
            row[CLASSES.index(label)] = 0.93
        return rows


def test_a_screen_that_no_longer_looks_at_a_cell_leaves_its_open_flag_open_and_counts_it(tmp_path: Path) -> None:
    project, ids = _flagged_project(tmp_path)
    lymphocytes = ["lymphocyte"] * 4
    with ProjectStore.open(project) as store:
        # The first cell is now a neutrophil, so the screen passes it over; the last is screened afresh.
        now = ["neutrophil", "lymphocyte", "lymphocyte", "lymphocyte"]
        after = run_job(classify_and_screen(store, _LabelsInTurn(now), [1], FakeScreenModel(p_blast=0.9)))
        assert [cell_id for cell_id, _ in after.slides[0].screened] == [ids[2], ids[3]]  # a Blast is no lymphoid
        assert _flags(store, ids) == [BlastFlag.SUSPECTED, BlastFlag.CONFIRMED, BlastFlag.DISMISSED,
                                      BlastFlag.SUSPECTED]
        assert after.kept_open == 1 and after.kept_open_line().startswith("1 cell keeps an open blast flag")
        # Screened again as a lymphocyte, its flag is this run's: nothing is kept from before.
        again = run_job(classify_and_screen(store, _LabelsInTurn(lymphocytes), [1], FakeScreenModel(p_blast=0.9)))
        assert again.kept_open == 0 and again.kept_open_line() == ""
        assert store.blast_tally(1).open == 2
