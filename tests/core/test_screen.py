"""The lymphoid screen's core on small generated data: duplicate groups and
the split, the operating point, field pooling, the card's refusals, and the
multiple-instance training learning which cell carries a field's label."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from core.detection.targets import CLASSES
from core.jobs import run_job
from core.models.files import ModelCardError
from core.models.screen_card import read_screen_card
from core.schema import Box
from core.screen.cells import FieldCells
from core.screen.config import ScreenConfig
from core.screen.fields import Field, dhash, duplicate_groups, list_fields, split_fields
from core.screen.pooling import (
    SCORE_NOISE,
    attention_subtype,
    blast_logits,
    field_scores,
    threshold_for_field_recall,
)
from core.training.samples import DatasetError


def _texture(seed: int, side: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_CUBIC)


def test_copies_share_a_group_and_different_fields_do_not(tmp_path: Path) -> None:
    for label in ("benign", "early"):
        (tmp_path / label).mkdir()
    original = _texture(1)
    cv2.imwrite(str(tmp_path / "benign" / "a.png"), original)
    cv2.imwrite(str(tmp_path / "benign" / "a-copy.png"), original)  # byte-identical
    cv2.imwrite(str(tmp_path / "benign" / "a-bright.jpg"), np.clip(original.astype(int) + 6, 0, 255).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "early" / "b.png"), _texture(2))
    fields = {f.path.name: f for f in list_fields(tmp_path)}
    assert fields["a.png"].group == fields["a-copy.png"].group == fields["a-bright.jpg"].group
    assert fields["b.png"].group != fields["a.png"].group
    assert fields["b.png"].label == "early" and fields["b.png"].malignant and not fields["a.png"].malignant


def test_groups_join_transitively_and_do_not_depend_on_order() -> None:
    digests = ["d3", "d1", "d2", "d1"]
    hashes = [0b1111, 0b0000, 0b0011, 0xFFFF_0000_0000_0000]
    groups = duplicate_groups(digests, hashes, near_bits=2)
    assert groups[0] == groups[1] == groups[2] == groups[3] == "d1"  # 0000~0011~1111, d1 twice
    assert duplicate_groups(digests[::-1], hashes[::-1], near_bits=2)[::-1] == groups
    assert len(set(duplicate_groups(["x", "y"], [0, (1 << 64) - 1]))) == 2


def test_split_never_divides_a_group_and_is_reproducible() -> None:
    fields = [Field(Path(f"{label}/{i}.jpg"), label, f"{label}-g{i // 3}") for label in ("benign", "pre")
              for i in range(60)]
    first = split_fields(fields, 0.2, 0.2, seed=3)
    assert first == split_fields(fields, 0.2, 0.2, seed=3)
    assert first != split_fields(fields, 0.2, 0.2, seed=4)
    sides: dict[str, str] = {}  # group: the split it fell in
    for name, part in first.items():
        for field in part:
            assert sides.setdefault(field.group, name) == name
    assert sum(len(part) for part in first.values()) == len(fields)
    assert {f.label for f in first["test"]} == {"benign", "pre"}


def test_unknown_diagnosis_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "leukaemia").mkdir()
    with pytest.raises(DatasetError, match="leukaemia"):
        list_fields(tmp_path)


def test_dhash_survives_resizing() -> None:
    image = _texture(5, 224)
    resized = cv2.resize(image, (200, 200), interpolation=cv2.INTER_AREA)
    assert bin(dhash(image) ^ dhash(resized)).count("1") <= 6


def test_operating_point_reaches_the_target_on_malignant_fields() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.1, 0.95, 0.2])
    malignant = np.array([1, 1, 1, 1, 1, 0, 0, 0], bool)
    threshold, reached = threshold_for_field_recall(scores, malignant, 0.8)
    assert threshold == pytest.approx(0.6 - SCORE_NOISE) and reached == 0.8
    threshold, reached = threshold_for_field_recall(scores, malignant, 1.0)
    assert threshold == pytest.approx(0.5 - SCORE_NOISE) and reached == 1.0
    # A malignant field scoring a hair under its own score (another kernel's rounding) is still suspected.
    assert scores[3] - 1e-5 >= threshold_for_field_recall(scores, malignant, 0.8)[0]
    with pytest.raises(ValueError, match="no malignant"):
        threshold_for_field_recall(scores, np.zeros(8, bool), 0.9)


def test_a_field_without_white_cells_scores_zero() -> None:
    scores = field_scores([np.array([0.2, 0.7]), np.zeros(0)])
    assert scores.tolist() == [0.7, 0.0]


def test_blast_logit_and_subtype_pooling() -> None:
    logits = np.array([[3.0, 0.0, 0.0, 0.0], [-2.0, 0.0, 4.0, 0.0]])
    blast = blast_logits(logits)
    assert blast[0] < 0 < blast[1]
    # The blast-like cell decides the subtype (pre-B), not the benign one.
    assert attention_subtype(logits, blast, 4.0) == 1


def test_card_that_is_not_a_screens_is_refused(tmp_path: Path) -> None:
    card = tmp_path / "other.json"
    card.write_text(json.dumps({"name": "hemalabel-wbc", "classes": ["lymphocyte"]}), encoding="utf-8")
    with pytest.raises(ModelCardError, match="other.json.*not the card of a lymphoid screen"):
        read_screen_card(card)
    card.write_text(json.dumps({"task": "lymphoid-screen", "name": "x", "version": "1", "architecture": "hemanet",
                                "classes": ["benign", "pre"], "input_size": 64, "crop_margin": 0.15,
                                "weights_file": "x.keras", "sha256": "0", "blast_threshold": 0.5,
                                "target_recall": 0.98}), encoding="utf-8")
    with pytest.raises(ModelCardError, match="outputs must be"):
        read_screen_card(card)


def test_a_classifier_card_is_refused_as_a_screen(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from app.cli.main import main

    card = Path(__file__).resolve().parents[2] / "models" / "hemalabel-wbc.json"
    assert main(["evaluate", "--screen", "--images", str(tmp_path), "--model", str(card)]) != 0
    refusal = capsys.readouterr().err
    assert "hemalabel-wbc.json: the card of a white-cell classifier, not of the lymphoid screen" in refusal


def test_report_counts_a_field_without_cells_as_missed() -> None:
    from core.screen.evaluation import screen_report

    bags = [FieldCells(Field(Path("pre/a.png"), "pre", "a"), [], np.zeros((1, 4, 4, 3), np.uint8)),
            FieldCells(Field(Path("pre/b.png"), "pre", "b"), [], np.zeros((0, 4, 4, 3), np.uint8)),
            FieldCells(Field(Path("benign/c.png"), "benign", "c"), [], np.zeros((1, 4, 4, 3), np.uint8))]
    logits = [np.array([[-3.0, 0.0, 3.0, 0.0]]), np.zeros((0, 4)), np.array([[3.0, 0.0, 0.0, 0.0]])]
    report = screen_report(bags, logits, threshold=0.5, sharpness=4.0)
    assert report["field_sensitivity"]["count"] == 1 and report["field_sensitivity"]["of"] == 2
    assert report["field_specificity"]["value"] == 1.0
    assert report["fields_without_white_cell"] == {"benign": 0, "early": 0, "pre": 1, "pro": 0}
    assert report["subtype_confusion"][1] == [0, 1, 0] and report["subtype_accuracy"]["value"] == 1.0


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="epochs must be int"):
        ScreenConfig.from_dict({"name": "s", "fields": "f", "epochs": "ten"})
    with pytest.raises(DatasetError, match="unknown keys"):
        ScreenConfig.from_dict({"name": "s", "fields": "f", "colour": 1})
    with pytest.raises(DatasetError, match="colour_jitter must be one of"):
        ScreenConfig.from_dict({"name": "s", "fields": "f", "colour_jitter": "vivid"})


def _bag(label: str, blasts: int, normals: int, rng: np.random.Generator, index: int, red: int = 0,
         other: int = 0) -> FieldCells:
    """A field of 'normal' cells (a small round nucleus) and 'blasts' (a
    large nucleus, its shape the subtype's: round, square or a ring) on a
    pale background, and its 'red cells' (a bar).  A leukaemic field also
    has `red` red cells boxed as white, as the detector boxes some, and
    `other` normal cells of the kind only other labs' benign cells show (a
    cross).  Shapes, not colours: the network standardises each colour
    channel of a crop."""
    def crop(kind: str) -> np.ndarray:
        pixels = np.full((24, 24, 3), 220, np.uint8)
        if kind == "normal":
            cv2.circle(pixels, (12, 12), 4, (90, 60, 140), -1)
        elif kind == "other":
            cv2.line(pixels, (6, 12), (18, 12), (90, 60, 140), 3)
            cv2.line(pixels, (12, 6), (12, 18), (90, 60, 140), 3)
        elif kind == "red":
            cv2.ellipse(pixels, (12, 12), (10, 3), 0, 0, 360, (90, 60, 140), -1)
        elif label == "early":
            cv2.circle(pixels, (12, 12), 9, (90, 60, 140), -1)
        elif label == "pre":
            cv2.rectangle(pixels, (4, 4), (19, 19), (90, 60, 140), -1)
        else:
            cv2.circle(pixels, (12, 12), 9, (90, 60, 140), 3)
        noise = rng.integers(0, 12, pixels.shape, dtype=np.uint8)
        return np.clip(pixels.astype(int) + noise, 0, 255).astype(np.uint8)

    kinds = ["normal"] * normals + ["blast"] * blasts + ["red"] * red + ["other"] * other
    white = np.array([crop(kind) for kind in kinds], np.uint8)
    return FieldCells(Field(Path(f"{label}/{index}.png"), label, f"g{label}{index}"), [], white,
                      np.array([crop("red") for _ in range(3)], np.uint8))


@pytest.mark.slow
@pytest.mark.parametrize("colour_jitter", ["", "standard"])
def test_multiple_instance_training_finds_the_blasts_among_normal_cells(tmp_path: Path, colour_jitter: str) -> None:
    from core.screen.model import load_screen_model
    from core.training.screen_trainer import train_screen

    rng = np.random.default_rng(0)

    def bags(count: int, offset: int) -> list[FieldCells]:
        out = [_bag("benign", 0, 3, rng, offset + i) for i in range(count)]
        for label in ("early", "pre", "pro"):
            # Positive fields hold normal cells too, a red cell boxed as
            # white and a cell of the kind only other labs' normal cells
            # show: their label is not every cell's.
            out += [_bag(label, 1, 2, rng, offset + i, red=1, other=1) for i in range(count)]
        return out

    config = ScreenConfig(name="toy-screen", fields=str(tmp_path), input_size=24, cells_per_field=4, epochs=20,
                          max_minutes=0, fields_per_batch=8, learning_rate=0.003, early_stopping_patience=15,
                          output_dir=str(tmp_path), colour_jitter=colour_jitter)
    splits = {"train": bags(16, 0), "val": bags(6, 100) + [FieldCells(Field(Path("pre/empty.png"), "pre", "ge"), [],
                                                                      np.zeros((0, 24, 24, 3), np.uint8))],
              "test": []}
    detector = SimpleNamespace(card=SimpleNamespace(name="toy-detector", sha256="0"))
    other_labs = _bag("benign", 0, 0, rng, 500, other=40).crops
    result = run_job(train_screen(config, detector, splits=splits, normal=other_labs))
    model = load_screen_model(result.card)
    # Neither a red cell nor another lab's normal cell is ever a blast.
    normal = model.screen_crops(_bag("pre", 0, 6, rng, 999, red=3, other=3).crops)
    # Without the other labs' cells the crosses score about 0.95: in the
    # fields they only ever sit beside blasts.
    assert max(cell.p_blast for cell in normal[-3:]) < 0.5
    blasts = [model.screen_crops(_bag(label, 3, 0, rng, 999).crops) for label in ("early", "pre", "pro")]
    assert max(cell.p_blast for cell in normal) < min(cell.p_blast for group in blasts for cell in group)
    assert [group[0].subtype for group in blasts] == ["early", "pre", "pro"]
    card = json.loads(result.card.read_text(encoding="utf-8"))
    assert card["metrics"]["validation_fields_without_white_cell"] == 1
    assert card["training_data"]["normal_cells"].startswith("40 white cells")
    assert "Ghaderzadeh" in card["citation"] and "not confirmed" in card["licence"]


def test_slides_screen_their_lymphoid_cells_only(tmp_path: Path) -> None:
    """A neutrophil is not screened, a lymphocyte and an unclassified white
    cell are; a slide with none says so instead of failing."""
    from core.classifier.architecture import build
    from core.models.screen_card import ScreenCard
    from core.schema import Box, CellKind, LabelSource, NewCell
    from core.screen.model import ScreenModel
    from core.screen.slides import screen_slides
    from core.store import ProjectStore
    from tests.core.images import write_image

    card = ScreenCard(name="toy", version="1", architecture="hemanet", classes=["benign", "early", "pre", "pro"],
                      input_size=16, crop_margin=0.15, weights_file="toy.keras", sha256="0", blast_threshold=0.0,
                      target_recall=0.98)
    model = ScreenModel(card, build("hemanet", 16, 4), tmp_path / "toy.keras")  # threshold 0: every cell flagged
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        first = store.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
        second = store.add_slide(write_image(tmp_path / "images" / "b.png"), 64, 48)
        store.add_cells(first.id, [NewCell(Box(2, 2, 20, 20), CellKind.WHITE, label=label, source=LabelSource.MODEL)
                                   for label in ("neutrophil", "lymphocyte", None)], "Detect cells")
        store.add_cells(second.id, [NewCell(Box(2, 2, 20, 20), CellKind.WHITE, label="neutrophil",
                                            source=LabelSource.MODEL)], "Detect cells")
        results = run_job(screen_slides(store, model, [first.id, second.id]))
    assert results[0].summary_line() == "Blasts suspected: 2 of 2 lymphoid cells"
    assert results[1].lymphoid_cells == 0 and results[1].problem == "no lymphoid white cell to screen"


def test_the_cell_cache_is_keyed_by_the_code_that_finds_the_cells(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A change to detection's code finds the cells afresh: a key of the
    detector's weights alone let a benchmark score cells that today's
    detection no longer finds."""
    import core.detection
    from core.screen import cells

    package = tmp_path / "detection"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "boxes.py").write_text("THRESHOLD = 0.5\n")
    monkeypatch.setattr(core.detection, "__file__", str(package / "__init__.py"))
    image = tmp_path / "field.png"
    cv2.imwrite(str(image), _texture(0))
    detector = _CountingDetector()

    def find() -> None:
        run_job(cells.field_cells([Field(image, "benign", "g0")], detector, "weights", 16, 0.2, tmp_path / "cache"))

    cells.cell_finder_digest.cache_clear()
    before = cells.cell_finder_digest()
    find()
    find()
    assert detector.calls == 1  # the second run read the cache
    (package / "boxes.py").write_text("THRESHOLD = 0.4\n")
    cells.cell_finder_digest.cache_clear()
    assert cells.cell_finder_digest() != before
    find()
    assert detector.calls == 2
    cells.cell_finder_digest.cache_clear()


