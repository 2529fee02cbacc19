"""Training-time augmentation: random scale, crop, flips, right-angle
rotations and stain/colour jitter.

Why these: cells have no up or down, so flips and rotations are free data;
the four TXL-PBC labs differ in magnification (a white cell is 140-260 px
wide) and in stain, so scale and colour jitter are what make the detector
work on a fifth lab's slides.  Occasional grayscale keeps grayscale files
usable.

The strong colour changes (hue turned by any angle, channels swapped, the
stain re-synthesised with other dye colours) are there so that colour alone
cannot make a white cell: a lab whose red cells stain blue-grey must still
get red cells, found by their shape and the absence of a nucleus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.detection.targets import encode_targets


@dataclass(frozen=True, slots=True)
class AugmentConfig:
    crop: int = 256
    # A box cut by the crop stays a positive if at least this part of it is
    # visible; one cut more is neither a positive nor a negative.  Why as low
    # as a quarter: TXL-PBC labels cells cut by the image edge down to about
    # 30% visible.  (cell-detector-1, trained at 0.4, missed five such white
    # cells of 150 on TXL-PBC test; cell-detector-2, at 0.25, still misses
    # four, which it scores as red cells.)
    min_visible: float = 0.25
    scale_range: tuple[float, float] = (0.75, 1.33)
    hue_shift: int = 8  # OpenCV hue units (0-179)
    saturation_range: tuple[float, float] = (0.7, 1.3)
    brightness_range: tuple[float, float] = (0.8, 1.2)
    grayscale_probability: float = 0.05
    blur_probability: float = 0.1
    # Each crop takes at most one strong colour change, with these chances
    # (their sum at most 1): its hue turned by any angle, its RGB channels
    # put in another order, its stain re-synthesised (stain_resynthesis).
    hue_rotation_probability: float = 0.0
    channel_swap_probability: float = 0.0
    stain_probability: float = 0.0
    pale_eosin_probability: float = 0.0  # the red cells' dye made weak and blue-grey (pale_eosin)
    contrast_range: tuple[float, float] = (1.0, 1.0)  # factor about the crop's mean


# train-detector --colour strong (models/README.md, "colour robustness"):
# about half the crops keep their lab's colours (jittered as before), the
# other half lose them.
STRONG_COLOUR = AugmentConfig(
    grayscale_probability=0.12,
    blur_probability=0.2,
    hue_rotation_probability=0.2,
    channel_swap_probability=0.12,
    stain_probability=0.16,
    contrast_range=(0.6, 1.4),
)

# train-detector --colour stains: the ways a lab's stain differs that no
# colour turn undoes, on about a third of the crops, so that a pale or
# blue-grey red cell is still told from a white cell by its nucleus, while
# most crops keep their lab's colours (the strong recipe, changing half of
# them, cost BCCD's white cells 0.013 of AP50).
STAIN_VARIATION = AugmentConfig(
    blur_probability=0.1,
    hue_rotation_probability=0.05,
    channel_swap_probability=0.03,
    stain_probability=0.08,
    pale_eosin_probability=0.15,
    contrast_range=(0.8, 1.25),
)

# Optical-density colours (R, G, B) of haematoxylin-like and eosin-like
# dyes, as in Ruifrok and Johnston's colour deconvolution: the nucleus
# takes the first, red cells and cytoplasm the second.
_STAIN_OD = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]], dtype=np.float32)
_STAIN_OD /= np.linalg.norm(_STAIN_OD, axis=1, keepdims=True)


def stain_resynthesis(image: NDArray[Any], rng: np.random.Generator) -> NDArray[Any]:
    """The field as if stained with two other dyes: each pixel's optical
    density split into amounts of the two usual dyes (least squares), then
    rebuilt with two random dye colours and amounts scaled at random.  Red
    cells then come out blue-grey, green or brown, the nucleus any colour."""
    od = -np.log((image.astype(np.float32) + 1.0) / 256.0)
    amounts = od.reshape(-1, 3) @ np.linalg.pinv(_STAIN_OD)  # pixels x 2
    amounts = np.clip(amounts, 0, None) * rng.uniform(0.6, 1.4, size=2).astype(np.float32)
    dyes = rng.uniform(0.05, 1.0, size=(2, 3)).astype(np.float32)
    dyes /= np.linalg.norm(dyes, axis=1, keepdims=True)
    rebuilt = 256.0 * np.exp(-(amounts @ dyes)) - 1.0
    out: NDArray[np.uint8] = np.clip(rebuilt, 0, 255).reshape(image.shape).astype(np.uint8)
    return out


def pale_eosin(image: NDArray[Any], rng: np.random.Generator) -> NDArray[Any]:
    """The field as a lab whose eosin stains weak and blue-grey (a buffer
    too alkaline, an old stain): the eosin-like dye's amount cut to 30-90%
    and its colour moved towards a grey-blue one (absorbing red light more
    than blue), the nucleus's dye kept.  Red cells come out pale and
    blue-grey, as in all-taleqani's fields, and a white cell is still told
    by its nucleus."""
    od = -np.log((image.astype(np.float32) + 1.0) / 256.0).reshape(-1, 3)
    background = np.percentile(od, 2, axis=0)  # the glass between cells: kept as it is
    amounts = np.clip((od - background) @ np.linalg.pinv(_STAIN_OD), 0, None)
    amounts[:, 1] *= rng.uniform(0.3, 0.9)
    grey_blue = np.array([rng.uniform(0.45, 0.75), rng.uniform(0.35, 0.6), rng.uniform(0.1, 0.35)], np.float32)
    eosin = _STAIN_OD[1] + rng.uniform(1.0, 4.0) * grey_blue / np.linalg.norm(grey_blue)
    dyes = np.stack([_STAIN_OD[0], eosin / np.linalg.norm(eosin)])
    rebuilt = 256.0 * np.exp(-(amounts @ dyes + background)) - 1.0
    out: NDArray[np.uint8] = np.clip(rebuilt, 0, 255).reshape(image.shape).astype(np.uint8)
    return out


def turned_hue(image: NDArray[Any], degrees: float) -> NDArray[Any]:
    """The image with every hue turned by `degrees` (saturation and value kept)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[:, :, 0] = (hsv[:, :, 0] + round(degrees / 2)) % 180  # OpenCV hue runs 0-179
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def greyed(image: NDArray[Any]) -> NDArray[Any]:
    return np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


