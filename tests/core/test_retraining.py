"""The retrain loop in core: queue, registry, the child-process fine-tune,
its failure paths, and the insights."""

from __future__ import annotations

import dataclasses
import errno
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.jobs import Cancelled, CancelToken, Progress, run_job
from core.models.registry import ModelRegistry, RegistryError
from core.retraining import (
    RetrainError,
    RetrainSettings,
    dataset_insights,
    queue_summary,
    retrain,
)
from core.retraining import job as job_module
from core.retraining.replay import ReplayError, replay_sample
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from core.taxonomy import Taxonomy, default_taxonomy
from tests.core.classifier_fixtures import write_class_tree

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "models"
COLOURS = {"neutrophil": (150, 70, 170), "lymphocyte": (50, 40, 140), "eosinophil": (230, 120, 50),
           "smudge": (120, 120, 120),
           "monocyte": (110, 90, 150)}


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelRegistry:
    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(tmp_path / "user-models"))
    monkeypatch.setenv("HEMALABEL_BUNDLED_MODELS", str(BUNDLED))
    return ModelRegistry()


def with_smudge(taxonomy: Taxonomy) -> Taxonomy:
    """The default taxonomy plus a class the bundled model does not have."""
    neutrophil = taxonomy.get("neutrophil")
    smudge = dataclasses.replace(neutrophil, name="smudge", display="Smudge cell", key="s", colour="#777777")
    return Taxonomy(taxonomy.name, (*taxonomy.classes, smudge))


def make_project(folder: Path, slides: int, per_slide: dict[str, int], seed: int = 0) -> Path:
    """Slides of discs; each disc is proposed by a 'model' and then decided
    by a person through the store's own calls, as the review window does."""
    rng = np.random.default_rng(seed)
    path = folder / "lab.hemalabel"
    with ProjectStore.create(path, with_smudge(default_taxonomy())) as store:
        for s in range(slides):
            image = np.full((200, 200, 3), 230, np.uint8)
            boxes: list[tuple[str, Box]] = []
            x = 5
            for label, count in per_slide.items():
                for _ in range(count):
                    y = int(rng.integers(5, 150))
                    yy, xx = np.mgrid[:40, :40]
                    disc = (xx - 20) ** 2 + (yy - 20) ** 2 < 15 ** 2
                    image[y : y + 40, x : x + 40][disc] = COLOURS[label]
                    boxes.append((label, Box(x + 4, y + 4, x + 36, y + 36)))
                    x = (x + 42) % 160
            image = np.clip(image.astype(int) + rng.integers(-6, 6, image.shape), 0, 255).astype(np.uint8)
            file = folder / "images" / f"slide{s}.png"
            file.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(file)
            slide = store.add_slide(file, 200, 200)
            cells = store.add_cells(slide.id,
                                    [NewCell(box=b, kind=CellKind.WHITE, source=LabelSource.MODEL) for _, b in boxes])
            store.set_predictions([(c.id, "monocyte", {"monocyte": 0.6}) for c in cells], "hemalabel-wbc-1.0.0")
            for cell, (label, _) in zip(cells, boxes):
                if label == "monocyte":
                    store.confirm([cell.id])
                else:
                    store.set_label([cell.id], label)
    return path


def test_queue_counts_decisions_per_class_and_slide(tmp_path: Path, registry: ModelRegistry) -> None:
    project = make_project(tmp_path, slides=2, per_slide={"neutrophil": 2, "lymphocyte": 1, "smudge": 1})
    with ProjectStore.open(project) as store:
        undecided = store.add_cells(store.slides()[0].id, [NewCell(box=Box(1, 1, 9, 9), kind=CellKind.WHITE,
                                                                  source=LabelSource.MODEL, label="neutrophil")])
        assert undecided
        summary = queue_summary(store, registry)
    assert summary.model == "hemalabel-wbc"
    assert summary.examples_per_class == {"neutrophil": 4, "lymphocyte": 2, "smudge": 2}
    assert summary.new_per_class == summary.examples_per_class  # all decided after the bundled model was made
    assert summary.slides == [("images/slide0.png", 4), ("images/slide1.png", 4)]
    assert summary.new_classes == {"smudge": 2}
    assert (summary.total_examples, summary.total_new) == (8, 8)


