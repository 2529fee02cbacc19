"""The lymphoid screen as a lab would meet it (issue 31).

    uv run pytest tests/benchmarks/test_bench_lymphoid_screen.py -s

- field level on all-taleqani's duplicate-grouped test split (rebuilt from
  the committed config's seed, never trained on): sensitivity at the card's
  operating point, specificity, subtype accuracy on malignant fields;
- false flags on normal cells of other labs: the PBC test split's
  lymphocytes and monocytes, BCCD's labelled white cells;
- the test split's fields in other labs' stains (recoloured to the colour
  statistics of PBC's and Raabin-WBC's smears): a screen that took "not this
  hospital's stain" for "benign" would lose its blasts there;
- the time the screen adds to classifying a slide's white cells;
- side by side on the same split and time budget: the seeds' ALL network
  (Conv32/64/64 + Dense64 on whole fields, class weights, augmentation) and a
  whole-field HemaNet of our own (test_whole_field_networks, slow: two
  trainings of the screen's budget; HEMALABEL_SCREEN_BENCH_MINUTES shortens).
Figures are printed first; each goal is asserted after, so a miss fails.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from core.classifier import load_classifier
from core.classifier.preprocess import resize_square
from core.crops import crop_square
from core.detection.detector import KerasCellDetector
from core.imaging import load_rgb
from core.jobs import run_job
from core.screen.config import ScreenConfig
from core.screen.evaluation import evaluate_folder, proportion, roc_auc
from core.screen.fields import BENIGN, DIAGNOSES, list_fields, split_fields
from core.screen.model import load_screen_model
from tests.benchmarks.common import DATA, ROOT, bccd_val_test, pbc_test_split

pytestmark = pytest.mark.realdata

CONFIG = ROOT / "models" / "lymphoid-screen.train.json"
GOALS = {"field_sensitivity": 0.98, "field_specificity": 0.90, "subtype_accuracy": 0.90,
         "pbc_false_flags": 0.02, "bccd_false_flags": 0.05, "added_time": 0.20, "other_stain_sensitivity": 0.90}


def _test_split() -> list:
    config = ScreenConfig.load(CONFIG)
    return split_fields(list_fields(DATA / "all-taleqani"), config.val, config.test, config.seed)["test"]


def _share(entry: dict) -> str:
    return f"{entry['value']:.3f} [{entry['ci95'][0]:.3f}-{entry['ci95'][1]:.3f}] ({entry['count']} of {entry['of']})"


def test_field_level_on_the_grouped_test_split() -> None:
    model = load_screen_model()
    report = run_job(evaluate_folder(model, str(DATA / "all-taleqani"), KerasCellDetector.load(),
                                     fields=_test_split()))
    print(f"\nScreen {report['model']} on the test split ({report['fields']} fields), "
          f"operating point {report['threshold']:.4f}")
    print(f"fields: sensitivity {_share(report['field_sensitivity'])}, "
          f"specificity {_share(report['field_specificity'])}, ROC AUC {report['field_roc_auc']['value']:.3f}")
    print(f"cells (labelled by field): sensitivity {_share(report['cell_sensitivity'])}, "
          f"specificity {_share(report['cell_specificity'])}, ROC AUC {report['cell_roc_auc']['value']:.3f}")
    print(f"subtype accuracy {_share(report['subtype_accuracy'])}; confusion {report['subtype_confusion']}")
    print(f"fields without a white cell: {report['fields_without_white_cell']}")
    assert report["field_sensitivity"]["value"] >= GOALS["field_sensitivity"]
    assert report["field_specificity"]["value"] >= GOALS["field_specificity"]
    assert report["subtype_accuracy"]["value"] >= GOALS["subtype_accuracy"]


def _flag_share(model, cells) -> dict:
    crops = np.stack([resize_square(crop_square(load_rgb(c.path), c.box or _whole(c.path), model.card.crop_margin),
                                    model.card.input_size) for c in cells])
    flagged = sum(v.suspected for v in model.screen_crops(crops))
    return proportion(int(flagged), len(cells))


def _whole(path: Path):
    from core.training.loading import whole_file_box

    return whole_file_box(load_rgb(path), 0.0)


def test_false_flags_on_normal_cells_of_other_labs() -> None:
    """PBC's cells twice: on the dataset's boxes, and as a lab has them,
    whole images whose cell the app locates (the box the screen then cuts)."""
    from dataclasses import replace

    from core.locating import load_locator
    from core.training.samples import locate_samples

    model = load_screen_model()
    pbc = [c for c in pbc_test_split() if c.label in ("lymphocyte", "monocyte")]
    located = locate_samples([replace(c, box=None) for c in pbc], load_locator())
    bccd = bccd_val_test(["neutrophil", "eosinophil", "lymphocyte", "monocyte"])
    pbc_share, located_share = _flag_share(model, pbc), _flag_share(model, located)
    bccd_share = _flag_share(model, bccd)
    print(f"\nfalse flags: PBC test lymphocytes+monocytes {_share(pbc_share)} on PBC's boxes, "
          f"{_share(located_share)} on the boxes the app locates; BCCD val+test white cells {_share(bccd_share)}")
    assert pbc_share["value"] <= GOALS["pbc_false_flags"]
    assert located_share["value"] <= GOALS["pbc_false_flags"]
    assert bccd_share["value"] <= GOALS["bccd_false_flags"]


def test_time_the_screen_adds_to_classifying() -> None:
    """A slide's classification as the app runs it (detection, then the
    differential on each white cell) against the screen on the white cells
    the differential calls lymphocyte, monocyte or Unidentified, on BCCD's
    test fields."""
    from core.inference import label_from_probabilities
    from core.schema import CellKind
    from core.screen.slides import LYMPHOID_LABELS

    classifier, model, detector = load_classifier(), load_screen_model(), KerasCellDetector.load()
    fields = sorted((DATA / "bccd" / "JPEGImages").glob("*.jpg"))[:40]
    images = [load_rgb(path) for path in fields]
    classifier.predict([images[0][:80, :80]]), model.screen_crops(np.zeros((1, 64, 64, 3), np.uint8))  # warm-up
    classify = screen = 0.0
    screened = white = 0
    for image in images:
        started = time.perf_counter()
        boxes = [d.box for d in detector.detect(image) if d.kind == CellKind.WHITE]
        probabilities = classifier.predict([crop_square(image, box, classifier.crop_margin) for box in boxes])
        labels = [label_from_probabilities(classifier, row) for row in probabilities]
        classify += time.perf_counter() - started
        started = time.perf_counter()
        lymphoid = [box for box, label in zip(boxes, labels) if label in LYMPHOID_LABELS]
        model.screen_boxes(image, lymphoid)
        screen += time.perf_counter() - started
        screened, white = screened + len(lymphoid), white + len(boxes)
    print(f"\n{len(images)} BCCD fields, {white} white cells ({screened} lymphoid): detect and classify "
          f"{classify:.2f} s, screen {screen:.2f} s (+{screen / classify:.1%})")
    assert screen / classify <= GOALS["added_time"]


def _lab_statistics(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.concatenate([cv2.cvtColor(load_rgb(p), cv2.COLOR_RGB2LAB).reshape(-1, 3) for p in paths])
    return pixels.mean(0), pixels.std(0)


def _recolour(image: np.ndarray, target: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Reinhard's colour transfer: each Lab channel moved to the target's mean and spread."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    mean, std = lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0)
    moved = (lab - mean) / (std + 1e-6) * target[1] + target[0]
    return cv2.cvtColor(np.clip(moved, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def _other_stains() -> dict[str, list[Path]]:
    """Smears the screen never trained on: PBC's test images, TXL-PBC's
    Raabin-WBC test images (575x575)."""
    from PIL import Image

    raabin = sorted(p for p in (DATA / "txl-pbc" / "images" / "test").glob("*.jpg") if Image.open(p).size == (575, 575))
    return {"PBC": [c.path for c in pbc_test_split()[::8]], "Raabin-WBC": raabin}


def _recoloured(fields: list, like: list[Path], folder: Path) -> list:
    """Copies of the fields (PNG, under folder/<diagnosis>/), each recoloured as a whole like the `like` images."""
    from core.screen.fields import Field

    statistics = _lab_statistics(like)
    moved = []
    for field in fields:
        out = folder / field.label / f"{field.path.stem}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), cv2.cvtColor(_recolour(load_rgb(field.path), statistics), cv2.COLOR_RGB2BGR))
        moved.append(Field(out, field.label, field.group))
    return moved


def test_the_test_split_in_other_labs_stains(tmp_path: Path) -> None:
    """Each test field recoloured as a whole, then screened on the path the
    app takes (detector, crops, model)."""
    model, detector = load_screen_model(), KerasCellDetector.load()
    test = _test_split()
    sensitivities = {}
    for name, paths in _other_stains().items():
        moved = _recoloured(test, paths, tmp_path / name)
        report = run_job(evaluate_folder(model, str(tmp_path / name), detector, fields=moved))
        sensitivities[name] = report["field_sensitivity"]["value"]
        print(f"\ntest split in {name}'s colours ({len(paths)} images): sensitivity "
              f"{_share(report['field_sensitivity'])}, specificity {_share(report['field_specificity'])}, "
              f"ROC AUC {report['field_roc_auc']['value']:.3f}")
    # Our bar, not the issue's: in another stain the screen still finds nine fields in ten.
    assert all(value >= GOALS["other_stain_sensitivity"] for value in sensitivities.values())


@pytest.mark.slow
def test_whole_field_networks(tmp_path: Path) -> None:
    """The seeds' ALL network and a whole-field HemaNet, trained on the same
    split's train fields for the screen's time budget, chosen on val, scored
    on test at the operating point of the same rule (recall 0.98 on val);
    all three also on the test fields in PBC's colours, where what a whole
    field can learn of one hospital's stain no longer holds."""
    import keras

    from core.classifier.architecture import build
    from core.screen.pooling import threshold_for_field_recall

    config = ScreenConfig.load(CONFIG)
    minutes = float(os.environ.get("HEMALABEL_SCREEN_BENCH_MINUTES", config.max_minutes))
    parts = split_fields(list_fields(DATA / "all-taleqani"), config.val, config.test, config.seed)
    parts["test in PBC's colours"] = _recoloured(parts["test"], _other_stains()["PBC"], tmp_path)
    arrays = {name: (np.stack([resize_square(load_rgb(f.path), 128) for f in fields]),
                     np.array([DIAGNOSES.index(f.label) for f in fields])) for name, fields in parts.items()}
    results: dict[tuple[str, str], dict[str, Any]] = {}  # (architecture, test part): its figures
    for architecture in ("seed004", "hemanet"):
        keras.utils.set_random_seed(config.seed)
        model = build(architecture, 128, len(DIAGNOSES))
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        x, y = arrays["train"]
        counts = np.bincount(y, minlength=len(DIAGNOSES))
        weights = {i: len(y) / (len(DIAGNOSES) * counts[i]) for i in range(len(DIAGNOSES))}  # class weights
        started = time.monotonic()
        rng = np.random.default_rng(config.seed)
        while time.monotonic() - started < 60 * minutes:
            flipped = x[:, ::-1] if rng.random() < 0.5 else x  # augmentation: flips and quarter turns
            turned = np.rot90(flipped, int(rng.integers(0, 4)), axes=(1, 2)).astype(np.float32)
            model.fit(turned, y, batch_size=32, epochs=1, verbose=0, class_weight=weights)
        tested = ("test", "test in PBC's colours")
        probabilities = {name: keras.ops.softmax(model.predict(arrays[name][0].astype(np.float32), verbose=0)).numpy()
                         for name in ("val", *tested)}
        malignant = {name: arrays[name][1] != DIAGNOSES.index(BENIGN) for name in ("val", *tested)}
        threshold, _ = threshold_for_field_recall(1 - probabilities["val"][:, 0], malignant["val"],
                                                  config.target_recall)
        for name in tested:
            score = 1 - probabilities[name][:, 0]
            flagged = score >= threshold
            right = (probabilities[name][malignant[name]][:, 1:].argmax(1) + 1
                     == arrays[name][1][malignant[name]])
            row: dict[str, Any] = {
                "sensitivity": proportion(int(flagged[malignant[name]].sum()), int(malignant[name].sum())),
                "specificity": proportion(int((~flagged[~malignant[name]]).sum()), int((~malignant[name]).sum())),
                "auc": roc_auc(score, malignant[name]),
                "subtype": proportion(int(right.sum()), len(right)),
            }
            results[architecture, name] = row
            print(f"\n{architecture} on whole fields ({minutes:g} min), {name}: sensitivity "
                  f"{_share(row['sensitivity'])}, specificity {_share(row['specificity'])}, "
                  f"ROC AUC {row['auc']:.3f}, subtype {_share(row['subtype'])}")
    screen_model, detector = load_screen_model(), KerasCellDetector.load()
    screens = {}
    for name, folder in (("test", DATA / "all-taleqani"), ("test in PBC's colours", tmp_path)):
        screens[name] = screen = run_job(evaluate_folder(screen_model, str(folder), detector, fields=parts[name]))
        print(f"lymphoid screen (cells, multiple-instance), {name}: sensitivity "
              f"{_share(screen['field_sensitivity'])}, specificity {_share(screen['field_specificity'])}, "
              f"ROC AUC {screen['field_roc_auc']['value']:.3f}, subtype {_share(screen['subtype_accuracy'])}")
    # The gain of screening cells is measured here, not assumed: the
    # screen must rank fields at least as well as either whole-field network,
    # in this hospital's colours and in another lab's.
    assert all(screens[part]["field_roc_auc"]["value"] >= r["auc"] for (_, part), r in results.items())
