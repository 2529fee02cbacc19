"""Cutting a cell out of a slide: the classifier's crop replicates the
border at the slide's edge; a crop shown to a person fills it with a flat
colour, since replicated pixels read as a smeared cell."""

from __future__ import annotations

import numpy as np

from core.crops import OUTSIDE_FOR_DISPLAY, crop_square
from core.schema import Box


def _slide() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)


def test_a_crop_inside_the_slide_is_the_same_either_way() -> None:
    image = _slide()
    box = Box(20, 20, 40, 40)
    assert np.array_equal(crop_square(image, box, 0.1), crop_square(image, box, 0.1, outside=OUTSIDE_FOR_DISPLAY))
    assert crop_square(image, box, 0.1).shape == (24, 24, 3)


def test_at_the_edge_the_classifier_sees_the_border_and_a_person_a_flat_colour() -> None:
    image = _slide()
    box = Box(70, 10, 90, 30)  # half beyond the right edge
    model = crop_square(image, box, 0.0)
    shown = crop_square(image, box, 0.0, outside=OUTSIDE_FOR_DISPLAY)
    assert model.shape == shown.shape == (20, 20, 3)
    assert np.array_equal(model[:, :10], shown[:, :10])  # the slide's own pixels, in place
    assert np.array_equal(model[:, 10:], np.repeat(image[10:30, 79:80], 10, axis=1))  # the last column again
    assert (shown[:, 10:] == OUTSIDE_FOR_DISPLAY).all()


def test_a_box_wholly_outside_and_grey_or_alpha_slides() -> None:
    image = _slide()
    assert (crop_square(image, Box(200, 200, 210, 210), 0.0, outside=OUTSIDE_FOR_DISPLAY) == OUTSIDE_FOR_DISPLAY).all()
    grey = image[:, :, 0]
    shown = crop_square(grey, Box(-5, 0, 5, 10), 0.0, outside=OUTSIDE_FOR_DISPLAY)
    assert shown.shape == (10, 10) and (shown[:, :5] == OUTSIDE_FOR_DISPLAY[0]).all()
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    shown = crop_square(rgba, Box(-5, 0, 5, 10), 0.0, outside=OUTSIDE_FOR_DISPLAY)
    assert tuple(shown[0, 0]) == (*OUTSIDE_FOR_DISPLAY, 255)
