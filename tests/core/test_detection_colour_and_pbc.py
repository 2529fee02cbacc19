"""The detector's strong colour augmentation and PBC's whole images as
training fields, on small generated images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.detection.augment import (
    STAIN_VARIATION,
    STRONG_COLOUR,
    AugmentConfig,
    augmented_sample,
    colour_jitter,
    greyed,
    pale_eosin,
    stain_resynthesis,
    strong_colour,
    turned_hue,
)
from core.detection.pbc_fields import pbc_fields
from core.training.pbc import BOX_CLASSES_OF_FOLDER


def _smear(size: int = 64) -> np.ndarray:
    """Pink plasma, a pink-red cell and a purple nucleus."""
    image = np.full((size, size, 3), (235, 215, 220), np.uint8)
    cv2.circle(image, (20, 20), 9, (200, 110, 120), -1)
    cv2.circle(image, (44, 44), 10, (110, 40, 150), -1)
    return image


def test_a_hue_turned_twice_by_180_degrees_comes_back() -> None:
    image = _smear()
    back = turned_hue(turned_hue(image, 180), 180)
    assert np.abs(back.astype(int) - image.astype(int)).max() <= 6
    assert np.abs(turned_hue(image, 180).astype(int) - image.astype(int)).max() > 40


def test_a_greyed_image_has_equal_channels() -> None:
    grey = greyed(_smear())
    assert (grey[:, :, 0] == grey[:, :, 1]).all() and (grey[:, :, 1] == grey[:, :, 2]).all()


def test_stain_resynthesis_recolours_the_cells_and_keeps_the_plasma_light() -> None:
    image = _smear()
    rng = np.random.default_rng(3)
    changed = [stain_resynthesis(image, rng) for _ in range(20)]
    assert all(out.shape == image.shape and out.dtype == np.uint8 for out in changed)
    nucleus = np.array([out[44, 44] for out in changed], float)
    assert nucleus.std(axis=0).max() > 20  # the nucleus takes many colours
    assert all(out[2, 2].mean() > 180 for out in changed)  # plasma stays light


def test_a_pale_eosin_turns_the_red_cell_blue_grey_and_keeps_the_plasma_and_the_nucleus() -> None:
    image = _smear()
    rng = np.random.default_rng(2)
    for out in (pale_eosin(image, rng) for _ in range(20)):
        red_cell, nucleus, plasma = out[20, 20].astype(int), out[44, 44].astype(int), out[2, 2].astype(int)
        assert red_cell[2] >= red_cell[0]  # no longer red: as blue as it is red, or bluer
        assert red_cell.mean() > nucleus.mean() + 30  # still much paler than the nucleus
        assert np.abs(plasma - image[2, 2].astype(int)).max() <= 25  # the glass between cells kept


def test_the_stains_recipe_changes_about_a_third_of_the_crops() -> None:
    image = _smear()
    rng = np.random.default_rng(0)
    changed = sum(not np.array_equal(strong_colour(image, rng, STAIN_VARIATION), image) for _ in range(300))
    assert 0.2 < changed / 300 < 0.45


def test_the_standard_recipe_draws_no_strong_colour() -> None:
    # A recipe without strong colour keeps the random stream it always had,
    # so cell-detector-2's recipe still reproduces.
    image = _smear()
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    assert strong_colour(image, rng, AugmentConfig()) is image
    assert rng.bit_generator.state == before


def test_the_strong_recipe_takes_the_colour_away_from_about_half_the_crops() -> None:
    image = _smear()
    rng = np.random.default_rng(0)
    standard = [colour_jitter(image, rng, AugmentConfig())[44, 44] for _ in range(200)]
    strong = [colour_jitter(image, rng, STRONG_COLOUR)[44, 44] for _ in range(200)]
    purple = lambda rgb: rgb[2] > rgb[1] + 40 and rgb[0] > rgb[1] + 20  # noqa: E731
    assert sum(map(purple, standard)) >= 180  # the standard recipe greys 5%
    assert 0.3 < 1 - sum(map(purple, strong)) / 200 < 0.75


def test_a_strongly_coloured_sample_keeps_its_boxes() -> None:
    image = np.tile(_smear(), (2, 2, 1))
    boxes = np.array([[34, 34, 54, 54]], np.float32)
    crop, target = augmented_sample(image, boxes, np.array([0]), np.random.default_rng(1), STRONG_COLOUR)
    assert crop.shape == (STRONG_COLOUR.crop, STRONG_COLOUR.crop, 3) and target.shape[0] == STRONG_COLOUR.crop // 4


def _pbc_tree(root: Path, per_class: int = 8) -> None:
    """A PBC-like tree: images/<class>/*.jpg and OI-PBC boxes/<stem>.txt
    (a cell of the folder's class in the middle, a red cell and a platelet)."""
    for index, (label, classes) in enumerate(sorted(BOX_CLASSES_OF_FOLDER.items())):
        folder = root / "images" / label
        folder.mkdir(parents=True)
        for n in range(per_class):
            stem = f"{label[:3].upper()}_{index}{n:03d}"
            image = np.full((72, 70, 3), 200, np.uint8)
            image[index, n] = 0  # every file its own content
            cv2.imwrite(str(folder / f"{stem}.jpg"), image)
            (root / "boxes").mkdir(exist_ok=True)
            own = min(classes)
            (root / "boxes" / f"{stem}.txt").write_text(
                f"{own} 0.5 0.5 0.3 0.3\n10 0.1 0.1 0.2 0.2\n8 0.9 0.9 0.05 0.05\n", encoding="utf-8"
            )


def test_pbc_images_become_fields_with_every_box_and_never_test_or_val_ones(tmp_path: Path) -> None:
    _pbc_tree(tmp_path)
    fields = pbc_fields(tmp_path, per_class=100)
    train = {gt.path for gt in fields.train}
    assert train and not train & set(fields.held_out)
    assert len(train) + len(fields.held_out) == 8 * len(BOX_CLASSES_OF_FOLDER)
    for gt in (gt for gt in fields.train if gt.path.parent.name != "platelet"):
        assert sorted(gt.classes.tolist()) == [0, 1, 2]  # the cell (white, even an erythroblast), red, platelet
        assert gt.boxes[list(gt.classes).index(0)] == pytest.approx([70 * 0.35, 72 * 0.35, 70 * 0.65, 72 * 0.65])
    platelet_images = [gt for gt in fields.train if gt.path.parent.name == "platelet"]
    assert all(sorted(gt.classes.tolist()) == [1, 2, 2] for gt in platelet_images)


def test_pbc_fields_take_at_most_so_many_of_each_class(tmp_path: Path) -> None:
    _pbc_tree(tmp_path)
    fields = pbc_fields(tmp_path, per_class=2)
    labels = [gt.path.parent.name for gt in fields.train]
    assert all(labels.count(label) == 2 for label in BOX_CLASSES_OF_FOLDER)
