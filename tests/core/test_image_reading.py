"""The one door for reading images (core/imaging.py, core/image_levels.py):
every reader names the file and says, by the error's type, what is wrong
with it; every file mode comes out upright 8-bit RGB; the decompression-bomb
limits hold on every path."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core.imaging
from core.image_bands import open_bands
from core.image_levels import read_levels, read_preview
from core.imaging import (
    BeyondPillowGuard,
    ChangedSize,
    ImageReadError,
    ImageState,
    ImageTooLarge,
    MissingImage,
    UnreadableImage,
    load_rgb,
    load_rgb_eighth,
    probe_image,
    read_thumbnail,
    stored_size,
    try_read,
)
from core.slide_pixels import load_rgb_sized
from tests.conftest import REPO_ROOT as REPO
from tests.core.images import smear, write_image

# Every reader of the door, each as path -> something read.
READERS: dict[str, Callable[[Path], object]] = {
    "probe_image": probe_image,
    "stored_size": stored_size,
    "load_rgb": load_rgb,
    "load_rgb_eighth": load_rgb_eighth,
    "read_thumbnail": lambda path: read_thumbnail(path, 32),
    "read_levels": read_levels,
    "read_preview": read_preview,
}
# Readers that decode pixels, so a damaged body is found (stored_size reads the header only).
DECODERS = {name: read for name, read in READERS.items() if name != "stored_size"}


def _huge_png(path: Path, width: int = 50_000, height: int = 50_000) -> Path:
    """A tiny PNG whose header claims width x height pixels: a bomb made cheaply."""
    data = bytearray(write_image(path.with_suffix(".small.png"), 10, 10).read_bytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("name", READERS)
def test_a_missing_file_is_a_missing_image_named_by_every_reader(tmp_path: Path, name: str) -> None:
    path = tmp_path / "gone.png"
    with pytest.raises(MissingImage) as caught:
        READERS[name](path)
    assert caught.value.path == path and str(path) in str(caught.value) and caught.value.reason == "file not found"
    assert try_read(READERS[name], path).state == ImageState.MISSING


@pytest.mark.parametrize("name", READERS)
def test_an_empty_file_is_unreadable(tmp_path: Path, name: str) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(UnreadableImage, match=r"empty\.png: "):
        READERS[name](path)


@pytest.mark.parametrize("name", DECODERS)
def test_a_truncated_png_is_unreadable(tmp_path: Path, name: str) -> None:
    whole = write_image(tmp_path / "whole.png", 200, 150).read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UnreadableImage, match=r"cut\.png: .*(truncated|damaged)"):
        DECODERS[name](path)
    read = try_read(DECODERS[name], path)
    assert (read.state, read.image) == (ImageState.UNREADABLE, None) and re.search("truncated|damaged", read.reason)


def test_a_file_that_is_not_an_image_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are notes, not pixels\n")
    for read in READERS.values():
        with pytest.raises(UnreadableImage, match=r"notes\.png: "):
            read(path)


@pytest.mark.parametrize("name", DECODERS)
def test_a_png_over_the_pixel_limit_is_refused_by_name_before_decoding(tmp_path: Path, name: str) -> None:
    path = _huge_png(tmp_path / "bomb.png")
    with pytest.raises(ImageTooLarge, match=r"bomb\.png: image has more than 1,073,741,824 pixels, too many to open"):
        DECODERS[name](path)
    assert try_read(DECODERS[name], path).state == ImageState.TOO_LARGE


def test_an_image_wider_than_opencv_opens_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Few pixels in one very long row: within the pixel limit, past the width limit."""
    assert open_bands(_huge_png(tmp_path / "strip.png", width=2_000_000, height=1), min_pixels=0) is None
    path = tmp_path / "strip.bmp"  # a BMP header alone (libpng refuses such a PNG before OpenCV would)
    header = struct.pack("<IiiHHIIiiII", 40, 2_000_000, 1, 1, 24, 0, 0, 2835, 2835, 0, 0)
    path.write_bytes(b"BM" + struct.pack("<IHHI", 54 + 6_000_000, 0, 0, 54) + header)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # past Pillow's guard, so OpenCV decodes it
    with pytest.raises(ImageTooLarge, match=r"strip\.bmp: image is too wide or too tall to open"):
        load_rgb(path)


def test_the_stored_size_of_a_bomb_is_refused_by_pillows_guard(tmp_path: Path) -> None:
    with pytest.raises(BeyondPillowGuard, match=r"bomb\.png: image too large for Pillow"):
        stored_size(_huge_png(tmp_path / "bomb.png"))


def test_past_pillows_guard_every_reader_goes_through_opencv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image(tmp_path / "scan.png", 120, 90)
    expected = smear(120, 90)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 120x90 is now "a bomb" to Pillow
    with pytest.raises(BeyondPillowGuard):
        probe_image(path, verify_pixels=False, decode_large=False)
    assert (probe_image(path).width, probe_image(path).height) == (120, 90)
    assert np.array_equal(load_rgb(path), expected)
    assert read_thumbnail(path, 32).shape == (11, 15, 3)  # the eighth-size decode, already within 32 pixels
    assert Image.MAX_IMAGE_PIXELS == 1000  # the guard itself was never raised


def test_opencvs_own_variable_sets_its_pixel_limit_and_the_message_quotes_it(tmp_path: Path) -> None:
    """OpenCV reads OPENCV_IO_MAX_IMAGE_PIXELS when it loads, so the check
    runs in a fresh process."""
    path = write_image(tmp_path / "field.png", 100, 100)
    script = (
        "import sys; from PIL import Image; from core.imaging import ImageTooLarge, load_rgb\n"
        "Image.MAX_IMAGE_PIXELS = 1000  # past Pillow's guard, so OpenCV decodes it\n"
        "try:\n    load_rgb(sys.argv[1])\nexcept ImageTooLarge as error:\n    print(error)\n"
    )
    env = {**os.environ, "OPENCV_IO_MAX_IMAGE_PIXELS": "5000", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True,
                          timeout=120)
    expected = f"{path}: image has more than 5,000 pixels, too many to open; split or downscale it"
    assert done.stdout.strip() == expected, done.stderr


