"""Tiny generated cell images: a coloured disc per class on a pale field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"neutrophil": (120, 60, 160), "eosinophil": (230, 120, 40), "lymphocyte": (40, 40, 120)}


def disc_image(colour: tuple[int, int, int], rng: np.random.Generator, size: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    r = size * rng.uniform(0.25, 0.35)
    cx, cy = size / 2 + rng.uniform(-2, 2), size / 2 + rng.uniform(-2, 2)
    image = np.full((size, size, 3), 225, np.uint8)
    image[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = colour
    noise = rng.integers(-8, 8, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


def write_class_tree(root: Path, per_class: int = 12, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        folder = root / name.capitalize()  # folder names match case-insensitively
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(disc_image(colour, rng)).save(folder / f"{name}_{i}.png")
    return root
