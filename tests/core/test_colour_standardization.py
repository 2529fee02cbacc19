"""The network's input layers: per-crop standardisation in RGB and in
L*a*b* (the cross-lab variant), checked against OpenCV's colour conversion
and for the invariance they exist for."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.classifier.architecture import build
from core.classifier.layers import lab_standardization_layer, register_custom_layers


def _cell_crops(count: int = 3, size: int = 32, seed: int = 0) -> np.ndarray:
    """Pale field, purple disc, darker nucleus: colours well inside 0-255 so
    that a colour transfer does not clip."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    crops = np.empty((count, size, size, 3), np.uint8)
    for index in range(count):
        image = np.full((size, size, 3), (200, 190, 180), np.float32)
        r = size * rng.uniform(0.25, 0.35)
        image[(xx - size / 2) ** 2 + (yy - size / 2) ** 2 < r * r] = (170, 140, 190)
        image[(xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (r / 2) ** 2] = (110, 70, 140)
        image += rng.normal(0, 4, image.shape)
        crops[index] = np.clip(image, 0, 255).astype(np.uint8)
    return crops


def _lab_layer(crops: np.ndarray) -> np.ndarray:
    return np.asarray(lab_standardization_layer()()(crops.astype(np.float32)))


def test_lab_layer_matches_opencv_conversion() -> None:
    crops = _cell_crops()
    lab = np.stack([cv2.cvtColor(c.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB) for c in crops])
    expected = (lab - lab.mean(axis=(1, 2), keepdims=True)) / np.maximum(lab.std(axis=(1, 2), keepdims=True), 3.0)
    assert np.abs(_lab_layer(crops) - expected).max() < 0.02


def test_lab_layer_removes_a_colour_transfer() -> None:
    """Another lab's smear, modelled as Reinhard's transfer (each L*a*b*
    channel's mean moved and spread scaled: paler, lower contrast, a colour
    cast), reaches the network almost unchanged."""
    crops = _cell_crops()
    shifted = []
    for crop in crops:
        lab = cv2.cvtColor(crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        mean = lab.mean(axis=(0, 1))
        lab = (lab - mean) * np.array([0.5, 0.8, 1.2]) + mean + np.array([8.0, -4.0, 5.0])
        rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
        assert 0.02 < rgb.min() and rgb.max() < 0.98  # no clipping, so the transfer is exact
        shifted.append(np.round(rgb * 255.0).astype(np.uint8))
    before, after = _lab_layer(crops), _lab_layer(np.stack(shifted))
    # Only 8-bit rounding separates them; the raw pixels differ by far more.
    assert np.abs(before - after).mean() < 0.05
    assert np.abs(crops.astype(float) - np.stack(shifted)).mean() > 10


def test_flat_crop_is_not_amplified_into_noise() -> None:
    rng = np.random.default_rng(1)
    flat = np.clip(180 + rng.normal(0, 1, (1, 32, 32, 3)), 0, 255).astype(np.uint8)
    assert np.abs(_lab_layer(flat)).max() < 1.5


def test_hemanet_lab_saves_and_loads_in_safe_mode(tmp_path: Path) -> None:
    import keras

    model = build("hemanet-lab", 32, 3)
    path = tmp_path / "lab.keras"
    model.save(path)
    register_custom_layers()
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    crops = _cell_crops().astype(np.float32)
    assert np.allclose(np.asarray(model(crops, training=False)), np.asarray(loaded(crops, training=False)), atol=1e-5)
