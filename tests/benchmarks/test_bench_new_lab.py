"""A new lab: BCCD treated as a lab the model has never seen.

Starts from a model trained on PBC only (models/hemalabel-wbc-pbconly.
train.json; HEMALABEL_PBC_ONLY_MODEL may name one already trained, else it
is trained here first, about 30 minutes on 2 cores).  Reports its zero-shot
balanced accuracy on the white cells of BCCD's val and test splits (over the
classes with at least 5 cells there), then for K = 5, 10, 20 and 50
corrected BCCD train-split cells per class (fewer where a class has fewer):

- a fresh project gets each chosen cell as a model proposal with the
  PBC-only model's label, and a "technician" confirms it or sets the true
  class through the store calls the review window makes (the queue);
- retrain() fine-tunes in a child process with the default settings plus a
  replay sample of the base model's PBC train split (its config), exactly
  as the Retrain dialog runs it;
- the candidate is scored on BCCD val+test and on the PBC test split.

Prints one table row per K with the wall time of each retrain.

    uv run pytest tests/benchmarks/test_bench_new_lab.py -s
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from core.classifier import load_classifier
from core.classifier.calibration import expected_calibration_error, fit_temperature, softmax
from core.imaging import probe_image
from core.jobs import run_job
from core.models.registry import ModelRegistry
from core.retraining import RetrainSettings, retrain
from core.schema import Box, Cell, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from core.training.config import TrainConfig
from core.training.samples import LabelledCell, from_bccd
from core.training.trainer import train_classifier
from tests.benchmarks.common import (
    CROSS_LAB_CLASSES,
    DATA,
    ROOT,
    balanced_over,
    bccd_val_test,
    crops_of,
    pbc_test_split,
    score,
    scored_logits,
)

PBC_ONLY_CONFIG = ROOT / "models" / "hemalabel-wbc-pbconly.train.json"
BUNDLED_WEIGHTS = ROOT / "models" / "hemalabel-wbc.keras"
KS = (5, 10, 20, 50)


def pbc_only_model(folder: Path) -> Path:
    named = os.environ.get("HEMALABEL_PBC_ONLY_MODEL")
    if named and Path(named).is_file():
        return Path(named)
    config = TrainConfig.load(PBC_ONLY_CONFIG)
    config.sources[0].path = str(DATA / "pbc")
    config.output_dir = str(folder)
    return run_job(train_classifier(config), lambda p: p.payload and print(p.message, flush=True)).weights


def replay_config_for(folder: Path) -> Path:
    """The base model's config with the data path made absolute: replay then
    draws on its own train and validation splits, never its test split."""
    config = json.loads(PBC_ONLY_CONFIG.read_text(encoding="utf-8"))
    config["sources"][0]["path"] = str(DATA / "pbc")
    path = folder / "pbconly.train.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def choose_corrections(train_cells: list[LabelledCell], k: int, seed: int = 0) -> list[LabelledCell]:
    """K cells per class (all of a class with fewer), a seeded choice."""
    by_class: dict[str, list[LabelledCell]] = defaultdict(list)
    for cell in train_cells:
        by_class[cell.label].append(cell)
    rng = random.Random(seed)
    chosen: list[LabelledCell] = []
    for label in sorted(by_class):
        chosen.extend(rng.sample(by_class[label], min(k, len(by_class[label]))))
    return chosen


def propose(store: ProjectStore, cell: LabelledCell, box: Box | None = None) -> Cell:
    """The cell as a model proposal on its field's slide (added once)."""
    slide = store.slide_by_path(cell.path)
    if slide is None:
        size = probe_image(cell.path, verify_pixels=False)
        slide = store.add_slide(cell.path, size.width, size.height)
    assert cell.box is not None, f"{cell.path}: a located cell has a box"
    (added,) = store.add_cells(slide.id, [NewCell(box=box or cell.box, kind=CellKind.WHITE, source=LabelSource.MODEL)],
                               "Detect cells")
    return added


