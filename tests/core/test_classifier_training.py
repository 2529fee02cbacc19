"""Training, card checks, loading and the CLI on tiny generated images."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.cli.main import main
from core.classifier import load_classifier
from core.jobs import Cancelled, CancelToken, Progress, run_job
from core.models.classifier_card import read_card, write_card
from core.models.files import ModelCardError, sha256_of
from core.models.resolver import resolve_model
from core.training.config import SourceConfig, TrainConfig
from core.training.trainer import train_classifier
from tests.core.classifier_fixtures import COLOURS, write_class_tree

CLASSES = list(COLOURS)


def _config(tree: Path, out: Path, **options: Any) -> TrainConfig:
    return TrainConfig(
        name="tiny", classes=CLASSES, input_size=32, epochs=2, batch_size=8,
        sources=[SourceConfig("folder", str(tree), val=0.25, test=0.0)], output_dir=str(out), **options,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Progress]]:
    root = tmp_path_factory.mktemp("tiny")
    tree = write_class_tree(root / "cells")
    progress: list[Progress] = []
    result = run_job(
        train_classifier(_config(tree, root / "models", target_recall={"eosinophil": 0.9})), progress.append
    )
    return result.weights, tree, progress


@pytest.mark.slow
def test_training_yields_epochs_and_writes_a_checked_card(trained: tuple[Path, Path, list[Progress]]) -> None:
    weights, _, progress = trained
    epochs = [p.payload for p in progress if isinstance(p.payload, dict)]
    assert [row["epoch"] for row in epochs] == [1, 2]
    assert all("val_accuracy" in row and "loss" in row for row in epochs)
    card = read_card(weights.with_suffix(".json"))
    assert card.classes == CLASSES and card.input_size == 32
    assert card.sha256 == sha256_of(weights)
    assert card.temperature > 0
    assert card.target_recall["eosinophil"]["target"] == 0.9
    assert "eosinophil" in card.class_thresholds
    assert card.training_data["augmentation"] == {"colour_jitter": "standard", "strength": 1.0, "scale_jitter": 0.12}


@pytest.mark.slow
def test_classifier_predicts_calibrated_rows(trained: tuple[Path, Path, list[Progress]]) -> None:
    weights, _, _ = trained
    classifier = load_classifier(weights)
    crops = [np.zeros((30, 50, 3), np.uint8), np.full((90, 90, 3), 200, np.uint8)]
    probabilities = classifier.predict(crops)
    assert probabilities.shape == (2, 3)
    assert np.allclose(probabilities.sum(1), 1.0, atol=1e-5)
    assert classifier.predict([]).shape == (0, 3)


def _copy_model(weights: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / weights.name
    target.write_bytes(weights.read_bytes())
    target.with_suffix(".json").write_text(weights.with_suffix(".json").read_text())
    return target


@pytest.mark.slow
def test_changed_weights_are_refused_naming_the_file(trained: tuple[Path, Path, list[Progress]],
                                                     tmp_path: Path) -> None:
    target = _copy_model(trained[0], tmp_path)
    target.write_bytes(target.read_bytes() + b"x")
    with pytest.raises(ModelCardError, match="checksum") as error:
        load_classifier(target)
    assert str(target) in str(error.value)


@pytest.mark.parametrize("field,value,message", [("classes", ["a", "b"], "classes"), ("input_size", 48, "input")])
@pytest.mark.slow
def test_card_disagreeing_with_model_is_refused(trained: tuple[Path, Path, list[Progress]], tmp_path: Path,
                                                 field: str, value: object, message: str) -> None:
    target = _copy_model(trained[0], tmp_path)
    card = read_card(target.with_suffix(".json"))
    setattr(card, field, value)
    write_card(card, target.with_suffix(".json"))
    with pytest.raises(ModelCardError, match=message):
        load_classifier(target)


@pytest.mark.slow
def test_missing_card_is_refused(trained: tuple[Path, Path, list[Progress]], tmp_path: Path) -> None:
    target = _copy_model(trained[0], tmp_path)
    target.with_suffix(".json").unlink()
    with pytest.raises(ModelCardError, match="card not found"):
        load_classifier(target)


@pytest.mark.slow
def test_resolver_prefers_user_folder(trained: tuple[Path, Path, list[Progress]], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    user = _copy_model(trained[0], tmp_path / "user")
    bundled = _copy_model(trained[0], tmp_path / "bundled")
    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(user.parent))
    monkeypatch.setenv("HEMALABEL_BUNDLED_MODELS", str(bundled.parent))
    assert resolve_model("tiny") == user
    user.unlink()
    assert resolve_model("tiny") == bundled
    with pytest.raises(ModelCardError, match="not found"):
        resolve_model("nonexistent")


@pytest.mark.slow
def test_cancel_stops_training(tmp_path: Path) -> None:
    tree = write_class_tree(tmp_path / "cells", per_class=4)
    token = CancelToken()
    job = train_classifier(_config(tree, tmp_path / "models"), cancel=token)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        run_job(job)


@pytest.mark.slow
def test_evaluate_and_classify_cli(trained: tuple[Path, Path, list[Progress]], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    weights, tree, _ = trained
    (tree / "Lymphocyte" / "broken.png").write_bytes(b"not an image")
    # A hidden folder (a viewer's thumbnail cache) holds no crops: neither
    # counted nor listed as unreadable.
    (tree / "Lymphocyte" / ".thumbnails").mkdir()
    (tree / "Lymphocyte" / ".thumbnails" / "cache.png").write_bytes(b"cached, half written")
    assert main(["evaluate", "--images", str(tree), "--model", str(weights), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "per_class", "confusion_matrix", "ece",
                "ece_before_calibration", "accuracy_above_threshold", "coverage_above_threshold"):
        assert key in report
    assert report["cells"] == 36 and len(report["skipped"]) == 1
    out = tmp_path / "predictions.csv"
    assert main(["classify", "--images", str(tree), "--out", str(out), "--model", str(weights)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("image,label,top1,p1,top2,p2,top3,p3") and len(lines) == 37
    (tree / "Lymphocyte" / "broken.png").unlink()
    shutil.rmtree(tree / "Lymphocyte" / ".thumbnails")


@pytest.mark.slow
def test_classify_project_cli_counts_the_white_cells(trained: tuple[Path, Path, list[Progress]], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from core.schema import Box, CellKind, LabelSource, NewCell
    from core.store import ProjectStore
    from tests.core.classifier_fixtures import disc_image

    weights, _, _ = trained
    rng = np.random.default_rng(1)
    field = np.concatenate([disc_image(COLOURS["neutrophil"], rng), disc_image(COLOURS["lymphocyte"], rng)], axis=1)
    Image.fromarray(field).save(tmp_path / "field.png")
    Image.fromarray(field).save(tmp_path / "gone.png")
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        read = store.add_slide(tmp_path / "field.png", 80, 40)
        gone = store.add_slide(tmp_path / "gone.png", 80, 40)
        store.add_cells(read.id, [NewCell(Box(4, 4, 36, 36), CellKind.WHITE, source=LabelSource.MODEL),
                                  NewCell(Box(44, 4, 76, 36), CellKind.WHITE, label="eosinophil"),
                                  NewCell(Box(0, 0, 8, 8), CellKind.RED, source=LabelSource.MODEL)])
        store.add_cells(gone.id, [NewCell(Box(4, 4, 36, 36), CellKind.WHITE, source=LabelSource.MODEL)])
    (tmp_path / "gone.png").unlink()
    assert main(["classify", "--project", str(tmp_path / "p.hemalabel"), "--model", str(weights), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # The unreadable slide's cell is not counted; the human's label is kept.
    assert summary["slides"] == 2 and summary["skipped"] == 1 and summary["white_cells"] == 2
    assert summary["labels"]["eosinophil"] >= 1 and sum(summary["labels"].values()) == 2
    assert "(unclassified)" not in summary["labels"]


@pytest.mark.slow
def test_evaluate_rejects_unknown_folder(trained: tuple[Path, Path, list[Progress]], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    weights, tree, _ = trained
    (tmp_path / "blasts").mkdir()
    assert main(["evaluate", "--images", str(tmp_path), "--model", str(weights)]) == 2
    error = capsys.readouterr().err
    assert "blasts" in error and "neutrophil, eosinophil, lymphocyte" in error


def test_train_cli_parses_target_recall(tmp_path: Path) -> None:
    from app.cli.commands.train_cmd import parse_target_recall

    assert parse_target_recall(["Basophil=0.95"]) == {"basophil": 0.95}
    with pytest.raises(ValueError):
        parse_target_recall(["basophil=high"])


def test_importing_core_classifier_does_not_load_tensorflow() -> None:
    import subprocess

    code = "import sys, core.classifier, core.training.trainer; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_both_runtimes_give_the_same_logits(trained: tuple[Path, Path, list[Progress]]) -> None:
    weights, _, _ = trained
    crops = [np.random.default_rng(i).integers(0, 256, (20 + 7 * i, 20 + 7 * i, 3)).astype(np.uint8) for i in range(70)]
    lite, plain = load_classifier(weights), load_classifier(weights, runtime="tensorflow")
    assert np.allclose(lite.logits(crops), plain.logits(crops), atol=1e-3)
    assert (lite.runtime, plain.runtime) == ("tflite", "tensorflow")
    with pytest.raises(ValueError, match="unknown runtime"):
        load_classifier(weights, runtime="gpu")


@pytest.mark.slow
def test_classifier_falls_back_to_tensorflow_when_lite_fails(
    trained: tuple[Path, Path, list[Progress]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no converter here")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_concrete_functions", broken)
    weights, _, _ = trained
    classifier = load_classifier(weights)
    crops = [np.full((40, 40, 3), 180, np.uint8)]
    assert classifier.predict(crops).shape == (1, 3)
    assert classifier.runtime == "tensorflow (TensorFlow Lite unavailable: RuntimeError: no converter here)"
