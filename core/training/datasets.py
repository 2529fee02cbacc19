"""From a TrainConfig's sources to train/val/test lists of labelled cells."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from core.locating import load_locator
from core.training.config import SourceConfig, TrainConfig
from core.training.pbc import pbc_cells
from core.training.samples import DatasetError, LabelledCell, from_bccd, from_class_folders, from_store
from core.training.splits import split_samples


def source_splits(source: SourceConfig, classes: list[str], seed: int) -> dict[str, list[LabelledCell]]:
    """One source's cells by split.  The same (source, classes, seed) always
    gives the same split, so benchmarks can rebuild the held-out test set."""
    if source.type == "bccd":
        return {"train": from_bccd(source.path, classes, source.splits), "val": [], "test": []}
    if source.type == "pbc":
        cells, _ = pbc_cells(source.path, classes)
    elif source.type == "folder":
        cells = from_class_folders(source.path, classes, locator=load_locator() if source.locate == "auto" else None)
    else:
        from core.store import ProjectStore

        with ProjectStore.open(source.path, read_only=True) as store:
            cells = from_store(store, classes)
    return split_samples(cells, source.val, source.test, seed)


def pbc_splits_of(config_path: Path, pbc_root: Path) -> dict[str, list[LabelledCell]]:
    """The PBC images of a training config's PBC source by split, read from
    `pbc_root`: the same (source, classes, seed), so the very cells the
    model trained on, and those it never saw."""
    config = TrainConfig.load(config_path)
    source = next((s for s in config.sources if s.type == "pbc"), None)
    if source is None:
        raise DatasetError(f"{config_path}: the training config has no PBC source")
    source.path = str(pbc_root)
    return source_splits(source, config.classes, config.seed)


def gather_samples(config: TrainConfig) -> tuple[dict[str, list[LabelledCell]], dict[str, Any]]:
    splits: dict[str, list[LabelledCell]] = {"train": [], "val": [], "test": []}
    summary: dict[str, Any] = {"sources": []}
    for source in config.sources:
        parts = source_splits(source, config.classes, config.seed)
        for name, cells in parts.items():
            splits[name].extend(cells)
        summary["sources"].append({
            "type": source.type,
            "path": Path(source.path).as_posix(),
            **{f"{name}_cells": len(cells) for name, cells in parts.items()},
            "train_classes": dict(sorted(Counter(c.label for c in parts["train"]).items())),
        })
    summary["split_seed"] = config.seed
    return splits, summary
