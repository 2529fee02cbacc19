"""A slide's image, checked against the size recorded when it was added.

Boxes are stored in the pixels of the image as it was then, so a file that
has since been replaced by one of another size (re-exported, cropped,
rotated) no longer carries them: crops, detections and exported boxes taken
from it would be wrong without any sign.  Whatever reads a slide to crop,
detect, export or show cell tiles goes through here, so the reason reads
the same everywhere; what classifies, screens or learns from its cells
reads it through load_slide_for_models."""

from __future__ import annotations

import os
from typing import Any

from numpy.typing import NDArray

from core.detection.colour_turns import HueTurn, in_model_colours
from core.imaging import BeyondPillowGuard, ChangedSize, load_rgb, probe_image
from core.schema import Slide
from core.store import ProjectStore


def changed_size(slide: Slide, width: int, height: int) -> str | None:
    """Why an image of width x height cannot carry the slide's boxes, or None."""
    return _size_change((slide.width, slide.height), (width, height))


def _size_change(recorded: tuple[int, int], now: tuple[int, int]) -> str | None:
    if now == recorded:
        return None
    return (
        f"the image is {now[0]}x{now[1]} now but was {recorded[0]}x{recorded[1]} when it was added "
        "to the project, so its boxes no longer fit it"
    )


def load_rgb_sized(path: str | os.PathLike[str], recorded: tuple[int, int]) -> NDArray[Any]:
    """The image's pixels; ChangedSize if it is no longer `recorded`
    (width, height), ImageReadError if it cannot be read."""
    image = load_rgb(path)
    reason = _size_change(recorded, (image.shape[1], image.shape[0]))
    if reason is not None:
        raise ChangedSize(path, reason)
    return image


def load_slide_rgb(store: ProjectStore, slide: Slide) -> NDArray[Any]:
    """The slide's pixels; ImageReadError if unreadable or changed in size."""
    return load_rgb_sized(store.image_path(slide), (slide.width, slide.height))


def load_slide_for_models(store: ProjectStore, slide: Slide, lab_turn: HueTurn | None) -> NDArray[Any]:
    """The slide's pixels as the classifier, the screen and the learning look
    at them: in its lab's turned colours where detection found it in them
    (`lab_turn`: core.detection.colour_turns.project_turn of the project)."""
    return in_model_colours(load_slide_rgb(store, slide), slide, lab_turn)


def check_slide_file(store: ProjectStore, slide: Slide) -> None:
    """ImageReadError if the slide's file is unreadable or changed in size;
    reads the header only, not the pixels.  A scan past Pillow's
    decompression-bomb limit passes unchecked: only decoding it whole could
    measure it, and the canvas does that when the slide is opened."""
    path = store.image_path(slide)
    try:
        info = probe_image(path, verify_pixels=False, decode_large=False)
    except BeyondPillowGuard:
        return
    reason = changed_size(slide, info.width, info.height)
    if reason is not None:
        raise ChangedSize(path, reason)
