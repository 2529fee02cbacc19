"""A sample of the bundled detector's own training fields, replayed beside a
lab's fields in a fine-tune so that it does not forget the fields it knew."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.detection.data import BCCD_NEGATIVE_WEIGHTS, GroundTruth, drop_duplicates_of, read_ground_truth
from core.resources import install_root


def default_replay_root() -> Path | None:
    """The data folder beside the app's folder (../shared/data from a
    checkout's root), None when it is not there."""
    root = install_root().parent / "shared" / "data"
    return root if (root / "txl-pbc").is_dir() and (root / "bccd").is_dir() else None


def replay_fields(data_root: Path, count: int, seed: int) -> list[GroundTruth]:
    """`count` fields drawn from TXL-PBC's and BCCD's train splits (the
    bundled detector's training sources), none of them a test field of
    either set: TXL-PBC relabelled BCCD fields across splits, and a replayed
    copy of a test field would score that field as learnt.  FileNotFoundError
    names the folder when the data is not there."""
    txl_root, bccd_root = Path(data_root) / "txl-pbc", Path(data_root) / "bccd"
    for root in (txl_root, bccd_root):
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: the detector's original training data is not there")
    if count <= 0:
        return []
    train = read_ground_truth(txl_root, "yolo", "train") + read_ground_truth(bccd_root, "voc", "train")
    for gt in train:
        if gt.source.startswith("voc:"):
            gt.negative_weights = BCCD_NEGATIVE_WEIGHTS
    tests = read_ground_truth(txl_root, "yolo", "test") + read_ground_truth(bccd_root, "voc", "test")
    order = np.random.default_rng(seed).permutation(len(train))
    # A few more than asked, as some will be copies of test fields.
    drawn = [train[i] for i in order[: count + count // 2 + 4]]
    kept, _ = drop_duplicates_of(drawn, tests)
    return kept[:count]


def check_fields(data_root: Path, count: int, seed: int) -> list[GroundTruth]:
    """`count` of TXL-PBC's validation fields, which a fine-tune never trains
    on: both detectors scored on them tell what the fine-tune forgot."""
    root = Path(data_root) / "txl-pbc"
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: the detector's original validation data is not there")
    if count <= 0:
        return []
    val = read_ground_truth(root, "yolo", "val")
    order = np.random.default_rng(seed + 1).permutation(len(val))
    return [val[i] for i in order[:count]]
