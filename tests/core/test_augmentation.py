"""The training augmentation: shapes and range, and that each colour-jitter
recipe does what its ranges say (checked on a batch of identical crops, so
every difference between outputs is the jitter's)."""

from __future__ import annotations

import numpy as np
import pytest

from core.training.augment import COLOUR_JITTER, augment_batch
from core.training.config import TrainConfig
from core.training.samples import DatasetError


def _purple_cells(count: int, size: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    view = np.full((size, size, 3), (225, 215, 205), np.uint8)
    view[(xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (size / 3) ** 2] = (120, 60, 160)
    return np.repeat(view[None], count, axis=0)


def _augmented(jitter: str, count: int = 300) -> np.ndarray:
    import tensorflow as tf

    tf.random.set_seed(0)
    return np.asarray(augment_batch(_purple_cells(count), 0.8, 32, jitter=jitter))


@pytest.mark.parametrize("jitter", sorted(COLOUR_JITTER))
def test_output_shape_and_range(jitter: str) -> None:
    out = _augmented(jitter, 16)
    assert out.shape == (16, 32, 32, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0


def _saturation(batch: np.ndarray) -> np.ndarray:
    """Per crop, the mean spread between a pixel's channels."""
    return (batch.max(axis=3) - batch.min(axis=3)).mean(axis=(1, 2))


def _grey_share(batch: np.ndarray) -> float:
    # A grey crop has equal channels up to the added noise (<= 3% of 255).
    return float((_saturation(batch) < 8).mean())


def test_wide_jitter_greys_about_one_crop_in_ten_and_standard_none() -> None:
    assert _grey_share(_augmented("standard")) == 0.0
    assert 0.04 < _grey_share(_augmented("wide")) < 0.18


def test_wide_jitter_reaches_stronger_saturation() -> None:
    assert np.percentile(_saturation(_augmented("wide")), 95) > 1.3 * np.percentile(
        _saturation(_augmented("standard")), 95
    )


def test_unknown_jitter_in_a_config_is_refused_with_the_choices() -> None:
    with pytest.raises(DatasetError, match="colour_jitter 'loud'.*standard.*wide"):
        TrainConfig.from_dict({"name": "m", "sources": [], "colour_jitter": "loud"}, "m.train.json")


def _cell_share(batch: np.ndarray) -> np.ndarray:
    """Per crop, the share of pixels darker than the crop's mean: the cell."""
    brightness = batch.sum(axis=3)
    return (brightness < brightness.mean(axis=(1, 2), keepdims=True)).mean(axis=(1, 2))


def test_scale_jitter_varies_how_much_of_the_crop_the_cell_fills() -> None:
    import tensorflow as tf

    shares = {}
    for scale_jitter in (0.0, 0.25):
        tf.random.set_seed(0)
        shares[scale_jitter] = _cell_share(
            np.asarray(augment_batch(_purple_cells(300), 0.8, 32, scale_jitter=scale_jitter))
        )
    assert shares[0.25].std() > 2 * shares[0.0].std()
    assert shares[0.25].max() > shares[0.0].max() + 0.15  # a tighter window: the cell fills more


def test_scale_jitter_out_of_range_is_refused() -> None:
    with pytest.raises(DatasetError, match="scale_jitter 0.6 must be at least 0 and below 0.5"):
        TrainConfig.from_dict({"name": "m", "sources": [], "scale_jitter": 0.6}, "m.train.json")
