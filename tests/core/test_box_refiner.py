"""The locator's box refiner: its geometry, its card, how the locator uses
it, and its training on generated images."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.box_refiner import BoxRefiner, BoxRefinerCard, edge_offsets, moved, view
from core.locating import CellLocator, Placement
from core.models.files import ModelCardError, sha256_of
from core.models.kinds import card_kind
from core.schema import Box, CellKind
from core.training.box_refiner_trainer import build_refiner_network, jittered, training_views
from core.training.samples import LabelledCell
from tests.core.test_locating import ScriptedProposer, proposals


def _cell_image(box: Box, size: tuple[int, int] = (120, 100)) -> np.ndarray:
    """A pale field with one dark elliptical cell filling `box`."""
    image = np.full((size[1], size[0], 3), 230, np.uint8)
    centre = (round(box.centre[0]), round(box.centre[1]))
    cv2.ellipse(image, centre, (round(box.width / 2), round(box.height / 2)), 0, 0, 360, (120, 60, 150), -1)
    return image


class ConstantNetwork:
    """Stands in for the Keras network: the same four edge moves for every view."""

    def __init__(self, offsets: Sequence[float], side: int = 48) -> None:
        self.offsets = np.array(offsets, np.float32)
        self.input_shape = (None, side, side, 3)
        self.output_shape = (None, 4)
        self.views: list[np.ndarray] = []

    def predict_on_batch(self, views: np.ndarray) -> np.ndarray:
        self.views.append(views)
        return np.tile(self.offsets, (len(views), 1))


def _refiner(offsets: Sequence[float], max_shift: float = 0.3) -> BoxRefiner:
    card = BoxRefinerCard(name="cell-box-refiner", version="t", weights="w.keras", sha256="", max_shift=max_shift)
    return BoxRefiner(ConstantNetwork(offsets), card)


def test_moving_a_box_by_its_offsets_to_a_target_gives_the_target() -> None:
    box, target = Box(10, 20, 60, 80), Box(14, 18, 58, 83)
    again = moved(box, edge_offsets(box, target), 200, 200)
    assert again is not None and np.allclose(again.as_tuple(), target.as_tuple(), atol=1e-4)
    # in units of the longer side (60 px here)
    assert np.allclose(edge_offsets(box, target), np.array([4, -2, -2, 3]) / 60)


def test_a_move_is_clipped_to_the_image_and_a_move_that_leaves_nothing_is_none() -> None:
    assert moved(Box(0, 0, 50, 50), np.array([-0.2, -0.2, 0.2, 0.2]), 55, 70) == Box(0, 0, 55, 60)
    assert moved(Box(10, 10, 20, 60), np.array([0.2, 0.0, -0.1, 0.0]), 100, 100) is None  # x0 passes x1


def test_the_view_is_centred_on_the_box_at_its_context() -> None:
    box = Box(40, 30, 80, 70)  # 40 px, so the view spans 64 px around (60, 50)
    cut = view(_cell_image(box), box, side=64, context=1.6)
    assert cut.shape == (64, 64, 3) and cut.dtype == np.uint8
    dark = np.argwhere(cut[:, :, 1] < 100)
    assert np.allclose(dark.mean(axis=0), [31.5, 31.5], atol=1.0)
    assert dark[:, 0].min() == pytest.approx(12, abs=1) and dark[:, 0].max() == pytest.approx(51, abs=1)


def test_the_refiner_moves_each_box_and_keeps_one_it_does_not_believe() -> None:
    image = np.full((100, 100, 3), 230, np.uint8)
    boxes = [Box(20, 20, 70, 70)]
    [box] = _refiner([0.02, -0.02, -0.04, 0.0]).refine([image], boxes)
    assert np.allclose(box.as_tuple(), (21, 19, 68, 70))
    assert _refiner([0.5, 0.0, 0.0, 0.0]).refine([image], boxes) == boxes  # beyond max_shift
    assert _refiner([np.nan, 0.0, 0.0, 0.0]).refine([image], boxes) == boxes
    assert _refiner([0.0] * 4).refine([], []) == []


def test_the_locator_refines_located_boxes_only() -> None:
    image = np.full((100, 100, 3), 230, np.uint8)
    located = proposals((30, 30, 70, 70, 0.9, CellKind.WHITE.value))
    framing = proposals((18, 18, 82, 82, 0.9, CellKind.WHITE.value))  # 64% of the image: shown to the classifier whole
    refiner = _refiner([0.05, 0.0, 0.0, 0.0])
    locator = CellLocator(ScriptedProposer([located, proposals(), framing], [proposals()]), "det-1", refiner)
    cell, blank, framed = locator.locate([image, image, image])
    assert cell.placement is Placement.LOCATED and np.allclose(cell.box.as_tuple(), (32, 30, 70, 70))
    assert blank.placement is Placement.WHOLE and blank.box == Box(0, 0, 100, 100)
    assert framed.placement is Placement.LOCATED and framed.box == Box(18, 18, 82, 82)
    assert len(refiner.model.views) == 1 and len(refiner.model.views[0]) == 1  # type: ignore[attr-defined]
    assert locator.version == "det-1+cell-box-refiner-t"


def test_a_saved_refiner_loads_from_its_card_and_a_changed_one_is_refused(tmp_path: Path) -> None:
    network = build_refiner_network(32)
    weights = tmp_path / "cell-box-refiner.keras"
    network.save(weights)
    card = BoxRefinerCard(name="cell-box-refiner", version="t", weights=weights.name, sha256=sha256_of(weights),
                          view_side=32)
    card.save(tmp_path / "cell-box-refiner.json")
    assert card_kind(json.loads((tmp_path / "cell-box-refiner.json").read_text())) == "box-refiner"
    refiner = BoxRefiner.load(tmp_path / "cell-box-refiner.json")
    [box] = refiner.refine([np.full((90, 90, 3), 200, np.uint8)], [Box(20, 20, 60, 60)])
    assert box.width > 0

    card.view_side = 48  # the card no longer describes the network
    card.save(tmp_path / "cell-box-refiner.json")
    with pytest.raises(ModelCardError, match="views of 48 px"):
        BoxRefiner.load(tmp_path / "cell-box-refiner.json")
    weights.write_bytes(weights.read_bytes() + b"x")
    with pytest.raises(ModelCardError, match="do not match"):
        BoxRefiner.load(tmp_path / "cell-box-refiner.json")
    (tmp_path / "cell-box-refiner.json").write_text(json.dumps({"format": "hemalabel-detector-card/1"}))
    with pytest.raises(ModelCardError, match="a cell detector, not of the single-cell locator's box refiner"):
        BoxRefiner.load(tmp_path / "cell-box-refiner.json")


def test_training_views_teach_the_way_back_to_the_true_box(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = Box(35, 30, 85, 75)
    path = tmp_path / "cell.png"
    cv2.imwrite(str(path), _cell_image(truth)[:, :, ::-1])
    cell = LabelledCell(path, truth, "lymphocyte", "g")
    found = jittered(truth, rng)
    views, offsets = training_views([cell], [found], 32, rng)
    # five jittered boxes and the located one twice
    assert views.shape == (7, 32, 32, 3) and offsets.shape == (7, 4)
    again = moved(found, offsets[5], 120, 100)
    assert again is not None and np.allclose(again.as_tuple(), truth.as_tuple(), atol=1e-3)


def test_a_refiner_trained_on_generated_cells_moves_boxes_towards_them() -> None:
    import keras

    rng = np.random.default_rng(1)
    views, offsets = [], []
    for _ in range(400):
        x0, y0, side = rng.uniform(25, 45), rng.uniform(20, 35), rng.uniform(30, 45)
        truth = Box(x0, y0, x0 + side, y0 + side * rng.uniform(0.8, 1.2))
        image = _cell_image(truth)
        box = jittered(truth, rng)
        views.append(view(image, box, 32))
        offsets.append(edge_offsets(box, truth))
    x, y = np.stack(views), np.stack(offsets)
    keras.utils.set_random_seed(0)
    network = build_refiner_network(32)
    network.compile(keras.optimizers.Adam(1e-3), loss=keras.losses.Huber(0.05))
    network.fit(x[:320], y[:320], batch_size=32, epochs=15, verbose=0)
    error_before = np.abs(y[320:]).mean()
    error_after = np.abs(network.predict(x[320:], verbose=0) - y[320:]).mean()
    assert error_after < 0.75 * error_before, (error_before, error_after)


def test_training_without_pbc_is_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.main import main

    assert main(["train-box-refiner", "--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path / 'pbc'}: PBC's images/ and boxes/ folders not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
