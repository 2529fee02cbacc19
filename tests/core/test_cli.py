"""The command line: its contract forms, and errors that name the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from app.version import app_version
from tests.core.images import write_image, write_truncated_jpeg


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"hemalabel {app_version()}"


def test_import_then_info_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "slides" / "a.png")
    write_truncated_jpeg(tmp_path / "slides" / "b.jpg")
    project = tmp_path / "p.hemalabel"
    assert main(["import", str(tmp_path / "slides"), "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "1 new slide," in out and "b.jpg" in out and "truncated" in out
    assert main(["info", "--project", str(project), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["slides"] == 1 and summary["cells"] == {"white": 0, "red": 0, "platelet": 0}


def test_info_accepts_the_project_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "slides" / "a.png")
    assert main(["import", str(tmp_path / "slides"), "--project", str(tmp_path / "lab.hemalabel")]) == 0
    assert main(["info", "--project", str(tmp_path)]) == 0
    assert "Slides: 1" in capsys.readouterr().out


def test_errors_name_the_file_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--project", str(tmp_path / "nope.hemalabel")]) == 2
    assert "nope.hemalabel: no project file here" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "missing"), "--project", str(tmp_path / "p.hemalabel")]) == 2
    assert "missing: no such folder or file" in capsys.readouterr().err
    assert not (tmp_path / "p.hemalabel").exists()


def test_a_folder_without_images_is_refused_before_a_model_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointed at the wrong folder, classify said "classified: 0" and exited 0,
    after loading TensorFlow (seconds) to find nothing to do."""
    import core.classifier
    import core.detection.detector

    def no_model(*_args: object) -> None:
        raise AssertionError("a model was loaded for a folder without images")

    monkeypatch.setattr(core.classifier, "load_classifier", no_model)
    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", no_model)
    (tmp_path / "notes.txt").write_text("no images here")
    assert main(["classify", "--images", str(tmp_path), "--out", str(tmp_path / "p.csv")]) == 2
    assert f"{tmp_path}: no images found" in capsys.readouterr().err
    assert main(["detect", "--images", str(tmp_path), "--out", str(tmp_path / "d.csv")]) == 2
    assert f"{tmp_path}: no images found" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "d.csv").exists()


def test_a_detector_given_as_a_classifier_and_the_reverse_are_refused_by_what_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bundled detector and classifier lie in the same folder: naming one
    for the other's command used to end on "card lacks a field (... missing
    4 required positional arguments ...)" or "card not found"."""
    from core.models.resolver import available_models, resolve_detector_card
    from core.resources import bundled_models_dir

    write_image(tmp_path / "crops" / "a.png")
    args = ["--images", str(tmp_path / "crops"), "--out", str(tmp_path / "out.csv")]
    assert main(["classify", *args, "--model", "cell-detector"]) == 2
    assert "the card of a cell detector, not of a white-cell classifier" in capsys.readouterr().err
    assert main(["detect", *args, "--model", "hemalabel-wbc"]) == 2
    assert "the card of a white-cell classifier, not of a cell detector" in capsys.readouterr().err
    assert main(["detect", *args, "--model", "lymphoid-screen"]) == 2
    assert "the card of the lymphoid screen, not of a cell detector" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
    # A classifier that is not found lists only classifiers; a detector is
    # found by its bare name, as a classifier is.
    assert "cell-detector" not in available_models() and "hemalabel-wbc" in available_models()
    assert resolve_detector_card("cell-detector") == bundled_models_dir() / "cell-detector.json"


def test_an_import_whose_every_image_was_skipped_fails_with_its_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It printed the skipped images and exited 0: a script went on with an
    empty project."""
    write_truncated_jpeg(tmp_path / "slides" / "b.jpg")
    project = tmp_path / "p.hemalabel"
    assert main(["import", str(tmp_path / "slides"), "--project", str(project)]) == 2
    captured = capsys.readouterr()
    assert "0 new slides," in captured.out and "skipped" in captured.out and "b.jpg" in captured.out
    assert "nothing imported; 1 image was skipped" in captured.err
    assert not project.exists()


class _FakeDetector:
    version = "fake-detector"

    def detect(self, image: object) -> list[object]:
        return []


def test_a_detect_whose_every_slide_failed_exits_2_with_its_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.detection.detector

    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: _FakeDetector())
    write_image(tmp_path / "slides" / "a.png")
    write_image(tmp_path / "slides" / "b.png", seed=1)
    project = tmp_path / "p.hemalabel"
    assert main(["import", str(tmp_path / "slides"), "--project", str(project)]) == 0
    assert main(["detect", "--project", str(project)]) == 0  # every slide readable
    (tmp_path / "slides" / "a.png").unlink()
    assert main(["detect", "--project", str(project)]) == 0  # one of two failed: still a result
    (tmp_path / "slides" / "b.png").unlink()
    capsys.readouterr()
    assert main(["detect", "--project", str(project)]) == 2
    captured = capsys.readouterr()
    assert "Detected cells on 0 of 2 slides" in captured.out and "a.png" in captured.err
    assert "detection failed on every slide" in captured.err


def test_a_detect_whose_every_image_failed_exits_2_with_its_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.detection.detector

    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: _FakeDetector())
    write_truncated_jpeg(tmp_path / "images" / "b.jpg")
    out = tmp_path / "d.csv"
    assert main(["detect", "--images", str(tmp_path / "images"), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "on 0 images" in captured.out and "b.jpg" in captured.err
    assert "detection failed on every image" in captured.err
    write_image(tmp_path / "images" / "a.png")
    assert main(["detect", "--images", str(tmp_path / "images"), "--out", str(out)]) == 0
