"""Classifying with the lymphoid screen in one pass (core.screen.after_classifying,
the door of the window and the CLI): each slide's image is decoded once, the
screen's verdicts go into the classification's own undo step, and what the
screen decides is exactly what a separate screening pass after the
classification decides."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.inference import classify_slides
from core.jobs import run_job
from core.schema import BlastScreen, Box, CellKind, LabelSource, NewCell, Slide
from core.screen.after_classifying import classify_and_screen
from core.screen.model import CellScreen
from core.screen.slides import screen_slides
from core.slide_pixels import load_slide_rgb
from core.store import ProjectStore
from tests.app.fake_models import CLASSES, FakeClassifier
from tests.core.images import write_image

SUBTYPES = ("early pre-B", "pre-B", "pro-B")


class PixelScreen:
    """A screen whose verdict follows the crop's pixels: P(blast) from its
    darkness, the subtype from its green channel, so a crop cut differently
    (another box, margin or image) is scored differently."""

    def __init__(self) -> None:
        self.card = SimpleNamespace(name="pixel-screen", version="1", input_size=12, crop_margin=0.2,
                                    blast_threshold=0.5)
        self.calls = 0

    @property
    def threshold(self) -> float:
        return float(self.card.blast_threshold)

    def screen_crops(self, crops: np.ndarray) -> list[CellScreen]:
        self.calls += 1
        verdicts = []
        for crop in crops.astype(np.float64):
            p = 1.0 - crop.mean() / 255.0
            verdicts.append(CellScreen(p, SUBTYPES[int(crop[..., 1].mean()) % 3], p >= self.threshold))
        return verdicts


class InTurn(FakeClassifier):
    """Calls a slide's white cells, in order: lymphocyte, monocyte,
    neutrophil, lymphocyte, not sure (Unidentified), neutrophil."""

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        rows = np.full((len(crops), len(CLASSES)), 1.0 / len(CLASSES))
        for row, label in zip(rows, ["lymphocyte", "monocyte", "neutrophil", "lymphocyte", None, "neutrophil"]):
            if label is not None:
                row[:] = 0.01
                row[CLASSES.index(label)] = 0.93
        return rows


def _project(tmp_path: Path) -> Path:
    """Three slides of white cells here and there (one a person called a
    neutrophil), a red cell, and a slide with no cell at all."""
    path = tmp_path / "p.hemalabel"
    with ProjectStore.create(path) as store:
        for n in range(3):
            slide = store.add_slide(write_image(tmp_path / "images" / f"s{n}.png", 96, 72, seed=n), 96, 72)
            cells = [NewCell(Box(4 + 13 * i, 5 + 9 * i, 20 + 13 * i, 21 + 9 * i), CellKind.WHITE,
                             source=LabelSource.MODEL) for i in range(5)]
            cells.append(NewCell(Box(60, 8, 80, 28), CellKind.WHITE, label="neutrophil", source=LabelSource.HUMAN))
            cells.append(NewCell(Box(30, 40, 44, 54), CellKind.RED, source=LabelSource.MODEL))
            store.add_cells(slide.id, cells, "Detect cells")
        store.add_slide(write_image(tmp_path / "images" / "empty.png", 96, 72, seed=9), 96, 72)
    return path


def _verdicts(path: Path) -> dict[tuple[int, float, float], tuple[str | None, BlastScreen | None]]:
    with ProjectStore.open_to_read(path) as store:
        return {(cell.slide_id, cell.box.x0, cell.box.y0): (cell.label, cell.screen) for cell in store.cells()}


def test_one_pass_decides_what_a_separate_screening_pass_decides(tmp_path: Path) -> None:
    separate, one_pass = _project(tmp_path), tmp_path / "one-pass.hemalabel"
    shutil.copy(separate, one_pass)
    with ProjectStore.open(separate) as store:
        ids = [slide.id for slide in store.slides()]
        run_job(classify_slides(store, InTurn(), ids))
        first = run_job(screen_slides(store, PixelScreen(), ids, record=True))
        scores = sorted(verdict.p_blast for result in first for _, verdict in result.screened)
        point = float(np.median(scores))  # some cells suspected, some not
        run_job(screen_slides(store, PixelScreen(), ids, threshold=point, record=True))
    model = PixelScreen()
    with ProjectStore.open(one_pass) as store:
        after = run_job(classify_and_screen(store, InTurn(), ids, model, threshold=point))
    before, now = _verdicts(separate), _verdicts(one_pass)
    assert now == before
    flags = [screen.flag.value for _, screen in now.values() if screen is not None]
    assert len(flags) == 12 and 0 < flags.count("suspected") < 12
    assert model.calls == 3  # one call a slide with lymphoid cells
    assert [result.summary_line() for result in after.slides][-1] == "Blasts suspected: 0 of 0 lymphoid cells"
    assert after.slides[-1].problem == "no lymphoid white cell to screen"


def test_each_slide_is_decoded_once_and_one_undo_takes_back_its_classification_and_screen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path)
    loads: list[int] = []

    def load(store: ProjectStore, slide: Slide) -> np.ndarray:
        loads.append(slide.id)
        return load_slide_rgb(store, slide)

    monkeypatch.setattr("core.inference.load_slide_rgb", load)
    with ProjectStore.open(project) as store:
        ids = [slide.id for slide in store.slides()]
        run_job(classify_and_screen(store, InTurn(), ids, PixelScreen()))
        assert loads == ids[:3]
        assert sum(cell.screen is not None for cell in store.cells(ids[2])) == 4  # its lymphoid cells
        assert store.undo() == "Classify"
        assert all(cell.label is None and cell.screen is None for cell in store.cells(ids[2])
                   if cell.source is LabelSource.MODEL)
        assert any(cell.screen is not None for cell in store.cells(ids[1]))