def corrected_project(folder: Path, cells: list[LabelledCell], model_path: Path) -> Path:
    """One slide per BCCD field; the model proposes, a person decides."""
    classifier = load_classifier(model_path)
    probabilities = classifier.predict(crops_of(cells, classifier.crop_margin))
    path = folder / "new-lab.hemalabel"
    with ProjectStore.create(path) as store:
        for cell, probs in zip(cells, probabilities):
            added = propose(store, cell)
            guess = classifier.classes[int(np.argmax(probs))]
            store.set_predictions(
                [(added.id, guess, dict(zip(classifier.classes, map(float, probs))))], classifier.version
            )
            if guess == cell.label:
                store.confirm([added.id])
            else:
                store.set_label([added.id], cell.label)
    return path


def pbc_accuracy(classifier) -> float:
    return float(score(classifier, pbc_test_split(PBC_ONLY_CONFIG))["accuracy"])


def new_lab_balanced(classifier) -> float:
    return balanced_over(score(classifier, bccd_val_test(list(classifier.classes))), CROSS_LAB_CLASSES)


def lab_cells(which: str, classes: list[str]) -> tuple[list[LabelledCell], list[LabelledCell]]:
    """(the pool corrections are drawn from, the cells scored): the bundled
    model learnt BCCD's train split, so its lab is BCCD val+test, corrected
    and scored on its own cells; the PBC-only model never saw BCCD, so it is
    corrected on BCCD train and scored on val+test."""
    held = [c for c in bccd_val_test(classes) if c.label in CROSS_LAB_CLASSES]
    if which == "bundled":
        return held, held
    return [c for c in from_bccd(DATA / "bccd", classes, ["train"]) if c.label in CROSS_LAB_CLASSES], held