@pytest.mark.parametrize(("value", "limit"), [("5000", 5000), ("2KB", 2048), ("3MB", 3 << 20), ("", 1 << 30),
                                              ("lots", 1 << 30)])
def test_the_pixel_limit_is_read_as_opencv_reads_it(monkeypatch: pytest.MonkeyPatch, value: str, limit: int) -> None:
    monkeypatch.setenv("OPENCV_IO_MAX_IMAGE_PIXELS", value)
    assert core.imaging._opencv_limit("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30) == limit


def test_sixteen_bit_grey_is_scaled_by_its_own_range(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(1000, 3000, 64, dtype=np.uint16), (16, 1))
    path = tmp_path / "sixteen.png"
    Image.fromarray(ramp).save(path)
    with Image.open(path) as image:
        assert image.mode.startswith("I")  # stored as 16-bit, not narrowed on save
    rgb = load_rgb(path)
    assert rgb.shape == (16, 64, 3) and rgb.dtype == np.uint8
    assert (rgb[:, 0] == 0).all() and (rgb[:, -1] == 255).all()  # not clipped to white
    assert (rgb[:, :, 0] == rgb[:, :, 2]).all()
    assert read_thumbnail(path, 32).shape == (8, 32, 3)


def test_grey_and_transparent_images_come_out_rgb(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((10, 20), 77, np.uint8)).save(grey)
    assert (load_rgb(grey) == 77).all() and load_rgb(grey).shape == (10, 20, 3)
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[:, :10] = (200, 0, 0, 255)  # opaque red on the left, see-through on the right
    clear = tmp_path / "clear.png"
    Image.fromarray(rgba).save(clear)
    rgb = load_rgb(clear)
    assert (rgb[:, :10] == (200, 0, 0)).all() and (rgb[:, 10:] == 255).all()  # glass is white
    assert (read_levels(clear).full == rgb).all()


def test_an_exif_rotated_jpeg_is_read_upright_by_every_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upright = np.zeros((80, 40, 3), np.uint8)
    upright[:20] = 255  # a white band at the top of the upright image
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned a quarter; viewers turn it back
    Image.fromarray(upright).rotate(90, expand=True).save(path, exif=exif, quality=95)
    assert stored_size(path) == (80, 40)  # as stored, for formats that normalise boxes to it
    info = probe_image(path)
    assert (info.width, info.height) == (40, 80)
    for rgb in (load_rgb(path), read_thumbnail(path, 80), read_levels(path).full):
        assert rgb.shape == (80, 40, 3) and rgb[:15].mean() > 200 and rgb[25:].mean() < 50
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # the OpenCV path turns it upright too
    rgb = load_rgb(path)
    assert rgb.shape == (80, 40, 3) and rgb[:15].mean() > 200 and rgb[25:].mean() < 50


def test_levels_halve_down_to_a_screenful_and_the_preview_is_an_eighth(tmp_path: Path) -> None:
    path = write_image(tmp_path / "scan.png", 2400, 1200)
    levels = read_levels(path)
    assert [level.shape[:2] for level in levels.levels] == [(1200, 2400), (600, 1200), (300, 600)]
    assert np.array_equal(levels.full, smear(2400, 1200)) and not levels.preview
    preview = read_preview(path)
    assert preview.preview and (preview.width, preview.height) == (300, 150)


def test_a_file_of_another_size_than_its_boxes_is_changed(tmp_path: Path) -> None:
    path = write_image(tmp_path / "field.png", 64, 48)
    assert load_rgb_sized(path, (64, 48)).shape == (48, 64, 3)
    with pytest.raises(ChangedSize, match=r"field\.png: the image is 64x48 now but was 32x24") as caught:
        load_rgb_sized(path, (32, 24))
    assert caught.value.state == ImageState.CHANGED


def test_every_error_is_an_image_read_error_with_its_own_state() -> None:
    states = {error.state for error in (MissingImage, UnreadableImage, ImageTooLarge, ChangedSize)}
    assert states == set(ImageState) - {ImageState.READ}
    assert all(issubclass(error, ImageReadError) for error in (MissingImage, BeyondPillowGuard, ChangedSize))


def test_memory_running_out_is_a_state_not_a_crash(tmp_path: Path) -> None:
    def exhausted(path: Path) -> np.ndarray:
        raise MemoryError

    read = try_read(exhausted, tmp_path / "scan.png")
    assert (read.state, read.image, read.reason) == (ImageState.TOO_LARGE, None, "not enough memory to open this image")


# Decoding calls allowed only where the door is; anything else reads through it.
_DECODING_CALLS = {
    "Image.open(": {"core/imaging.py"},
    "cv2.imread(": set(),
    "cv2.imdecode(": {"core/imaging.py", "core/image_bands.py"},  # image_bands: its bands, made in memory
    "np.fromfile(": {"core/imaging.py"},
    "QImageReader": set(),
    "QImage(": {"app/gui/imagery.py"},  # from an array, never from a file
}


def test_images_are_decoded_only_behind_the_door() -> None:
    found = []
    for path in sorted([*REPO.glob("core/**/*.py"), *REPO.glob("app/**/*.py")]):
        relative = path.relative_to(REPO).as_posix()
        text = path.read_text(encoding="utf-8")
        found += [(relative, call) for call, allowed in _DECODING_CALLS.items()
                  if call in text and relative not in allowed]
    assert found == []
