"""The detector network end to end on tiny generated images: one or two
training steps, the card and its checks, detection on awkward inputs, and the
command line.  Accuracy is the benchmarks' business, not these tests'."""

from __future__ import annotations

import csv
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.detection.augment import AugmentConfig
from core.detection.batch import detect_images
from core.detection.data import GroundTruth
from core.detection.detector import KerasCellDetector
from core.detection.training import DetectorTrainingConfig, EpochMetrics, train_detector
from core.jobs import Cancelled, CancelToken, Progress, run_job
from core.models.detector_card import DetectorCard
from core.models.files import ModelCardError
from core.schema import CellKind

# Keras's own model.save trips a NumPy 2 deprecation inside TensorFlow; not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

BACKGROUND = (228, 208, 200)
# (colour, radius) of the three kinds at image scale: a purple white cell,
# a pink red cell, a small dark platelet.
DISCS = {0: ((120, 60, 160), 22), 1: ((205, 120, 125), 12), 2: ((110, 70, 140), 4)}


def disc_field(path: Path, seed: int, size: tuple[int, int] = (160, 128)) -> GroundTruth:
    """A smear-like image of a few discs, saved to path, with its boxes."""
    import cv2

    rng = np.random.default_rng(seed)
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    boxes, classes = [], []
    for cls, x, y in ((0, 45, 50), (1, 110, 40), (1, 100, 95), (2, 60, 105)):
        colour, radius = DISCS[cls]
        x, y = x + int(rng.integers(-4, 5)), y + int(rng.integers(-4, 5))
        cv2.circle(image, (x, y), radius, colour, -1)
        boxes.append([x - radius, y - radius, x + radius + 1, y + radius + 1])
        classes.append(cls)
    Image.fromarray(image).save(path)
    return GroundTruth(path, np.array(boxes, np.float32), np.array(classes), "synthetic")


def tiny_config(**changes: object) -> DetectorTrainingConfig:
    base = dict(
        epochs=1,
        batch_size=2,
        width=8,
        warmup_steps=1,
        tile=64,
        overlap=24,
        val_every=1,
        augment=AugmentConfig(crop=64),
    )
    base.update(changes)
    return DetectorTrainingConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[GroundTruth], list]:
    folder = tmp_path_factory.mktemp("detector")
    images = folder / "images"
    images.mkdir()
    samples = [disc_field(images / f"field{i}.png", i) for i in range(4)]
    progress: list[Progress] = []
    job = train_detector(samples, samples[:2], folder / "model", tiny_config())
    card_path = run_job(job, progress.append)
    return card_path, samples, progress


@pytest.mark.slow
def test_training_yields_epoch_metrics_and_writes_a_matching_card(trained) -> None:
    card_path, _, progress = trained
    metrics = [p.payload for p in progress if isinstance(p.payload, EpochMetrics)]
    assert len(metrics) == 1 and np.isfinite(metrics[0].loss)
    assert metrics[0].val_ap50 is not None and set(metrics[0].val_ap50) == {"white", "red", "platelet"}
    card = DetectorCard.load(card_path)
    assert card.classes == ["white", "red", "platelet"]
    assert set(card.thresholds) == {"white", "red", "platelet"}
    assert card.check_weights(card_path).stat().st_size < 20 * 1024 * 1024
    assert "validation" in card.metrics


def test_training_honours_cancel(tmp_path: Path) -> None:
    sample = disc_field(tmp_path / "a.png", 0)
    token = CancelToken()
    job = train_detector([sample, sample], [], tmp_path / "out", tiny_config(epochs=3), cancel=token)
    next(job)  # loading
    token.cancel()
    with pytest.raises(Cancelled):
        run_job(job)
    assert not (tmp_path / "out" / "cell-detector.keras").exists()