def test_registry_promote_rollback_discard(tmp_path: Path, registry: ModelRegistry) -> None:
    assert registry.current().name == "hemalabel-wbc" and registry.current().status == "bundled"
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback()
    for name in ("hemalabel-wbc-r1", "hemalabel-wbc-r2"):
        registry.folder.mkdir(parents=True, exist_ok=True)
        for suffix in (".keras", ".json"):
            shutil.copy(BUNDLED / f"hemalabel-wbc{suffix}", registry.folder / f"{name}{suffix}")
        registry.register_candidate(name, "hemalabel-wbc", "2026-12-01T00:00:00+00:00", {"neutrophil": 3}, {},
                                    train_seconds=95.04 if name.endswith("r2") else None)
    # How long a fine-tune took is kept, for a discard to name it.
    assert [v.train_seconds for v in registry.versions()] == [None, None, 95.0]
    assert registry.next_name("hemalabel-wbc-r2") == "hemalabel-wbc-r3"
    registry.promote("hemalabel-wbc-r1")
    registry.promote("hemalabel-wbc-r2")
    assert registry.current().name == "hemalabel-wbc-r2"
    with pytest.raises(RegistryError, match="in use"):
        registry.discard("hemalabel-wbc-r2")
    assert registry.rollback().name == "hemalabel-wbc-r1"
    assert [v.status for v in registry.versions()] == ["bundled", "promoted", "retired"]
    registry.discard("hemalabel-wbc-r2")
    assert not (registry.folder / "hemalabel-wbc-r2.keras").exists()
    assert [v.name for v in registry.versions()] == ["hemalabel-wbc", "hemalabel-wbc-r1"]
    assert registry.next_name("hemalabel-wbc") == "hemalabel-wbc-r3"  # a discarded name is never reused
    assert registry.rollback().name == "hemalabel-wbc"
    with pytest.raises(RegistryError, match="bundled"):
        registry.discard("hemalabel-wbc")
    with pytest.raises(RegistryError, match="known versions: hemalabel-wbc, hemalabel-wbc-r1"):
        registry.promote("nope")


def test_default_model_follows_the_registry(tmp_path: Path, registry: ModelRegistry) -> None:
    from core.models.resolver import resolve_model

    assert resolve_model() == BUNDLED / "hemalabel-wbc.keras"
    registry.folder.mkdir(parents=True)
    for suffix in (".keras", ".json"):
        shutil.copy(BUNDLED / f"hemalabel-wbc{suffix}", registry.folder / f"hemalabel-wbc-r1{suffix}")
    registry.register_candidate("hemalabel-wbc-r1", "hemalabel-wbc", "", {}, {})
    assert resolve_model() == BUNDLED / "hemalabel-wbc.keras"  # a candidate is not in use
    registry.promote("hemalabel-wbc-r1")
    assert resolve_model() == registry.folder / "hemalabel-wbc-r1.keras"
    assert resolve_model("hemalabel-wbc") == BUNDLED / "hemalabel-wbc.keras"


def test_too_few_examples_says_what_is_needed(tmp_path: Path, registry: ModelRegistry) -> None:
    project = make_project(tmp_path, slides=1, per_slide={"neutrophil": 2, "lymphocyte": 1})
    with pytest.raises(RetrainError,
                       match=r"3 reviewed cells so far; a retrain needs at least 20\. Confirm or correct 17 more"):
        run_job(retrain(project, RetrainSettings(), registry=registry))
    with pytest.raises(RetrainError, match="one slide"):
        run_job(retrain(project, RetrainSettings(min_examples=2), registry=registry))
    assert len(registry.versions()) == 1


