"""Duplicate-aware stratified splits.

Samples that share a group (byte-identical files, cells of one field) always
land on the same side, otherwise a duplicate in train and test would inflate
the test score.  Groups are assigned per class with a seeded shuffle of the
sorted group keys, so a split is reproducible from (samples, fractions, seed)
alone: the benchmarks rebuild the very test split training left out.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from core.training.samples import LabelledCell

SPLITS = ("train", "val", "test")


def split_samples(
    samples: Sequence[LabelledCell], val_fraction: float, test_fraction: float, seed: int = 0
) -> dict[str, list[LabelledCell]]:
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"bad split fractions: val {val_fraction}, test {test_fraction}")
    by_group: dict[str, list[LabelledCell]] = defaultdict(list)
    for sample in samples:
        by_group[sample.group].append(sample)
    # A group is filed under its most common label (ties: alphabetical).
    groups_of_label: dict[str, list[str]] = defaultdict(list)
    for group, members in by_group.items():
        labels = sorted(m.label for m in members)
        groups_of_label[max(sorted(set(labels)), key=labels.count)].append(group)
    rng = random.Random(seed)
    result: dict[str, list[LabelledCell]] = {name: [] for name in SPLITS}
    for label in sorted(groups_of_label):
        groups = sorted(groups_of_label[label])
        rng.shuffle(groups)
        n = len(groups)
        n_test = int(round(n * test_fraction))
        n_val = int(round(n * val_fraction))
        for index, group in enumerate(groups):
            side = "test" if index < n_test else "val" if index < n_test + n_val else "train"
            result[side].extend(by_group[group])
    return result