@pytest.mark.slow
def test_tampered_weights_are_refused(trained, tmp_path: Path) -> None:
    card_path, _, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(card_path.parent, copy)
    with open(copy / "cell-detector.keras", "ab") as stream:
        stream.write(b"tampered")
    with pytest.raises(ModelCardError, match="do not match"):
        KerasCellDetector.load(copy / "cell-detector.json")
    with pytest.raises(ModelCardError, match="not found"):
        KerasCellDetector.load(tmp_path / "nowhere.json")


@pytest.mark.slow
def test_awkward_images_give_sane_detections(trained) -> None:
    detector = KerasCellDetector.load(trained[0])
    assert detector.detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert detector.detect(np.zeros((5, 900, 3), np.uint8)) == []
    detector.card.flip_average = True  # the test-time flip path must keep shapes straight too
    for shape in ((37, 53, 3), (300, 70, 3), (200, 260, 3)):  # odd sizes; tiled (tile is 64 at half scale)
        image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
        for detection in detector.detect(image):
            assert 0 <= detection.box.x0 <= detection.box.x1 <= shape[1]
            assert 0 <= detection.box.y0 <= detection.box.y1 <= shape[0]
            assert detection.kind in CellKind and 0 <= detection.score <= 1


@pytest.mark.slow
def test_every_file_mode_is_read_and_bad_files_are_listed(trained, tmp_path: Path, monkeypatch) -> None:
    detector = KerasCellDetector.load(trained[0])
    rgb = np.asarray(Image.open(trained[1][0].path).convert("RGB"))
    base = Image.fromarray(rgb)
    paths = []
    for name, image in {
        "gray.png": base.convert("L"),
        "rgba.png": base.convert("RGBA"),
        "palette.png": base.convert("P"),
        "cmyk.jpg": base.convert("CMYK"),
        "sixteen.tif": Image.fromarray(np.asarray(base.convert("L")).astype(np.uint16) * 257),
    }.items():
        image.save(tmp_path / name)
        paths.append(tmp_path / name)
    rotated = base.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; viewers turn it back upright
    rotated.save(tmp_path / "exif.jpg", exif=exif)
    paths.append(tmp_path / "exif.jpg")
    (tmp_path / "truncated.png").write_bytes((tmp_path / "gray.png").read_bytes()[:100])
    paths.append(tmp_path / "truncated.png")
    # Pillow's decompression-bomb guard stays on; an image over it is read by
    # OpenCV, and one over OpenCV's pixel ceiling is refused by name (only
    # the Pillow limit is lowered so the test stays small).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)  # Pillow refuses above twice this
    Image.new("RGB", (400, 300), BACKGROUND).save(tmp_path / "big.png")
    paths.append(tmp_path / "big.png")
    # A PNG whose header claims 50,000 x 50,000 pixels: refused before decoding.
    small = bytearray((tmp_path / "gray.png").read_bytes())
    small[16:24] = struct.pack(">II", 50_000, 50_000)
    small[29:33] = struct.pack(">I", zlib.crc32(bytes(small[12:29])))
    (tmp_path / "huge.png").write_bytes(bytes(small))
    paths.append(tmp_path / "huge.png")
    report = run_job(detect_images(detector, paths))
    monkeypatch.undo()
    read = {result.path.name: result for result in report.images}
    assert set(read) == {"gray.png", "rgba.png", "palette.png", "cmyk.jpg", "sixteen.tif", "exif.jpg", "big.png"}
    assert (read["big.png"].width, read["big.png"].height) == (400, 300)
    assert (read["exif.jpg"].width, read["exif.jpg"].height) == (160, 128)
    skipped = dict(report.skipped)
    assert (
        "truncated" in skipped[str(tmp_path / "truncated.png")] or "damaged" in skipped[str(tmp_path / "truncated.png")]
    )
    assert "too many to open" in skipped[str(tmp_path / "huge.png")]