@pytest.mark.slow
def test_retrain_in_a_child_process_adds_a_class_and_registers_a_candidate(tmp_path: Path,
                                                                           registry: ModelRegistry) -> None:
    project = make_project(tmp_path, slides=6, per_slide={"neutrophil": 2, "lymphocyte": 2, "smudge": 2, "monocyte": 1})
    replay = write_class_tree(tmp_path / "replay", per_class=6)
    settings = RetrainSettings(epochs=2, max_minutes=0, min_examples=10, min_new_class_cells=6, folds=2,
                               replay_path=str(replay), replay_per_class=4)
    steps: list[Progress] = []
    outcome = run_job(retrain(project, settings, registry=registry), steps.append)
    epochs = [s.payload for s in steps if isinstance(s.payload, dict) and s.payload["kind"] == "epoch"]
    # Two out-of-fold fits, then the candidate's, counted as one run.
    assert [(e["fit"], e["epoch"]) for e in epochs] == [(1, 1), (1, 2), (2, 3), (2, 4), (3, 5), (3, 6)]
    assert all({"loss", "accuracy", "eta_seconds", "epochs"} <= set(e) and e["epochs"] == 6 for e in epochs)
    assert any(isinstance(s.payload, dict) and s.payload["kind"] == "log" for s in steps)
    candidate = outcome.candidate
    assert (
        candidate.name == "hemalabel-wbc-r1" and candidate.status == "candidate" and candidate.parent == "hemalabel-wbc"
    )
    assert registry.current().name == "hemalabel-wbc"  # nothing is promoted by training
    from core.classifier import load_classifier

    model = load_classifier(candidate.name)
    assert model.classes[-1] == "smudge" and len(model.classes) == 9
    assert model.card.parent == "hemalabel-wbc"
    assert model.card.training_data["trained_on"] == candidate.trained_on
    assert model.card.training_data["replay_cells"] == 3 * 4  # three classes in the tree
    # What it forgot, on the replay's validation part (a fifth of a tree's sample: one a class).
    check = model.card.training_data["replay_check"]
    assert check == outcome.replay_check and check["cells"] == 3
    assert check["change_points"] == pytest.approx(
        100 * (check["candidate_accuracy"] - check["base_accuracy"]), abs=0.01
    )
    assert "original data (3 cells not trained on)" in (outcome.forgetting() or "")
    base_augmentation = load_classifier("hemalabel-wbc").card.training_data["augmentation"]
    assert model.card.training_data["augmentation"]["scale_jitter"] == base_augmentation["scale_jitter"] == 0.25
    assert sum(candidate.trained_on.values()) == model.card.training_data["queue_cells"] + 12
    # Every reviewed cell trains the candidate and is scored out of fold.
    reviewed = model.card.training_data["queue_cells"]
    assert reviewed == 6 * 7 and model.card.training_data["folds"] == 2
    out_of_fold = outcome.comparison.out_of_fold
    assert (
        out_of_fold is not None and out_of_fold[0].model == "hemalabel-wbc" and out_of_fold[1].model == candidate.name
    )
    assert out_of_fold[0].cells == out_of_fold[1].cells == reviewed
    assert len(out_of_fold[0].confusion) == 9 and sum(map(sum, out_of_fold[1].confusion)) == reviewed
    platelet = out_of_fold[0].classes.index("platelet")
    for scores in out_of_fold:  # scored as the app labels white cells: never platelet
        assert all(row[platelet] == 0 for row in scores.confusion)
    instant = outcome.comparison.instant
    assert instant is not None and instant.model == "hemalabel-wbc+taught" and instant.cells == reviewed
    # The confidence is refitted on the lab's own cells, predicted out of fold.
    calibration = outcome.calibration
    assert calibration is not None and calibration["cells"] == reviewed
    assert model.card.temperature == pytest.approx(calibration["temperature"])
    assert model.card.training_data["out_of_fold_calibration"] == calibration
    assert calibration["ece_after"] <= calibration["ece_before"] + 1e-9
    assert outcome.comparison.recommendation
    assert not list(registry.folder.glob(".hemalabel-wbc-r1-*"))  # the staging folder is gone
    registry.promote(candidate.name)
    assert load_classifier().version.startswith("hemalabel-wbc-r1")


def test_cancel_terminates_the_child_and_registers_nothing(tmp_path: Path, registry: ModelRegistry) -> None:
    project = make_project(tmp_path, slides=4, per_slide={"neutrophil": 3, "lymphocyte": 3})
    token = CancelToken()
    job = retrain(project, RetrainSettings(min_examples=5), token, registry)
    while True:
        step = next(job)
        if "fine-tuning" in step.message:
            break
    token.cancel()
    with pytest.raises(Cancelled):
        run_job(job)
    assert [v.name for v in registry.versions()] == ["hemalabel-wbc"]
    assert not any(registry.folder.iterdir())


@pytest.mark.slow
def test_a_crash_in_training_reports_the_log_and_leaves_the_model_alone(tmp_path: Path,
                                                                        registry: ModelRegistry) -> None:
    project = make_project(tmp_path, slides=3, per_slide={"neutrophil": 3, "lymphocyte": 3})
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(BUNDLED / "hemalabel-wbc.json", broken / "hemalabel-wbc.json")
    (broken / "hemalabel-wbc.keras").write_bytes(b"these are not the weights")
    with pytest.raises(RetrainError) as failure:
        run_job(
            retrain(
                project, RetrainSettings(base=str(broken / "hemalabel-wbc.keras"), min_examples=5), registry=registry
            )
        )
    message = str(failure.value)
    assert "model in use is unchanged" in message and "checksum" in message and "--- log ---" in message
    assert [v.name for v in registry.versions()] == ["hemalabel-wbc"]


