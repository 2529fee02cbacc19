"""Progress of detect and classify when stderr is a log or a pipe, not a
terminal (issue 29 item 8): a run of minutes over a scan printed nothing."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import numpy as np
import pytest

import app.cli.output
from app.cli.main import main
from tests.core.images import write_image


class _FakeDetector:
    version = "fake-detector"

    def detect(self, image: object) -> list[object]:
        return []


class _BandedFakeDetector(_FakeDetector):
    def detect_bands(
        self, bands: Iterator[np.ndarray], height: int, width: int
    ) -> Generator[tuple[int, int], None, list]:
        rows = 0
        for band in bands:
            rows += len(band)
            yield rows, height
        return []


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_detect_on_a_folder_prints_a_line_per_image_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.detection.detector

    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: _FakeDetector())
    monkeypatch.setattr(app.cli.output, "STEP_LINE_SECONDS", 0.0)
    for name in "abc":
        write_image(tmp_path / "images" / f"{name}.png", seed=ord(name))
    assert main(["detect", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "out")]) == 0
    lines = _stderr_lines(capsys)
    assert [line.split(" ")[0] for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert "a.png" in lines[0] and "c.png" in lines[2]


def test_a_scan_read_in_bands_reports_its_rows_of_tiles_at_most_every_few_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.detection.detector

    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: _BandedFakeDetector())
    monkeypatch.setattr(core.image_bands, "LARGE_IMAGE_PIXELS", 0)
    write_image(tmp_path / "images" / "scan.png", width=300, height=1000)
    monkeypatch.setattr(app.cli.output, "WITHIN_STEP_LINE_SECONDS", 0.0)
    assert main(["detect", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "out")]) == 0
    lines = _stderr_lines(capsys)
    scan = tmp_path / "images" / "scan.png"
    assert lines[:4] == [f"[0/1] {scan}: {rows} of 1000 tiles searched" for rows in (256, 512, 768, 1000)]
    assert lines[4].startswith("[1/1] 0 cells on")

    # Within one image, no more than a line every WITHIN_STEP_LINE_SECONDS.
    monkeypatch.setattr(app.cli.output, "WITHIN_STEP_LINE_SECONDS", 3600.0)
    assert main(["detect", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "out")]) == 0
    lines = _stderr_lines(capsys)
    assert [line.split(" ")[0] for line in lines] == ["[0/1]", "[1/1]"]


def test_classify_on_a_project_prints_a_line_per_slide_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.detection.detector

    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: _FakeDetector())
    monkeypatch.setattr(app.cli.output, "STEP_LINE_SECONDS", 0.0)
    write_image(tmp_path / "slides" / "a.png")
    write_image(tmp_path / "slides" / "b.png", seed=1)
    project = tmp_path / "p.hemalabel"
    assert main(["import", str(tmp_path / "slides"), "--project", str(project)]) == 0
    capsys.readouterr()
    assert main(["detect", "--project", str(project)]) == 0
    lines = _stderr_lines(capsys)
    assert [line.split(" ")[0] for line in lines] == ["[1/2]", "[2/2]"]
    assert main(["classify", "--project", str(project), "--learn", "off"]) == 0
    lines = _stderr_lines(capsys)
    assert [line.split(" ")[0] for line in lines if line.startswith("[")] == ["[1/2]", "[2/2]"]
    assert "no cells to classify" in lines[0]
