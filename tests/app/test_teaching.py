"""Learning while reviewing, in the real window with the bundled
classifier: after a few corrections made with the class keys, the other
cells of the project are predicted again from what they taught, the
inspector says so, and Models > Learn From Each Decision turns it off."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import wait_image
from PySide6.QtCore import Qt

from core.classifier import load_classifier
from core.importing import import_source
from core.inference import classify_slides
from core.jobs import run_job
from core.project_learning import taught_count
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore

SMALL_DARK, LARGE_PALE = "small", "large"


def _slide(path: Path, looks: list[str]) -> list[Box]:
    """A pink field with one made-up cell of each look in a row."""
    image = np.full((160, 120 * len(looks), 3), (200, 170, 220), np.uint8)
    boxes = []
    for index, look in enumerate(looks):
        cx = 60 + 120 * index
        if look == SMALL_DARK:
            cv2.circle(image, (cx, 80), 30, (120, 40, 90), -1)
        else:
            cv2.circle(image, (cx, 80), 50, (200, 150, 160), -1)
            cv2.circle(image, (cx + 10, 80), 18, (150, 60, 120), -1)
        radius = 30 if look == SMALL_DARK else 50
        boxes.append(Box(cx - radius, 80 - radius, cx + radius, 80 + radius))
    cv2.imwrite(str(path), image)
    return boxes


def _project(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    looks = [SMALL_DARK, LARGE_PALE] * 3
    (tmp_path / "slides").mkdir()
    boxes = {}
    for index in range(4):
        boxes[f"s{index}.png"] = _slide(tmp_path / "slides" / f"s{index}.png", looks)
    path = tmp_path / "teach.hemalabel"
    look_of: dict[int, str] = {}
    with ProjectStore.create(path) as store:
        run_job(import_source(store, tmp_path / "slides", "folder"))
        for slide in store.slides():
            cells = store.add_cells(slide.id, [NewCell(box=b, kind=CellKind.WHITE, source=LabelSource.MODEL)
                                               for b in boxes[Path(slide.path).name]], "Detect cells")
            look_of.update({cell.id: look for cell, look in zip(cells, looks)})
        run_job(classify_slides(store, load_classifier(), [slide.id for slide in store.slides()]))
    return path, look_of


@pytest.mark.slow
def test_corrections_teach_the_other_cells_at_once(qtbot, open_window, tmp_path):
    project, look_of = _project(tmp_path)
    window, controller = open_window(project)
    wait_image(qtbot, controller)
    window.actions["learn_at_once"].setChecked(True)
    store = controller.session.store
    # The technician calls the small dark cells lymphocytes and the large
    # pale ones monocytes on the first slide, with the class keys.
    lymphocyte_key = store.taxonomy.get("lymphocyte").key
    monocyte_key = store.taxonomy.get("monocyte").key
    window.view.setFocus()
    for cell in store.cells(controller.slide.id):
        controller.canvas.select(cell.id)
        key = lymphocyte_key if look_of[cell.id] == SMALL_DARK else monocyte_key
        qtbot.keyClick(window.view, key)
    qtbot.waitUntil(lambda: controller.teaching.running, timeout=5000)
    qtbot.waitUntil(lambda: not controller.teaching.running, timeout=60000)
    others = [c for c in store.cells() if not c.reviewed]
    taught = [c for c in others if taught_count(c.model_version) == 6]
    assert taught, [c.model_version for c in others]
    # Every cell that looks like a corrected one now leans to what it was
    # taught (its label follows the model's thresholds: unsure is Unidentified).
    expected = {SMALL_DARK: "lymphocyte", LARGE_PALE: "monocyte"}
    leaning = [max(c.probabilities, key=c.probabilities.get) for c in others]
    assert leaning == [expected[look_of[c.id]] for c in others]
    assert {c.label for c in others} <= {"lymphocyte", "monocyte", "unidentified"}
    controller.show_slide_id(taught[0].slide_id)
    controller.canvas.select(taught[0].id)
    qtbot.waitUntil(lambda: "taught by 6 reviewed cells" in window.inspector.fields["Model"].text(), timeout=5000)

    # The gallery's "Most informative first" (Alt+I) puts the teacher's
    # order first within each class.
    window.actions["gallery"].setChecked(True)
    gallery = controller.review.gallery
    qtbot.waitUntil(lambda: gallery is not None and gallery.isVisible(), timeout=5000)
    gallery.view.setFocus()
    qtbot.keyClick(gallery.view, Qt.Key.Key_I, Qt.KeyboardModifier.AltModifier)
    assert gallery.informative_check.isChecked()
    # The order is made from the first refit after it is asked for.
    qtbot.waitUntil(lambda: bool(controller.review.informative_order) and not controller.teaching.running,
                    timeout=60000)
    order = controller.review.informative_order
    assert set(order) == {c.id for c in store.cells() if not c.reviewed and c.kind is CellKind.WHITE}
    gallery.model.update_filter(slide_id=None)
    shown = [i for i in gallery.model.shown_cell_ids() if i in order]
    by_group: dict[str, list[int]] = {}
    for cell_id in shown:
        by_group.setdefault(gallery.model.group_at(gallery.model.row_of(cell_id)), []).append(cell_id)
    for members in by_group.values():
        assert members == sorted(members, key=order.index)
    window.actions["gallery"].setChecked(False)

    # Undo every correction: what they taught goes with them.
    window.actions["learn_at_once"].setChecked(True)
    for _ in range(6):
        controller.undo()
    qtbot.waitUntil(lambda: not controller.teaching.running and all(
        taught_count(c.model_version) is None for c in store.cells()), timeout=60000)

    # Off: a decision teaches nothing.
    window.actions["learn_at_once"].setChecked(False)
    controller.canvas.select(taught[0].id)
    qtbot.keyClick(window.view, monocyte_key)
    qtbot.wait(400)
    assert not controller.teaching.running


def test_a_promoted_model_takes_over_the_undecided_cells(qtbot, open_window, tmp_path):
    """Promotion (or roll back) re-classifies every cell nobody decided with
    the model now in use; a person's label stays."""
    project, _ = _project(tmp_path)
    window, controller = open_window(project)
    wait_image(qtbot, controller)
    store = controller.session.store
    cells = store.cells()
    store.set_predictions([(c.id, "neutrophil", {"neutrophil": 0.9}) for c in cells], "an-older-model-1.0")
    decided = cells[0]
    store.set_label([decided.id], "basophil")
    controller.retraining.classifier_changed.emit("hemalabel-wbc")
    qtbot.waitUntil(lambda: controller.models.job is None and all(
        c.model_version != "an-older-model-1.0" for c in store.cells()), timeout=60000)
    version = load_classifier().version
    assert {c.model_version.split("+")[0] for c in store.cells()} == {version}
    assert store.cell(decided.id).label == "basophil"