def best_fitted_ece(logits: np.ndarray, labels: np.ndarray, steps: int = 3000) -> tuple[float, float]:
    """The lowest ECE calibration could give on these very cells: with a
    temperature fitted on them, and with a temperature and a bias per class
    fitted on them (minimum NLL, Adam).  Fitted on the cells it is scored
    on, it flatters: when even this is above a goal, no calibration learnt
    elsewhere can reach the goal on these cells."""
    temperature = fit_temperature(logits, labels)
    by_temperature = expected_calibration_error(softmax(logits, temperature), labels)
    live = logits > -1e8  # classes ruled out for a white cell stay out
    onehot = np.eye(logits.shape[1])[labels]
    params = np.zeros(logits.shape[1] + 1)  # 1/temperature - 1, then the biases
    first, second = np.zeros_like(params), np.zeros_like(params)
    for step in range(1, steps + 1):
        z = np.where(live, logits * (1.0 + params[0]), -1e9) + params[1:]
        probabilities = softmax(z)
        residual = (probabilities - onehot) / len(labels)
        gradient = np.concatenate([[float((residual * np.where(live, logits, 0.0)).sum())], residual.sum(0)])
        first = 0.9 * first + 0.1 * gradient
        second = 0.999 * second + 0.001 * gradient**2
        params -= 0.05 * (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
    z = np.where(live, logits * (1.0 + params[0]), -1e9) + params[1:]
    return by_temperature, expected_calibration_error(softmax(z), labels)


# Corrections per class of the four: 20 and 48 corrections in all (a retrain
# needs 20 by default), then 80.
FINE_TUNE_KS = (5, 12, 20)


@pytest.mark.realdata
@pytest.mark.parametrize("which", ["bundled", "pbc-only"])
def test_new_lab_learns_from_corrections(which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fine-tune path with the Retrain dialog's defaults: every
    reviewed cell scored out of fold and trained on, the replay (the shipped
    set for the bundled model, its own config's train split for the PBC-only
    one), the temperature refitted out of fold.  Scored on the lab's cells
    never corrected, through the model's calibrated output: balanced accuracy
    over the four classes, ECE, and PBC test accuracy."""
    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(tmp_path / "registry"))
    base = BUNDLED_WEIGHTS if which == "bundled" else pbc_only_model(tmp_path / "base")
    base_classifier = load_classifier(base)
    classes = list(base_classifier.classes)
    pool, scored = lab_cells(which, classes)
    replay = None if which == "bundled" else str(replay_config_for(tmp_path))
    pbc_before = pbc_accuracy(base_classifier)
    zero = score(base_classifier, scored, as_white_cells=True)
    print(f"\n{which} base {base_classifier.version}: zero-shot balanced accuracy "
          f"{balanced_over(zero, CROSS_LAB_CLASSES):.4f} on {len(scored)} BCCD cells, ECE {zero['ece']:.4f}; "
          f"PBC test accuracy {pbc_before:.4f}")
    print(f"{'K':>3} {'cells':>6} {'changed':>8} {'retrain s':>10} {'in use':>7} {'instant':>8} {'cand.':>6} "
          f"{'BCCD bal.acc':>13} {'ECE':>7} {'PBC acc':>8} {'PBC delta':>10}")
    rows = []
    for k in FINE_TUNE_KS:
        chosen = choose_corrections(pool, k)
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        project = corrected_project(folder, chosen, base)
        with ProjectStore.open(project, read_only=True) as store:
            changed = sum(1 for c in store.corrections() if c.action.value != "confirm")
        started = time.perf_counter()
        outcome = run_job(
            retrain(project, RetrainSettings(base=str(base), replay_path=replay), registry=ModelRegistry())
        )
        seconds = time.perf_counter() - started
        candidate = load_classifier(outcome.candidate.path)
        never_corrected = [c for c in scored if c not in chosen]
        report = score(candidate, never_corrected, as_white_cells=True)
        # A small class may have been corrected whole: average the classes left.
        left = tuple(name for name in CROSS_LAB_CLASSES if report["per_class"][name]["support"])
        balanced, pbc = balanced_over(report, left), pbc_accuracy(candidate)
        comparison = outcome.comparison
        oof = comparison.out_of_fold
        assert oof is not None, "the project's reviewed cells were scored out of fold"
        rows.append((k, len(chosen), balanced, pbc, seconds, report["ece"], report["ece_floor"],
                     best_fitted_ece(*scored_logits(candidate, never_corrected, as_white_cells=True))))
        print(f"{k:>3} {len(chosen):>6} {changed:>8} {seconds:>10.0f} {oof[0].balanced_accuracy:>7.3f} "
              f"{comparison.instant.balanced_accuracy:>8.3f} {oof[1].balanced_accuracy:>6.3f} {balanced:>13.4f} "
              f"{report['ece']:>7.4f} {pbc:>8.4f} {pbc - pbc_before:>+10.4f}", flush=True)
        print(f"     out-of-fold calibration: {outcome.calibration}")
        print(f"     {comparison.recommendation}")
    missed = []
    for limit, goal in ((20, 0.80), (50, 0.90)):
        within = [r for r in rows if r[1] <= limit]
        best = max(within, key=lambda r: r[2]) if within else None
        print(f"goal (<= {limit} corrections: >= {goal:.0%}, PBC within 1 point): "
              + (f"K={best[0]} ({best[1]} cells) {best[2]:.4f}, PBC {best[3] - pbc_before:+.4f}" if best else "no run"))
        if best is None or best[2] < goal:
            missed.append(f"<= {limit} corrections: >= {goal:.0%}")
    # The floor: what a perfectly calibrated model scores on as few cells (median, 95th percentile);
    # the best: calibration fitted on the scored cells themselves.
    print("goal (ECE on the lab's cells never corrected <= 3%): "
          + ", ".join(f"K={r[0]} {r[5]:.4f} (calibrated floor {r[6][0]:.4f}, up to {r[6][1]:.4f}; fitted on these "
                      f"cells: temperature {r[7][0]:.4f}, temperature and class biases {r[7][1]:.4f})" for r in rows))
    assert not missed, f"accuracy goals missed: {', '.join(missed)}"
    assert all(r[5] <= 0.03 for r in rows), "calibration goal missed"
    assert all(abs(r[3] - pbc_before) <= 0.01 for r in rows), "PBC accuracy moved more than a point"


@pytest.mark.realdata
def test_retrain_time_on_200_queued_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """BCCD's train split has only 192 typed white cells, so the timing goal
    (200 queued cells) is measured on 200 PBC test-split cells queued the
    same way: timing only, nothing is scored on them."""
    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(tmp_path / "registry"))
    base = pbc_only_model(tmp_path / "base")
    cells = random.Random(1).sample(pbc_test_split(PBC_ONLY_CONFIG), 200)
    project = corrected_project(tmp_path, cells, base)
    settings = RetrainSettings(base=str(base), replay_path=str(replay_config_for(tmp_path)))
    started = time.perf_counter()
    outcome = run_job(retrain(project, settings, registry=ModelRegistry()))
    seconds = time.perf_counter() - started
    fits = max(row["fit"] for row in outcome.history)
    print(f"\nretrain with 200 queued cells (all trained on, scored out of fold) plus 1,200 replay cells: "
          f"{seconds:.0f} s wall, {fits} fits, {len(outcome.history)} epochs in all (goal <= 180 s on 2 cores)")
    assert seconds <= 180


CHECKPOINTS = (0, 5, 10, 20, 30, 50, 75, 100)


def _new_lab_project(folder: Path, cells: list[LabelledCell], classifier) -> tuple[Path, dict[int, str]]:
    """One slide per BCCD field, each white cell proposed and classified by
    the model as the app does (classify_slides); returns the truth by cell id."""
    from core.inference import classify_slides

    path = folder / "instant.hemalabel"
    truth: dict[int, str] = {}
    with ProjectStore.create(path) as store:
        for cell in cells:
            truth[propose(store, cell).id] = cell.label
        run_job(classify_slides(store, classifier, [slide.id for slide in store.slides()]))
    return path, truth


def _balanced_on_uncorrected(store: ProjectStore, truth: dict[int, str], corrected: set[int]) -> float:
    cells = {c.id: c for c in store.cells(kind=CellKind.WHITE)}
    recalls = []
    for name in CROSS_LAB_CLASSES:
        ids = [i for i, label in truth.items() if label == name and i not in corrected]
        if ids:
            recalls.append(np.mean([cells[i].label == name for i in ids]))
    return float(np.mean(recalls))


def _next_cell(order: str, store: ProjectStore, teacher, rng: random.Random) -> int:
    from core.project_learning import most_informative_first

    cells = [c for c in store.cells(kind=CellKind.WHITE) if not c.reviewed]
    if order == "informative":
        return most_informative_first(store.cells(kind=CellKind.WHITE), teacher.cache, limit=1)[0]
    if order == "least_confident":
        return min(cells, key=lambda c: max(c.probabilities.values(), default=0.0)).id
    return rng.choice(cells).id


@pytest.mark.realdata
@pytest.mark.parametrize("which", ["bundled", "pbc-only"])
def test_instant_learning_curve(which: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scripted technician reviews BCCD as a new lab in each review order,
    through the store calls the window makes; after each decision the
    project's teacher refits (core.project_learning), and the balanced
    accuracy over the four classes is read from the store on the cells never
    corrected.  The bundled model learnt BCCD's train split, so its lab is
    BCCD val+test; the PBC-only model's is every typed BCCD white cell."""
    from core.project_learning import ProjectTeacher

    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(tmp_path / "registry"))
    if which == "bundled":
        classifier = load_classifier()
        cells = bccd_val_test(list(classifier.classes))
    else:
        classifier = load_classifier(pbc_only_model(tmp_path / "base"))
        cells = [c for c in from_bccd(DATA / "bccd", list(classifier.classes), ["train", "val", "test"])
                 if c.label in CROSS_LAB_CLASSES]
    cells = [c for c in cells if c.label in CROSS_LAB_CLASSES]
    print(f"\n{which} model {classifier.version} on {len(cells)} BCCD white cells")
    results: dict[str, dict[int, float]] = {}
    refit_seconds: list[float] = []
    for order in ("informative", "least_confident", "random"):
        folder = tmp_path / order
        folder.mkdir()
        path, truth = _new_lab_project(folder, cells, classifier)
        rng = random.Random(0)
        corrected: set[int] = set()
        curve: dict[int, float] = {}
        with ProjectStore.open(path) as store:
            teacher = ProjectTeacher(store, classifier)
            teacher.prepare()
            for step in range(max(CHECKPOINTS) + 1):
                if step in CHECKPOINTS:
                    curve[step] = _balanced_on_uncorrected(store, truth, corrected)
                if step == max(CHECKPOINTS) or len(corrected) >= len(truth) - 20:
                    break
                cell_id = _next_cell(order, store, teacher, rng)
                store.set_label([cell_id], truth[cell_id])  # a confirmation where the model was right
                corrected.add(cell_id)
                started = time.perf_counter()
                teacher.teach()
                refit_seconds.append(time.perf_counter() - started)
        results[order] = curve
        print(f"{order:>16}: " + "  ".join(f"{k}:{v:.3f}" for k, v in curve.items()), flush=True)
    print(f"refit and write after a decision: median {np.median(refit_seconds) * 1000:.0f} ms, "
          f"max {max(refit_seconds) * 1000:.0f} ms over {len(refit_seconds)} decisions")
    informative = results["informative"]
    assert informative[20] >= 0.80 and informative[50] >= 0.90



@pytest.mark.realdata
def test_instant_learning_speed_on_2000_cells(tmp_path: Path) -> None:
    """A correction's effect on a 2,000-cell project: from the store call
    the window makes to the other cells' predictions written, median over
    30 decisions (features computed beforehand, as the window keeps them)."""
    from core.inference import classify_slides
    from core.project_learning import ProjectTeacher

    classifier = load_classifier()
    cells = pbc_test_split() + [c for c in from_bccd(DATA / "bccd", list(classifier.classes), ["train", "val", "test"])]
    cells = (cells * 2)[:2000]
    path = tmp_path / "big.hemalabel"
    truth: dict[int, str] = {}
    with ProjectStore.create(path) as store:
        for index, cell in enumerate(cells):
            assert cell.box is not None, f"{cell.path}: a located cell has a box"
            # The second copy of each cell is a box a pixel to the right: a cell of its own.
            moved = None if index < len(cells) // 2 else Box(cell.box.x0 + 1, cell.box.y0, cell.box.x1 + 1, cell.box.y1)
            truth[propose(store, cell, moved).id] = cell.label
        run_job(classify_slides(store, classifier, [slide.id for slide in store.slides()]))
        teacher = ProjectTeacher(store, classifier)
        started = time.perf_counter()
        teacher.prepare()
        prepare = time.perf_counter() - started
        rng = random.Random(0)
        ids = rng.sample(sorted(truth), 30)
        seconds, written = [], []
        for cell_id in ids:
            started = time.perf_counter()
            store.set_label([cell_id], truth[cell_id])
            teaching = teacher.teach()
            seconds.append(time.perf_counter() - started)
            written.append(len(teaching.predictions))
    print(
        f"\n{len(truth)} white cells on {len(set(c.path for c in cells))} slides: features of all in {prepare:.1f} s; "
        f"decision to predictions written: median {np.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms "
        f"over {len(seconds)} decisions ({int(np.median(written))} predictions rewritten at the median)"
    )
    assert np.median(seconds) <= 1.0