@pytest.mark.slow
def test_cli_detect_writes_voc_and_csv_and_evaluates(trained, tmp_path: Path, capsys) -> None:
    from app.cli.main import main

    card_path, samples, _ = trained
    images = samples[0].path.parent
    assert main(["detect", "--images", str(images), "--out", str(tmp_path / "voc"), "--model", str(card_path)]) == 0
    xml_files = sorted((tmp_path / "voc" / "Annotations").glob("*.xml"))
    assert [p.stem for p in xml_files] == ["field0", "field1", "field2", "field3"]
    assert main(["detect", "--images", str(images), "--out", str(tmp_path / "d.csv"), "--model", str(card_path)]) == 0
    with open(tmp_path / "d.csv", newline="") as stream:
        assert next(csv.reader(stream)) == ["image", "kind", "score", "x0", "y0", "x1", "y1"]
    capsys.readouterr()

    # Ground truth as a BCCD-like VOC folder of the same fields.
    voc = tmp_path / "gt"
    (voc / "JPEGImages").mkdir(parents=True)
    (voc / "Annotations").mkdir()
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    names = {0: "WBC", 1: "RBC", 2: "Platelets"}
    for sample in samples:
        shutil.copy(sample.path, voc / "JPEGImages" / sample.path.name)
        objects = "".join(
            f"<object><name>{names[int(c)]}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
            f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
            for b, c in zip(sample.boxes, sample.classes)
        )
        (voc / "Annotations" / f"{sample.path.stem}.xml").write_text(
            f"<annotation><filename>{sample.path.name}</filename>{objects}</annotation>"
        )
    (voc / "ImageSets" / "Main" / "test.txt").write_text("field0\nfield1\n")
    args = ["evaluate-detector", str(voc), "--format", "voc", "--split", "test", "--model", str(card_path), "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 2
    for name in ("white", "red", "platelet"):
        assert {"ap50", "ap50_95", "recall", "precision"} <= set(result["per_class"][name])
        if result["per_class"][name]["ground_truth"]:
            low, high = result["per_class"][name]["ap50_ci95"]
            assert low <= result["per_class"][name]["ap50"] <= high or low == high


def test_cli_refuses_a_missing_model(tmp_path: Path, capsys) -> None:
    from app.cli.main import main

    (tmp_path / "a.png").write_bytes(b"")
    code = main(
        ["detect", "--images", str(tmp_path), "--out", str(tmp_path / "o"), "--model", str(tmp_path / "m.json")]
    )
    assert code == 2
    assert "model card not found" in capsys.readouterr().err


def test_cli_evaluate_detector_names_the_layouts_a_folder_lacks(tmp_path: Path, capsys) -> None:
    from app.cli.main import main

    (tmp_path / "a.png").write_bytes(b"")
    assert main(["evaluate-detector", str(tmp_path)]) == 2
    assert "neither Pascal VOC (Annotations/ with XML files) nor YOLO" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_detect_writes_unreviewed_model_proposals_into_a_project(trained, tmp_path: Path, capsys) -> None:
    from app.cli.main import main
    from core.schema import LabelSource
    from core.store import ProjectStore

    card_path, samples, _ = trained
    images = tmp_path / "slides"
    shutil.copytree(samples[0].path.parent, images)
    project = images / "project.hemalabel"
    assert main(["import", str(images), "--project", str(project)]) == 0
    args = ["detect", "--project", str(project), "--model", str(card_path), "--json"]
    capsys.readouterr()
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["slides"] == 4
    with ProjectStore.open(project) as store:
        cells = store.cells()
        version = KerasCellDetector.load(card_path).version
        assert all(c.source is LabelSource.MODEL and not c.reviewed and c.model_version == version for c in cells)
        # Running again replaces the earlier proposals rather than adding to them.
        count = len(cells)
    assert main(args) == 0
    with ProjectStore.open(project) as store:
        assert len(store.cells()) == count


def test_cli_train_detector_refuses_malformed_class_weights(capsys) -> None:
    from app.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train-detector", "--data", "d", "--out", "o", "--class-weights", "1,2"])
    assert exit_info.value.code == 2
    assert "three positive numbers" in capsys.readouterr().err


def test_cli_train_detector_refuses_a_decay_outside_zero_to_one(capsys) -> None:
    from app.cli.main import main

    for bad in ("1", "-0.1", "fast"):
        with pytest.raises(SystemExit) as exit_info:
            main(["train-detector", "--data", "d", "--out", "o", "--ema-decay", bad])
        assert exit_info.value.code == 2
        assert "expected a decay" in capsys.readouterr().err


def test_cli_train_detector_refuses_bad_work_scales_crops_and_weights(capsys) -> None:
    from app.cli.main import main

    for option, bad, message in (
        ("--work-scale", "0", "expected a scale"),
        ("--work-scale", "1.5", "expected a scale"),
        ("--crop", "100", "multiple of 32"),
        ("--crop", "32", "multiple of 32"),
        ("--bccd-negative-weights", "1,0.3", "three numbers W,R,P from 0 to 1"),
        ("--bccd-negative-weights", "1,0.3,2", "three numbers W,R,P from 0 to 1"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["train-detector", "--data", "d", "--out", "o", option, bad])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_cli_train_detector_keeps_the_overlap_in_image_pixels_at_another_work_scale() -> None:
    from app.cli.commands.train_detector_cmd import training_config
    from app.cli.main import build_parser

    default = training_config(build_parser().parse_args(["train-detector", "--data", "d", "--out", "o"]))
    args = build_parser().parse_args(
        ["train-detector", "--data", "d", "--out", "o", "--work-scale", "0.6", "--crop", "288"]
    )
    config = training_config(args)
    assert (config.work_scale, config.augment.crop) == (0.6, 288)
    assert config.overlap / config.work_scale == pytest.approx(default.overlap / default.work_scale, rel=0.01)
    assert config.augment.min_visible == default.augment.min_visible  # the rest of the recipe untouched


@pytest.mark.slow
def test_training_with_an_average_records_its_decay_in_the_card(tmp_path: Path) -> None:
    samples = [disc_field(tmp_path / f"field{i}.png", i) for i in range(2)]
    card_path = run_job(train_detector(samples, samples[:1], tmp_path / "model", tiny_config(epochs=2, ema_decay=0.9)))
    card = DetectorCard.load(card_path)
    assert card.training["config"]["ema_decay"] == 0.9
    assert "validation" in card.metrics


@pytest.mark.slow
def test_a_second_look_at_the_same_scale_changes_nothing(trained) -> None:
    """Fusion of two identical looks is the look itself: same boxes, same
    scores.  Guards the extra-scales path (tiling, score floors, fusion)."""
    detector = KerasCellDetector.load(trained[0])
    image = np.asarray(Image.open(trained[1][0].path).convert("RGB"))
    image = np.tile(image, (2, 2, 1))  # tiled: the tile is 128 image pixels here
    single = detector.detect_arrays(image, min_score=0.01)
    detector.card.extra_scales = [detector.card.work_scale]
    doubled = detector.detect_arrays(image, min_score=0.01)
    assert len(single[0]) > 0
    for a, b in zip(single, doubled):
        np.testing.assert_allclose(np.sort(a, axis=0), np.sort(b, axis=0), rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_retuning_writes_a_card_with_the_new_scales_beside_a_copy_of_the_weights(trained, tmp_path: Path) -> None:
    from core.detection.tuning import retune_detector

    card_path, samples, _ = trained
    progress: list[Progress] = []
    new_card = run_job(retune_detector(card_path, samples, [0.6], tmp_path / "tuned", version="9"), progress.append)
    card = DetectorCard.load(new_card)
    assert card.extra_scales == [0.6] and card.version == "9"
    assert set(card.thresholds) == {"white", "red", "platelet"}
    assert card.training["retuned"]["from"]["extra_scales"] == []
    assert card.training["retuned"]["val_images"] == len(samples)
    assert progress[-1].done == progress[-1].total == len(samples)
    assert KerasCellDetector.load(new_card).card.extra_scales == [0.6]  # weights copied and checked
    assert DetectorCard.load(card_path).extra_scales == []  # the original is left alone
    # Tuned again: the earlier retune stays on record, with how val was chosen.
    again = run_job(
        retune_detector(new_card, samples, None, tmp_path / "again", val_summary={"val_dropped_as_training_fields": 3})
    )
    record = DetectorCard.load(again).training["retuned"]
    assert record["from"]["version"] == "9" and record["from"]["retuned"]["from"]["extra_scales"] == []
    assert record["val_dropped_as_training_fields"] == 3


@pytest.mark.slow
def test_a_partner_network_is_copied_checked_fused_and_removable(trained, tmp_path: Path) -> None:
    """The card can name a second network that looks at each field too.
    With the same network as partner, at the same scale, fusion of two
    identical looks must give the single look's boxes and scores."""
    from core.detection.tuning import NO_PARTNER, retune_detector

    card_path, samples, _ = trained
    paired = run_job(retune_detector(card_path, samples, None, tmp_path / "paired", partner=card_path))
    card = DetectorCard.load(paired)
    assert (
        card.partner_weights == "cell-detector-partner.keras" and (tmp_path / "paired" / card.partner_weights).is_file()
    )
    assert card.partner_sha256 == card.sha256 and card.partner_scales == [card.work_scale]
    assert card.training["partner"]["version"] == KerasCellDetector.load(card_path).version

    single, pair = KerasCellDetector.load(card_path), KerasCellDetector.load(paired)
    assert len(pair.looks()) == 2 and pair.partner is not None
    image = np.asarray(Image.open(samples[0].path).convert("RGB"))
    for a, b in zip(single.detect_arrays(image, min_score=0.01), pair.detect_arrays(image, min_score=0.01)):
        np.testing.assert_allclose(np.sort(a, axis=0), np.sort(b, axis=0), rtol=1e-5, atol=1e-4)

    # A partner file that is not the one the card describes is refused by name.
    partner_file = tmp_path / "paired" / card.partner_weights
    partner_file.write_bytes(partner_file.read_bytes() + b"\0")
    with pytest.raises(ModelCardError, match="cell-detector-partner.keras"):
        KerasCellDetector.load(paired)
    partner_file.write_bytes(partner_file.read_bytes()[:-1])

    alone = run_job(retune_detector(paired, samples, None, tmp_path / "alone", partner=NO_PARTNER))
    card = DetectorCard.load(alone)
    assert card.partner_weights == "" and card.partner_scales == [] and "partner" not in card.training
    assert card.training["retuned"]["from"]["partner"]["scales"] == [card.work_scale]
    assert len(KerasCellDetector.load(alone).looks()) == 1
    with pytest.raises(ModelCardError, match="no partner network"):
        run_job(retune_detector(alone, samples, None, tmp_path / "bad", partner_scales=[0.6]))


@pytest.mark.slow
def test_a_card_naming_partner_scales_without_partner_weights_is_refused(trained, tmp_path: Path) -> None:

    card_path = trained[0]
    card = DetectorCard.load(card_path)
    card.partner_scales = [0.6]
    bad = tmp_path / "cell-detector.json"
    card.save(bad)
    (tmp_path / card.weights).write_bytes(card.weights_path(card_path).read_bytes())
    with pytest.raises(ModelCardError, match="partner_scales given but no partner_weights"):
        KerasCellDetector.load(bad)


def test_cli_tune_detector_refuses_bad_scales(capsys) -> None:
    from app.cli.main import main

    for bad in ("0", "0.6,x", "3"):
        with pytest.raises(SystemExit) as exit_info:
            main(["tune-detector", "--data", "d", "--extra-scales", bad])
        assert exit_info.value.code == 2
        assert "expected scales" in capsys.readouterr().err