def strong_colour(image: NDArray[Any], rng: np.random.Generator, config: AugmentConfig) -> NDArray[Any]:
    """At most one strong colour change, drawn with the config's chances."""
    chances = (config.hue_rotation_probability + config.channel_swap_probability + config.stain_probability
               + config.pale_eosin_probability)
    if chances <= 0:
        return image  # no draw: a recipe without strong colour keeps its random stream
    draw = rng.random()
    if draw < config.hue_rotation_probability:
        return turned_hue(image, rng.uniform(0, 360))
    draw -= config.hue_rotation_probability
    if draw < config.channel_swap_probability:
        orders = [(0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
        return np.ascontiguousarray(image[:, :, list(orders[int(rng.integers(len(orders)))])])
    draw -= config.channel_swap_probability
    if draw < config.stain_probability:
        return stain_resynthesis(image, rng)
    draw -= config.stain_probability
    if draw < config.pale_eosin_probability:
        return pale_eosin(image, rng)
    return image


def colour_jitter(image: NDArray[Any], rng: np.random.Generator, config: AugmentConfig) -> NDArray[Any]:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[:, :, 0] = (hsv[:, :, 0] + rng.integers(-config.hue_shift, config.hue_shift + 1)) % 180
    hsv_float = hsv.astype(np.float32)
    hsv_float[:, :, 1] *= rng.uniform(*config.saturation_range)
    hsv_float[:, :, 2] *= rng.uniform(*config.brightness_range)
    out = cv2.cvtColor(np.clip(hsv_float, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
    out = strong_colour(out, rng, config)
    if config.contrast_range != (1.0, 1.0):
        mean = out.reshape(-1, 3).mean(axis=0)
        factor = rng.uniform(*config.contrast_range)
        out = np.clip((out.astype(np.float32) - mean) * factor + mean, 0, 255).astype(np.uint8)
    if rng.random() < config.grayscale_probability:
        out = greyed(out)
    if rng.random() < config.blur_probability:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    return out


def augmented_sample(
    image: NDArray[Any],
    boxes: NDArray[Any],
    classes: NDArray[Any],
    rng: np.random.Generator,
    config: AugmentConfig,
    negative_weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> tuple[NDArray[Any], NDArray[Any]]:
    """One (crop x crop x 3 uint8 input, target) pair from a working-scale
    image and its boxes (working-scale pixels)."""
    low, high = config.scale_range
    scale = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    height, width = image.shape[:2]
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    boxes = boxes.astype(np.float32) * np.array([new_w / width, new_h / height] * 2, dtype=np.float32)

    crop = config.crop
    # Window origin in image coordinates; negative when the image is smaller
    # than the crop, so the image lands at a random place on the canvas.
    ox = int(rng.integers(min(0, new_w - crop), max(0, new_w - crop) + 1))
    oy = int(rng.integers(min(0, new_h - crop), max(0, new_h - crop) + 1))
    canvas = np.empty((crop, crop, 3), dtype=np.uint8)
    canvas[:] = image.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    sx0, sy0 = max(ox, 0), max(oy, 0)
    sx1, sy1 = min(ox + crop, new_w), min(oy + crop, new_h)
    canvas[sy0 - oy : sy1 - oy, sx0 - ox : sx1 - ox] = image[sy0:sy1, sx0:sx1]

    shifted = boxes - np.array([ox, oy, ox, oy], dtype=np.float32)
    clipped = np.clip(shifted, 0, crop)
    area = np.prod(np.clip(shifted[:, 2:] - shifted[:, :2], 1e-6, None), axis=1)
    visible = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1) / area
    keep = visible >= config.min_visible
    ignore = clipped[(~keep) & (visible > 0)]
    boxes, classes = clipped[keep], classes[keep]

    canvas, boxes, ignore = _flip_rotate(canvas, boxes, ignore, rng)
    canvas = colour_jitter(canvas, rng, config)
    target = encode_targets(boxes, classes, crop, crop, ignore_boxes=ignore, negative_weights=negative_weights)
    return canvas, target


def _flip_rotate(
    image: NDArray[Any], boxes: NDArray[Any], ignore: NDArray[Any], rng: np.random.Generator
) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    size = image.shape[0]  # square crop
    if rng.random() < 0.5:
        image = image[:, ::-1]
        boxes = np.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], axis=1)
        ignore = np.stack([size - ignore[:, 2], ignore[:, 1], size - ignore[:, 0], ignore[:, 3]], axis=1)
    if rng.random() < 0.5:
        # Transpose: with the optional flip this covers all eight symmetries.
        image = image.transpose(1, 0, 2)
        boxes = boxes[:, [1, 0, 3, 2]]
        ignore = ignore[:, [1, 0, 3, 2]]
    if rng.random() < 0.5:
        image = image[::-1]
        boxes = np.stack([boxes[:, 0], size - boxes[:, 3], boxes[:, 2], size - boxes[:, 1]], axis=1)
        ignore = np.stack([ignore[:, 0], size - ignore[:, 3], ignore[:, 2], size - ignore[:, 1]], axis=1)
    return np.ascontiguousarray(image), boxes.reshape(-1, 4), ignore.reshape(-1, 4)
