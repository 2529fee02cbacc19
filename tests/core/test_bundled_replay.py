"""The replay set shipped beside the bundled classifier: what it holds,
that a retrain with no replay path named uses it, and that it never holds
a cell of the bundled model's PBC test split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.imaging import load_rgb
from core.jobs import run_job
from core.retraining.bundled_replay import MANIFEST, bundled_replay_dir, read_replay_set
from core.retraining.replay import ReplayError, replay_sample
from core.training.loading import load_cells
from tests.conftest import real_data_path

CLASSES = ["neutrophil", "eosinophil", "basophil", "lymphocyte", "monocyte", "ig", "erythroblast", "platelet"]


def test_the_shipped_set_holds_150_training_and_30_check_cells_a_class_with_its_attribution() -> None:
    parts = read_replay_set(bundled_replay_dir())
    for part, per_class in (("train", 150), ("check", 30)):
        counts = {label: sum(c.label == label for c in parts[part]) for label in CLASSES}
        assert counts == dict.fromkeys(CLASSES, per_class)
    manifest = json.loads((bundled_replay_dir() / MANIFEST).read_text(encoding="utf-8"))
    assert "CC BY 4.0" in manifest["licence"] and "Acevedo" in manifest["attribution"]
    cell = parts["train"][0]
    image = load_rgb(cell.path)
    assert image.shape[:2] == (manifest["size"], manifest["size"])
    # The cell's box sits in the middle, margin 0.3 of its side around it.
    assert cell.box is not None and cell.box.centre == pytest.approx((image.shape[1] / 2, image.shape[0] / 2))
    arrays = run_job(load_cells(parts["train"][:4], CLASSES, 80, 0.15))
    assert arrays.eval_view.shape == (4, 80, 80, 3) and arrays.train_view.shape[1] == manifest["size"]


def test_a_retrain_with_no_replay_named_replays_the_shipped_set() -> None:
    train, val = replay_sample(None, 10, 0, CLASSES)
    assert len(train) == 80 and len(val) == 16  # a quarter as many to validate on
    assert all(c.source == "replay" and c.path.is_relative_to(bundled_replay_dir()) for c in train + val)
    assert replay_sample(None, 0, 0, CLASSES) == ([], [])  # 0 a class: the queue only
    lymphocytes, _ = replay_sample(None, 5, 0, ["lymphocyte", "smudge"])
    assert {c.label for c in lymphocytes} == {"lymphocyte"}


def test_a_missing_shipped_set_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import core.retraining.replay as replay

    monkeypatch.setattr(replay, "bundled_replay_dir", lambda: tmp_path / "replay")
    with pytest.raises(ReplayError, match="replay set shipped with the app is missing"):
        replay_sample(None, 10, 0, CLASSES)


@pytest.mark.realdata
@pytest.mark.slow
def test_the_shipped_set_never_holds_a_test_split_cell() -> None:
    from core.training.pbc import pbc_cells
    from core.training.splits import split_samples

    cells, _ = pbc_cells(real_data_path("pbc"))
    splits = split_samples(cells, 0.1, 0.15, 0)
    stems = {part: {c.path.stem for c in splits[part]} for part in ("train", "val", "test")}
    parts = read_replay_set(bundled_replay_dir())
    assert {c.path.stem for c in parts["train"]} <= stems["train"]
    assert {c.path.stem for c in parts["check"]} <= stems["val"]
    assert not np.isin([c.path.stem for c in parts["train"] + parts["check"]], list(stems["test"])).any()