def test_a_full_disk_discards_the_candidate(tmp_path: Path, registry: ModelRegistry,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(source: str, target: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", target)

    done = {"scores": {"out_of_fold": None, "standard": None}, "created_at": "", "trained_on": {}, "history": []}
    request = type("Request", (), {"name": "hemalabel-wbc-r1", "base_name": "hemalabel-wbc"})()
    staging = tmp_path / "staging"
    staging.mkdir()
    monkeypatch.setattr(shutil, "move", no_space)  # what job.py moves the candidate's files with
    with pytest.raises(RetrainError, match="No space left on device.*discarded and the model in use is unchanged"):
        job_module._register(done, request, registry, staging, [], 0.0)
    assert [v.name for v in registry.versions()] == ["hemalabel-wbc"]


def test_insights_count_and_histogram_each_class(tmp_path: Path) -> None:
    project = make_project(tmp_path, slides=2, per_slide={"neutrophil": 2, "eosinophil": 1})
    with ProjectStore.open(project) as store:
        insights = dataset_insights(store)
    assert insights.class_counts == {"neutrophil": 4, "eosinophil": 2}
    assert len(insights.bin_edges) == 33
    for label in ("neutrophil", "eosinophil"):
        for channel in ("red", "green", "blue", "gray"):
            assert sum(insights.histograms[label][channel]) == pytest.approx(1.0)
    # eosinophil discs are orange: more red mass in the top bins than neutrophils' purple
    assert sum(insights.histograms["eosinophil"]["red"][-6:]) > sum(insights.histograms["neutrophil"]["red"][-6:])


@pytest.mark.slow
def test_train_project_and_models_commands(tmp_path: Path, registry: ModelRegistry,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from app.cli.main import main

    project = make_project(tmp_path, slides=4, per_slide={"neutrophil": 2, "lymphocyte": 2})
    assert main(["train", "--project", str(project), "--epochs", "1", "--folds", "2", "--min-examples", "5",
                 "--promote", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["candidate"] == "hemalabel-wbc-r1" and result["promoted"] is True
    assert Path(result["weights"]).is_file() and result["parent"] == "hemalabel-wbc"
    assert {"out_of_fold", "instant", "standard", "recommendation"} <= set(result["comparison"])
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["name"], v["current"]) for v in listed] == [("hemalabel-wbc", False), ("hemalabel-wbc-r1", True)]
    assert main(["models", "rollback"]) == 0
    assert "hemalabel-wbc is now the model in use" in capsys.readouterr().out
    assert main(["models", "discard", "hemalabel-wbc-r1"]) == 0
    assert main(["models", "promote", "hemalabel-wbc-r1"]) == 2
    assert "no model version 'hemalabel-wbc-r1'" in capsys.readouterr().err
    assert main(["train", "--project", str(tmp_path / "missing.hemalabel")]) == 2
    assert "project not found" in capsys.readouterr().err


@pytest.mark.slow
def test_replay_from_a_training_config_never_draws_its_test_split(tmp_path: Path) -> None:
    import json

    from core.training.config import TrainConfig
    from core.training.datasets import source_splits

    tree = write_class_tree(tmp_path / "cells", per_class=20)
    config_file = tmp_path / "train.json"
    config_file.write_text(json.dumps({"name": "x", "classes": ["neutrophil", "eosinophil", "lymphocyte"],
                                       "sources": [{"type": "folder", "path": str(tree), "val": 0.2, "test": 0.3}]}))
    train, val = replay_sample(str(config_file), 8, 0, ["neutrophil", "eosinophil", "lymphocyte", "monocyte"])
    config = TrainConfig.load(config_file)
    test = {c.path for c in source_splits(config.sources[0], config.classes, config.seed)["test"]}
    assert len(train) == 3 * 8 and len(val) == 3 * 2
    assert not test & {c.path for c in train + val}
    with pytest.raises(ReplayError, match="replay data: .*not a folder"):
        replay_sample(str(tmp_path / "nowhere"), 8, 0, ["neutrophil"])
    with pytest.raises(RetrainError, match="replay data: .*nowhere: not found"):
        run_job(retrain(tmp_path / "x.hemalabel", RetrainSettings(replay_path=str(tmp_path / "nowhere"))))


_RETRAIN_FOREVER = """
import sys
from pathlib import Path
from core.jobs import run_job
from core.retraining import RetrainSettings, retrain
settings = RetrainSettings(epochs=500, max_minutes=0, min_examples=5)
run_job(retrain(Path(sys.argv[1]), settings), lambda step: print(step.message, flush=True))
"""


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the child through /proc")
def test_a_killed_retrain_takes_its_child_with_it_and_the_next_cleans_its_staging(
    tmp_path: Path, registry: ModelRegistry
) -> None:
    """A killed `train` left its training child running for over a minute,
    and a staging folder in the models folder each time, never cleaned."""
    import os
    import signal
    import subprocess
    import sys
    import time

    project = make_project(tmp_path, slides=3, per_slide={"neutrophil": 3, "lymphocyte": 3})
    parent = subprocess.Popen([sys.executable, "-c", _RETRAIN_FOREVER, str(project)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    children: list[int] = []
    try:
        assert parent.stdout is not None
        for line in parent.stdout:  # the child's own first line: it runs, TensorFlow loaded
            if line.startswith("fine-tuning hemalabel-wbc ("):
                break
        else:
            pytest.fail(f"the retrain ended before its child reported (exit {parent.wait()})")
        children = _children_of(parent.pid)
        assert children
        staged = list(registry.folder.glob(".hemalabel-wbc-r1-*"))
        assert len(staged) == 1
        # A concurrent retrain's staging, this process its owner, is not stale.
        mine, owner = job_module.new_staging(registry.folder, "hemalabel-wbc-r9")
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5.0
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(_alive, children)), "the training child outlived its parent"
        assert staged[0].exists()  # nobody cleaned up after the kill ...
        with pytest.raises(RetrainError, match="reviewed cells so far"):
            run_job(retrain(project, RetrainSettings(min_examples=1000), registry=registry))
        assert not staged[0].exists()  # ... until the next retrain started
        assert mine.exists()
        owner.close()  # its owner ends (here: it names the killed process)
        (mine / job_module.STAGING_OWNER).write_text(f"{parent.pid}\n")
        assert job_module.remove_stale_staging(registry.folder) == [mine]
    finally:
        parent.kill()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_projects_learning_curve_is_scored_on_cells_decided_later(tmp_path: Path) -> None:
    from core.classifier import load_classifier
    from core.project_learning import project_learning_curve

    project = make_project(tmp_path, slides=3, per_slide={"neutrophil": 3, "lymphocyte": 3})
    with ProjectStore.open(project) as store:
        curve = project_learning_curve(store, load_classifier())
    assert curve[0].taught == 0 and curve[0].scored == 18
    assert curve[-1].scored == 10 and all(0.0 <= p.balanced_accuracy <= 1.0 for p in curve)


def _messages_until_training(project: Path, settings: RetrainSettings, registry: ModelRegistry) -> list[str]:
    """What a retrain says before its child starts; then it is cancelled."""
    token = CancelToken()
    job = retrain(project, settings, token, registry)
    messages = []
    while True:
        step = next(job)
        messages.append(step.message)
        if step.message.startswith("fine-tuning"):
            break
    token.cancel()
    with pytest.raises(Cancelled):
        run_job(job)
    return messages


def test_a_queue_of_one_class_teaches_nothing(tmp_path: Path, registry: ModelRegistry) -> None:
    project = make_project(tmp_path, slides=4, per_slide={"neutrophil": 6})
    with pytest.raises(RetrainError, match=r"all 24 reviewed cells are neutrophil; a model taught one class"):
        run_job(retrain(project, RetrainSettings(), registry=registry))
    assert [v.name for v in registry.versions()] == ["hemalabel-wbc"]


def test_a_new_class_with_few_cells_and_contradicted_cells_are_left_out_and_said(tmp_path: Path,
                                                                                 registry: ModelRegistry) -> None:
    project = make_project(tmp_path, slides=4, per_slide={"neutrophil": 3, "lymphocyte": 3, "smudge": 1})
    with ProjectStore.open(project) as store:
        # The same cell boxed twice on a slide, one box called neutrophil, the other lymphocyte.
        first = store.cells(store.slides()[0].id)[0]
        (twin,) = store.add_cells(
            first.slide_id, [NewCell(box=first.box, kind=CellKind.WHITE, source=LabelSource.MODEL)]
        )
        store.set_label([first.id], "neutrophil")
        store.set_label([twin.id], "lymphocyte")
    messages = _messages_until_training(project, RetrainSettings(min_examples=5), registry)
    assert "left out of training: smudge, 4 reviewed cells; a new class needs 10 to become an output" in messages
    assert "left out of training: slide0.png: one cell labelled lymphocyte and neutrophil" in messages
    assert "fine-tuning on 23 reviewed cells from 4 slides" in messages[-1]  # 24 and the twin, less both of them
