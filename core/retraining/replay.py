"""The cells a retrain reads besides the project's queue: a replay sample
of the base model's original training data, and the standard set both
models are scored on.  Read in the child process: walking a dataset of
thousands of files is Python-heavy work that would otherwise share the
window's interpreter lock and stall it."""

from __future__ import annotations

import random
from pathlib import Path

from core.locating import load_locator
from core.retraining.bundled_replay import bundled_replay_dir, is_replay_set, read_replay_set
from core.store import ProjectStore
from core.training.samples import DatasetError, LabelledCell, from_class_folders, from_store, locate_samples


class ReplayError(ValueError):
    """Replay data or a standard set that cannot be used, with the reason."""


def replay_sample(
    path: str | None, per_class: int, seed: int, classes: list[str], locate: str = "auto"
) -> tuple[list[LabelledCell], list[LabelledCell]]:
    """A per-class random sample of the original training data (train and
    validation parts): of `path`, else of the replay set shipped with the
    app; none with per_class 0.  The single-cell images
    of a class-folder tree get their cell found (`locate` auto) once
    sampled, so only the sample is looked at."""
    if per_class == 0:
        return [], []
    root = Path(path) if path else bundled_replay_dir()
    if not path and not is_replay_set(root):
        raise ReplayError(f"replay data: the replay set shipped with the app is missing ({root}); "
                          "name one, or set the replay cells per class to 0")
    train_pool, val_pool = _replay_pools(root, classes)
    if not train_pool:
        raise ReplayError(f"replay data: {path} holds no cells of the classes {', '.join(classes)}")
    rng = random.Random(seed)
    if not val_pool:  # a plain tree has no split of its own: keep a fifth of the sample aside
        chosen = _per_class_sample(train_pool, per_class * 5 // 4, rng)
        val_pool = [c for i, c in enumerate(chosen) if i % 5 == 4]
        train_pool = [c for i, c in enumerate(chosen) if i % 5 != 4]
    train, val = _per_class_sample(train_pool, per_class, rng), _per_class_sample(val_pool, max(1, per_class // 4), rng)
    if locate == "auto" and any(cell.box is None for cell in train + val):
        locator = load_locator()
        train, val = locate_samples(train, locator), locate_samples(val, locator)
    return train, val


def _replay_pools(root: Path, classes: list[str]) -> tuple[list[LabelledCell], list[LabelledCell]]:
    """The cells replay may draw on.  A training config (.json) gives the
    train and validation splits it was trained with, so the replay never
    shows the model its own test split; a PBC root or a class-folder tree is
    taken whole."""
    try:
        if is_replay_set(root):
            parts = read_replay_set(root)
            wanted = set(classes)
            return ([c for c in parts["train"] if c.label in wanted], [c for c in parts["check"] if c.label in wanted])
        if root.suffix == ".json":
            from core.training.config import TrainConfig
            from core.training.datasets import source_splits

            config = TrainConfig.load(root)
            known = [c for c in classes if c in config.classes]
            train: list[LabelledCell] = []
            val: list[LabelledCell] = []
            for source in config.sources:
                parts = source_splits(source, known, config.seed)
                train += parts["train"]
                val += parts["val"]
            return train, val
        if (root / "images").is_dir() and (root / "boxes").is_dir():
            from core.training.pbc import pbc_cells

            return pbc_cells(root, list(classes))[0], []
        return from_class_folders(root, classes), []
    except DatasetError as error:
        raise ReplayError(f"replay data: {error}") from None
    except OSError as error:
        raise ReplayError(f"replay data: {error.filename or root}: {error.strerror or error}") from None


def _per_class_sample(cells: list[LabelledCell], per_class: int, rng: random.Random) -> list[LabelledCell]:
    by_class: dict[str, list[LabelledCell]] = {}
    for cell in cells:
        by_class.setdefault(cell.label, []).append(cell)
    chosen: list[LabelledCell] = []
    for label in sorted(by_class):
        chosen.extend(rng.sample(by_class[label], min(len(by_class[label]), per_class)))
    return chosen


def standard_set(path: str | None, classes: list[str], locate: str = "auto") -> list[LabelledCell]:
    if not path:
        return []
    try:
        if Path(path).suffix == ".hemalabel":
            with ProjectStore.open(path, read_only=True) as store:
                return from_store(store, classes)
        return from_class_folders(path, classes, locator=load_locator() if locate == "auto" else None)
    except (DatasetError, OSError) as error:
        raise ReplayError(f"standard set: {error}") from None
    except Exception as error:  # a store that cannot be opened names itself
        raise ReplayError(f"standard set {path}: {error}") from None


def queue_weight(queued: list[LabelledCell], replay: list[LabelledCell]) -> dict[str, float]:
    """Sampling weight of the project's cells against the replay sample:
    within a class, the few queued cells are drawn about as often as the
    many replay cells together, so the new lab is learnt without the old
    data being forgotten."""
    if not queued or not replay:
        return {}
    queued_per_class = len(queued) / max(1, len({c.label for c in queued}))
    replay_per_class = len(replay) / max(1, len({c.label for c in replay}))
    return {"project": float(min(20.0, max(1.0, replay_per_class / queued_per_class)))}
