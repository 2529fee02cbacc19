"""A slide's image, checked against the size recorded when it was added.

Boxes are stored in the pixels of the image as it was then, so a file that
has since been replaced by one of another size (re-exported, cropped,
rotated) no longer carries them: crops, detections and exported boxes taken
from it would be wrong without any sign.  Whatever reads a slide to crop,
detect or export goes through here, so the reason reads the same everywhere."""

from __future__ import annotations

import numpy as np

from core.imaging import ImageReadError, load_rgb, probe_image
from core.schema import Slide
from core.store import ProjectStore


def changed_size(slide: Slide, width: int, height: int) -> str | None:
    """Why an image of width x height cannot carry the slide's boxes, or None."""
    if (width, height) == (slide.width, slide.height):
        return None
    return (
        f"the image is {width}x{height} now but was {slide.width}x{slide.height} when it was added "
        "to the project, so its boxes no longer fit it"
    )


def load_slide_rgb(store: ProjectStore, slide: Slide) -> np.ndarray:
    """The slide's pixels; ImageReadError if unreadable or changed in size."""
    path = store.image_path(slide)
    image = load_rgb(path)
    reason = changed_size(slide, image.shape[1], image.shape[0])
    if reason is not None:
        raise ImageReadError(path, reason)
    return image


def check_slide_file(store: ProjectStore, slide: Slide) -> None:
    """ImageReadError if the slide's file is unreadable or changed in size;
    reads the header only, not the pixels.  A scan past Pillow's
    decompression-bomb limit passes unchecked: only decoding it whole could
    measure it, and the canvas does that when the slide is opened."""
    path = store.image_path(slide)
    try:
        info = probe_image(path, verify_pixels=False, decode_large=False)
    except ImageReadError as error:
        if error.too_large_for_pillow:
            return
        raise
    reason = changed_size(slide, info.width, info.height)
    if reason is not None:
        raise ImageReadError(path, reason)
