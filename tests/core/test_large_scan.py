"""A whole-slide scan is read in bands of rows (core.image_bands) and
detected a row of tiles at a time, never held whole (issue 29 item 8).
The memory figures are in tests/benchmarks/test_large_scan_detection.py."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import core.image_bands
from core.detection.batch import detect_images
from core.detection.detector import KerasCellDetector
from core.detection.nms import iou_matrix
from core.image_bands import open_bands
from core.imaging import ImageReadError, load_rgb
from core.jobs import Progress, run_job
from tests.conftest import real_data_path
from tests.core.images import smear


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_bands_hold_the_pixels_of_a_whole_decode(tmp_path: Path, mode: str) -> None:
    """Pillow filters each row adaptively (all five PNG filters appear), so
    every band's first row leans on the row above it."""
    pixels = smear(1037, 777, seed=1)
    image = Image.fromarray(pixels).convert(mode)
    if mode == "RGBA":
        rgba = np.array(image)
        rgba[:, :, 3] = np.random.default_rng(0).integers(0, 256, rgba.shape[:2])
        image = Image.fromarray(rgba)
    path = tmp_path / f"{mode}.png"
    image.save(path)
    bands = open_bands(path, min_pixels=0)
    assert bands is not None and (bands.width, bands.height) == (1037, 777)
    read = list(bands.bands(rows=100))
    assert [len(band) for band in read] == [100] * 7 + [77]
    assert np.array_equal(np.concatenate(read), load_rgb(path))


def test_what_cannot_be_read_in_bands_is_decoded_whole_and_a_cut_file_is_named(tmp_path: Path) -> None:
    pixels = smear(300, 200)
    Image.fromarray(pixels).save(tmp_path / "small.png")
    assert open_bands(tmp_path / "small.png") is None  # under the size worth it
    cv2.imwrite(str(tmp_path / "deep.png"), pixels.astype(np.uint16) * 257)  # 16 bits a sample
    assert open_bands(tmp_path / "deep.png", min_pixels=0) is None
    Image.fromarray(pixels).save(tmp_path / "a.jpg")
    assert open_bands(tmp_path / "a.jpg", min_pixels=0) is None
    cut = tmp_path / "cut.png"
    whole = (tmp_path / "small.png").read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    bands = open_bands(cut, min_pixels=0)
    assert bands is not None
    with pytest.raises(ImageReadError, match="cut.png"):
        list(bands.bands())


@pytest.fixture(scope="module")
def detector() -> KerasCellDetector:
    return KerasCellDetector.load()


@pytest.mark.realdata
@pytest.mark.slow
def test_a_scan_read_in_bands_gets_the_boxes_of_a_whole_decode(
    tmp_path: Path, detector: KerasCellDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A field placed in a 4000 x 4000 scan: read in bands, the scan gets
    exactly the boxes it gets decoded whole, and those are the field's own."""
    field = load_rgb(real_data_path("bccd", "JPEGImages", "BloodImage_00000.jpg"))
    side, (x0, y0) = 4000, (1290, 1290)  # inside one tile's core
    scan = np.empty((side, side, 3), np.uint8)
    scan[:] = field.reshape(-1, 3).mean(axis=0).astype(np.uint8)  # plasma, as the detector pads
    scan[y0 : y0 + field.shape[0], x0 : x0 + field.shape[1]] = field
    path = tmp_path / "scan.png"
    cv2.imwrite(str(path), scan[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
    monkeypatch.setattr(core.image_bands, "LARGE_IMAGE_PIXELS", side * side)

    progress: list[Progress] = []
    banded = run_job(detect_images(detector, [path]), progress.append).images[0]
    whole = detector.detect(scan)
    assert (banded.width, banded.height) == (side, side)
    assert [(d.box, d.kind) for d in banded.detections] == [(d.box, d.kind) for d in whole]
    assert np.allclose([d.score for d in banded.detections], [d.score for d in whole])
    # A line per row of tiles before the image's own.
    assert [p.message for p in progress[:-1]] == [f"{path}: {6 * row} of 36 tiles searched" for row in range(1, 7)]

    alone = detector.detect(field)
    assert len(alone) > 10
    found = np.array([d.box.as_tuple() for d in banded.detections]).reshape(-1, 4) - [x0, y0, x0, y0]
    expected = np.array([d.box.as_tuple() for d in alone]).reshape(-1, 4)
    assert abs(len(found) - len(expected)) <= max(1, len(expected) // 10)
    assert np.median(iou_matrix(expected, found).max(axis=1)) > 0.8