def test_without_its_source_or_its_metadata_the_cell_cache_is_keyed_by_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frozen bundle keeps neither the .py files nor the distribution's
    metadata: the key falls back to the version, never to an exception."""
    import importlib.metadata

    import core.detection
    from core.screen import cells

    def no_metadata(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(core.detection, "__file__", str(tmp_path / "gone" / "__init__.py"))
    monkeypatch.setattr(cells, "__file__", str(tmp_path / "gone" / "cells.pyc"))
    monkeypatch.setattr(importlib.metadata, "version", no_metadata)
    cells.cell_finder_digest.cache_clear()
    try:
        assert len(cells.cell_finder_digest()) == 16
    finally:
        cells.cell_finder_digest.cache_clear()


def test_a_fields_red_cells_are_kept_beside_its_white_ones(tmp_path: Path) -> None:
    """Training's red-cell term needs them: found with the white cells and
    read back from the cache alike; spread keeps doubtful ones among them."""
    from core.screen import cells

    image = tmp_path / "field.png"
    cv2.imwrite(str(image), _texture(0))
    detector = _CountingDetector(red=3)
    found = [run_job(cells.field_cells([Field(image, "pre", "g0")], detector, "weights", 16, 0.2, tmp_path / "c"))[0]
             for _ in range(2)]
    assert detector.calls == 1
    assert [len(bag.crops) for bag in found] == [1, 1] and [len(bag.red_crops) for bag in found] == [3, 3]
    assert np.array_equal(found[0].red_crops, found[1].red_crops) and found[0].red_crops.shape[1:] == (16, 16, 3)
    boxes = [Box(i, 0, i + 1, 1) for i in range(30)]
    assert [box.x0 for box in cells.spread(boxes, 4)] == [0, 10, 19, 29] and cells.spread(boxes[:3], 4) == boxes[:3]


class _CountingDetector:
    """One white cell in the middle of any field (and `red` red cells, the
    last below the red threshold); counts its looks."""

    card = SimpleNamespace(thresholds={"white": 0.5, "red": 0.5, "platelet": 0.5})

    def __init__(self, red: int = 0) -> None:
        self.calls = 0
        self.red = red

    def detect_arrays(self, image: np.ndarray, min_score: float, factor: float) -> tuple[np.ndarray, ...]:
        self.calls += 1
        boxes = [[16.0, 16.0, 48.0, 48.0]] + [[4.0 * i, 2.0, 4.0 * i + 12, 14.0] for i in range(self.red + 1)]
        scores = [0.9] + [0.8] * self.red + [0.3]
        classes = [CLASSES.index("white")] + [CLASSES.index("red")] * (self.red + 1)
        return np.array(boxes), np.array(scores), np.array(classes)


def test_other_labs_normal_cells_are_read_from_a_yolo_folder(tmp_path: Path) -> None:
    """White boxes only, of the images of the size asked for only, cut at the
    screen's size; a folder without any names itself."""
    from core.screen.normal_cells import config_normal_cells
    from tests.core.images import write_image

    root = tmp_path / "labs"
    root.mkdir()
    (root / "data.yaml").write_text("names: ['WBC', 'RBC', 'Platelets']\n", encoding="utf-8")
    for name, (width, height) in {"a": (50, 50), "b": (64, 48)}.items():
        write_image(root / "images" / "train" / f"{name}.png", width, height)
        labels = root / "labels" / "train" / f"{name}.txt"
        labels.parent.mkdir(parents=True, exist_ok=True)
        labels.write_text("0 0.5 0.5 0.3 0.3\n1 0.2 0.2 0.1 0.1\n0 0.7 0.7 0.2 0.2\n", encoding="utf-8")
    config = ScreenConfig(name="s", fields="f", input_size=16, normal_cells=str(root), normal_cells_splits="train")
    assert config_normal_cells(config).shape == (4, 16, 16, 3)
    config.normal_cells_image_size = "50x50"
    assert config_normal_cells(config).shape == (2, 16, 16, 3)
    config.normal_cells_image_size = "575x575"
    with pytest.raises(DatasetError, match=r"labs: no white cell in its images of 575x575 px"):
        config_normal_cells(config)
    assert len(config_normal_cells(ScreenConfig(name="s", fields="f", input_size=16))) == 0
    with pytest.raises(DatasetError, match="normal_cells_image_size must be WIDTHxHEIGHT"):
        ScreenConfig.from_dict({"name": "s", "fields": "f", "normal_cells_image_size": "575"})
